"""The ``drivetrain`` command: serve, migrate, demo, import, user, token (create, list, revoke)."""

from __future__ import annotations

import functools
import random
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from sqlalchemy import select

from drivetrain import migrate as migrations
from drivetrain import tasks  # noqa: F401 - registers every worker job
from drivetrain.auth import service as auth_service
from drivetrain.auth.models import User
from drivetrain.auth.roles import Role
from drivetrain.auth.subject import SYSTEM
from drivetrain.cases.cli import classify_app
from drivetrain.db import database, unit_of_work
from drivetrain.jobs.worker import Worker
from drivetrain.kit.errors import DomainError
from drivetrain.kit.importing import ImportReport, read_records
from drivetrain.kit.pagination import MAX_LIMIT, page_of
from drivetrain.leads import importing as lead_imports
from drivetrain.org import staff
from drivetrain.org.importer import import_dealers
from drivetrain.org.repository import TokenRepository
from drivetrain.sources.cli import SOURCE_COMMAND, SourceImportGroup, import_source_command, sources_app
from drivetrain.unify.cli import unify_app
from drivetrain.unify.resolve_command import resolve_command

app = typer.Typer(
    help="Drivetrain: customer operations for car makers, dealers and owners.", no_args_is_help=True
)
import_app = typer.Typer(
    cls=SourceImportGroup,
    help="Load data files. `drivetrain import SOURCE FILE [--profile NAME]` imports an export of a registered"
    " source system (see `drivetrain sources`); the commands below load dealers, leads and spend.",
    subcommand_metavar="SOURCE FILE | COMMAND [ARGS]...",
    no_args_is_help=True,
)
user_app = typer.Typer(help="Staff accounts.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens for integrations.", no_args_is_help=True)
app.add_typer(import_app, name="import")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(classify_app, name="classify")
app.add_typer(unify_app, name="unify")
app.add_typer(sources_app, name="sources")


def _migrated(command: Callable[..., None]) -> Callable[..., None]:
    """A domain's command, run on a schema at head (domains do not import the migrations)."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        migrations.upgrade(database())
        command(*args, **kwargs)

    return run


@sources_app.callback()
def _sources_at_head() -> None:
    migrations.upgrade(database())


import_app.command(SOURCE_COMMAND)(_migrated(import_source_command))
app.command("resolve")(_migrated(resolve_command))
console = Console()


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code=2)


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    migrations.upgrade(database())
    console.print(f"database at head: {database().url.split('@')[-1]}")


class LogLevel(StrEnum):
    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    DEBUG = "debug"


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    log_level: Annotated[
        LogLevel, typer.Option(envvar="DRIVETRAIN_LOG_LEVEL", help="warning: no line per request")
    ] = LogLevel.INFO,
) -> None:
    """Serve the console and the API."""
    import uvicorn

    uvicorn.run("drivetrain.app:create_app", factory=True, host=host, port=port, log_level=log_level.value)


@app.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="Catch up on everything due, then exit")] = False,
) -> None:
    """Run the worker: first-contact deadlines, outbox delivery. Several may run at once."""
    runner = Worker()
    if once:
        console.print(f"{runner.run_until_idle()} rows acted on")
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        runner.run_forever(stop)
    except KeyboardInterrupt:
        stop.set()


@app.command("demo")
def demo_command(
    customers: Annotated[int, typer.Option(min=0, help="How many demo customers")] = 5000,
    leads: Annotated[
        int, typer.Option(min=0, help="How many demo leads, routed through the real flow")
    ] = 300,
    cases: Annotated[
        int, typer.Option(min=0, help="How many owner complaints, opened over the last day and escalated")
    ] = 200,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same world")] = 2026,
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve when seeded")] = True,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
) -> None:
    """Migrate, seed the real dealer network with staff, customers, leads and cases, then serve."""
    from drivetrain.demo import seed as demo

    db = database()
    migrations.upgrade(db)
    if demo.already_seeded(db):
        console.print("demo data already present; keeping it (delete ./var/ to start afresh)")
    else:
        _seed(customers, leads, cases, seed)
    _print_logins()
    if serve_after:
        serve(host=host, port=port)


def _seed(customers: int, leads: int, cases: int, seed: int) -> None:
    from drivetrain.demo import seed as demo
    from drivetrain.demo.quality import seed_defect_signals

    rng = random.Random(seed)
    with console.status("loading the dealer network and staff…"):
        stores = demo.seed_world(database(), rng=rng)
    console.print(f"{len(stores)} dealers with staff")
    columns = (
        TextColumn("customers"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("customers", total=customers)
        demo.seed_customers(
            database(),
            stores,
            count=customers,
            rng=rng,
            now=datetime.now(UTC),
            progress=lambda n: progress.advance(task, n),
        )
    with console.status(f"capturing {leads} leads through routing…"):
        demo.seed_leads(database(), count=leads, rng=rng, now=datetime.now(UTC))
    with console.status(f"opening {cases} cases and sweeping their escalations…"):
        demo.seed_cases(database(), count=cases, rng=rng, now=datetime.now(UTC))
    with console.status("owner complaints for R&D: counting defect clusters…"):
        series = seed_defect_signals(database(), rng=rng, now=datetime.now(UTC))
    with console.status("approvals asked and granted, satisfaction surveys answered…"):
        demo.seed_case_follow_up(database(), rng=rng, now=datetime.now(UTC))
    with console.status("DMS, insurer, finance, used-car and WeCom records: importing and resolving…"):
        run = demo.seed_sources(
            database(), rng=rng, now=datetime.now(UTC), people=min(customers, demo.SOURCE_PEOPLE_MAX)
        )
    console.print(
        f"{run.records:,} source and CRM records resolved into {run.clusters:,} people; "
        f"{run.review_pairs:,} pairs wait in the review queue (/identity/review)"
    )
    if series:
        console.print(f"an emerging brake-noise issue on {series} waits on the quality dashboard (/quality)")


def _print_logins() -> None:
    from drivetrain.demo import seed as demo

    with database().session(write=False) as session:
        logins = demo.demo_logins(session)
    table = Table(title=f"Demo logins (password: {demo.DEMO_PASSWORD})")
    for column in ("username", "role", "what you'll see"):
        table.add_column(column)
    for row in logins.lines:
        table.add_row(*row)
    console.print(table)
    console.print("console: http://127.0.0.1:8000   API docs: http://127.0.0.1:8000/api/v1/docs")


@import_app.command("dealers")
def import_dealers_command(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, help="JSON array or CSV with a header (UTF-8 or GBK)"),
    ],
) -> None:
    """Load a dealer network (JSON or CSV); bad rows are reported by row number, good ones kept."""
    records = _records(file)
    migrations.upgrade(database())
    with unit_of_work() as session:
        report = import_dealers(session, SYSTEM, records)
    _print_import(report, len(records))


def _records(file: Path) -> list[dict[str, Any]]:
    """Rows of a JSON array or a CSV file (UTF-8 or GBK), or a clean exit saying why not."""
    try:
        return read_records(file)
    except (ValueError, DomainError) as error:
        raise _fail(str(error)) from None


def _print_import(report: ImportReport, rows: int) -> None:
    for rejected in report.errors:
        console.print(f"[yellow]row {rejected.row}[/yellow] {rejected.field}: {escape(rejected.reason)}")
    console.print(
        f"{rows} rows: {report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged, {len(report.errors)} rejected"
    )


@import_app.command("leads")
def import_leads_command(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CSV with a header (UTF-8 or GBK), or JSON")
    ],
) -> None:
    """Capture leads; bad rows are reported by row number, good ones kept; importing twice adds nothing."""
    records = _records(file)
    migrations.upgrade(database())
    try:
        with unit_of_work() as session:
            report = lead_imports.import_leads(
                session, SYSTEM, records, idempotent_prefix=lead_imports.IMPORT_SOURCE_PREFIX
            )
    except DomainError as error:
        raise _fail(error.detail) from None
    _print_import(report, len(records))


@import_app.command("spend")
def import_spend_command(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CSV: date, channel, campaign, amount")
    ],
) -> None:
    """Load channel and campaign spend; a day's changed amount updates, the same one changes nothing."""
    records = _records(file)
    migrations.upgrade(database())
    try:
        with unit_of_work() as session:
            report = lead_imports.import_spend(session, SYSTEM, records)
    except DomainError as error:
        raise _fail(error.detail) from None
    _print_import(report, len(records))


@user_app.command("create")
def create_user(
    username: Annotated[str, typer.Option(help="Login name")],
    password: Annotated[str, typer.Option(help="At least 8 characters")],
    role: Annotated[Role, typer.Option(help="One of the roles")],
    dealer: Annotated[str | None, typer.Option(help="Dealer code, for dealer roles")] = None,
    region: Annotated[str | None, typer.Option(help="Region name, for regional managers")] = None,
    group: Annotated[str | None, typer.Option(help="Dealer group name, for group admins")] = None,
    name: Annotated[str | None, typer.Option(help="Display name")] = None,
) -> None:
    """Create a staff account."""
    anchor = staff.Anchor(dealer_code=dealer, region_name=region, group_name=group)
    try:
        with unit_of_work() as session:
            user = staff.create_staff(
                session,
                SYSTEM,
                username=username,
                password=password,
                role=role,
                display_name=name,
                anchor=anchor,
            )
            console.print(f"created {user.username} ({role.value})")
    except DomainError as error:
        raise _fail(error.detail) from None


@token_app.command("create")
def create_token(
    username: Annotated[str, typer.Option(help="The account the token acts as")],
    name: Annotated[str, typer.Option(help="What the token is for")] = "cli",
) -> None:
    """Create an API token; it is printed once, as the last line."""
    with unit_of_work() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise _fail(f"no user {username}")
        plain, _ = auth_service.create_token(session, SYSTEM, user=user, name=name)
    console.print(f"token for {username} (shown once, store it now):")
    print(plain)


@token_app.command("list")
def list_tokens(
    username: Annotated[str | None, typer.Option(help="Only this account's tokens")] = None,
    include_revoked: Annotated[bool, typer.Option("--all", help="Revoked tokens too")] = False,
) -> None:
    """Tokens, newest first, one per line (tab-separated, for scripts): id, account, name,
    the token's first characters, created and revoked (UTC)."""
    print("id\taccount\tname\tprefix\tcreated\trevoked")
    cursor: str | None = None
    with unit_of_work() as session:
        while True:
            rows = TokenRepository(session).search(
                SYSTEM, username=username, include_revoked=include_revoked, cursor=cursor, limit=MAX_LIMIT
            )
            page, cursor = page_of(rows, limit=MAX_LIMIT, id_of=lambda row: row[0].id)
            for token, owner in page:
                revoked = f"{token.revoked_at:%Y-%m-%d %H:%M}" if token.revoked_at else "-"
                created = f"{token.created_at:%Y-%m-%d %H:%M}"
                print(f"{token.id}\t{owner}\t{token.name}\t{token.prefix}\t{created}\t{revoked}")
            if cursor is None:
                break


@token_app.command("revoke")
def revoke_token(token_id: Annotated[str, typer.Argument(help="The token's id (see `token list`)")]) -> None:
    """Revoke a token; servers stop accepting it within a few seconds."""
    with unit_of_work() as session:
        token = TokenRepository(session).by_id(token_id)
        if token is None:
            raise _fail(f"no token {token_id}")
        owner = session.get(User, token.user_id)
        assert owner is not None
        changed = auth_service.revoke_token(session, SYSTEM, token, owner=owner)
    console.print(f"revoked {token_id}" if changed else f"{token_id} was already revoked")


if __name__ == "__main__":
    app()
