"""The symptom an owner's text names (异响, 漏油, 无法启动 …): with the series and the component it keys
the defect clusters R&D watches. A lexicon, not a model: a symptom is a phrase owners share."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from drivetrain.cases.classify.text import normalize_text

SYMPTOMS_FILE = Path(__file__).parent / "data" / "symptoms.json"


@cache
def _lexicon() -> tuple[tuple[str, tuple[str, ...]], ...]:
    raw: dict[str, object] = json.loads(SYMPTOMS_FILE.read_text(encoding="utf-8"))
    return tuple(
        (name, tuple(str(p).lower() for p in phrases))
        for name, phrases in raw.items()
        if not name.startswith("_") and isinstance(phrases, list)
    )


def symptoms() -> list[str]:
    """Every symptom the lexicon knows, most specific first."""
    return [name for name, _ in _lexicon()]


def symptom_of(text: str) -> str | None:
    """The first symptom, in lexicon order, any of whose phrasings the text contains."""
    lowered = normalize_text(text).lower()
    for name, phrases in _lexicon():
        if any(phrase in lowered for phrase in phrases):
            return name
    return None
