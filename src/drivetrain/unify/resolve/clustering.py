"""The guarded union-find of stage 3, pure: people grow by joining clusters, strongest links first,
and a join is refused when it would put two people in one cluster (two full names, two surnames, two
genders), join two existing customers, or undo a person's decision that two records are apart. A
binding identifier link (an ID number, a WeChat account) overrides names, never pins or decisions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Outcome = Literal["joined", "same", "pinned", "apart", "conflict"]


@dataclass
class Person:
    """What a growing cluster says about its person: full-name keys, surnames, genders, the
    existing customer it is pinned to, and its records."""

    name_keys: set[str]
    surnames: set[str]
    genders: set[str]
    pins: set[str]
    rids: set[int]

    def pinned_elsewhere(self, other: Person) -> bool:
        """Both hold records of existing customers, different ones."""
        return bool(self.pins and other.pins and self.pins != other.pins)

    def kept_apart(self, other: Person, apart: dict[int, set[int]]) -> bool:
        """A person decided that a record of one is not a record of the other."""
        small, large = (self, other) if len(self.rids) <= len(other.rids) else (other, self)
        return any(not apart.get(rid, set()).isdisjoint(large.rids) for rid in small.rids)

    def conflicts_with(self, other: Person) -> bool:
        """Two different full names, two surnames, or both genders in one person."""
        shared_name = bool(self.name_keys & other.name_keys)
        if self.name_keys and other.name_keys and not shared_name:
            return True
        if len(self.surnames | other.surnames) > 1 and not shared_name:
            return True
        return len(self.genders | other.genders) > 1

    def absorb(self, other: Person) -> None:
        self.name_keys |= other.name_keys
        self.surnames |= other.surnames
        self.genders |= other.genders
        self.pins |= other.pins
        self.rids |= other.rids


def one(value: str | None) -> set[str]:
    return {value} if value else set()


def guarded_union(
    parent: dict[int, int],
    people: dict[int, Person],
    apart: dict[int, set[int]],
    a: int,
    b: int,
    *,
    force: bool,
) -> Outcome:
    """Join the clusters of ``a`` and ``b`` unless that would hold two people; says what happened
    ("joined", "same", "pinned", "apart" or "conflict"). People's decisions and pins bind even
    a binding identifier link."""
    root_a, root_b = find(parent, a), find(parent, b)
    if root_a == root_b:
        return "same"
    person_a, person_b = people[root_a], people[root_b]
    if person_a.kept_apart(person_b, apart):
        return "apart"
    if person_a.pinned_elsewhere(person_b):
        return "pinned"
    if not force and person_a.conflicts_with(person_b):
        return "conflict"
    if root_b < root_a:
        root_a, root_b = root_b, root_a
    parent[root_b] = root_a
    people[root_a].absorb(people.pop(root_b))
    return "joined"


def find(parent: dict[int, int], node: int) -> int:
    root = node
    while parent[root] != root:
        root = parent[root]
    while parent[node] != root:  # path compression
        parent[node], node = root, parent[node]
    return root
