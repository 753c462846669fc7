"""Text → feature rows, the same way at training and at prediction time.

Features: TF-IDF over character 1-3-grams (robust to jieba's mistakes and to typos),
TF-IDF over jieba word uni- and bigrams (catch "没有 问题"-style phrases), weighted
component-keyword counts per category, and counts of polarity words learnt from the
BDCI annotations (with a "negated" variant when 不/没/无 sits right before them). Each
clause also gets its own character TF-IDF row, for the clause-level sentiment head.
The state (vocabularies, idf, polarity words) is plain arrays, so the model file is
data, never pickled code."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

from drivetrain.cases.classify.lexicon import DATA_DIR, alternation, component_lexicon
from drivetrain.cases.classify.text import CLAUSE_SEPARATORS, clauses

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix

CHAR_NGRAMS = (1, 3)
WORD_NGRAMS = (1, 2)
MIN_DF = 2
_NEGATORS = frozenset("不没无未别")
_COMPONENT_SCALE = 0.5
_CLAUSE = re.compile(f"[^{CLAUSE_SEPARATORS}]+")
_WHITESPACE_RUN = re.compile(r"\s\s+")


@cache
def _jieba() -> Any:
    """jieba with the automotive user dictionary, loaded once on first use."""
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    tokenizer.load_userdict(str(DATA_DIR / "userdict.txt"))
    return tokenizer


def words(text: str) -> list[str]:
    """jieba words without whitespace; HMM off because the user dictionary covers the
    domain terms and it is a third faster."""
    return [w for w in _jieba().lcut(text.lower(), HMM=False) if not w.isspace()]


def _word_analyzer(tokens: list[str]) -> list[str]:
    return tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]


def _char_vectorizer(vocabulary: dict[str, int] | None = None) -> Any:
    from sklearn.feature_extraction.text import CountVectorizer

    return CountVectorizer(
        analyzer="char", ngram_range=CHAR_NGRAMS, lowercase=True, min_df=MIN_DF, vocabulary=vocabulary
    )


def _word_vectorizer(vocabulary: dict[str, int] | None = None) -> Any:
    from sklearn.feature_extraction.text import CountVectorizer

    return CountVectorizer(analyzer=_word_analyzer, min_df=MIN_DF, vocabulary=vocabulary)


def _tfidf(counts: csr_matrix, idf: np.ndarray) -> csr_matrix:
    """Sublinear tf × idf, rows scaled to unit length (what TfidfVectorizer does)."""
    from sklearn.preprocessing import normalize

    weighted = counts.astype(np.float64)
    weighted.data = 1.0 + np.log(weighted.data)
    weighted = weighted.multiply(idf).tocsr()
    result: csr_matrix = normalize(weighted)
    return result


def _idf(counts: csr_matrix) -> np.ndarray:
    documents = counts.shape[0]
    document_frequency = np.bincount(counts.indices, minlength=counts.shape[1])
    idf: np.ndarray = np.log((1 + documents) / (1 + document_frequency)) + 1.0
    return idf


def text_clauses(text: str) -> list[str]:
    """A text's clauses, lower-cased; the whole text when it has no clause of its own."""
    lowered = text.lower()
    return clauses(lowered) or [lowered]


@dataclass(frozen=True, slots=True)
class FeatureRows:
    """A batch's features: one row per text, and one row per clause (``text_clauses``) with
    the index of the text it belongs to (a text's clause rows are contiguous, in order)."""

    texts: csr_matrix
    clauses: csr_matrix
    owners: np.ndarray


class _CharCounter:
    """Character n-gram counts of texts and of their clauses from one pass over each text:
    a clause's n-grams are the text's n-grams inside it, and the text adds those that
    reach over punctuation. Same n-grams as scikit-learn's ``analyzer="char"``."""

    def __init__(self, vocabulary: Sequence[str]) -> None:
        self.index = {g: i for i, g in enumerate(vocabulary)}
        self.width = len(vocabulary)

    def counts(self, texts: Sequence[str]) -> tuple[csr_matrix, csr_matrix, np.ndarray]:
        from scipy.sparse import csr_matrix

        text_columns: list[list[int]] = []
        clause_columns: list[list[int]] = []
        owners: list[int] = []
        for position, text in enumerate(texts):
            lowered = _WHITESPACE_RUN.sub(" ", text.lower())
            spans = [m.span() for m in _CLAUSE.finditer(lowered)] or [(0, len(lowered))]
            pieces = [self._columns(lowered, start, end) for start, end in spans]
            clause_columns.extend(pieces)
            owners.extend([position] * len(pieces))
            text_columns.append([*itertools.chain.from_iterable(pieces), *self._across(lowered, spans)])

        def matrix(columns: list[list[int]]) -> csr_matrix:
            lengths = [len(c) for c in columns]
            indices = np.fromiter(itertools.chain.from_iterable(columns), dtype=np.int64, count=sum(lengths))
            rows = np.repeat(np.arange(len(columns)), lengths)
            counts = np.ones(len(indices))
            result = csr_matrix((counts, (rows, indices)), shape=(len(columns), self.width))
            result.sum_duplicates()
            return result

        return matrix(text_columns), matrix(clause_columns), np.array(owners, dtype=np.int64)

    def _columns(self, text: str, start: int, end: int) -> list[int]:
        """Vocabulary columns of the n-grams inside text[start:end]."""
        index = self.index
        grams = [
            text[i : i + n]
            for n in range(CHAR_NGRAMS[0], CHAR_NGRAMS[1] + 1)
            for i in range(start, end - n + 1)
        ]
        return [column for column in map(index.get, grams) if column is not None]

    def _across(self, text: str, spans: list[tuple[int, int]]) -> list[int]:
        """Vocabulary columns of the n-grams that hold punctuation (a gap between clauses)."""
        bounds = itertools.pairwise([(0, 0), *spans, (len(text), 0)])
        gaps = [(end, start) for (_, end), (start, _) in bounds if end < start]
        grams: list[str] = []
        for n in range(CHAR_NGRAMS[0], CHAR_NGRAMS[1] + 1):
            done = 0  # n-grams starting before this were taken from an earlier gap
            for gap_start, gap_end in gaps:
                first, last = max(gap_start - n + 1, done), min(gap_end, len(text) - n + 1)
                grams += [text[i : i + n] for i in range(first, last)]
                done = max(done, last)
        return [column for column in map(self.index.get, grams) if column is not None]


class Featurizer:
    """Fitted vocabularies, idf weights and polarity words; ``rows`` is batch-friendly."""

    def __init__(
        self,
        *,
        char_vocabulary: Sequence[str],
        char_idf: np.ndarray,
        word_vocabulary: Sequence[str],
        word_idf: np.ndarray,
        positive_words: Sequence[str],
        negative_words: Sequence[str],
    ) -> None:
        self.char_vocabulary = list(char_vocabulary)
        self.word_vocabulary = list(word_vocabulary)
        self.char_idf = char_idf
        self.word_idf = word_idf
        self.positive_words = list(positive_words)
        self.negative_words = list(negative_words)
        self._chars = _CharCounter(self.char_vocabulary)
        self._words = _word_vectorizer({g: i for i, g in enumerate(self.word_vocabulary)})
        self._polarity: tuple[re.Pattern[str], ...] = (
            alternation(self.positive_words),
            alternation(self.negative_words),
        )

    @classmethod
    def fit(
        cls, texts: Sequence[str], *, positive_words: Sequence[str], negative_words: Sequence[str]
    ) -> Featurizer:
        """Vocabularies and idf from ``texts`` (normalised); n-grams seen once are dropped."""
        chars = _char_vectorizer()
        char_counts = chars.fit_transform(texts)
        vocab = _word_vectorizer()
        word_counts = vocab.fit_transform([words(t) for t in texts])
        return cls(
            char_vocabulary=chars.get_feature_names_out().tolist(),
            char_idf=_idf(char_counts),
            word_vocabulary=vocab.get_feature_names_out().tolist(),
            word_idf=_idf(word_counts),
            positive_words=positive_words,
            negative_words=negative_words,
        )

    @property
    def width(self) -> int:
        return len(self.char_vocabulary) + len(self.word_vocabulary) + len(self._dense_names())

    def _dense_names(self) -> list[str]:
        polarity = ["positive", "positive_negated", "negative", "negative_negated", "question", "exclaim"]
        return [*component_lexicon().categories, *polarity]

    def rows(self, texts: Sequence[str]) -> FeatureRows:
        """Rows for normalised texts: per text all features; per clause its character TF-IDF."""
        from scipy.sparse import csr_matrix, hstack

        text_chars, clause_chars, owners = self._chars.counts(texts)
        word_rows = _tfidf(self._words.transform([words(t) for t in texts]), self.word_idf)
        dense = csr_matrix(np.array([self._dense_row(t.lower()) for t in texts], dtype=np.float64))
        return FeatureRows(
            texts=hstack([_tfidf(text_chars, self.char_idf), word_rows, dense], format="csr"),
            clauses=_tfidf(clause_chars, self.char_idf),
            owners=owners,
        )

    def _dense_row(self, lowered: str) -> list[float]:
        components = [_COMPONENT_SCALE * math.log1p(s) for s in component_lexicon().scores(lowered)]
        polarity = [0.0, 0.0, 0.0, 0.0]
        for offset, pattern in zip((0, 2), self._polarity, strict=True):
            for match in pattern.finditer(lowered):
                negated = match.start() > 0 and lowered[match.start() - 1] in _NEGATORS
                polarity[offset + negated] += 1.0
        marks = [lowered.count("?") + lowered.count("吗"), float(lowered.count("!"))]
        return components + [math.log1p(v) for v in polarity + marks]

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "char_vocabulary": np.array(self.char_vocabulary, dtype=str),
            "char_idf": self.char_idf.astype(np.float32),
            "word_vocabulary": np.array(self.word_vocabulary, dtype=str),
            "word_idf": self.word_idf.astype(np.float32),
            "positive_words": np.array(self.positive_words, dtype=str),
            "negative_words": np.array(self.negative_words, dtype=str),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Featurizer:
        return cls(
            char_vocabulary=arrays["char_vocabulary"].tolist(),
            char_idf=arrays["char_idf"].astype(np.float64),
            word_vocabulary=arrays["word_vocabulary"].tolist(),
            word_idf=arrays["word_idf"].astype(np.float64),
            positive_words=arrays["positive_words"].tolist(),
            negative_words=arrays["negative_words"].tolist(),
        )
