import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivetrain.kit.idcard import id_check_char, id_hash, last4, make_id_number, normalize_id_number

# The two worked examples printed in GB 11643-1999.
STANDARD_EXAMPLES = ["11010519491231002X", "440524188001010014"]


def _with_check(first17: str) -> str:
    return first17 + id_check_char(first17)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (STANDARD_EXAMPLES[0], STANDARD_EXAMPLES[0]),
        (STANDARD_EXAMPLES[1], STANDARD_EXAMPLES[1]),
        ("11010519491231002x", "11010519491231002X"),
        (" 110105 19491231 002X ", "11010519491231002X"),
        ("１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X"),
        ("１１０１０５１９４９１２３１００２ｘ", "11010519491231002X"),
    ],
)
def test_normalize_id_number_accepts(raw: str, expected: str) -> None:
    assert normalize_id_number(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("110105491231002", "15-digit"),
        ("11010519491231002", "18 characters, got 17"),
        ("11010519491231002X1", "18 characters, got 19"),
        ("1101051949123100AX", "first 17 characters must be digits"),
        ("١١٠١٠٥١٩٤٩١٢٣١٠٠٢X", "first 17 characters must be digits"),  # Arabic-Indic digits
        ("11010519491231002Y", "last character must be a digit or X"),
        (_with_check("11010519490230002"), "birth date 19490230 is not a real date"),
        (_with_check("11010519491301002"), "birth date 19491301 is not a real date"),
        (_with_check("11010500000101002"), "birth date 00000101 is not a real date"),
        (_with_check("11010529990101002"), "birth date 29990101 is in the future"),
        ("110105194912310021", "check character should be X, got 1"),
        ("440524188001010013", "check character should be 4, got 3"),
    ],
)
def test_normalize_id_number_rejects(raw: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        normalize_id_number(raw)


def test_birth_date_today_is_accepted() -> None:
    today = datetime.date.today()
    number = make_id_number("110105", today, 1)
    assert normalize_id_number(number) == number


@pytest.mark.parametrize(("first17", "expected"), [("11010519491231002", "X"), ("44052418800101001", "4")])
def test_id_check_char(first17: str, expected: str) -> None:
    assert id_check_char(first17) == expected


@pytest.mark.parametrize("bad", ["1101051949123100", "110105194912310021", "1101051949123100A"])
def test_id_check_char_needs_17_digits(bad: str) -> None:
    with pytest.raises(ValueError, match="17 digits"):
        id_check_char(bad)


def test_make_id_number_rebuilds_the_standard_example() -> None:
    assert make_id_number("110105", datetime.date(1949, 12, 31), 2) == STANDARD_EXAMPLES[0]
    assert make_id_number("440524", datetime.date(1880, 1, 1), 1) == STANDARD_EXAMPLES[1]


@pytest.mark.parametrize(
    ("adcode", "birth", "sequence", "reason"),
    [
        ("11010", datetime.date(1990, 1, 1), 1, "6 digits"),
        ("11010A", datetime.date(1990, 1, 1), 1, "6 digits"),
        ("110105", datetime.date(1990, 1, 1), -1, "between 0 and 999, got -1"),
        ("110105", datetime.date(1990, 1, 1), 1000, "between 0 and 999, got 1000"),
        ("110105", datetime.date.today() + datetime.timedelta(days=1), 1, "in the future"),
    ],
)
def test_make_id_number_rejects(adcode: str, birth: datetime.date, sequence: int, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        make_id_number(adcode, birth, sequence)


id_numbers = st.builds(
    make_id_number,
    st.text(alphabet="0123456789", min_size=6, max_size=6),
    st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date.today()),
    st.integers(min_value=0, max_value=999),
)


@given(id_numbers)
def test_made_numbers_round_trip(number: str) -> None:
    assert len(number) == 18
    assert normalize_id_number(number) == number
    assert normalize_id_number(number.lower()) == number


@given(id_numbers)
def test_made_numbers_satisfy_iso_7064_mod_11_2(number: str) -> None:
    """Weighted with 2**(17 - i) mod 11 and the check character counting 10 for X,
    all 18 characters must sum to 1 mod 11."""
    values = [10 if char == "X" else int(char) for char in number]
    assert sum(value * pow(2, 17 - i, 11) for i, value in enumerate(values)) % 11 == 1


@given(id_numbers, st.sampled_from("0123456789X"))
def test_changed_check_char_is_rejected(number: str, replacement: str) -> None:
    typo = number[:17] + replacement
    if replacement == number[17]:
        assert normalize_id_number(typo) == number
    else:
        with pytest.raises(ValueError, match=f"check character should be {number[17]}, got {replacement}"):
            normalize_id_number(typo)


@given(id_numbers, st.integers(min_value=0, max_value=16), st.integers(min_value=1, max_value=9))
def test_any_single_digit_typo_is_rejected(number: str, index: int, shift: int) -> None:
    digit = str((int(number[index]) + shift) % 10)
    with pytest.raises(ValueError):
        normalize_id_number(number[:index] + digit + number[index + 1 :])


def test_id_hash_is_hmac_sha256() -> None:
    # RFC 4231 test case 1.
    assert id_hash("Hi There", b"\x0b" * 20) == (
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
    )


def test_id_hash_depends_on_key_and_number() -> None:
    number, other = STANDARD_EXAMPLES
    digest = id_hash(number, b"key-1")
    assert digest == id_hash(number, b"key-1")
    assert digest != id_hash(number, b"key-2")
    assert digest != id_hash(other, b"key-1")
    assert number not in digest


def test_id_hash_refuses_an_empty_key() -> None:
    with pytest.raises(ValueError, match="key"):
        id_hash(STANDARD_EXAMPLES[0], b"")


def test_last4() -> None:
    assert last4(STANDARD_EXAMPLES[0]) == "002X"
    assert last4(STANDARD_EXAMPLES[1]) == "0014"
