import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivetrain.kit.masking import mask_address, mask_name, mask_tail


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("张三丰", "张**"),
        ("张三", "张*"),
        ("欧阳娜娜", "欧***"),
        (" 李四 ", "李*"),
        ("张", "*"),
        ("", ""),
        ("Anna", "A***"),
    ],
)
def test_mask_name(name: str, expected: str) -> None:
    assert mask_name(name) == expected


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("上海市浦东新区张江路88号", "上海市****"),
        ("浙江省杭州市西湖区文三路90号", "浙江省杭州市****"),
        ("浦东新区张江路88号", "浦东新区****"),
        ("河北省正定县常山路1号", "河北省正定县****"),
        (" 广州市天河区体育西路 ", "广州市****"),
        ("北京市", "北京市****"),
        ("新疆生产建设兵团第一师阿拉尔市", "新疆生产建设****"),  # marker only at the very end
        ("中关村大街27号院3号楼", "中关村大街2****"),
        ("", ""),
    ],
)
def test_mask_address(address: str, expected: str) -> None:
    assert mask_address(address) == expected


@pytest.mark.parametrize(
    ("value", "keep", "expected"),
    [
        ("6222021234567890", 4, "************7890"),
        ("abcdef", 2, "****ef"),
        ("abcdef", 0, "******"),
        ("1234", 4, "****"),
        ("12", 4, "**"),
        ("", 4, ""),
    ],
)
def test_mask_tail(value: str, keep: int, expected: str) -> None:
    assert mask_tail(value, keep) == expected


def test_mask_tail_keeps_four_by_default() -> None:
    assert mask_tail("11010519491231002X") == "**************002X"


def test_mask_tail_rejects_negative_keep() -> None:
    with pytest.raises(ValueError, match="negative"):
        mask_tail("abc", -1)


@given(st.text(max_size=30), st.integers(min_value=0, max_value=10))
def test_mask_tail_hides_all_but_the_tail(value: str, keep: int) -> None:
    masked = mask_tail(value, keep)
    assert len(masked) == len(value)
    shown = keep if len(value) > keep else 0
    assert masked[: len(value) - shown] == "*" * (len(value) - shown)
    assert masked[len(value) - shown :] == value[len(value) - shown :]
