"""Feedback classifier: quality on held-out data and speed on one core.

    .venv/bin/python bench/classify.py [--bdci PATH] [--model DIR]

Scores the packaged model (or --model DIR) against a textbook baseline on the fixed
held-out 20% of BDCI 2018 (by content_id; the model never trained on it):

- aspect macro-F1: for each of the 10 aspects, F1 of the binary "text mentions it"
  decision over the held-out texts; the 10 values are averaged (unweighted).
- sentiment macro-F1: one polarity per text (see training.text_sentiment), F1 per class
  (-1, 0, 1), averaged.
- baseline: char 1-3-gram TF-IDF + LinearSVC with default settings, one-vs-rest for the
  aspects, trained here on the same training part.

Also category accuracy/macro-F1 and severity accuracy on the held-out quarter of our
complaint set, texts/s of classify_many on one core (threads pinned to 1) and the size
of the model file.
Figures go to stdout and bench/results/classify.json. Bars: aspect ≥ 0.85,
sentiment ≥ 0.60, ≥ 2,000 texts/s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import f1_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from drivetrain.cases.classify import Classifier
from drivetrain.cases.classify.model import MODEL_DIR, MODEL_FILE
from drivetrain.cases.classify.training import (
    ASPECTS,
    BdciText,
    read_bdci,
    read_complaints,
    split_bdci,
    split_complaints,
)

HERE = Path(__file__).parent
RESULTS = HERE / "results" / "classify.json"
DEFAULT_BDCI = HERE.parent.parent / "shared" / "data" / "bdci2018_car_review_aspects.csv"
BARS = {"aspect_macro_f1": 0.85, "sentiment_macro_f1": 0.60, "texts_per_second": 2000.0}
SPEED_TEXTS = 5000


def aspect_matrix(aspect_sets: Sequence[Collection[str]]) -> np.ndarray:
    return np.array([[label in chosen for label in ASPECTS] for chosen in aspect_sets], dtype=int)


def quality(
    truth_aspects: np.ndarray, predicted_aspects: np.ndarray, truth: list[int], predicted: list[int]
) -> dict[str, Any]:
    per_label = f1_score(truth_aspects, predicted_aspects, average=None, zero_division=0)
    return {
        "aspect_macro_f1": round(float(np.mean(per_label)), 4),
        "aspect_f1_per_label": {
            label: round(float(f), 4) for label, f in zip(ASPECTS, per_label, strict=True)
        },
        "sentiment_macro_f1": round(float(f1_score(truth, predicted, average="macro")), 4),
        "sentiment_f1_per_class": {
            str(label): round(float(f), 4)
            for label, f in zip(
                (-1, 0, 1), f1_score(truth, predicted, labels=[-1, 0, 1], average=None), strict=True
            )
        },
    }


def baseline(train: list[BdciText], held: list[BdciText]) -> dict[str, Any]:
    """The textbook version: defaults everywhere, no tuning, no class weights."""
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3))
    train_x = vectorizer.fit_transform([t.example.text for t in train])
    held_x = vectorizer.transform([t.example.text for t in held])
    aspects = OneVsRestClassifier(LinearSVC()).fit(
        train_x, aspect_matrix([t.example.aspects or frozenset() for t in train])
    )
    sentiment = LinearSVC().fit(train_x, [t.example.sentiment for t in train])
    return quality(
        aspect_matrix([t.example.aspects or frozenset() for t in held]),
        aspects.predict(held_x),
        [t.example.sentiment or 0 for t in held],
        sentiment.predict(held_x).tolist(),
    )


def ours(classifier: Classifier, held: list[BdciText]) -> dict[str, Any]:
    results = classifier.classify_many([t.example.text for t in held])
    return quality(
        aspect_matrix([t.example.aspects or frozenset() for t in held]),
        aspect_matrix([tuple(r.aspects) for r in results]),
        [t.example.sentiment or 0 for t in held],
        [r.sentiment for r in results],
    )


def complaints(classifier: Classifier) -> dict[str, Any]:
    _, held = split_complaints(read_complaints())
    results = classifier.classify_many([c.example.text for c in held])
    truth = [c.example.category for c in held]
    predicted = [str(r.category) for r in results]
    return {
        "held_out_texts": len(held),
        "category_accuracy": round(
            float(np.mean([a == b for a, b in zip(truth, predicted, strict=True)])), 4
        ),
        "category_macro_f1": round(float(f1_score(truth, predicted, average="macro", zero_division=0)), 4),
        "severity_accuracy": round(
            float(np.mean([c.severity == r.severity for c, r in zip(held, results, strict=True)])), 4
        ),
        "sentiment_accuracy": round(
            float(np.mean([c.example.sentiment == r.sentiment for c, r in zip(held, results, strict=True)])),
            4,
        ),
    }


def texts_per_second(classifier: Classifier, texts: list[str]) -> float:
    """Best of three passes over SPEED_TEXTS texts in batches of 500, after a warm-up."""
    sample = (texts * (SPEED_TEXTS // len(texts) + 1))[:SPEED_TEXTS]
    classifier.classify_many(sample[:500])
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for start in range(0, len(sample), 500):
            classifier.classify_many(sample[start : start + 500])
        best = min(best, time.perf_counter() - started)
    return len(sample) / best


def one_core() -> None:
    """Pin the process to one CPU and every BLAS/OpenMP pool to one thread."""
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = "1"
    threadpool_limits(1)
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bdci", type=Path, default=DEFAULT_BDCI)
    parser.add_argument("--model", type=Path, default=MODEL_DIR)
    args = parser.parse_args()
    one_core()
    train, held = split_bdci(read_bdci(args.bdci))
    classifier = Classifier.from_directory(args.model)
    figures: dict[str, Any] = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.processor() or platform.machine(),
        "bdci_train_texts": len(train),
        "bdci_held_out_texts": len(held),
        "baseline": baseline(train, held),
        "ours": ours(classifier, held),
        "complaints_held_out": complaints(classifier),
        "texts_per_second_one_core": round(texts_per_second(classifier, [t.example.text for t in held])),
        "model_megabytes": round((args.model / MODEL_FILE).stat().st_size / 1e6, 2),
        "bars": BARS,
    }
    figures["bars_met"] = {
        "aspect_macro_f1": figures["ours"]["aspect_macro_f1"] >= BARS["aspect_macro_f1"],
        "sentiment_macro_f1": figures["ours"]["sentiment_macro_f1"] >= BARS["sentiment_macro_f1"],
        "texts_per_second": figures["texts_per_second_one_core"] >= BARS["texts_per_second"],
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(figures, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(figures, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
