"""Opaque, time-ordered identifiers (ULID, Crockford base32).

They sort by creation time, which keyset pagination relies on, and say nothing
about how many rows a table holds.
"""

from __future__ import annotations

import os
import re
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ID_PATTERN = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, index = divmod(value, 32)
        chars.append(_ALPHABET[index])
    return "".join(reversed(chars))


def new_id(at_ms: int | None = None) -> str:
    """A 26-character ULID: 48 bits of milliseconds then 80 random bits."""
    millis = int(time.time() * 1000) if at_ms is None else at_ms
    return _encode(millis, 10) + _encode(int.from_bytes(os.urandom(10), "big"), 16)


def is_id(value: str) -> bool:
    return bool(_ID_PATTERN.match(value))
