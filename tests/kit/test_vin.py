import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivetrain.kit.vin import check_digit, make_vin, normalize_vin, suspicious_confusions

CLASSIC = "1M8GDM9AXKP042788"  # the textbook example, check digit X

# Transliteration values from ISO 3779 / GB 16735, spelled out independently of vin.py.
VALUE = {char: int(char) for char in "0123456789"}
VALUE |= {"A": 1, "B": 2, "C": 3, "D": 4, "E": 5, "F": 6, "G": 7, "H": 8}
VALUE |= {"J": 1, "K": 2, "L": 3, "M": 4, "N": 5, "P": 7, "R": 9}
VALUE |= {"S": 2, "T": 3, "U": 4, "V": 5, "W": 6, "X": 7, "Y": 8, "Z": 9}
ALLOWED = "".join(sorted(VALUE))
WEIGHTED_INDEXES = [index for index in range(17) if index != 8]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (CLASSIC, CLASSIC),
        ("11111111111111111", "11111111111111111"),
        ("1HGCM82633A004352", "1HGCM82633A004352"),
        ("1m8gdm9axkp042788", CLASSIC),
        (" 1M8 GDM9AX KP042788 ", CLASSIC),
        ("１Ｍ８ＧＤＭ９ＡＸＫＰ０４２７８８", CLASSIC),
    ],
)
def test_normalize_vin_accepts(raw: str, expected: str) -> None:
    assert normalize_vin(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reasons"),
    [
        ("", ["17 characters, got 0"]),
        ("1M8GDM9AXKP04278", ["17 characters, got 16"]),
        ("1M8GDM9AXKP0427888", ["17 characters, got 18"]),
        ("1M8GDM9AXKPO42788", ["'O' at position 12", "digit 0"]),
        ("1M8GDM9AXKPQ42788", ["'Q' at position 12", "digit 0"]),
        ("IM8GDM9AXKP042788", ["'I' at position 1", "digit 1"]),
        ("1M8G-M9AXKP042788", ["'-' at position 5"]),
        ("1M8GDM9A1KP042788", ["check digit should be X, got 1"]),
        ("1M8GDM9AXKP042789", ["check digit should be 1, got X"]),
        ("11111111211111111", ["check digit should be 1, got 2"]),
        # European VINs often carry no check digit; GB 16735 requires one.
        ("WP0ZZZ99ZTS392124", ["check digit should be 8, got Z"]),
    ],
)
def test_normalize_vin_rejects(raw: str, reasons: list[str]) -> None:
    with pytest.raises(ValueError) as excinfo:
        normalize_vin(raw)
    for reason in reasons:
        assert reason in str(excinfo.value)


@pytest.mark.parametrize(
    ("vin", "expected"),
    [(CLASSIC, "X"), ("1M8GDM9A?KP042788", "X"), ("11111111111111111", "1"), ("1HGCM82603A004352", "3")],
)
def test_check_digit_ignores_position_9(vin: str, expected: str) -> None:
    assert check_digit(vin) == expected


@pytest.mark.parametrize(("vin", "reason"), [("1M8GDM9AX", "got 9"), ("1M8GDM9AXKPO42788", "'O'")])
def test_check_digit_rejects(vin: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_digit(vin)


def test_same_value_substitution_is_not_detected() -> None:
    """A and J both count 1: the check digit cannot catch every typo, only most."""
    assert normalize_vin("1M8GDM9JXKP042788") == "1M8GDM9JXKP042788"


def test_make_vin_rebuilds_published_examples() -> None:
    assert make_vin("1M8", "GDM9A", "K", "P", "042788") == CLASSIC
    assert make_vin("1m8", "gdm9a", "k", "p", "042788") == CLASSIC
    assert make_vin("111", "11111", "1", "1", "111111") == "11111111111111111"


@pytest.mark.parametrize(
    ("parts", "reason"),
    [
        (("1M", "GDM9A", "K", "P", "042788"), "WMI must be 3 characters, got 2"),
        (("1M8", "GDM9", "K", "P", "042788"), "VDS must be 5 characters, got 4"),
        (("1M8", "GDM9A", "KP", "P", "042788"), "model year code must be 1 character, got 2"),
        (("1M8", "GDM9A", "K", "", "042788"), "plant code must be 1 character, got 0"),
        (("1M8", "GDM9A", "K", "P", "04278"), "serial number must be 6 characters, got 5"),
        (("1M8", "GDM9A", "K", "P", "O42788"), "'O' at position 12"),
    ],
)
def test_make_vin_rejects(parts: tuple[str, str, str, str, str], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        make_vin(*parts)


def _section(size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=ALLOWED, min_size=size, max_size=size)


vins = st.builds(make_vin, _section(3), _section(5), _section(1), _section(1), _section(6))


@given(vins)
def test_made_vins_are_accepted_and_match_the_reference_sum(vin: str) -> None:
    assert normalize_vin(vin) == vin
    weights = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
    remainder = sum(VALUE[char] * weight for char, weight in zip(vin, weights, strict=True)) % 11
    assert vin[8] == ("X" if remainder == 10 else str(remainder))


@given(vins, st.sampled_from(WEIGHTED_INDEXES), st.data())
def test_single_character_change_at_weighted_position_is_rejected(
    vin: str, index: int, data: st.DataObject
) -> None:
    # Characters sharing a value (A, J and 1 all count 1) are indistinguishable to the
    # check digit (see above), so the typo must change the value.
    others = [char for char in ALLOWED if VALUE[char] != VALUE[vin[index]]]
    replacement = data.draw(st.sampled_from(others))
    typo = vin[:index] + replacement + vin[index + 1 :]
    with pytest.raises(ValueError, match="check digit should be"):
        normalize_vin(typo)


@given(vins, st.sampled_from("0123456789X"))
def test_changed_check_digit_is_rejected(vin: str, replacement: str) -> None:
    typo = vin[:8] + replacement + vin[9:]
    if replacement == vin[8]:
        assert normalize_vin(typo) == vin
    else:
        with pytest.raises(ValueError, match=f"check digit should be {vin[8]}, got {replacement}"):
            normalize_vin(typo)


def test_suspicious_confusions_explains_and_proposes_a_fix() -> None:
    notes = suspicious_confusions("1m8gdm9axkpo42788")
    assert notes == [
        "position 12: 'O' is not used in VINs, probably the digit 0",
        f"reading them as digits gives a valid VIN: {CLASSIC}",
    ]


def test_suspicious_confusions_lists_every_lookalike() -> None:
    notes = suspicious_confusions("IM8GDM9AXKPQ42788")
    assert notes[0] == "position 1: 'I' is not used in VINs, probably the digit 1"
    assert notes[1] == "position 12: 'Q' is not used in VINs, probably the digit 0"
    assert notes[2].endswith(CLASSIC)


def test_suspicious_confusions_proposes_nothing_when_the_fix_is_still_invalid() -> None:
    assert suspicious_confusions("1M8GDM9AXKPO42789") == [
        "position 12: 'O' is not used in VINs, probably the digit 0"
    ]


@pytest.mark.parametrize("raw", [CLASSIC, "", "abc123"])
def test_suspicious_confusions_is_silent_without_lookalikes(raw: str) -> None:
    assert suspicious_confusions(raw) == []
