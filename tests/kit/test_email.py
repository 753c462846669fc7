import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivetrain.kit.email import MAX_LENGTH, normalize_email


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("wang.wei@qq.com", "wang.wei@qq.com"),
        ("  Wang.Wei@QQ.COM ", "wang.wei@qq.com"),
        ("ｗａｎｇ＠１６３．ｃｏｍ", "wang@163.com"),
        ("li+dms@mail.example.com.cn", "li+dms@mail.example.com.cn"),
        ("o'brien@example.org", "o'brien@example.org"),
        ("a@例子.中国", "a@xn--fsqu00a.xn--fiqs8s"),
        ("x@xn--fsqu00a.xn--fiqs8s", "x@xn--fsqu00a.xn--fiqs8s"),
    ],
)
def test_normalize_email_accepts(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("wang wei@qq.com", "spaces"),
        ("wang.qq.com", "one '@', got 0"),
        ("a@b@qq.com", "one '@', got 2"),
        ("@qq.com", "nothing before"),
        ("wang.@qq.com", "double dot"),
        ("wang..wei@qq.com", "double dot"),
        ("wang,wei@qq.com", "unexpected character ','"),
        ("wang@", "no domain"),
        ("wang@qq", "no top-level domain"),
        ("wang@qq..com", "empty label"),
        ("wang@-qq.com", "inner hyphens"),
        ("wang@qq_mail.com", "inner hyphens"),
        ("wang@qq.c0m", "top-level domain 'c0m'"),
        ("wang@qq.c", "top-level domain 'c'"),
        ("a" * 65 + "@qq.com", "longer than 64"),
        ("a@" + "b" * 64 + ".com", "longer than 63"),
        ("a@" + ".".join(["b" * 60] * 5) + ".com", f"longer than {MAX_LENGTH}"),
    ],
)
def test_normalize_email_rejects(raw: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        normalize_email(raw)


@given(st.emails())
def test_addresses_hypothesis_makes_normalise_to_lower_case(address: str) -> None:
    try:
        normalized = normalize_email(address)
    except ValueError:
        return  # RFC 5322 allows what no customer types (see the module docstring); never a crash
    assert normalized == normalized.lower() and normalized.count("@") == 1


@given(st.emails().filter(lambda a: len(a) <= MAX_LENGTH and "." in a.split("@")[1]))
def test_ordinary_addresses_are_accepted(address: str) -> None:
    local, domain = address.split("@")
    if domain.split(".")[-1].isalpha() and all(part for part in local.split(".")):
        assert normalize_email(address) == address.lower()


@given(st.text(max_size=80))
def test_normalising_is_idempotent_and_total(raw: str) -> None:
    try:
        once = normalize_email(raw)
    except ValueError:
        return
    assert normalize_email(once) == once
    assert once == once.strip() and len(once) <= MAX_LENGTH
