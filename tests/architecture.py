"""Reads the package's imports and calls with ``ast`` and reports where they break the layering that
ARCHITECTURE.md describes. Pure: give it a source tree, get back violations (``tests/test_architecture.py``
runs it on ``src/drivetrain`` and on planted trees).

The rooms:
- infrastructure (``kit``, ``jobs``, ``web``, ``db``, ``config``, ``migrations``) knows no domain;
- domains (every other package: ``auth``, ``org``, ``customers``, ``leads``, ``cases`` …) call each
  other's services, never write each other's tables, and form no cycle;
- edge modules (``api``, ``views``, ``public``, ``cli``) take requests and may call any domain;
  only screen modules (``views``, ``public``) render with ``web``;
- composition roots (``app``, ``cli``, ``models``, ``tasks``, ``migrate`` and the ``demo`` package)
  wire everything together and may import anything.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "drivetrain"
INFRASTRUCTURE = frozenset({"kit", "jobs", "web", "db", "config", "migrations"})
COMPOSITION = frozenset({"app", "cli", "models", "tasks", "migrate", "demo", "__init__"})
KIT_MAY_IMPORT = frozenset({"kit", "db", "config"})
JOBS_MAY_IMPORT = frozenset({"kit", "jobs", "db", "config"})
SCREEN_MODULES = frozenset({"views", "public"})
EDGE_MODULES = SCREEN_MODULES | {"api", "cli"}
QUERY_CONSTRUCTORS = frozenset({"select", "update", "insert", "delete"})
ROW_WRITER = re.compile(r"insert|update|delete|upsert|append|add_new|write", re.IGNORECASE)
"""Calls whose model arguments are the tables they write: SQL constructors, ``db.py``'s helpers and
any local helper named for a write (``_insert_all(session, TimelineEvent, rows)``)."""


@dataclass(frozen=True)
class Violation:
    rule: str
    module: str
    line: int
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.module}:{self.line}: {self.detail}"


@dataclass
class Module:
    name: str  # drivetrain.cases.approvals.service
    path: Path
    tree: ast.Module
    imports: list[tuple[str, int]] = field(default_factory=list)  # (imported module or symbol, line)
    names: dict[str, str] = field(default_factory=dict)  # local name -> dotted target

    @property
    def room(self) -> str:
        """The top-level package or module: ``cases`` for ``drivetrain.cases.approvals.service``."""
        parts = self.name.split(".")
        return parts[1] if len(parts) > 1 else "__init__"

    @property
    def leaf(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    @property
    def relative_path(self) -> str:
        return self.name.removeprefix(f"{PACKAGE}.").replace(".", "/") + ".py"

    def is_domain(self) -> bool:
        return self.room not in INFRASTRUCTURE | COMPOSITION

    def is_edge(self) -> bool:
        return self.leaf in EDGE_MODULES

    def is_repository(self) -> bool:
        return self.leaf == "repository" or ".repository." in self.name


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def load(root: Path) -> dict[str, Module]:
    """Every module under ``root`` (the ``drivetrain`` package folder), with its imports resolved."""
    modules: dict[str, Module] = {}
    for path in sorted(root.rglob("*.py")):
        name = _module_name(root, path)
        modules[name] = Module(name, path, ast.parse(path.read_text(encoding="utf-8"), str(path)))
    for module in modules.values():
        _read_imports(module, modules)
    return modules


def _read_imports(module: Module, modules: Mapping[str, Module]) -> None:
    """Every import, at the top or inside a function (a deferred import is still a dependency)."""
    for node in ast.walk(module.tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                target = f"{node.module}.{alias.name}"
                module.names[alias.asname or alias.name] = target
                if node.module.startswith(PACKAGE):
                    module.imports.append((target if target in modules else node.module, node.lineno))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                module.names[alias.asname or alias.name.split(".")[0]] = alias.name
                if alias.name.startswith(PACKAGE):
                    module.imports.append((alias.name, node.lineno))


def room_of(dotted: str) -> str:
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def leaf_module_of(dotted: str, modules: Mapping[str, Module]) -> Module | None:
    """The module a dotted import names (``drivetrain.cases.models.Case`` -> ``drivetrain.cases.models``)."""
    while dotted:
        if dotted in modules:
            return modules[dotted]
        dotted = dotted.rpartition(".")[0]
    return None


# ------------------------------------------------------------------------------------------ imports
def layering(modules: Mapping[str, Module]) -> Iterator[Violation]:
    for module in modules.values():
        for target, line in module.imports:
            target_room = room_of(target)
            if module.room == "kit" and target_room not in KIT_MAY_IMPORT:
                yield Violation("kit imports a domain", module.name, line, target)
            elif module.room == "jobs" and target_room not in JOBS_MAY_IMPORT:
                yield Violation("jobs imports a domain", module.name, line, target)
            if not module.is_domain():
                continue
            if target_room == "web" and module.leaf not in SCREEN_MODULES:
                yield Violation("a non-screen module imports web", module.name, line, target)
            imported = leaf_module_of(target, modules)
            if not module.is_edge() and imported is not None and imported.is_edge():
                yield Violation("a domain module imports an edge module", module.name, line, target)
            if target_room in COMPOSITION - {"__init__"}:
                yield Violation("a domain imports a composition root", module.name, line, target)


def domain_graph(modules: Mapping[str, Module]) -> dict[str, dict[str, tuple[str, int]]]:
    """Domain -> domain it depends on -> one (module, line) that makes it so. Edge modules take
    requests and may call any domain, so they are left out: the graph is of the domains' cores."""
    graph: dict[str, dict[str, tuple[str, int]]] = defaultdict(dict)
    for module in modules.values():
        if not module.is_domain() or module.is_edge():
            continue
        for target, line in module.imports:
            target_room = room_of(target)
            if target_room != module.room and target_room not in INFRASTRUCTURE | COMPOSITION:
                graph[module.room].setdefault(target_room, (module.name, line))
    return graph


def cycles(graph: Mapping[str, Mapping[str, object]]) -> list[list[str]]:
    """The strongly connected components of more than one domain (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def domain_cycles(modules: Mapping[str, Module]) -> Iterator[Violation]:
    graph = domain_graph(modules)
    for component in cycles(graph):
        links = [f"{a}->{b} ({graph[a][b][0]}:{graph[a][b][1]})" for a in component for b in graph[a]]
        links = [link for link in links if link.split("->")[1].split(" ")[0] in component]
        yield Violation("a cycle between domains", component[0], 0, "; ".join(links))


# ---------------------------------------------------------------------------------- tables and SQL
def model_owners(modules: Mapping[str, Module]) -> dict[str, str]:
    """Dotted name of every mapped class (a class deriving from ``Base``) -> the room that owns it."""
    owners: dict[str, str] = {}
    for module in modules.values():
        for node in module.tree.body:
            if isinstance(node, ast.ClassDef) and any(_base_name(b) == "Base" for b in node.bases):
                owners[f"{module.name}.{node.name}"] = module.room
    return owners


def _base_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else None


def resolve(module: Module, node: ast.expr) -> str | None:
    """The dotted name an expression refers to through the module's imports (``lm.Lead`` ->
    ``drivetrain.leads.models.Lead``), or the module's own class for a bare local name."""
    if isinstance(node, ast.Name):
        return module.names.get(node.id, f"{module.name}.{node.id}")
    if isinstance(node, ast.Attribute):
        base = resolve(module, node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _table_of(node: ast.expr) -> ast.expr:
    """``Model.__table__`` names the model's table as much as ``Model`` does."""
    return node.value if isinstance(node, ast.Attribute) and node.attr == "__table__" else node


def _calls(module: Module) -> Iterator[tuple[ast.Call, str]]:
    """Every call and the plain name of what it calls (``select``, ``append_row``, ``Lead``)."""
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Call):
            name = _base_name(node.func)
            if name:
                yield node, name


def foreign_writes(modules: Mapping[str, Module]) -> Iterator[Violation]:
    """A domain building a row of another room's model, or an INSERT/UPDATE/DELETE on it."""
    owners = model_owners(modules)
    for module in modules.values():
        if not module.is_domain():
            continue
        for call, name in _calls(module):
            targets: list[ast.expr] = []
            if ROW_WRITER.search(name):
                targets = [_table_of(arg) for arg in call.args[:2]]
            elif name[:1].isupper():
                targets = [call.func]
            for target in targets:
                dotted = resolve(module, target)
                owner = owners.get(dotted or "")
                if owner is not None and owner != module.room:
                    verb = "builds" if target is call.func else f"{name}()s"
                    yield Violation(
                        "a domain writes another domain's table",
                        module.name,
                        call.lineno,
                        f"{verb} {dotted.rsplit('.', 1)[-1] if dotted else '?'} of {owner}",
                    )


def query_sites(modules: Mapping[str, Module]) -> Iterator[tuple[Module, int, str]]:
    """Every ``select(``/``update(``/``insert(``/``delete(`` from SQLAlchemy: (module, line, name)."""
    for module in modules.values():
        for call, name in _calls(module):
            if name in QUERY_CONSTRUCTORS and (resolve(module, call.func) or "").startswith("sqlalchemy"):
                yield module, call.lineno, name


def queries_outside_repositories(
    modules: Mapping[str, Module], allowed: Mapping[str, str]
) -> Iterator[Violation]:
    for module, line, name in query_sites(modules):
        if module.is_repository() or module.room in {"migrations", "db"}:
            continue
        if module.relative_path in allowed:
            continue
        yield Violation("a query outside a repository", module.name, line, f"{name}(")


def stale_allowances(modules: Mapping[str, Module], allowed: Mapping[str, str]) -> list[str]:
    """Allow-list entries that no longer hold a query (or name no file): they should go."""
    with_queries = {module.relative_path for module, _, _ in query_sites(modules)}
    return sorted(path for path in allowed if path not in with_queries)


def check(root: Path, *, allowed_queries: Mapping[str, str]) -> list[Violation]:
    modules = load(root)
    return [
        *layering(modules),
        *domain_cycles(modules),
        *foreign_writes(modules),
        *queries_outside_repositories(modules, allowed_queries),
    ]
