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

from drivetrain.cases.classify.features import FeatureRows, Featurizer, text_clauses
from drivetrain.cases.classify.labels import Aspect, Category, Severity
from drivetrain.cases.classify.lexicon import DATA_DIR
from drivetrain.cases.classify.model import MODEL_DIR, LinearHead, Model, clause_summary, stack_inputs
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
_SENTIMENT_FOLDS = 5
_OFFSET_GRID = np.linspace(-2.0, 2.0, 41)
"""Candidate biases for the polar classes of the stack head (its scores are logits)."""


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
    polar_rows: int = 0
    """Rows with a polarity (±1), whether or not their opinion word was annotated."""


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
            polar_rows=sum(r["sentiment_value"] != "0" for r in rows),
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


def clause_targets(text: BdciText) -> list[int | None]:
    """A polarity for each clause of a BDCI text (``features.text_clauses``), from where its
    annotated opinion words sit: the sign of the words in the clause, neutral for a clause
    without any, or unknown (None) when some polar row of the text names no word, since
    that opinion may sit in any clause."""
    words = [(w.lower(), v) for w, v in text.opinion_words if v != 0 and w]
    every_opinion_placed = len(words) >= text.polar_rows
    targets: list[int | None] = []
    for clause in text_clauses(text.example.text):
        found = [v for w, v in words if w in clause]
        if found:
            targets.append(int(np.sign(sum(found))))
        else:
            targets.append(0 if every_opinion_placed else None)
    return targets


def _example_clause_targets(example: LabelledText) -> list[int | None]:
    """Without annotated words, only a one-clause text lends its polarity to its clause."""
    pieces = len(text_clauses(example.text))
    return [example.sentiment] if pieces == 1 else [None] * pieces


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
    rows = featurizer.rows([e.text for e in examples])
    lexicon = PolarityLexicon.fit([t.example.text for t in bdci_train], [t.opinion_words for t in bdci_train])
    polarity = _cross_fitted_polarity(bdci_train, [e.text for e in examples[len(bdci_train) :]], lexicon)
    clauses = _ClauseRows.of(
        rows,
        [
            *(clause_targets(t) for t in bdci_train),
            *(_example_clause_targets(e) for e in examples[len(bdci_train) :]),
        ],
    )
    aspect, aspect_f1, aspect_n = _aspect_head(rows.texts, examples)
    sentiment, sentiment_f1, sentiment_n = _sentiment_heads(rows.texts, clauses, polarity, examples)
    category, category_accuracy, category_n = _category_head(rows.texts, examples)
    model = Model(
        featurizer=featurizer,
        polarity=lexicon,
        aspect=aspect,
        sentiment=sentiment.text,
        clause=sentiment.clause,
        stack=sentiment.stack,
        category=category,
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


def _out_of_fold(
    make: Any, features: Any, target: np.ndarray, *, folds: int = _FOLDS, seed: int = 0
) -> np.ndarray:
    """Decision scores for every row from a model that did not see it."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    splits = StratifiedKFold(folds, shuffle=True, random_state=seed)
    scores: np.ndarray = cross_val_predict(make(), features, target, cv=splits, method="decision_function")
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


@dataclass(frozen=True, slots=True)
class _ClauseRows:
    """Every example's clauses as feature rows, the example each belongs to and its target
    (-1/0/1 as in SENTIMENTS; None when unknown)."""

    features: Any
    owners: np.ndarray
    targets: list[int | None]

    @classmethod
    def of(cls, rows: FeatureRows, targets: Sequence[list[int | None]]) -> _ClauseRows:
        """``targets[i]`` are the targets of example i's clauses, in order."""
        flat = list(itertools.chain.from_iterable(targets))
        if len(flat) != len(rows.owners):
            raise ValueError("clause targets do not match the clauses")
        return cls(features=rows.clauses, owners=rows.owners, targets=flat)

    def known(self, examples: np.ndarray) -> np.ndarray:
        """Rows of these examples' clauses whose target is known."""
        known = np.array([t is not None for t in self.targets], dtype=bool)
        return np.flatnonzero(np.isin(self.owners, examples) & known)

    def of_examples(self, examples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows of these (sorted) examples' clauses, and each row's position in ``examples``."""
        rows = np.flatnonzero(np.isin(self.owners, examples))
        return rows, np.searchsorted(examples, self.owners[rows])

    def target(self, rows: np.ndarray) -> np.ndarray:
        return np.array([str(self.targets[i]) for i in rows])


@dataclass(frozen=True, slots=True)
class _SentimentHeads:
    text: LinearHead
    clause: LinearHead
    stack: LinearHead


def _text_model() -> Any:
    """Class-balanced ridge (least squares): on these noisy labels it beat LinearSVC,
    logistic regression and NB-SVM out of fold."""
    from sklearn.linear_model import RidgeClassifier

    return RidgeClassifier(alpha=4.0, class_weight="balanced", solver="sparse_cg")


def _clause_model() -> Any:
    from sklearn.linear_model import RidgeClassifier

    return RidgeClassifier(alpha=2.0, class_weight="balanced", solver="sparse_cg")


def _stack_model() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000)


def _sentiment_heads(
    features: Any, clauses: _ClauseRows, polarity: np.ndarray, examples: Sequence[LabelledText]
) -> tuple[_SentimentHeads, float, int]:
    """Text and clause heads, then a logistic-regression stack over their out-of-fold
    scores and the polarity features, so the stack learns how far to trust each as they
    will be on unseen text. Its polar-class biases are tuned for macro-F1 on a second
    out-of-fold pass; the stack's standardisation is folded into its stored weights."""
    from sklearn.model_selection import StratifiedKFold

    rows = _rows(examples, "sentiment")
    target = np.array([str(examples[i].sentiment) for i in rows])
    held, blocks = [], []
    for learn, hold in StratifiedKFold(_SENTIMENT_FOLDS, shuffle=True, random_state=0).split(rows, target):
        text, clause = _text_and_clause_heads(features, clauses, rows[learn], target[learn])
        held.append(hold)
        blocks.append(_stack_inputs(text, clause, features, clauses, polarity, rows[hold]))
    inputs = np.vstack(blocks)[np.argsort(np.concatenate(held))]
    text, clause = _text_and_clause_heads(features, clauses, rows, target)
    mean, scale = inputs.mean(axis=0), np.maximum(inputs.std(axis=0), 1e-9)
    standard = (inputs - mean) / scale
    fitted = _stack_model().fit(standard, target)
    oof = _out_of_fold(_stack_model, standard, target, folds=_SENTIMENT_FOLDS, seed=1)
    offset, macro_f1 = _best_offsets(oof, target, tuple(fitted.classes_), _OFFSET_GRID)
    weights = fitted.coef_.T / scale[:, None]
    stack = LinearHead(
        classes=tuple(fitted.classes_),
        weights=weights,
        intercept=fitted.intercept_ - mean @ weights,
        offset=offset,
    )
    return _SentimentHeads(text=text, clause=clause, stack=stack), macro_f1, len(rows)


def _text_and_clause_heads(
    features: Any, clauses: _ClauseRows, rows: np.ndarray, target: np.ndarray
) -> tuple[LinearHead, LinearHead]:
    text = _linear_head(_text_model().fit(features[rows], target))
    known = clauses.known(rows)
    clause = _linear_head(_clause_model().fit(clauses.features[known], clauses.target(known)))
    return text, clause


def _stack_inputs(
    text: LinearHead,
    clause: LinearHead,
    features: Any,
    clauses: _ClauseRows,
    polarity: np.ndarray,
    rows: np.ndarray,
) -> np.ndarray:
    """What ``Model.sentiment_inputs`` computes at prediction time, for training rows."""
    order = np.argsort(rows)
    ordered = rows[order]
    clause_rows, positions = clauses.of_examples(ordered)
    summary = clause_summary(clause.scores(clauses.features[clause_rows]), positions, len(ordered))
    inputs = stack_inputs(text.scores(features[ordered]), summary, polarity[ordered])
    result: np.ndarray = inputs[np.argsort(order)]
    return result


def _linear_head(fitted: Any) -> LinearHead:
    return LinearHead(
        classes=tuple(str(c) for c in fitted.classes_),
        weights=fitted.coef_.T,
        intercept=fitted.intercept_,
        offset=np.zeros(len(fitted.classes_)),
    )


def _best_offsets(
    scores: np.ndarray, target: np.ndarray, classes: tuple[str, ...], grid: np.ndarray
) -> tuple[np.ndarray, float]:
    """Biases for the two polar classes (neutral stays at 0) that maximise macro-F1."""
    from sklearn.metrics import f1_score

    labels = np.array(classes)
    neutral = classes.index("0")
    best = (-1.0, np.zeros(len(classes)))
    for shifts in itertools.product(grid, repeat=len(classes) - 1):
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
    return _linear_head(fitted), accuracy, len(rows)
