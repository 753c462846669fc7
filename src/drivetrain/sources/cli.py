"""``drivetrain sources …`` (register source systems, save profiles) and ``drivetrain import SOURCE FILE``."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from typer.core import TyperGroup

from drivetrain.auth.subject import SYSTEM
from drivetrain.db import database, unit_of_work
from drivetrain.kit.errors import DomainError
from drivetrain.sources import service
from drivetrain.sources.files import read_rows
from drivetrain.sources.mapping import TARGET_FIELDS, Problem
from drivetrain.sources.models import ImportRun, ImportVia, SourceType
from drivetrain.sources.repository import SourceRepository
from drivetrain.sources.schemas import ProfileWrite, SourceCreate

SOURCE_COMMAND = "source"
ERROR_COLUMNS = ("row", "field", "value", "reason")
console = Console()
sources_app = typer.Typer(help="Source systems (DMS, ERP, insurer, WeCom …) and their import profiles.")


class SourceImportGroup(TyperGroup):
    """``drivetrain import``: a first word that names no subcommand (dealers, leads …) is a source
    system, so ``drivetrain import dms-hz export.csv`` runs ``drivetrain import source dms-hz export.csv``."""

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        # Loosely typed: underneath is typer's own copy of click, whose types it does not export.
        if args and not args[0].startswith("-") and self.get_command(ctx, args[0]) is None:
            return SOURCE_COMMAND, self.get_command(ctx, SOURCE_COMMAND), args
        return super().resolve_command(ctx, args)


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(code=2)


def import_source_command(
    source: Annotated[str, typer.Argument(help="A registered source system (see `drivetrain sources list`)")],
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            help="CSV (UTF-8 or GBK, detected), XLSX, or JSON (an array or lines)",
        ),
    ],
    profile: Annotated[
        str | None,
        typer.Option(
            help="Import profile (default: the source's 'default', else columns named like the fields)"
        ),
    ] = None,
    errors: Annotated[
        Path | None,
        typer.Option(
            "--errors", dir_okay=False, help="Where to write the problems CSV [default: FILE.errors.csv]"
        ),
    ] = None,
) -> None:
    """Import a source system's export: every row kept raw beside its normalised form; bad rows are
    reported by row number and field, good ones kept; importing the same file again changes nothing."""
    data = file.read_bytes()
    error_file = errors or file.with_name(f"{file.stem}.errors.csv")
    try:
        with database().session(write=False) as session:
            resolved = service.resolve_profile(
                session, SourceRepository(session).by_name(SYSTEM, source), profile
            )
        rows = read_rows(file, data, encoding=resolved.options.encoding, sheet=resolved.options.sheet)
        origin = service.ImportOrigin(
            via=ImportVia.FILE,
            file_name=file.name,
            file_sha256=hashlib.sha256(data).hexdigest(),
            error_file=str(error_file.resolve()),
        )
        run, problems = _import(source, rows, resolved, origin)
    except DomainError as error:
        raise _fail(error.detail) from None
    if problems:
        write_problems(error_file, problems)
    _print_run(run, error_file if problems else None)


def _import(
    name: str, rows: list[dict[Any, Any]], profile: service.ResolvedProfile, origin: service.ImportOrigin
) -> tuple[ImportRun, list[Problem]]:
    columns = (TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress, unit_of_work() as session:
        task = progress.add_task("rows", total=len(rows))
        result = service.import_records(
            session,
            SYSTEM,
            SourceRepository(session).by_name(SYSTEM, name),
            list(enumerate(rows, start=1)),
            profile=profile,
            origin=origin,
            progress=lambda count: progress.advance(task, count),
            workers=service.workers_for(len(rows)),
        )
    return result.run, result.problems


def write_problems(path: Path, problems: list[Problem]) -> None:
    """UTF-8 with a BOM, so spreadsheet programs open the Chinese text as such."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(ERROR_COLUMNS)
        writer.writerows((p.row, p.field, p.value, p.reason) for p in problems)


def _print_run(run: ImportRun, error_file: Path | None) -> None:
    """One line each, never wrapped, so the counts read the same in a terminal and in a job's log."""
    counts = (
        f"{run.rows_read:,} rows read, {run.created:,} created, {run.updated:,} updated, "
        f"{run.unchanged:,} unchanged, {run.rejected:,} rejected, {run.problems:,} problems"
    )
    what = f"{escape(run.file_name or '')} ({escape(run.profile or 'no profile')})"
    console.print(f"{what}: {counts}", soft_wrap=True)
    if error_file is not None:
        console.print(f"problems (row, field, value, reason): {escape(str(error_file))}", soft_wrap=True)


@sources_app.command("add")
def add_source(
    name: Annotated[str, typer.Argument(help="Short slug: dms-hz, picc, wecom")],
    type_: Annotated[SourceType, typer.Option("--type", help="What kind of system it is")],
    trust: Annotated[int, typer.Option(min=0, max=100, help="Trust rank: higher wins when sources disagree")],
) -> None:
    """Register a source system."""
    try:
        data = SourceCreate(name=name, type=type_, trust_rank=trust)
        with unit_of_work() as session:
            source = service.register_source(session, SYSTEM, data=data)
            console.print(f"registered {source.name} ({source.type}, trust {source.trust_rank})")
    except ValidationError as error:
        raise _fail(_validation_message(error)) from None
    except DomainError as error:
        raise _fail(error.detail) from None


@sources_app.command("list")
def list_sources() -> None:
    """Source systems with their import profiles."""
    with database().session(write=False) as session:
        repository = SourceRepository(session)
        sources = repository.all(SYSTEM)
        profiles = repository.profiles([source.id for source in sources])
    table = Table()
    for column in ("name", "type", "trust", "profiles"):
        table.add_column(column)
    for source in sources:
        names = ", ".join(p.name for p in profiles if p.source_id == source.id)
        table.add_row(source.name, source.type, str(source.trust_rank), names)
    console.print(table)


@sources_app.command("profile")
def save_profile(
    source: Annotated[str, typer.Argument(help="The source system")],
    name: Annotated[str, typer.Argument(help="Profile name; 'default' is used when an import names none")],
    maps: Annotated[
        list[str] | None,
        typer.Option("--map", help=f"FIELD=COLUMN, repeated. Fields: {', '.join(TARGET_FIELDS)}"),
    ] = None,
    options: Annotated[
        list[str] | None,
        typer.Option("--option", help="date_format=…, encoding=gb18030 or sheet=…, repeated"),
    ] = None,
    from_file: Annotated[
        Path | None,
        typer.Option(
            "--from-file", exists=True, dir_okay=False, help='JSON: {"mapping": {…}, "options": {…}}'
        ),
    ] = None,
) -> None:
    """Create or replace an import profile: which column of the export holds which field."""
    try:
        if from_file is not None:
            body: dict[str, Any] = json.loads(from_file.read_text(encoding="utf-8-sig"))
        else:
            body = {"mapping": _pairs(maps or [], "--map"), "options": _pairs(options or [], "--option")}
        data = ProfileWrite.model_validate(body)
        with unit_of_work() as session:
            found = SourceRepository(session).by_name(SYSTEM, source)
            saved = service.save_profile(session, SYSTEM, found, name, data=data)
            console.print(f"saved profile {saved.name} of {source}: {len(saved.mapping)} fields mapped")
    except ValidationError as error:
        raise _fail(_validation_message(error)) from None
    except (DomainError, ValueError) as error:
        raise _fail(error.detail if isinstance(error, DomainError) else str(error)) from None


def _pairs(items: list[str], option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{option} takes KEY=VALUE, got {item!r}")
        pairs[key.strip()] = value.strip()
    return pairs


def _validation_message(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc'])}: {str(item['msg']).removeprefix('Value error, ')}"
        for item in error.errors()
    )
