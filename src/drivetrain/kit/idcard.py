"""Chinese resident identity numbers (GB 11643-1999).

We only ever store a keyed hash and the last four characters; these helpers validate
the number on the way in so a typo is caught while the customer is still present.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import unicodedata

ID_LENGTH = 18
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"  # ISO 7064 MOD 11-2, indexed by the weighted sum mod 11


def normalize_id_number(raw: str) -> str:
    """Return the 18-character number (check character 'X' upper-cased), or say why not."""
    number = "".join(unicodedata.normalize("NFKC", raw).split()).upper()
    if not number:
        raise ValueError("ID number is empty")
    if len(number) == 15:
        raise ValueError("old 15-digit ID numbers are not accepted, use the 18-character one")
    if len(number) != ID_LENGTH:
        raise ValueError(f"an ID number has {ID_LENGTH} characters, got {len(number)}")
    first17, actual = number[:-1], number[-1]
    if not _is_ascii_digits(first17):
        raise ValueError("the first 17 characters must be digits")
    if actual not in _CHECK_CHARS:
        raise ValueError("the last character must be a digit or X")
    _check_birth_date(first17[6:14])
    expected = id_check_char(first17)
    if actual != expected:
        raise ValueError(f"check character should be {expected}, got {actual}")
    return number


def id_check_char(first17: str) -> str:
    """The 18th character that the first 17 digits call for."""
    if len(first17) != ID_LENGTH - 1 or not _is_ascii_digits(first17):
        raise ValueError("need exactly 17 digits to compute the check character")
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def make_id_number(adcode: str, birth: datetime.date, sequence: int) -> str:
    """Build a valid number from its parts (for demo data); an odd sequence means male.

    Births in the future are refused, since ``normalize_id_number`` would refuse them.
    """
    if len(adcode) != 6 or not _is_ascii_digits(adcode):
        raise ValueError("administrative division code must be 6 digits")
    if not 0 <= sequence <= 999:
        raise ValueError(f"sequence must be between 0 and 999, got {sequence}")
    first17 = f"{adcode}{birth.year:04d}{birth.month:02d}{birth.day:02d}{sequence:03d}"
    return normalize_id_number(first17 + id_check_char(first17))


def id_hash(normalized: str, key: bytes) -> str:
    """HMAC-SHA256 hex digest: lets us match a number without storing it. A plain hash
    would not do, the whole space of ID numbers is small enough to enumerate."""
    if not key:
        raise ValueError("the hashing key must not be empty")
    return hmac.new(key, normalized.encode("ascii"), hashlib.sha256).hexdigest()


def last4(normalized: str) -> str:
    """The part staff may see, to tell customers' numbers apart."""
    return normalized[-4:]


def _is_ascii_digits(text: str) -> bool:
    """``str.isdigit`` also accepts superscripts and other scripts' digits."""
    return text.isascii() and text.isdigit()


def _check_birth_date(yyyymmdd: str) -> None:
    """Positions 7-14 must be a real date that has already happened."""
    try:
        birth = datetime.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:]))
    except ValueError as exc:
        raise ValueError(f"birth date {yyyymmdd} is not a real date") from exc
    if birth > datetime.date.today():
        raise ValueError(f"birth date {yyyymmdd} is in the future")
