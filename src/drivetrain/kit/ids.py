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


_PAIRS = [first + second for first in _ALPHABET for second in _ALPHABET]
"""Every 10-bit value as its two Crockford characters."""
_PAIR_SHIFTS = tuple(range(120, -1, -10))


def new_id(at_ms: int | None = None) -> str:
    """A 26-character ULID: 48 bits of milliseconds then 80 random bits.

    Every insert makes one, so the 128 bits (read as 130, the first character taking the top three)
    are spelled ten bits at a time from a table: 13 lookups instead of 26.
    """
    millis = int(time.time() * 1000) if at_ms is None else at_ms
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join([_PAIRS[(value >> shift) & 0x3FF] for shift in _PAIR_SHIFTS])


def is_id(value: str) -> bool:
    return bool(_ID_PATTERN.match(value))
