"""``drivetrain unify …``: identity resolution from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from drivetrain.unify.config import ResolveConfig

unify_app = typer.Typer(no_args_is_help=True)


@unify_app.callback()
def unify() -> None:
    """Identity resolution: one customer across every source system."""
    # A callback keeps this a command group, so "resolve-file" is named even while alone.


@unify_app.command("resolve-file")
def resolve_file_command(
    input_path: Annotated[
        Path,
        typer.Argument(
            metavar="INPUT",
            exists=True,
            dir_okay=False,
            help="CSV (UTF-8 or GBK) or Parquet: record_id, source, name, phone, vin, address, city,"
            " wechat_id [, id_number, email, plate]",
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Where to write record_id,customer_key (.csv or .parquet)")
    ],
    previous: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="An earlier output, so customer keys stay stable"),
    ] = None,
    review_out: Annotated[
        Path | None, typer.Option("--review-out", help="Where to write borderline pairs for review")
    ] = None,
    match_probability: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Link records at or above this match probability")
    ] = ResolveConfig.match_probability,
    review_probability: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Send pairs from here up to the match threshold to review")
    ] = ResolveConfig.review_probability,
    engine: Annotated[
        Literal["duckdb", "spark"],
        typer.Option(help="Where Splink scores pairs: DuckDB here, or local Spark (needs Java 17, pyspark)"),
    ] = "duckdb",
) -> None:
    """Resolve a file of records into customers (a dry run: nothing is written to the database)."""
    if review_probability > match_probability:
        raise typer.BadParameter("must not exceed --match-probability", param_hint="--review-probability")
    from drivetrain.unify.filemode import resolve_file  # loads DuckDB and Splink: only when used

    config = ResolveConfig(
        match_probability=match_probability, review_probability=review_probability, engine=engine
    )
    summary = resolve_file(input_path, out, config, previous=previous, review_out=review_out)
    typer.echo(f"records:      {summary.records:,}")
    typer.echo(f"clusters:     {summary.clusters:,}")
    typer.echo(f"review pairs: {summary.review_pairs:,}")
    typer.echo(f"time:         {summary.seconds:.1f} s")
    typer.echo(f"peak memory:  {summary.peak_memory_mb:,.0f} MB")
