"""``drivetrain resolve``: identity resolution over the database (``unify resolve-file`` is the dry run)."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from drivetrain.auth.subject import SYSTEM
from drivetrain.db import unit_of_work
from drivetrain.unify.config import ENGINES, ResolveConfig


def resolve_command(
    engine: Annotated[
        str, typer.Option(help=f"Where Splink scores pairs: {' or '.join(ENGINES)}")
    ] = ResolveConfig.engine,
    match_probability: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Link records at or above this match probability")
    ] = ResolveConfig.match_probability,
    review_probability: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Queue pairs from here up to the match threshold for review"),
    ] = ResolveConfig.review_probability,
) -> None:
    """Link every source record to one customer, refresh golden records, queue borderline pairs."""
    if engine not in ENGINES:
        raise typer.BadParameter(f"choose {' or '.join(ENGINES)}", param_hint="--engine")
    if review_probability > match_probability:
        raise typer.BadParameter("must not exceed --match-probability", param_hint="--review-probability")
    from drivetrain.unify.service import run_resolution  # loads DuckDB and Splink: only when used

    config = ResolveConfig(
        match_probability=match_probability, review_probability=review_probability, engine=engine
    )
    started = time.perf_counter()
    with unit_of_work() as session:
        run = run_resolution(session, SYSTEM, config)
    typer.echo(f"records:                {run.records:,}")
    typer.echo(f"people:                 {run.clusters:,}")
    typer.echo(f"customers created:      {run.customers_created:,}")
    typer.echo(f"golden records updated: {run.customers_updated:,}")
    typer.echo(f"records relinked:       {run.records_moved:,}")
    typer.echo(f"new pairs to review:    {run.review_pairs:,}")
    typer.echo(f"time:                   {time.perf_counter() - started:.1f} s")
