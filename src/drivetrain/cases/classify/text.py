"""One spelling for owner text before anything reads it: feedback arrives from WeCom,
forms and Hong Kong/Taiwan owners in Traditional characters and full-width forms, and
the dictionaries and models only know Simplified, half-width text."""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from typing import Protocol

_WHITESPACE = re.compile(r"\s+")
CLAUSE_SEPARATORS = r",。;!?、，；！？\s~…"
_CLAUSE_END = re.compile(f"[{CLAUSE_SEPARATORS}]+")


class _Converter(Protocol):
    def convert(self, text: str) -> str: ...


@cache
def _traditional_to_simplified() -> _Converter:
    """Loaded on first use: importing the package stays cheap."""
    import opencc

    converter: _Converter = opencc.OpenCC("t2s")
    return converter


def normalize_text(raw: str) -> str:
    """Simplified characters, half-width letters/digits/punctuation (NFKC), single spaces, trimmed."""
    simplified = _traditional_to_simplified().convert(raw)
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", simplified)).strip()


def clauses(text: str) -> list[str]:
    """The pieces between clause punctuation, in order; none for a text of punctuation only."""
    return [c for c in _CLAUSE_END.split(text) if c]
