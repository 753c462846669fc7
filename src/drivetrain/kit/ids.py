"""Opaque, time-ordered identifiers (ULID, Crockford base32).

They sort by creation time, which keyset pagination relies on, and say nothing
about how many rows a table holds.
"""

from __future__ import annotations

import base64
import os
import re
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ID_PATTERN = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


_FROM_RFC4648 = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", _ALPHABET)


def new_id(at_ms: int | None = None) -> str:
    """A 26-character ULID: 48 bits of milliseconds then 80 random bits.

    Every insert makes one, so the 128 bits go through C's base32 (as 130 bits, 26 characters of
    5 bits, padded to 17 bytes) and are mapped to the Crockford alphabet.
    """
    millis = int(time.time() * 1000) if at_ms is None else at_ms
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    return base64.b32encode((value << 6).to_bytes(17, "big"))[:26].decode().translate(_FROM_RFC4648)


def is_id(value: str) -> bool:
    return bool(_ID_PATTERN.match(value))
