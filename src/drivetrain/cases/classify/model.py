"""The trained model as plain arrays in one compressed ``.npz``: loading it runs no
pickled code, and it survives scikit-learn upgrades because only vocabularies and
weights are stored, never estimator objects."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from drivetrain.cases.classify.features import FeatureRows, Featurizer
from drivetrain.cases.classify.polarity import PolarityLexicon

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix

MODEL_DIR = Path(__file__).parent / "model"
MODEL_FILE = "classifier.npz"
HEADS = ("aspect", "sentiment", "clause", "stack", "category")


def stack_inputs(text_scores: np.ndarray, clauses: np.ndarray, polarity: np.ndarray) -> np.ndarray:
    """The stack head's columns, in one order for training and prediction."""
    return np.hstack([text_scores, clauses, polarity])


@dataclass(frozen=True, slots=True)
class LinearHead:
    """Scores = features · weights + intercept + offset.

    For the multi-label aspect head ``offset`` is minus the per-label threshold, so a
    label is on when its score is ≥ 0; for single-label heads it is a per-class bias
    tuned for macro-F1, and the highest score wins."""

    classes: tuple[str, ...]
    weights: np.ndarray
    intercept: np.ndarray
    offset: np.ndarray

    def scores(self, features: csr_matrix | np.ndarray) -> np.ndarray:
        result: np.ndarray = features @ self.weights + (self.intercept + self.offset)
        return result

    def best(self, features: csr_matrix | np.ndarray) -> list[str]:
        return [self.classes[i] for i in np.argmax(self.scores(features), axis=1)]

    def labels_on(self, features: csr_matrix) -> list[tuple[str, ...]]:
        on = self.scores(features) >= 0
        return [tuple(c for c, flag in zip(self.classes, row, strict=True) if flag) for row in on]


def clause_summary(scores: np.ndarray, owners: np.ndarray, texts: int) -> np.ndarray:
    """Per text and class: the highest, the mean and the last of its clauses' scores
    (``owners[i]`` is the text of clause row ``i``; a text's rows are contiguous)."""
    classes = scores.shape[1]
    highest = np.full((texts, classes), -np.inf)
    np.maximum.at(highest, owners, scores)
    total = np.zeros((texts, classes))
    np.add.at(total, owners, scores)
    mean = total / np.bincount(owners, minlength=texts)[:, None]
    last = np.zeros((texts, classes))
    last[owners] = scores  # the later of repeated indices wins
    return np.hstack([highest, mean, last])


@dataclass(frozen=True, slots=True)
class Model:
    """Sentiment is stacked: ``sentiment`` scores the whole text on the shared features,
    ``clause`` scores each clause on its character n-grams (an opinion sits in one clause and
    is diluted in a long text), and ``stack`` decides from those scores and the
    polarity-lexicon features (see ``sentiment_inputs``). The other heads read the shared
    features."""

    featurizer: Featurizer
    polarity: PolarityLexicon
    aspect: LinearHead
    sentiment: LinearHead
    clause: LinearHead
    stack: LinearHead
    category: LinearHead

    def sentiment_inputs(self, rows: FeatureRows, texts: list[str]) -> np.ndarray:
        """The stack head's input for normalised ``texts`` featurised as ``rows``."""
        return stack_inputs(
            self.sentiment.scores(rows.texts),
            clause_summary(self.clause.scores(rows.clauses), rows.owners, len(texts)),
            self.polarity.transform(texts),
        )

    def sentiments(self, rows: FeatureRows, texts: list[str]) -> list[int]:
        return [int(s) for s in self.stack.best(self.sentiment_inputs(rows, texts))]

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        arrays = self.featurizer.to_arrays() | self.polarity.to_arrays()
        for name in HEADS:
            head: LinearHead = getattr(self, name)
            arrays[f"{name}_classes"] = np.array(head.classes, dtype=str)
            arrays[f"{name}_weights"] = head.weights.astype(np.float32)
            arrays[f"{name}_intercept"] = head.intercept.astype(np.float32)
            arrays[f"{name}_offset"] = head.offset.astype(np.float32)
        path = directory / MODEL_FILE
        np.savez_compressed(path, **arrays)  # type: ignore[arg-type]
        return path

    @classmethod
    def load(cls, directory: Path = MODEL_DIR) -> Model:
        with np.load(directory / MODEL_FILE, allow_pickle=False) as stored:
            arrays = {key: stored[key] for key in stored.files}
        heads = {
            name: LinearHead(
                classes=tuple(arrays[f"{name}_classes"].tolist()),
                weights=arrays[f"{name}_weights"],
                intercept=arrays[f"{name}_intercept"],
                offset=arrays[f"{name}_offset"],
            )
            for name in HEADS
        }
        return cls(
            featurizer=Featurizer.from_arrays(arrays), polarity=PolarityLexicon.from_arrays(arrays), **heads
        )
