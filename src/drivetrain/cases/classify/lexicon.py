"""The packaged dictionaries: component keywords per category and severity cues.

They live in JSON next to the code so a product owner can extend them without touching
the model; every lookup is one compiled alternation, longest keyword first, so a text is
scanned once per dictionary however many words it holds."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"


def alternation(words: Iterable[str]) -> re.Pattern[str]:
    """One pattern matching any of ``words``; the longest word wins where several start
    together. The words are laid out as a trie (``好|好看|好用`` becomes ``好(?:看|用)?``):
    Python's ``re`` tries a flat alternation word by word at every position, which made
    scanning for a thousand opinion words a quarter of the classifier's time."""
    trie: _Trie = {}
    for word in {w.lower() for w in words if w}:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}
    if not trie:
        return re.compile(r"(?!)")
    return re.compile(_trie_pattern(trie))


_Trie = dict[str, "_Trie"]


def _trie_pattern(node: _Trie) -> str:
    """Greedy: a longer word is tried before the shorter one it extends."""
    branches = [re.escape(char) + _trie_pattern(child) for char, child in sorted(node.items()) if char]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
    return f"(?:{body})?" if "" in node else body


@dataclass(frozen=True, slots=True)
class ComponentLexicon:
    """Keyword → (category, weight); one keyword may name several categories."""

    categories: tuple[str, ...]
    weights: dict[str, tuple[tuple[int, float], ...]]
    pattern: re.Pattern[str]

    def scores(self, lowered: str) -> list[float]:
        """Summed keyword weights per category, in ``categories`` order."""
        totals = [0.0] * len(self.categories)
        for match in self.pattern.finditer(lowered):
            for index, weight in self.weights[match.group()]:
                totals[index] += weight
        return totals


@cache
def component_lexicon() -> ComponentLexicon:
    raw = json.loads((DATA_DIR / "components.json").read_text(encoding="utf-8"))
    categories = tuple(name for name in raw if not name.startswith("_"))
    weights: dict[str, list[tuple[int, float]]] = {}
    for index, category in enumerate(categories):
        for word, weight in raw[category].items():
            weights.setdefault(word.lower(), []).append((index, float(weight)))
    return ComponentLexicon(
        categories=categories,
        weights={word: tuple(pairs) for word, pairs in weights.items()},
        pattern=alternation(weights),
    )


@cache
def severity_cues() -> dict[str, re.Pattern[str]]:
    """Cue name (critical, high, inquiry, …) → pattern."""
    raw = json.loads((DATA_DIR / "severity.json").read_text(encoding="utf-8"))
    return {name: alternation(words) for name, words in raw.items() if not name.startswith("_")}


@cache
def negations() -> tuple[str, ...]:
    raw = json.loads((DATA_DIR / "severity.json").read_text(encoding="utf-8"))
    return tuple(sorted(raw["negations"], key=len, reverse=True))
