"""``classify`` commands for the Cases domain (mounted by the main CLI)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from drivetrain.cases.classify.model import MODEL_DIR

if TYPE_CHECKING:
    from drivetrain.cases.classify.training import LabelledText

REPO_ROOT = Path(__file__).resolve().parents[3]
SHARED_BDCI = REPO_ROOT.parent / "shared" / "data" / "bdci2018_car_review_aspects.csv"

classify_app = typer.Typer(
    help="Feedback classifier: category, severity, sentiment, aspects.", no_args_is_help=True
)


def stored_corrections(wanted: bool | None) -> list[LabelledText]:
    """The console's corrections in the configured database. ``None``: use them if the database has
    any, and train without them when it cannot be read (not migrated yet); ``True``: it must be read."""
    if wanted is False:
        return []
    from drivetrain.cases.classify.corrections import training_examples
    from drivetrain.config import sqlite_path
    from drivetrain.db import database

    db = database()
    path = sqlite_path(db.url)
    if wanted is None and path is not None and not path.exists():
        return []  # no database yet: connecting would create an empty one
    try:
        with db.session(write=False) as session:
            return training_examples(session)
    except SQLAlchemyError as exc:
        if wanted:
            raise typer.BadParameter(f"cannot read corrections: {exc}", param_hint="--corrections") from exc
        return []


@classify_app.command()
def retrain(
    bdci: Annotated[
        Path | None,
        typer.Option(help="BDCI 2018 aspect CSV [default: ../shared/data/bdci2018_car_review_aspects.csv]"),
    ] = None,
    out: Annotated[Path, typer.Option(help="Directory the model file is written to")] = MODEL_DIR,
    corrections: Annotated[
        bool | None,
        typer.Option(
            "--corrections/--no-corrections",
            help="Also learn from corrections made in the console, read from DRIVETRAIN_DATABASE_URL "
            "(by default: when that database has any)",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Retrain the model on BDCI 2018, the packaged complaint set and console corrections (about a minute)."""
    from drivetrain.cases.classify.training import train

    source = bdci or SHARED_BDCI
    if not source.is_file():
        raise typer.BadParameter(f"{source} not found; pass --bdci", param_hint="--bdci")
    extra = stored_corrections(corrections)
    typer.echo(f"console corrections: {len(extra)}")
    report = train(source, extra, out_dir=out)
    typer.echo(f"wrote {report.model_path} ({report.model_bytes / 1e6:.1f} MB) in {report.seconds:.0f} s")
    typer.echo(
        f"out-of-fold on the training part: aspect macro-F1 {report.validation_aspect_macro_f1:.3f}, "
        f"sentiment macro-F1 {report.validation_sentiment_macro_f1:.3f}, "
        f"category accuracy {report.validation_category_accuracy:.3f}"
    )
