"""The demo's defect signals: an emerging brake-noise cluster raises exactly one alert, with its cars."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from drivetrain.cases.models import Case
from drivetrain.demo.quality import seed_defect_signals
from drivetrain.org.models import Series
from drivetrain.quality.models import DefectAlert
from tests.conftest import DemoBase, copy_demo_base

NOW = datetime(2026, 11, 4, 8, 0, tzinfo=UTC)

# The demo base is seeded once, by the worker that runs tests/test_demo.py as well.
pytestmark = pytest.mark.xdist_group("demo")


def test_the_demo_raises_one_alert_on_eight_cars(demo_base: DemoBase, tmp_path: Path) -> None:
    db = copy_demo_base(demo_base, tmp_path / "demo.db")
    series = seed_defect_signals(db, rng=random.Random(11), now=NOW)
    with db.session(write=False) as session:
        alerts = session.execute(
            select(
                Series.name,
                DefectAlert.component,
                DefectAlert.symptom,
                DefectAlert.distinct_vins,
                DefectAlert.status,
            ).join(Series, Series.id == DefectAlert.series_id)
        ).all()
        cases = session.scalar(select(func.count()).select_from(Case))
        resolved = session.scalar(select(func.count()).select_from(Case).where(Case.status == "resolved"))
    assert alerts == [(series, "brakes", "异响", 8, "open")]
    assert cases == 8 + 1 + 80
    assert resolved and resolved > 40  # months of background complaints, long since handled
    db.dispose()
