"""``classify`` commands for the Cases domain (mounted by the main CLI)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from drivetrain.cases.classify.model import MODEL_DIR

REPO_ROOT = Path(__file__).resolve().parents[3]
SHARED_BDCI = REPO_ROOT.parent / "shared" / "data" / "bdci2018_car_review_aspects.csv"

classify_app = typer.Typer(
    help="Feedback classifier: category, severity, sentiment, aspects.", no_args_is_help=True
)


@classify_app.command()
def retrain(
    bdci: Annotated[
        Path | None,
        typer.Option(help="BDCI 2018 aspect CSV [default: ../shared/data/bdci2018_car_review_aspects.csv]"),
    ] = None,
    out: Annotated[Path, typer.Option(help="Directory the model file is written to")] = MODEL_DIR,
) -> None:
    """Retrain the model on BDCI 2018 and the packaged complaint set (takes about a minute)."""
    from drivetrain.cases.classify.training import train

    source = bdci or SHARED_BDCI
    if not source.is_file():
        raise typer.BadParameter(f"{source} not found; pass --bdci", param_hint="--bdci")
    report = train(source, out_dir=out)
    typer.echo(f"wrote {report.model_path} ({report.model_bytes / 1e6:.1f} MB) in {report.seconds:.0f} s")
    typer.echo(
        f"out-of-fold on the training part: aspect macro-F1 {report.validation_aspect_macro_f1:.3f}, "
        f"sentiment macro-F1 {report.validation_sentiment_macro_f1:.3f}, "
        f"category accuracy {report.validation_category_accuracy:.3f}"
    )
