"""Opinion-word features for the sentiment head, learnt from the BDCI ``sentiment_word``
annotations.

Each annotated word keeps how often it was marked negative, neutral and positive, and in
how many training texts it occurs at all: "高" is marked negative for a price and positive
for a ground clearance, and "优惠" is marked as an opinion in a fraction of the texts that
say it. A text is read clause by clause: a negator just before a word (不/没/无/未/别)
swaps its polarity, a contrast conjunction (但是/不过/可是/就是…) puts the words after it
in their own group, and the first and last clauses are counted apart because owners open
and close with their verdict. The state is three arrays, so the model file stays data."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from drivetrain.cases.classify.lexicon import alternation
from drivetrain.cases.classify.text import clauses as split_clauses

_NEGATORS = "不没无未别"
_NEGATION_REACH = 3
_DEGREE = ("非常", "特别", "十分", "很", "太", "超", "真", "挺", "蛮", "比较", "有点", "稍微", "略", "更")
_CONTRAST = ("但是", "不过", "可是", "然而", "就是", "只是", "可惜", "但", "却")
_QUESTION = ("?", "吗", "难道", "怎么", "为什么", "为啥", "是不是")
_NEGATOR_SET = frozenset(_NEGATORS)
_DEGREE_PATTERN = alternation(_DEGREE)
_CONTRAST_PATTERN = alternation(_CONTRAST)
_MAX_WORD_LENGTH = 8
_PRIOR = np.array([0.2, 0.6, 0.2])
"""Pseudo-counts (negative, neutral, positive) for a word seen only a few times."""

FEATURE_NAMES = (
    "negative",
    "neutral",
    "positive",
    "max_negative",
    "max_positive",
    "last_clause_negative",
    "last_clause_positive",
    "after_contrast_negative",
    "after_contrast_positive",
    "negated",
    "intensified",
    "opinion_words",
    "question",
    "exclaim",
    "first_clause_negative",
    "first_clause_positive",
)


class PolarityLexicon:
    """Word → annotated polarity counts; ``features`` turns a text into FEATURE_NAMES."""

    def __init__(self, *, words: Sequence[str], counts: np.ndarray, mentions: np.ndarray) -> None:
        self.words = list(words)
        self.counts = np.asarray(counts, dtype=np.float64).reshape(len(self.words), 3)
        self.mentions = np.asarray(mentions, dtype=np.float64)
        self._pattern = alternation(self.words)
        annotated = self.counts.sum(axis=1)
        distribution = (self.counts + _PRIOR) / (annotated[:, None] + 1.0)
        # How often the word is marked as an opinion where it occurs ("优惠" rarely is).
        reliability = annotated / (self.mentions + 1.0)
        weighted = distribution * reliability[:, None]
        # word → (negative, neutral, positive) already weighted by reliability, and the weight
        self._scores = {
            w: (*(float(x) for x in row), float(r))
            for w, row, r in zip(self.words, weighted, reliability, strict=True)
        }

    @classmethod
    def fit(cls, texts: Sequence[str], opinion_words: Sequence[Iterable[tuple[str, int]]]) -> PolarityLexicon:
        """``opinion_words[i]`` are (word, polarity −1/0/1) pairs annotated on ``texts[i]``."""
        counts: dict[str, list[int]] = {}
        for pairs in opinion_words:
            for word, polarity in pairs:
                lowered = word.lower().strip()
                if lowered and len(lowered) <= _MAX_WORD_LENGTH:
                    counts.setdefault(lowered, [0, 0, 0])[polarity + 1] += 1
        vocabulary = sorted(counts)
        pattern = alternation(vocabulary)
        mentions: Counter[str] = Counter()
        for text in texts:
            mentions.update({m.group() for m in pattern.finditer(text.lower())})
        return cls(
            words=vocabulary,
            counts=np.array([counts[w] for w in vocabulary], dtype=np.float64).reshape(-1, 3),
            mentions=np.array([max(mentions[w], sum(counts[w])) for w in vocabulary], dtype=np.float64),
        )

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([self.features(t.lower()) for t in texts], dtype=np.float64).reshape(
            len(texts), len(FEATURE_NAMES)
        )

    def features(self, lowered: str) -> list[float]:
        """FEATURE_NAMES for one lower-cased, normalised text."""
        f = [0.0] * len(FEATURE_NAMES)
        clauses = split_clauses(lowered)
        matches = 0
        for position, clause in enumerate(clauses):
            contrast = _CONTRAST_PATTERN.search(clause)
            contrast_at = contrast.start() if contrast else -1
            for match in self._pattern.finditer(clause):
                word, start = match.group(), match.start()
                negative, neutral, positive, weight = self._scores[word]
                before = clause[max(0, start - _NEGATION_REACH) : start]
                if word[0] not in _NEGATOR_SET and not _NEGATOR_SET.isdisjoint(before):
                    negative, positive = positive, negative
                    f[9] += weight
                if _DEGREE_PATTERN.search(before):
                    f[10] += weight
                f[0] += negative
                f[1] += neutral
                f[2] += positive
                f[3] = max(f[3], negative)
                f[4] = max(f[4], positive)
                if position == len(clauses) - 1:
                    f[5] += negative
                    f[6] += positive
                if 0 <= contrast_at < start:
                    f[7] += negative
                    f[8] += positive
                if position == 0:
                    f[14] += negative
                    f[15] += positive
                matches += 1
        f[11] = math.log1p(matches)
        f[12] = float(any(q in lowered for q in _QUESTION))
        f[13] = float("!" in lowered)
        return f

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "polarity_words": np.array(self.words, dtype=str),
            "polarity_counts": self.counts.astype(np.float32),
            "polarity_mentions": self.mentions.astype(np.float32),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> PolarityLexicon:
        return cls(
            words=arrays["polarity_words"].tolist(),
            counts=arrays["polarity_counts"],
            mentions=arrays["polarity_mentions"],
        )
