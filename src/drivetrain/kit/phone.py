"""Phone numbers: normalise whatever people type into E.164, and mask for display.

E.164 is the one stored form, so duplicates are found however the number was typed.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberType, ValidationResult

_ALLOWED_PUNCTUATION = frozenset("+-().")
_MOBILE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
_LENGTH_REASONS = {
    ValidationResult.TOO_SHORT: "phone number is too short",
    ValidationResult.INVALID_LENGTH: "phone number has the wrong number of digits",
    ValidationResult.TOO_LONG: "phone number is too long",
}


_FULL_WIDTH = str.maketrans("０１２３４５６７８９＋", "0123456789+")
_SEPARATORS = re.compile(r"[\s\-().\u3000]+")
_MAINLAND_MOBILE = re.compile(r"(?:\+86|0086|86)?(1[0-9]{10})")


def _cn_mobile_pattern() -> re.Pattern[str]:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("CN")
    pattern = metadata.mobile.national_number_pattern if metadata and metadata.mobile else None
    if pattern is None:
        raise RuntimeError("phonenumbers has no mainland China mobile pattern")
    return re.compile(str(pattern), re.ASCII)


_CN_MOBILE = _cn_mobile_pattern()


@functools.lru_cache(maxsize=4096)
def normalize_phone(raw: str, default_region: str = "CN") -> str:
    """Return ``raw`` in E.164 (``+8613800138000``); numbers without a country code
    are read as ``default_region`` numbers.

    A mainland mobile however typed (+86 138-0013-8000, １３８…), which is most of what arrives,
    is decided by one pattern from phonenumbers' own metadata; anything else is parsed in full
    (tens of microseconds). Cached: a number is often normalised again on its way through."""
    if default_region == "CN" and (mobile := _mainland_mobile(raw)) is not None:
        return mobile
    text = unicodedata.normalize("NFKC", raw).strip()
    _check_characters(text)
    try:
        number = phonenumbers.parse(text, default_region)
    except NumberParseException as exc:
        raise ValueError("not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError(_invalid_reason(number))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _mainland_mobile(raw: str) -> str | None:
    digits = _SEPARATORS.sub("", raw.translate(_FULL_WIDTH))
    match = _MAINLAND_MOBILE.fullmatch(digits)
    return "+86" + match[1] if match is not None and _CN_MOBILE.fullmatch(match[1]) else None


def is_mobile(e164: str) -> bool:
    """True for numbers that can receive SMS (where the type cannot tell, assume so)."""
    return phonenumbers.number_type(_parse_e164(e164)) in _MOBILE_TYPES


def mask_phone(e164: str) -> str:
    """``+8613800138000`` -> ``138****8000``; other numbers keep only their last 4 digits."""
    number = _parse_e164(e164)
    national = phonenumbers.national_significant_number(number)
    if number.country_code == 86 and is_mobile(e164) and len(national) == 11:
        return f"{national[:3]}****{national[-4:]}"
    return "*" * (len(national) - 4) + national[-4:]


def _check_characters(text: str) -> None:
    """phonenumbers maps letters to keypad digits and reads '#' as an extension;
    in a CRM form those are typos, not intent."""
    if not text:
        raise ValueError("phone number is empty")
    for char in text:
        if char.isalpha():
            raise ValueError("phone number must not contain letters")
        if not (char.isdigit() or char.isspace() or char in _ALLOWED_PUNCTUATION):
            raise ValueError(f"unexpected character {char!r} in phone number")


def _invalid_reason(number: PhoneNumber) -> str:
    """Say why a parsed number is not valid, as precisely as the library allows."""
    length = phonenumbers.is_possible_number_with_reason(number)
    if length in _LENGTH_REASONS:
        return _LENGTH_REASONS[length]
    national = phonenumbers.national_significant_number(number)
    if number.country_code == 86 and national.startswith("1"):
        if len(national) != 11:
            return f"a mainland China mobile number has 11 digits, got {len(national)}"
        return "not a valid mainland China mobile number"
    return "not a valid phone number"


def _parse_e164(e164: str) -> PhoneNumber:
    """Parse a stored E.164 number; anything else is a programming error upstream."""
    if not e164.startswith("+"):
        raise ValueError("expected an E.164 number starting with '+'")
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException as exc:
        raise ValueError("not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return number
