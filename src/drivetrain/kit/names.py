"""Chinese personal names: one comparable spelling, a pinyin key, and salutation-only names.

The same customer is "張偉" in a Hong Kong-built ERP, "张 伟" in a DMS form and "张先生" in
WeCom. Matching needs them in one script without spaces, a key that survives typing the
right sound with the wrong character (pinyin input methods do that), and to know that
"张先生" says only a surname and a gender, not a different person.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from opencc import OpenCC

Gender = Literal["M", "F"]

# Two-character surnames, so "欧阳娜娜" splits as 欧阳 + 娜娜, not 欧 + 阳娜娜.
COMPOUND_SURNAMES = frozenset(
    [
        "欧阳",
        "司马",
        "诸葛",
        "上官",
        "东方",
        "皇甫",
        "令狐",
        "慕容",
        "尉迟",
        "公孙",
        "长孙",
        "宇文",
        "司徒",
        "夏侯",
        "轩辕",
        "端木",
        "独孤",
        "南宫",
        "西门",
        "万俟",
        "闻人",
        "澹台",
        "公冶",
        "宗政",
        "濮阳",
        "淳于",
        "单于",
        "太叔",
        "申屠",
        "钟离",
        "呼延",
        "赫连",
        "百里",
        "东郭",
        "拓跋",
    ]
)
# Title after the surname -> the gender it states (None: the title does not say).
SALUTATION_TITLES: dict[str, Gender | None] = {
    "先生": "M",
    "女士": "F",
    "小姐": "F",
    "太太": "F",
    "夫人": "F",
    "阿姨": "F",
    "大姐": "F",
    "姐": "F",
    "大哥": "M",
    "哥": "M",
    "叔": "M",
    "师傅": None,
    "老师": None,
    "经理": None,
    "老板": None,
    "总": None,
    "工": None,
    "医生": None,
    "律师": None,
}
# Familiar prefixes: "老王", "小李" name only the surname too. Only with common surnames,
# since "小明" is a given name.
SALUTATION_PREFIXES = ("老", "小")
COMMON_SURNAMES = frozenset(
    "王李张刘陈杨黄吴赵周徐孙马朱胡林郭何高罗郑梁谢宋唐许邓冯韩曹曾彭萧蔡潘田董袁于余叶蒋杜苏魏程吕丁"
    "沈任姚卢傅钟姜崔谭廖范汪陆金石戴贾韦夏邱方侯邹熊孟秦白江阎薛尹段雷黎史龙陶贺顾毛郝龚邵万钱严赖覃"
    "洪武莫孔汤向常温康施文牛樊葛邢安齐易乔伍庞颜倪庄"
)
_TITLE_ENDINGS = frozenset(title[-1] for title in SALUTATION_TITLES)
_SALUTATION = re.compile(
    "(?P<surname>{surnames}|[\u3400-\u9fff])(?P<title>{titles})|(?P<prefix>{prefixes})(?P<familiar>[{common}])".format(
        surnames="|".join(COMPOUND_SURNAMES),
        titles="|".join(sorted(SALUTATION_TITLES, key=len, reverse=True)),
        prefixes="|".join(SALUTATION_PREFIXES),
        common="".join(sorted(COMMON_SURNAMES)),
    )
)
_DROPPED = re.compile(r"[\s\u200b\ufeff]+")
_MIDDLE_DOTS = re.compile(r"[.．・•‧･]")


@dataclass(frozen=True)
class Salutation:
    """A name that is only a surname and a title, e.g. 王先生 -> (王, 先生, M)."""

    surname: str
    title: str
    gender: Gender | None


@lru_cache(maxsize=1)
def _t2s() -> OpenCC:
    from opencc import OpenCC  # imported on first use: every command loads this module

    return OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional -> Simplified characters (OpenCC t2s); other text is left alone."""
    return str(_t2s().convert(text))


@lru_cache(maxsize=1)
def t2s_table() -> dict[int, str]:
    """OpenCC's t2s per character over the CJK block, for ``str.translate``: names and
    addresses convert character by character, and translate is ten times faster."""
    table: dict[int, str] = {}
    for code in range(0x3400, 0xA000):
        simplified = to_simplified(chr(code))
        if len(simplified) == 1 and simplified != chr(code):
            table[code] = simplified
    return table


@lru_cache(maxsize=1 << 18)
def normalize_name(raw: str) -> str:
    """Simplified characters, no spaces, full-width folded, Latin lower-cased; idempotent.

    Minority names keep one middle dot ("阿卜杜·热合曼"), however it was typed.
    """
    text = _DROPPED.sub("", unicodedata.normalize("NFKC", raw)).translate(t2s_table())
    if _is_han_text(text):
        return _MIDDLE_DOTS.sub("·", text)
    # Composed again: dropping a space may join a letter to its accent, and lower() may decompose.
    return unicodedata.normalize("NFKC", text.lower())


def split_surname(name: str) -> tuple[str, str]:
    """(surname, given name) of a normalised Chinese name; compound surnames are known."""
    if len(name) > 2 and name[:2] in COMPOUND_SURNAMES:
        return name[:2], name[2:]
    return name[:1], name[1:]


@lru_cache(maxsize=1 << 16)
def parse_salutation(name: str) -> Salutation | None:
    """The salutation a name consists of, or None when it is (or may be) a real name.

    Works on raw or normalised names. "王先生" and "欧阳女士" and "老王" are salutations;
    "王先" and "先生" are not.
    """
    text = normalize_name(name)
    if not (text[-1:] in _TITLE_ENDINGS or text[:1] in SALUTATION_PREFIXES):
        return None  # the common case, decided without the regular expression
    match = _SALUTATION.fullmatch(text)
    if match is None:
        return None
    if match["title"]:
        return Salutation(
            surname=match["surname"], title=match["title"], gender=SALUTATION_TITLES[match["title"]]
        )
    return Salutation(surname=match["familiar"], title=match["prefix"], gender=None)


def is_salutation_only(name: str) -> bool:
    """True for names such as 王先生 / 李女士 / 张总, which tell a surname and little else."""
    return parse_salutation(name) is not None


def load_dictionaries() -> None:
    """Load OpenCC's table and pypinyin's dictionary now rather than on first use (half a second):
    a server does it before it starts taking requests and freezes what start-up made."""
    t2s_table()
    char_pinyin("张")


def pinyin_key(name: str) -> str:
    """Tone-less pinyin of a name, no separators ("張偉" and "张玮" -> "zhangwei").

    Two spellings with the same key sound the same, which is what a pinyin input-method
    typo keeps. Latin letters pass through lower-cased, so "ZhangWei" has the same key.
    """
    return pinyin_of(normalize_name(name))


def pinyin_of(normalized: str) -> str:
    """``pinyin_key`` of a name already through ``normalize_name`` (skips doing it again)."""
    return normalized.translate(_PINYIN)


def char_pinyin(char: str) -> str:
    """Pinyin of one character in its most common reading."""
    return _PINYIN[ord(char)]


class _PinyinTable(dict[int, str]):
    """``str.translate`` table filled on first sight of a character: a name's key is then
    one C-level call, and only the few thousand characters that occur are looked up."""

    def __missing__(self, code: int) -> str:
        from pypinyin import Style, lazy_pinyin  # its phrase dictionary takes a second to import

        char = chr(code)
        value = (
            "" if char == "·" else "".join(lazy_pinyin(char, style=Style.NORMAL, errors="default")).lower()
        )
        self[code] = value
        return value


_PINYIN = _PinyinTable()


def _is_han_text(text: str) -> bool:
    """Non-empty and made of CJK ideographs (and middle dots)."""
    return bool(text) and all("\u3400" <= char <= "\u9fff" or char in "·.．・•‧･" for char in text)
