"""The layering ARCHITECTURE.md describes, held by reading the code (``tests/architecture.py``): kit and
jobs know no domain, only screen modules render, domains write only their own tables and form no cycle,
and queries live in repositories. Each rule also fails on a planted violation, so it can fail at all."""

from __future__ import annotations

from pathlib import Path

import pytest

import drivetrain
from tests.architecture import Violation, check, load, stale_allowances

SOURCE = Path(drivetrain.__file__).parent

QUERIES_ALLOWED: dict[str, str] = {
    # path under src/drivetrain: why its select()/update()/insert()/delete() may stay where it is
    "jobs/claims.py": "the claim mechanism itself: a guarded UPDATE over any model's due rows",
    "jobs/outbox.py": "the outbox is infrastructure with its one table; no domain reads it",
    "jobs/events.py": "the event feed is infrastructure with its one table; no domain reads it",
    "cli.py": "a composition root: the CLI's checks of a fresh database",
    "demo/seed.py": "the demo generator writes a whole world in bulk; no request path runs it",
    "demo/sources.py": "the demo generator writes source records in bulk; no request path runs it",
    "demo/quality.py": "the demo generator writes defect signals in bulk; no request path runs it",
}


def _report(violations: list[Violation]) -> str:
    return "\n".join(str(v) for v in violations)


@pytest.mark.parametrize(
    "rule",
    [
        "kit imports a domain",
        "jobs imports a domain",
        "a non-screen module imports web",
        "a domain module imports an edge module",
        "a domain imports a composition root",
        "a cycle between domains",
        "a domain writes another domain's table",
        "a query outside a repository",
    ],
)
def test_the_package_keeps_the_rule(rule: str) -> None:
    broken = [v for v in check(SOURCE, allowed_queries=QUERIES_ALLOWED) if v.rule == rule]
    assert not broken, f"{len(broken)} × {rule}:\n{_report(broken)}"


def test_every_allowance_still_holds_a_query() -> None:
    assert not stale_allowances(load(SOURCE), QUERIES_ALLOWED), "remove allowances that no longer apply"


# ----------------------------------------------------------------------------- planted violations
PLANTED: dict[str, dict[str, str]] = {
    "kit imports a domain": {"kit/text.py": "from drivetrain.leads.models import Lead\n"},
    "jobs imports a domain": {"jobs/worker.py": "def f():\n    from drivetrain.cases import tasks\n"},
    "a non-screen module imports web": {"leads/service.py": "from drivetrain.web.templating import render\n"},
    "a domain module imports an edge module": {"leads/service.py": "from drivetrain.cases import api\n"},
    "a domain imports a composition root": {"leads/service.py": "from drivetrain import migrate\n"},
    "a cycle between domains": {
        "leads/service.py": "from drivetrain.cases import service\n",
        "cases/service.py": "from drivetrain.leads.repository import LeadRepository\n",
    },
    "a domain writes another domain's table": {
        "cases/service.py": (
            "from drivetrain.customers.models import TimelineEvent\n"
            "def note(session):\n    session.add(TimelineEvent(kind='x'))\n"
        ),
    },
    "a query outside a repository": {
        "leads/presenters.py": "from sqlalchemy import select\nfrom drivetrain.leads.models import Lead\n"
        "def names(session):\n    return session.scalars(select(Lead))\n",
    },
}
CLEAN_TREE = {
    "__init__.py": "",
    "db.py": "class Base: ...\n",
    "kit/__init__.py": "",
    "kit/text.py": "from drivetrain.kit import other\n",
    "kit/other.py": "",
    "jobs/__init__.py": "",
    "jobs/worker.py": "from drivetrain.jobs import registry\n",
    "jobs/registry.py": "",
    "web/__init__.py": "",
    "web/templating.py": "",
    "migrate.py": "",
    "customers/__init__.py": "",
    "customers/models.py": "from drivetrain.db import Base\nclass TimelineEvent(Base): ...\n",
    "leads/__init__.py": "",
    "leads/models.py": "from drivetrain.db import Base\nclass Lead(Base): ...\n",
    "leads/repository.py": "from sqlalchemy import select\nfrom drivetrain.leads.models import Lead\n"
    "def all_leads(session):\n    return session.scalars(select(Lead))\n",
    "leads/service.py": "from drivetrain.customers import service\n",
    "leads/presenters.py": "",
    "leads/views.py": "from drivetrain.web.templating import render\nfrom drivetrain.cases import service\n",
    "cases/__init__.py": "",
    "cases/api.py": "",
    "cases/tasks.py": "",
    "cases/service.py": "from drivetrain.customers import service\n",
    "customers/service.py": "",
}


def _plant(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "drivetrain"
    for name, text in (CLEAN_TREE | files).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_a_clean_tree_passes(tmp_path: Path) -> None:
    assert check(_plant(tmp_path, {}), allowed_queries={}) == []


@pytest.mark.parametrize("rule", sorted(PLANTED))
def test_a_planted_violation_fails(rule: str, tmp_path: Path) -> None:
    found = check(_plant(tmp_path, PLANTED[rule]), allowed_queries={})
    assert [v.rule for v in found] == [rule], _report(found)


def test_an_allowance_lets_a_query_stay_and_a_stale_one_is_reported(tmp_path: Path) -> None:
    root = _plant(tmp_path, PLANTED["a query outside a repository"])
    allowed = {"leads/presenters.py": "a reason", "leads/gone.py": "a file that no longer exists"}
    assert check(root, allowed_queries=allowed) == []
    assert stale_allowances(load(root), allowed) == ["leads/gone.py"]
