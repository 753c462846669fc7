"""Ids are ULIDs: the first ten characters are the millisecond clock, so ids sort by creation time."""

from __future__ import annotations

import pytest

from drivetrain.kit.ids import is_id, new_id


@pytest.mark.parametrize(
    ("millis", "prefix"),
    [(0, "0000000000"), (1, "0000000001"), (32, "0000000010"), (2**48 - 1, "7ZZZZZZZZZ")],
)
def test_the_time_part_is_crockford_base32_of_the_milliseconds(millis: int, prefix: str) -> None:
    made = new_id(millis)
    assert made.startswith(prefix) and is_id(made)


def test_ids_are_unique_and_sort_by_time() -> None:
    made = [new_id(1_700_000_000_000 + n) for n in range(200)]
    assert made == sorted(made) and len(set(made)) == 200
    assert not any(letter in "".join(made) for letter in "ILOU")
