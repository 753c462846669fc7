import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from drivetrain.kit.names import (
    COMPOUND_SURNAMES,
    SALUTATION_TITLES,
    Salutation,
    is_salutation_only,
    load_dictionaries,
    normalize_name,
    parse_salutation,
    pinyin_key,
    split_surname,
    to_simplified,
)

# Traditional -> Simplified pairs common in names, spelled out independently of OpenCC.
TRADITIONAL = {"張": "张", "陳": "陈", "劉": "刘", "黃": "黄", "趙": "赵", "偉": "伟", "麗": "丽", "華": "华"}
SURNAMES = "王李张刘陈杨黄赵吴周"
HAN = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
NAMES = st.text(HAN, min_size=1, max_size=4)


@pytest.fixture(autouse=True, scope="module")
def loaded_dictionaries() -> None:
    """OpenCC and pypinyin load on first use (half a second): not inside a timed example."""
    load_dictionaries()


@given(st.text(max_size=12))
@example("a\u3000\u0301")  # a dropped space between a letter and its accent
def test_normalize_name_is_idempotent(raw: str) -> None:
    once = normalize_name(raw)
    assert normalize_name(once) == once


@given(st.text(st.sampled_from(sorted(TRADITIONAL)), min_size=1, max_size=4))
def test_traditional_becomes_simplified(raw: str) -> None:
    assert normalize_name(raw) == "".join(TRADITIONAL[char] for char in raw)


@given(NAMES)
def test_pinyin_key_ignores_script_and_spaces(name: str) -> None:
    simplified = to_simplified(name)
    assert pinyin_key(" ".join(name)) == pinyin_key(simplified) == pinyin_key(name)


@given(st.sampled_from(SURNAMES), st.sampled_from(sorted(SALUTATION_TITLES)))
def test_surname_plus_title_is_a_salutation(surname: str, title: str) -> None:
    salutation = parse_salutation(surname + title)
    assert salutation == Salutation(surname, title, SALUTATION_TITLES[title])
    assert is_salutation_only(f" {surname} {title} ")


@given(st.sampled_from(sorted(COMPOUND_SURNAMES)), st.sampled_from(["先生", "女士"]))
def test_compound_surnames_take_titles(surname: str, title: str) -> None:
    salutation = parse_salutation(surname + title)
    assert salutation is not None and salutation.surname == surname


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("王先生", Salutation("王", "先生", "M")),
        ("李女士", Salutation("李", "女士", "F")),
        ("张总", Salutation("张", "总", None)),
        ("陳小姐", Salutation("陈", "小姐", "F")),
        ("老王", Salutation("王", "老", None)),
        ("王伟", None),
        ("王先", None),
        ("先生", None),
        ("小明", None),  # a given name, not 小 + surname
        ("王建国先生", None),  # a full name with a title still names the person
        ("Tony", None),
        ("", None),
    ],
)
def test_parse_salutation(name: str, expected: Salutation | None) -> None:
    assert parse_salutation(name) == expected


@pytest.mark.parametrize(
    ("raw", "normalized", "key"),
    [
        ("張偉", "张伟", "zhangwei"),
        ("张 伟", "张伟", "zhangwei"),
        ("张玮", "张玮", "zhangwei"),  # a homophone typo keeps the key
        ("ＺｈａｎｇＷｅｉ", "zhangwei", "zhangwei"),
        ("阿卜杜・热合曼", "阿卜杜·热合曼", "abodureheman"),
    ],
)
def test_normalize_and_key(raw: str, normalized: str, key: str) -> None:
    assert normalize_name(raw) == normalized
    assert pinyin_key(raw) == key


@pytest.mark.parametrize(
    ("name", "parts"), [("欧阳娜娜", ("欧阳", "娜娜")), ("王伟", ("王", "伟")), ("欧阳", ("欧", "阳"))]
)
def test_split_surname(name: str, parts: tuple[str, str]) -> None:
    assert split_surname(name) == parts
