import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivetrain.kit.phone import is_mobile, mask_phone, normalize_phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13800138000", "+8613800138000"),
        ("138 0013 8000", "+8613800138000"),
        ("+86 138-0013-8000", "+8613800138000"),
        ("0086 13800138000", "+8613800138000"),
        ("86-13800138000", "+8613800138000"),
        ("１３８００１３８０００", "+8613800138000"),
        ("  13800138000\t", "+8613800138000"),
        ("+8613800138000", "+8613800138000"),
        ("021-67743555", "+862167743555"),
        ("(010) 1234 5678", "+861012345678"),
        ("+1 650 253 0000", "+16502530000"),
        ("+852 9123 4567", "+85291234567"),
    ],
)
def test_normalize_phone_accepts(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


def test_normalize_phone_uses_default_region_for_national_numbers() -> None:
    assert normalize_phone("(650) 253-0000", default_region="US") == "+16502530000"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("abc", "letters"),
        ("1380013800a", "letters"),
        ("138 0013 8000 ext 12", "letters"),
        ("13800138000#123", "'#'"),
        ("1", "not a phone number"),
        ("12345", "11 digits, got 5"),
        ("+86 138 0013 800", "11 digits, got 10"),
        ("138001380001", "11 digits, got 12"),
        ("14012345678", "not a valid mainland China mobile number"),
        ("1234567890123456789", "too long"),
        ("+8600000000000", "not a valid phone number"),
    ],
)
def test_normalize_phone_rejects(raw: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        normalize_phone(raw)


@pytest.mark.parametrize(
    ("e164", "expected"),
    [
        ("+8613800138000", True),
        ("+8619912345678", True),
        ("+862167743555", False),
        ("+442079460958", False),
        ("+16502530000", True),  # US numbers do not reveal their type
    ],
)
def test_is_mobile(e164: str, expected: bool) -> None:
    assert is_mobile(e164) is expected


@pytest.mark.parametrize("bad", ["13800138000", "+86", "+8600000000000"])
def test_is_mobile_rejects_anything_but_valid_e164(bad: str) -> None:
    with pytest.raises(ValueError):
        is_mobile(bad)


@pytest.mark.parametrize(
    ("e164", "expected"),
    [
        ("+8613800138000", "138****8000"),
        ("+8619912345678", "199****5678"),
        ("+862167743555", "******3555"),
        ("+16502530000", "******0000"),
        ("+85291234567", "****4567"),
    ],
)
def test_mask_phone(e164: str, expected: str) -> None:
    assert mask_phone(e164) == expected


def test_mask_phone_rejects_unnormalised_input() -> None:
    with pytest.raises(ValueError, match=r"E\.164"):
        mask_phone("13800138000")


_MOBILE_PREFIXES = ["130", "135", "138", "139", "150", "158", "186", "189", "199"]


@st.composite
def typed_cn_mobiles(draw: st.DrawFn) -> tuple[str, str]:
    """A Chinese mobile number as someone might type it, and its digits."""
    digits = draw(st.sampled_from(_MOBILE_PREFIXES)) + draw(
        st.text(alphabet="0123456789", min_size=8, max_size=8)
    )
    separators = draw(st.lists(st.sampled_from(["", " ", "-"]), min_size=11, max_size=11))
    body = "".join(digit + sep for digit, sep in zip(digits, separators, strict=True)).strip(" -")
    prefix = draw(st.sampled_from(["", "+86 ", "+86-", "0086 ", "86-", "+86"]))
    return prefix + body, digits


@given(typed_cn_mobiles())
def test_normalize_phone_reads_typed_mobiles_and_is_idempotent(case: tuple[str, str]) -> None:
    raw, digits = case
    e164 = normalize_phone(raw)
    assert e164 == "+86" + digits
    assert normalize_phone(e164) == e164
    assert is_mobile(e164)


@given(st.text(alphabet="0123456789 +-()ab#", max_size=20))
def test_normalize_phone_either_rejects_cleanly_or_is_idempotent(raw: str) -> None:
    try:
        e164 = normalize_phone(raw)
    except ValueError:
        return
    assert e164.startswith("+")
    assert normalize_phone(e164) == e164


def _phonenumbers_reading(typed: str) -> str | None:
    """What phonenumbers itself makes of a number typed in China, or None when it is not valid."""
    try:
        number = phonenumbers.parse(typed, "CN")
    except phonenumbers.NumberParseException:
        return None
    valid = phonenumbers.is_valid_number(number)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) if valid else None


@given(
    st.text(alphabet="0123456789", min_size=10, max_size=10),
    st.sampled_from(["", "+86", "86", "0086", "+86 ", "+86-", "８６"]),
)
def test_the_mobile_fast_path_reads_numbers_as_phonenumbers_does(rest: str, prefix: str) -> None:
    """Any 11 digits starting with 1, with or without a country code: the pattern taken from phonenumbers'
    metadata accepts exactly what its full parser accepts, as the same number."""
    typed = f"{prefix}1{rest}"
    try:
        found: str | None = normalize_phone(typed)
    except ValueError:
        found = None
    assert found == _phonenumbers_reading(typed.translate(str.maketrans("８６", "86")))
