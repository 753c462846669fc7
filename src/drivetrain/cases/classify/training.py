"""Training the packaged model from BDCI 2018, our complaint set and console corrections.

Splits are fixed by hashing a key (BDCI content_id, complaint text) with a seed, so the
held-out part never changes when rows are added, and the shipped model has never seen
the texts the benchmark scores it on. Thresholds and class biases are tuned on
out-of-fold scores of the training part only."""

from __future__ import annotations

import csv
import hashlib
import itertools
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drivetrain.cases.classify.features import Featurizer
from drivetrain.cases.classify.labels import Aspect, Category, Severity
from drivetrain.cases.classify.lexicon import DATA_DIR
from drivetrain.cases.classify.model import MODEL_DIR, LinearHead, Model
from drivetrain.cases.classify.polarity import FEATURE_NAMES, PolarityLexicon
from drivetrain.cases.classify.text import normalize_text

SPLIT_SEED = "drivetrain-classify-2026"
BDCI_HELD_OUT = 0.2
COMPLAINTS_HELD_OUT = 0.25
COMPLAINTS_CSV = DATA_DIR / "complaints_zh.csv"
ASPECTS = tuple(str(a) for a in Aspect)
SENTIMENTS = ("-1", "0", "1")
_FOLDS = 3
_POLARITY_FOLDS = 5
_POLARITY_SCALE = 0.3
"""Weight of the standardised polarity features next to the unit-length TF-IDF rows
(chosen by 5-fold cross-validation on the training part)."""


@dataclass(frozen=True, slots=True)
class LabelledText:
    """One training example; a label left as None is unknown and the text skips that head
    (a console correction may fix only the category, a BDCI row has no category)."""

    text: str
    aspects: frozenset[str] | None = None
    sentiment: int | None = None
    category: str | None = None


@dataclass(frozen=True, slots=True)
class BdciText:
    content_id: str
    example: LabelledText
    opinion_words: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class Complaint:
    example: LabelledText
    severity: Severity


@dataclass(frozen=True, slots=True)
class TrainReport:
    """What was trained on, and out-of-fold figures on the training part (not a test score)."""

    model_path: Path
    model_bytes: int
    aspect_texts: int
    sentiment_texts: int
    category_texts: int
    validation_aspect_macro_f1: float
    validation_sentiment_macro_f1: float
    validation_category_accuracy: float
    seconds: float


def is_held_out(key: str, fraction: float) -> bool:
    """Stable pseudo-random membership: the same key is held out on every machine and run."""
    digest = hashlib.sha256(f"{SPLIT_SEED}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def text_sentiment(values: Iterable[int]) -> int:
    """One polarity for a text from its per-aspect rows.

    Neutral rows only say an aspect was mentioned, so the opinion-bearing rows decide: the
    more frequent of -1 and +1; neutral when there is no opinion or as many of each."""
    counts = Counter(v for v in values if v != 0)
    if counts[1] == counts[-1]:
        return 0
    return 1 if counts[1] > counts[-1] else -1


def read_bdci(path: Path) -> list[BdciText]:
    """Rows grouped by content_id: one text, its aspects (multi-label) and its polarity."""
    grouped: dict[str, list[dict[str, str]]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            grouped.setdefault(row["content_id"], []).append(row)
    return [
        BdciText(
            content_id=content_id,
            example=LabelledText(
                text=normalize_text(rows[0]["content"]),
                aspects=frozenset(r["subject"] for r in rows),
                sentiment=text_sentiment(int(r["sentiment_value"]) for r in rows),
            ),
            opinion_words=tuple(
                (normalize_text(r["sentiment_word"]), int(r["sentiment_value"]))
                for r in rows
                if r["sentiment_word"].strip()
            ),
        )
        for content_id, rows in grouped.items()
    ]


def split_bdci(texts: Sequence[BdciText]) -> tuple[list[BdciText], list[BdciText]]:
    """(train, held out) by content_id."""
    held = [t for t in texts if is_held_out(f"bdci:{t.content_id}", BDCI_HELD_OUT)]
    kept = [t for t in texts if not is_held_out(f"bdci:{t.content_id}", BDCI_HELD_OUT)]
    return kept, held


def read_complaints(path: Path = COMPLAINTS_CSV) -> list[Complaint]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            Complaint(
                example=LabelledText(
                    text=normalize_text(row["text"]),
                    sentiment=int(row["sentiment"]),
                    category=str(Category(row["category"])),
                ),
                severity=Severity(row["severity"]),
            )
            for row in csv.DictReader(handle)
        ]


def split_complaints(complaints: Sequence[Complaint]) -> tuple[list[Complaint], list[Complaint]]:
    """(train, held out) by text."""
    held = [c for c in complaints if is_held_out(f"complaint:{c.example.text}", COMPLAINTS_HELD_OUT)]
    kept = [c for c in complaints if not is_held_out(f"complaint:{c.example.text}", COMPLAINTS_HELD_OUT)]
    return kept, held


def polarity_words(texts: Iterable[BdciText]) -> tuple[list[str], list[str]]:
    """Opinion words annotated in BDCI, kept on the side they lean to more often."""
    positive: Counter[str] = Counter()
    negative: Counter[str] = Counter()
    for text in texts:
        for word, polarity in text.opinion_words:
            if polarity > 0:
                positive[word] += 1
            elif polarity < 0:
                negative[word] += 1
    return (
        sorted(w for w in positive if positive[w] > negative[w]),
        sorted(w for w in negative if negative[w] > positive[w]),
    )


def train(
    bdci_csv: Path, extra_labelled: Sequence[LabelledText] = (), *, out_dir: Path = MODEL_DIR
) -> TrainReport:
    """Train on the training parts of BDCI and the complaint set plus ``extra_labelled``
    (e.g. console corrections), and write the model into ``out_dir``."""
    started = time.perf_counter()
    bdci_train, _ = split_bdci(read_bdci(bdci_csv))
    complaints_train, _ = split_complaints(read_complaints())
    examples = [
        *(t.example for t in bdci_train),
        *(c.example for c in complaints_train),
        *(_normalised(e) for e in extra_labelled),
    ]
    positive, negative = polarity_words(bdci_train)
    featurizer = Featurizer.fit([e.text for e in examples], positive_words=positive, negative_words=negative)
    features = featurizer.transform([e.text for e in examples])
    lexicon = PolarityLexicon.fit([t.example.text for t in bdci_train], [t.opinion_words for t in bdci_train])
    polarity = _cross_fitted_polarity(bdci_train, [e.text for e in examples[len(bdci_train) :]], lexicon)
    aspect, aspect_f1, aspect_n = _aspect_head(features, examples)
    sentiment, sentiment_f1, sentiment_n = _sentiment_head(features, polarity, examples)
    category, category_accuracy, category_n = _category_head(features, examples)
    model = Model(
        featurizer=featurizer, polarity=lexicon, aspect=aspect, sentiment=sentiment, category=category
    )
    path = model.save(out_dir)
    return TrainReport(
        model_path=path,
        model_bytes=path.stat().st_size,
        aspect_texts=aspect_n,
        sentiment_texts=sentiment_n,
        category_texts=category_n,
        validation_aspect_macro_f1=aspect_f1,
        validation_sentiment_macro_f1=sentiment_f1,
        validation_category_accuracy=category_accuracy,
        seconds=time.perf_counter() - started,
    )


def _normalised(example: LabelledText) -> LabelledText:
    if example.category is not None:
        Category(example.category)  # reject a label the product does not know
    if example.aspects is not None and not example.aspects <= set(ASPECTS):
        raise ValueError(f"unknown aspects: {sorted(example.aspects - set(ASPECTS))}")
    return LabelledText(
        text=normalize_text(example.text),
        aspects=example.aspects,
        sentiment=example.sentiment,
        category=example.category,
    )


def _rows(examples: Sequence[LabelledText], field: str) -> np.ndarray:
    return np.array([i for i, e in enumerate(examples) if getattr(e, field) is not None], dtype=np.int64)


def _out_of_fold(make: Any, features: Any, target: np.ndarray) -> np.ndarray:
    """Decision scores for every row from a model that did not see it."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    folds = StratifiedKFold(_FOLDS, shuffle=True, random_state=0)
    scores: np.ndarray = cross_val_predict(make(), features, target, cv=folds, method="decision_function")
    return scores


def _aspect_head(features: Any, examples: Sequence[LabelledText]) -> tuple[LinearHead, float, int]:
    """One-vs-rest LinearSVC, each label with the threshold that maximised its
    out-of-fold F1 (the default 0 under-predicts the rarer aspects)."""
    from sklearn.metrics import f1_score
    from sklearn.svm import LinearSVC

    rows = _rows(examples, "aspects")
    matrix = features[rows]
    weights, intercepts, thresholds, scores = [], [], [], []
    for label in ASPECTS:
        target = np.array([label in (examples[i].aspects or ()) for i in rows])
        fitted = LinearSVC(C=0.5).fit(matrix, target)
        oof = _out_of_fold(lambda: LinearSVC(C=0.5), matrix, target)
        threshold = _best_threshold(oof, target)
        weights.append(fitted.coef_[0])
        intercepts.append(fitted.intercept_[0])
        thresholds.append(threshold)
        scores.append(f1_score(target, oof >= threshold))
    head = LinearHead(
        classes=ASPECTS,
        weights=np.stack(weights, axis=1),
        intercept=np.array(intercepts),
        offset=-np.array(thresholds),
    )
    return head, float(np.mean(scores)), len(rows)


def _best_threshold(scores: np.ndarray, target: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    candidates = np.quantile(scores, np.linspace(0.5, 0.995, 120))
    results = [f1_score(target, scores >= c) for c in candidates]
    return float(candidates[int(np.argmax(results))])


def _cross_fitted_polarity(
    bdci_train: Sequence[BdciText], other_texts: Sequence[str], lexicon: PolarityLexicon
) -> np.ndarray:
    """Polarity features for the training rows, each BDCI text read with a lexicon learnt
    from the other folds: with the full lexicon a word annotated once would look
    infallible on the very text it came from, and the head would over-trust it."""
    rows = np.zeros((len(bdci_train), len(FEATURE_NAMES)))
    fold = np.arange(len(bdci_train)) % _POLARITY_FOLDS
    for k in range(_POLARITY_FOLDS):
        learn = [t for t, f in zip(bdci_train, fold, strict=True) if f != k]
        partial = PolarityLexicon.fit([t.example.text for t in learn], [t.opinion_words for t in learn])
        rows[fold == k] = partial.transform([t.example.text for t in bdci_train[k::_POLARITY_FOLDS]])
    return np.vstack([rows, lexicon.transform(other_texts)])


def _sentiment_head(
    features: Any, polarity: np.ndarray, examples: Sequence[LabelledText]
) -> tuple[LinearHead, float, int]:
    """Class-balanced ridge (least squares) classifier over the shared features and the
    standardised polarity features: on these noisy labels it beat LinearSVC and logistic
    regression; the ±1 biases are tuned for macro-F1. The standardisation is folded into
    the stored weights, so prediction reads the raw polarity features."""
    from scipy.sparse import csr_matrix, hstack
    from sklearn.linear_model import RidgeClassifier

    rows = _rows(examples, "sentiment")
    target = np.array([str(examples[i].sentiment) for i in rows])
    mean = polarity[rows].mean(axis=0)
    scale = _POLARITY_SCALE / np.maximum(polarity[rows].std(axis=0), 1e-9)
    matrix = hstack([features[rows], csr_matrix((polarity[rows] - mean) * scale)], format="csr")

    def make() -> Any:
        return RidgeClassifier(alpha=4.0, class_weight="balanced", solver="sparse_cg")

    fitted = make().fit(matrix, target)
    oof = _out_of_fold(make, matrix, target)
    offset, macro_f1 = _best_offsets(oof, target, tuple(fitted.classes_))
    weights = fitted.coef_.T.copy()
    polar = slice(features.shape[1], None)
    weights[polar] *= scale[:, None]
    intercept = fitted.intercept_ - mean @ weights[polar]
    head = LinearHead(classes=tuple(fitted.classes_), weights=weights, intercept=intercept, offset=offset)
    return head, macro_f1, len(rows)


def _best_offsets(
    scores: np.ndarray, target: np.ndarray, classes: tuple[str, ...]
) -> tuple[np.ndarray, float]:
    """Biases for the two polar classes (neutral stays at 0) that maximise macro-F1."""
    from sklearn.metrics import f1_score

    labels = np.array(classes)
    neutral = classes.index("0")
    best = (-1.0, np.zeros(len(classes)))
    for shifts in itertools.product(np.linspace(-0.6, 0.6, 13), repeat=len(classes) - 1):
        offset = np.insert(np.array(shifts), neutral, 0.0)
        score = float(f1_score(target, labels[np.argmax(scores + offset, axis=1)], average="macro"))
        if score > best[0]:
            best = (score, offset)
    return best[1], best[0]


def _category_head(features: Any, examples: Sequence[LabelledText]) -> tuple[LinearHead, float, int]:
    """Linear SVM over the same features; the component-keyword counts carry most of the
    weight because the labelled set is small."""
    from sklearn.svm import LinearSVC

    rows = _rows(examples, "category")
    target = np.array([examples[i].category for i in rows])

    def make() -> Any:
        return LinearSVC(C=1.0, class_weight="balanced")

    fitted = make().fit(features[rows], target)
    oof = _out_of_fold(make, features[rows], target)
    accuracy = float(np.mean(fitted.classes_[np.argmax(oof, axis=1)] == target))
    head = LinearHead(
        classes=tuple(str(c) for c in fitted.classes_),
        weights=fitted.coef_.T,
        intercept=fitted.intercept_,
        offset=np.zeros(len(fitted.classes_)),
    )
    return head, accuracy, len(rows)
