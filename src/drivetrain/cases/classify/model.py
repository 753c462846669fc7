"""The trained model as plain arrays in one compressed ``.npz``: loading it runs no
pickled code, and it survives scikit-learn upgrades because only vocabularies and
weights are stored, never estimator objects."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from drivetrain.cases.classify.features import Featurizer
from drivetrain.cases.classify.polarity import PolarityLexicon

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix

MODEL_DIR = Path(__file__).parent / "model"
MODEL_FILE = "classifier.npz"
HEADS = ("aspect", "sentiment", "category")


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

    def scores(self, features: csr_matrix) -> np.ndarray:
        result: np.ndarray = features @ self.weights + (self.intercept + self.offset)
        return result

    def best(self, features: csr_matrix) -> list[str]:
        return [self.classes[i] for i in np.argmax(self.scores(features), axis=1)]

    def labels_on(self, features: csr_matrix) -> list[tuple[str, ...]]:
        on = self.scores(features) >= 0
        return [tuple(c for c, flag in zip(self.classes, row, strict=True) if flag) for row in on]


@dataclass(frozen=True, slots=True)
class Model:
    """The sentiment head reads the shared features followed by the polarity-lexicon
    features (see ``sentiment_features``); the other heads read the shared ones only."""

    featurizer: Featurizer
    polarity: PolarityLexicon
    aspect: LinearHead
    sentiment: LinearHead
    category: LinearHead

    def sentiment_features(self, features: csr_matrix, texts: list[str]) -> csr_matrix:
        from scipy.sparse import csr_matrix, hstack

        result: csr_matrix = hstack([features, csr_matrix(self.polarity.transform(texts))], format="csr")
        return result

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
