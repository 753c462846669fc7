"""classify(): one owner message → category, severity, sentiment and BDCI aspects."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from drivetrain.cases.classify.labels import Aspect, Category, Severity
from drivetrain.cases.classify.model import MODEL_DIR, Model
from drivetrain.cases.classify.severity import assess_severity
from drivetrain.cases.classify.text import normalize_text


@dataclass(frozen=True, slots=True)
class Classification:
    text: str
    """The normalised text that was classified."""
    category: Category
    severity: Severity
    sentiment: int
    """-1 negative, 0 neutral or mixed, 1 positive."""
    aspects: tuple[Aspect, ...]


class Classifier:
    """A loaded model; build one per model directory and reuse it."""

    def __init__(self, model: Model) -> None:
        self.model = model
        allowed = {str(c) for c in Category}
        unknown = set(model.category.classes) - allowed
        if unknown:
            raise ValueError(f"model predicts unknown categories: {sorted(unknown)}")

    @classmethod
    def from_directory(cls, directory: Path = MODEL_DIR) -> Classifier:
        return cls(Model.load(directory))

    def classify_many(self, texts: list[str]) -> list[Classification]:
        """Batching matters: features and scores are computed for all texts at once."""
        normalised = [normalize_text(t) for t in texts]
        for position, text in enumerate(normalised):
            if not text:
                raise ValueError(f"text #{position} is empty")
        if not normalised:
            return []
        rows = self.model.featurizer.rows(normalised)
        categories = self.model.category.best(rows.texts)
        sentiments = self.model.sentiments(rows, normalised)
        aspects = self.model.aspect.labels_on(rows.texts)
        return [
            Classification(
                text=text,
                category=Category(category),
                severity=assess_severity(text.lower(), sentiment),
                sentiment=sentiment,
                aspects=tuple(Aspect(a) for a in labels),
            )
            for text, category, sentiment, labels in zip(
                normalised, categories, sentiments, aspects, strict=True
            )
        ]

    def classify(self, text: str) -> Classification:
        return self.classify_many([text])[0]


_loading = threading.Lock()


@cache
def _packaged() -> Classifier:
    return Classifier.from_directory()


def packaged_classifier() -> Classifier:
    """The model shipped in the package, loaded once, on first use or by ``warm_up``."""
    with _loading:
        return _packaged()


def warm_up() -> None:
    """Load the model and jieba's dictionary now (seconds of work), so the first complaint a server
    takes does not wait for them; a request arriving meanwhile waits for this rather than loading twice."""
    with _loading:
        _packaged().classify("刹车异响")


def classify(text: str) -> Classification:
    """Classify one message with the packaged model; empty text raises ValueError."""
    return packaged_classifier().classify(text)


def classify_many(texts: list[str]) -> list[Classification]:
    """Classify many messages with the packaged model (much faster per text than one by one)."""
    return packaged_classifier().classify_many(texts)
