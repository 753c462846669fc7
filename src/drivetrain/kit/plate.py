"""Chinese licence plates (GA 36): one canonical spelling, so a car is found whichever
way the plate was typed ("浙A·12345", "浙a 12345", "浙Ａ－１２３４５")."""

from __future__ import annotations

import re
import unicodedata

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_SEPARATORS = re.compile(r"[\s·•・.\-]+")
_LETTER = "A-HJ-NP-Z"  # plates never use I or O, they look like 1 and 0
_SPECIAL_ENDINGS = "学警挂领港澳"
_ORDINARY = re.compile(rf"[{_LETTER}0-9]{{4}}[{_LETTER}0-9{_SPECIAL_ENDINGS}]")
# Small new-energy: D (battery) or F (other) + letter/digit + 4 digits.
# Large new-energy: 5 digits + D or F.
_NEW_ENERGY = re.compile(rf"[DF][{_LETTER}0-9][0-9]{{4}}|[0-9]{{5}}[DF]")
_LOOKALIKES = {"I": "1", "O": "0"}


def normalize_plate(raw: str) -> str:
    """Return the plate without separators, letters upper-cased ("浙A12345"), or say why not."""
    plate = _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw)).upper()
    if not plate:
        raise ValueError("plate number is empty")
    if plate[0] not in PROVINCES:
        raise ValueError(f"plate must start with a province abbreviation, got {plate[0]!r}")
    if len(plate) not in (7, 8):
        raise ValueError(f"plate must have 7 characters (8 for new-energy vehicles), got {len(plate)}")
    if not re.fullmatch(f"[{_LETTER}]", plate[1]):
        raise ValueError(
            f"second character must be the issuing office's letter (A-Z except I and O), got {plate[1]!r}"
        )
    for position, char in enumerate(plate[2:], start=3):
        if char in _LOOKALIKES:
            raise ValueError(
                f"letter '{char}' at position {position} is not used on plates"
                f" (probably the digit {_LOOKALIKES[char]})"
            )
    pattern = _NEW_ENERGY if len(plate) == 8 else _ORDINARY
    if not pattern.fullmatch(plate[2:]):
        kind = "new-energy" if len(plate) == 8 else "ordinary"
        raise ValueError(f"{plate[2:]!r} is not a valid {kind} plate serial")
    return plate


def is_new_energy(plate: str) -> bool:
    """New-energy plates are the only 8-character ones."""
    return len(normalize_plate(plate)) == 8


def format_plate(plate: str) -> str:
    """Display form with the customary dot after the issuing office: "浙A·12345"."""
    canonical = normalize_plate(plate)
    return f"{canonical[:2]}·{canonical[2:]}"
