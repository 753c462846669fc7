import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivetrain.kit.plate import PROVINCES, format_plate, is_new_energy, normalize_plate

PLATE_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"  # no I or O
OFFICE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("浙A12345", "浙A12345"),
        ("浙A·12345", "浙A12345"),
        ("浙a 12345", "浙A12345"),
        (" 浙 A-123 45 ", "浙A12345"),
        ("浙Ａ－１２３４５", "浙A12345"),
        ("京N8P8F8", "京N8P8F8"),
        ("粤Z1234港", "粤Z1234港"),
        ("粤Z·1234澳", "粤Z1234澳"),
        ("京A1234警", "京A1234警"),
        ("浙A1234学", "浙A1234学"),
        ("苏E1234挂", "苏E1234挂"),
        ("沪A1234领", "沪A1234领"),
        ("粤BD12345", "粤BD12345"),
        ("沪AF12345", "沪AF12345"),
        ("京ADA1234", "京ADA1234"),
        ("粤B12345D", "粤B12345D"),
        ("川A·12345F", "川A12345F"),
    ],
)
def test_normalize_plate_accepts(raw: str, expected: str) -> None:
    assert normalize_plate(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        (" · ", "empty"),
        ("A12345", "province abbreviation, got 'A'"),
        ("港A12345", "province abbreviation, got '港'"),
        ("浙A1234", "7 characters .8 for new-energy vehicles., got 6"),
        ("浙A1234567", "got 9"),
        ("浙I12345", "issuing office's letter .A-Z except I and O., got 'I'"),
        ("浙112345", "issuing office's letter"),
        ("浙AO1234", "'O' at position 3 is not used on plates .probably the digit 0."),
        ("浙A1234I", "'I' at position 7 .* digit 1"),
        ("浙A12学34", "'12学34' is not a valid ordinary plate serial"),
        ("浙A1234!", "not a valid ordinary plate serial"),
        ("粤BA12345", "'A12345' is not a valid new-energy plate serial"),
        ("粤BD1234A", "not a valid new-energy plate serial"),
        ("粤B1234AD", "not a valid new-energy plate serial"),
        ("浙A12345学", "not a valid new-energy plate serial"),
    ],
)
def test_normalize_plate_rejects(raw: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        normalize_plate(raw)


@pytest.mark.parametrize(
    ("plate", "expected"),
    [
        ("浙A12345", False),
        ("粤Z1234港", False),
        ("粤BD12345", True),
        ("粤B12345D", True),
        ("粤b·d12345", True),
    ],
)
def test_is_new_energy(plate: str, expected: bool) -> None:
    assert is_new_energy(plate) is expected


@pytest.mark.parametrize(
    ("plate", "expected"),
    [("浙a12345", "浙A·12345"), ("粤BD12345", "粤B·D12345"), ("粤Z 1234港", "粤Z·1234港")],
)
def test_format_plate(plate: str, expected: str) -> None:
    assert format_plate(plate) == expected


@st.composite
def typed_plates(draw: st.DrawFn) -> tuple[str, str]:
    """A valid plate in canonical form, and a sloppy spelling of it."""
    serial = draw(
        st.one_of(
            st.text(alphabet=PLATE_CHARS, min_size=5, max_size=5),
            st.builds(
                lambda kind, second, digits: kind + second + digits,
                st.sampled_from("DF"),
                st.sampled_from(PLATE_CHARS),
                st.text(alphabet="0123456789", min_size=4, max_size=4),
            ),
            st.builds(
                lambda digits, kind: digits + kind,
                st.text(alphabet="0123456789", min_size=5, max_size=5),
                st.sampled_from("DF"),
            ),
        )
    )
    canonical = draw(st.sampled_from(PROVINCES)) + draw(st.sampled_from(OFFICE_LETTERS)) + serial
    sloppy = ""
    for char in canonical:
        if draw(st.booleans()):
            char = char.lower()
        if char.isascii() and draw(st.booleans()):
            char = chr(ord(char) + 0xFEE0)  # full-width form
        sloppy += char + draw(st.sampled_from(["", "", " ", "·", "-"]))
    return canonical, sloppy


@given(typed_plates())
def test_normalize_plate_canonicalises_and_is_idempotent(case: tuple[str, str]) -> None:
    canonical, sloppy = case
    assert normalize_plate(sloppy) == canonical
    assert normalize_plate(canonical) == canonical
    assert is_new_energy(sloppy) is (len(canonical) == 8)


@given(st.text(alphabet="浙粤AaDdIO01234 ·-学港", max_size=12))
def test_normalize_plate_either_rejects_cleanly_or_is_idempotent(raw: str) -> None:
    try:
        plate = normalize_plate(raw)
    except ValueError:
        return
    assert normalize_plate(plate) == plate
    assert normalize_plate(format_plate(plate)) == plate
