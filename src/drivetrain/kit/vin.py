"""Vehicle identification numbers (ISO 3779, GB 16735): validate, build, explain typos.

GB 16735 makes the position-9 check digit mandatory for vehicles sold in China, so a
VIN whose check digit does not match was mistyped somewhere.
"""

from __future__ import annotations

import contextlib
import unicodedata

VIN_LENGTH = 17
CHECK_POSITION = 9  # 1-based, as the standards count

_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
_VALUES = (
    {str(digit): digit for digit in range(10)}
    | dict(zip("ABCDEFGH", range(1, 9), strict=True))
    | dict(zip("JKLMN", range(1, 6), strict=True))
    | {"P": 7, "R": 9}
    | dict(zip("STUVWXYZ", range(2, 10), strict=True))
)
# Letters the standard bans because they look like digits, and the digit meant.
_LOOKALIKES = {"O": "0", "Q": "0", "I": "1"}


def normalize_vin(raw: str) -> str:
    """Return the VIN upper-cased without spaces, or say exactly what is wrong with it."""
    vin = _clean(raw)
    if len(vin) != VIN_LENGTH:
        raise ValueError(f"a VIN has {VIN_LENGTH} characters, got {len(vin)}")
    _check_alphabet(vin, skip_check_position=False)
    expected = check_digit(vin)
    actual = vin[CHECK_POSITION - 1]
    if actual != expected:
        raise ValueError(f"check digit should be {expected}, got {actual}")
    return vin


def check_digit(vin: str) -> str:
    """Compute the position-9 check digit; whatever is at position 9 is ignored."""
    if len(vin) != VIN_LENGTH:
        raise ValueError(f"a VIN has {VIN_LENGTH} characters, got {len(vin)}")
    _check_alphabet(vin, skip_check_position=True)
    remainder = sum(_VALUES[char] * weight for char, weight in zip(vin, _WEIGHTS, strict=True) if weight) % 11
    return "X" if remainder == 10 else str(remainder)


def make_vin(wmi: str, vds: str, model_year_code: str, plant: str, serial: str) -> str:
    """Assemble a VIN from its sections with a correct check digit (for demo data)."""
    parts = (
        ("WMI", wmi, 3),
        ("VDS", vds, 5),
        ("model year code", model_year_code, 1),
        ("plant code", plant, 1),
        ("serial number", serial, 6),
    )
    for name, value, length in parts:
        if len(value) != length:
            unit = "character" if length == 1 else "characters"
            raise ValueError(f"{name} must be {length} {unit}, got {len(value)}")
    draft = (wmi + vds + "0" + model_year_code + plant + serial).upper()
    return draft[: CHECK_POSITION - 1] + check_digit(draft) + draft[CHECK_POSITION:]


def suspicious_confusions(raw: str) -> list[str]:
    """Notes on banned look-alike letters (O/Q for 0, I for 1), for people fixing imports.

    When swapping them for the digits gives a VIN with a correct check digit, the
    last note proposes it.
    """
    vin = _clean(raw)
    notes = [
        f"position {position}: '{char}' is not used in VINs, probably the digit {digit}"
        for position, char in enumerate(vin, start=1)
        if (digit := _LOOKALIKES.get(char)) is not None
    ]
    if notes:
        fixed = "".join(_LOOKALIKES.get(char, char) for char in vin)
        with contextlib.suppress(ValueError):
            notes.append(f"reading them as digits gives a valid VIN: {normalize_vin(fixed)}")
    return notes


def _clean(raw: str) -> str:
    """Full-width to ASCII, drop all whitespace (VINs are often printed in groups)."""
    return "".join(unicodedata.normalize("NFKC", raw).split()).upper()


def _check_alphabet(vin: str, *, skip_check_position: bool) -> None:
    """Name the first character that cannot appear in a VIN, and the likely intent."""
    for position, char in enumerate(vin, start=1):
        if skip_check_position and position == CHECK_POSITION:
            continue
        if char in _LOOKALIKES:
            raise ValueError(
                f"letter '{char}' at position {position} is not allowed in a VIN"
                f" (probably the digit {_LOOKALIKES[char]})"
            )
        if char not in _VALUES:
            raise ValueError(f"character {char!r} at position {position} is not allowed in a VIN")
