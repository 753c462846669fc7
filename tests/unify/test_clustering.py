"""The guarded union-find (``unify.resolve.clustering``), table by table: each case is the records, the
links in the order the rebuild takes them (strongest first), and what each link does."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from drivetrain.unify.resolve.clustering import Outcome, Person, find, guarded_union, one


@dataclass(frozen=True)
class Record:
    name: str | None = None
    surname: str | None = None
    gender: str | None = None
    pin: str | None = None


@dataclass(frozen=True)
class Link:
    a: int
    b: int
    binding: bool = False
    """An identifier that is one person's (ID number, WeChat): it overrides names, not pins or decisions."""


CASES: dict[str, tuple[list[Record], list[tuple[int, int]], list[tuple[Link, Outcome]], list[set[int]]]] = {
    # name: (records by rid, pairs decided "different", links with what each does, the clusters after)
    "a family's shared phone keeps husband and wife apart": (
        [Record("王建国", "王", "m"), Record("王芳", "王", "f")],
        [],
        [(Link(0, 1), "conflict")],
        [{0}, {1}],
    ),
    "a salutation joins the full name with its surname": (
        [Record("王建国", "王", "m"), Record(None, "王", "m")],
        [],
        [(Link(0, 1), "joined")],
        [{0, 1}],
    ),
    "a salutation cannot bridge two different full names": (
        [Record("王建国", "王"), Record(None, "王"), Record("王明", "王")],
        [],
        [(Link(0, 1), "joined"), (Link(1, 2), "conflict")],
        [{0, 1}, {2}],
    ),
    "a record without a name cannot bring in a second surname": (
        [Record("王建国", "王"), Record(), Record("李娜", "李")],
        [],
        [(Link(0, 1), "joined"), (Link(1, 2), "conflict")],
        [{0, 1}, {2}],
    ),
    "two genders are two people even without names": (
        [Record(gender="m"), Record(gender="f")],
        [],
        [(Link(0, 1), "conflict")],
        [{0}, {1}],
    ),
    "an ID number joins a nickname to the full name": (
        [Record("王建国", "王", "m"), Record("王小建", "王", "m")],
        [],
        [(Link(0, 1, binding=True), "joined")],
        [{0, 1}],
    ),
    "a chain never joins two existing customers": (
        [Record("王建国", "王", pin="cus_a"), Record("王建国", "王"), Record("王建国", "王", pin="cus_b")],
        [],
        [(Link(0, 1), "joined"), (Link(1, 2), "pinned")],
        [{0, 1}, {2}],
    ),
    "not even on an ID number": (
        [Record(pin="cus_a"), Record(pin="cus_b")],
        [],
        [(Link(0, 1, binding=True), "pinned")],
        [{0}, {1}],
    ),
    "records of the same existing customer join": (
        [Record("王建国", "王", pin="cus_a"), Record("王建国", "王", pin="cus_a")],
        [],
        [(Link(0, 1), "joined")],
        [{0, 1}],
    ),
    "a person's 'different' holds against an ID number": (
        [Record("王建国", "王"), Record("王建国", "王")],
        [(0, 1)],
        [(Link(0, 1, binding=True), "apart")],
        [{0}, {1}],
    ),
    "a person's 'different' holds across a chain": (
        [Record("王建国", "王"), Record("王建国", "王"), Record("王建国", "王")],
        [(0, 2)],
        [(Link(0, 1), "joined"), (Link(1, 2), "apart")],
        [{0, 1}, {2}],
    ),
    "a link inside one cluster changes nothing": (
        [Record("王建国", "王"), Record("王建国", "王"), Record("王建国", "王")],
        [],
        [(Link(0, 1), "joined"), (Link(1, 2), "joined"), (Link(0, 2), "same")],
        [{0, 1, 2}],
    ),
}


def _person(rid: int, record: Record) -> Person:
    return Person(one(record.name), one(record.surname), one(record.gender), one(record.pin), {rid})


@pytest.mark.parametrize("case", sorted(CASES))
def test_guarded_union(case: str) -> None:
    records, apart_pairs, links, clusters = CASES[case]
    people = {rid: _person(rid, record) for rid, record in enumerate(records)}
    parent = {rid: rid for rid in people}
    apart: dict[int, set[int]] = {}
    for a, b in apart_pairs:
        apart.setdefault(a, set()).add(b)
        apart.setdefault(b, set()).add(a)
    outcomes = [guarded_union(parent, people, apart, link.a, link.b, force=link.binding) for link, _ in links]
    assert outcomes == [outcome for _, outcome in links]
    found: dict[int, set[int]] = {}
    for rid in parent:
        found.setdefault(find(parent, rid), set()).add(rid)
    assert sorted(found.values(), key=min) == clusters
    for root, rids in found.items():
        assert root == min(rids), "a cluster's root is its smallest record"
        assert people[root].rids == rids


def test_find_compresses_the_path() -> None:
    parent = {0: 0, 1: 0, 2: 1, 3: 2}
    assert find(parent, 3) == 0
    assert parent == {0: 0, 1: 0, 2: 0, 3: 0}
