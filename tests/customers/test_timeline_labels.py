"""Every kind of event the code puts on a customer's timeline has a zh-CN and an English label.

The kinds are read from the code, not listed by hand: every call to a timeline writer (``add_timeline``,
``TimelineEvent(...)``, and any function that passes its own ``kind`` on to one, such as ``log_step``)
and every bulk row for the ``timeline_event`` table (a dict literal with its ``customer_id``, ``kind``
and ``summary``). A literal kind is taken as it is; a kind built at run time must be in ``BUILT_KINDS``
with the values it can take, derived from the enum it is built from. An unreadable kind, or a module
that bulk-writes the table without being in ``BULK_WRITERS``, fails the test: a new kind cannot reach
the console unlabelled without one of these tests saying so.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

import drivetrain
from drivetrain.customers.models import ConsentStatus
from drivetrain.kit.i18n import LOCALES, catalog
from drivetrain.leads.pipeline import NEXT_STAGES
from drivetrain.sources.mapping import SOURCE_EVENT_KINDS
from drivetrain.sources.normalizers import EVENT_KINDS

PACKAGE = Path(drivetrain.__file__).parent
BASE_WRITERS = ("add_timeline", "TimelineEvent", "TimelineEntry")
"""Calls whose ``kind`` keyword is stored as the event's kind."""
ROW_KEYS = {"customer_id", "kind", "summary"}
"""A dict literal holding these keys is a row for a bulk insert into ``timeline_event``."""
BULK_STATEMENTS = {"insert", "update", "append_row", "_insert_all"}
BUILT_KINDS: dict[tuple[str, str], set[str]] = {
    ("leads/service.py", "f'lead.{target.value}'"): {
        f"lead.{stage.value}" for targets in NEXT_STAGES.values() for stage in targets
    },
    ("customers/service.py", "'consent.' + data.status"): {f"consent.{s.value}" for s in ConsentStatus},
    # a source record's kind is one of these: test_source_events_take_only_the_source_kinds
    ("sources/events.py", "event.kind"): set(EVENT_KINDS),
    # add_timeline_many's rows: each TimelineEntry(kind=...) is read where it is built (a writer above)
    ("customers/service.py", "e.kind"): set(),
}
"""Kinds built at run time, by (module, expression): what they can be."""
BULK_WRITERS = {"customers/service.py", "customers/repository.py", "demo/seed.py"}
"""Modules writing ``timeline_event`` rows in bulk. Their rows are dict literals, which the scan reads: a new
module must show it builds its rows the same way before it joins the list. ``customers/repository.py``
writes the rows ``sources/events.py`` builds as dict literals (through ``customers.service``)."""


@dataclass(frozen=True)
class Site:
    module: str
    line: int
    expression: ast.expr
    prefix: str = ""
    suffix: str = ""


Modules = dict[str, ast.Module]


@cache
def package_modules() -> Modules:
    """Every module of the package, by its path in it."""
    paths = sorted(PACKAGE.rglob("*.py"))
    return {p.relative_to(PACKAGE).as_posix(): ast.parse(p.read_text(encoding="utf-8")) for p in paths}


def _callee(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


Function = ast.FunctionDef | ast.AsyncFunctionDef


def _calls_in_functions(tree: ast.Module) -> Iterator[tuple[ast.Call, Function | None]]:
    """Each call with the function it is in (the innermost one)."""

    def walk(node: ast.AST, function: Function | None) -> Iterator[tuple[ast.Call, Function | None]]:
        for child in ast.iter_child_nodes(node):
            inner = child if isinstance(child, Function) else function
            if isinstance(child, ast.Call):
                yield child, function
            yield from walk(child, inner)

    return walk(tree, None)


def _on_parameter(expression: ast.expr, function: Function | None) -> tuple[str, str] | None:
    """(prefix, suffix) when ``expression`` is the enclosing function's ``kind`` parameter, maybe with
    constant text around it (``kind``, ``f"lead.{kind}"``, ``"lead." + kind``)."""
    if function is None or "kind" not in {a.arg for a in (*function.args.args, *function.args.kwonlyargs)}:
        return None
    if isinstance(expression, ast.Name) and expression.id == "kind":
        return "", ""
    if isinstance(expression, ast.JoinedStr):
        parts = expression.values
        holes = [n for n, part in enumerate(parts) if isinstance(part, ast.FormattedValue)]
        if len(holes) != 1:
            return None
        hole = parts[holes[0]]
        assert isinstance(hole, ast.FormattedValue)
        if not (isinstance(hole.value, ast.Name) and hole.value.id == "kind" and hole.format_spec is None):
            return None
        text = [p.value if isinstance(p, ast.Constant) else "" for p in parts]
        return "".join(text[: holes[0]]), "".join(text[holes[0] + 1 :])
    if isinstance(expression, ast.BinOp) and isinstance(expression.op, ast.Add):
        left, right = expression.left, expression.right
        if isinstance(left, ast.Constant) and isinstance(right, ast.Name) and right.id == "kind":
            return str(left.value), ""
        if isinstance(right, ast.Constant) and isinstance(left, ast.Name) and left.id == "kind":
            return "", str(right.value)
    return None


def _writer_sites(modules: Modules) -> list[Site]:
    """Every place a kind goes to a writer, after following writers that pass their ``kind`` on."""
    writers: dict[tuple[str | None, str], tuple[str, str]] = {(None, name): ("", "") for name in BASE_WRITERS}

    def writer(module: str, name: str | None) -> tuple[str, str] | None:
        if name is None:
            return None
        return writers.get((module, name)) or (None if name.startswith("_") else writers.get((None, name)))

    while True:
        sites: list[Site] = []
        grew = False
        for module, tree in modules.items():
            for call, function in _calls_in_functions(tree):
                wrap = writer(module, _callee(call))
                if wrap is None:
                    continue
                kind = next((k.value for k in call.keywords if k.arg == "kind"), None)
                if kind is None:
                    sites.append(Site(module, call.lineno, call))  # no kind keyword: unreadable
                    continue
                passed = _on_parameter(kind, function)
                if passed is not None and function is not None:
                    key = (module if function.name.startswith("_") else None, function.name)
                    if key not in writers:
                        writers[key] = (wrap[0] + passed[0], passed[1] + wrap[1])
                        grew = True
                    continue
                sites.append(Site(module, call.lineno, kind, *wrap))
        if not grew:
            return sites


def _row_sites(modules: Modules) -> list[Site]:
    sites = []
    for module, tree in modules.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
                if keys >= ROW_KEYS:
                    kind = next(
                        v
                        for k, v in zip(node.keys, node.values, strict=True)
                        if isinstance(k, ast.Constant) and k.value == "kind"
                    )
                    sites.append(Site(module, node.lineno, kind))
    return sites


def _bulk_writing_modules(modules: Modules) -> set[str]:
    found = set()
    for module, tree in modules.items():
        for node in ast.walk(tree):
            names: list[ast.expr] = []
            if isinstance(node, ast.Call) and _callee(node) in BULK_STATEMENTS:
                names = list(node.args)
            elif isinstance(node, ast.Dict):
                names = list(node.values)
            if any(isinstance(n, ast.Name) and n.id == "TimelineEvent" for n in names):
                found.add(module)
    return found


def _kinds(site: Site) -> set[str] | None:
    expression = site.expression
    if isinstance(expression, ast.Constant) and isinstance(expression.value, str):
        values = {expression.value}
    elif (site.module, ast.unparse(expression)) in BUILT_KINDS:
        values = BUILT_KINDS[(site.module, ast.unparse(expression))]
    else:
        return None
    return {site.prefix + value + site.suffix for value in values}


def scan(modules: Modules) -> tuple[set[str], list[str]]:
    """The timeline kinds ``modules`` write, and the writers whose kind the scan cannot read."""
    kinds: set[str] = set()
    unreadable: list[str] = []
    for site in (*_writer_sites(modules), *_row_sites(modules)):
        found = _kinds(site)
        if found is None:
            unreadable.append(f"{site.module}:{site.line}: {ast.unparse(site.expression)}")
        else:
            kinds |= found
    return kinds, unreadable


def written_kinds() -> set[str]:
    """Every timeline kind the package writes; fails naming the writers whose kind it cannot read."""
    kinds, unreadable = scan(package_modules())
    assert not unreadable, f"timeline kinds built at run time: add them to BUILT_KINDS: {unreadable}"
    return kinds


def test_every_timeline_kind_the_code_writes_is_labelled_in_both_languages() -> None:
    kinds = written_kinds()
    for locale in LOCALES:
        texts = catalog(locale)
        missing = sorted(kind for kind in kinds if not texts.get(f"timeline.kind.{kind}"))
        assert not missing, (locale, missing)


def test_the_scan_finds_the_writers_it_must() -> None:
    """The scan reads literal kinds, kinds passed on (log_step, the reassignment), built ones, bulk rows
    and projected source events; if a refactor hid one of these from it, this says so."""
    kinds = written_kinds()
    assert {
        "customer.created",  # add_timeline, literal
        "lead.captured",  # log_step passes its kind on
        "lead.reassigned",  # leads.assignment.assign, literal
        "lead.won",  # built from the stage, BUILT_KINDS
        "consent.withdrawn",  # built from the consent status, BUILT_KINDS
        "case.escalated",  # a bulk row
        "vehicle.registered",  # a demo bulk row
        "purchase",  # projected from a source record
    } <= kinds


def test_the_modules_that_bulk_write_the_timeline_are_known() -> None:
    assert _bulk_writing_modules(package_modules()) == BULK_WRITERS


def test_source_events_take_only_the_source_kinds() -> None:
    assert {*SOURCE_EVENT_KINDS.values(), "purchase"} <= set(EVENT_KINDS)


@pytest.mark.parametrize("locale", LOCALES)
def test_no_timeline_label_is_left_for_a_kind_nothing_writes(locale: str) -> None:
    labelled = {
        key.removeprefix("timeline.kind.") for key in catalog(locale) if key.startswith("timeline.kind.")
    }
    assert labelled <= written_kinds()


def test_the_scan_reads_new_writers_and_refuses_kinds_it_cannot_read() -> None:
    """A new literal kind, one passed on by a new helper, and one built from something the scan cannot
    see (which it names instead of skipping)."""
    source = """
def note(session, *, kind, customer_id):
    add_timeline(session, customer_id=customer_id, kind=f"loyalty.{kind}", summary="")

def redeem(session, customer_id, reward):
    note(session, kind="redeemed", customer_id=customer_id)
    add_timeline(session, customer_id=customer_id, kind="loyalty.joined", summary="")
    add_timeline(session, customer_id=customer_id, kind=reward.kind, summary="")
    rows = [{"customer_id": customer_id, "kind": "loyalty.bulk", "summary": ""}]
"""
    kinds, unreadable = scan({"loyalty/service.py": ast.parse(source)})
    assert kinds == {"loyalty.redeemed", "loyalty.joined", "loyalty.bulk"}
    assert unreadable == ["loyalty/service.py:8: reward.kind"]
