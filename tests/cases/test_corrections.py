"""People correct the classifier on a case; the correction is kept, audited, and taught by retraining."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from drivetrain import cli as main_cli
from drivetrain.auth.models import AuditEntry
from drivetrain.cases import service
from drivetrain.cases.classify import Category, corrections
from drivetrain.cases.classify import training as training_module
from drivetrain.cases.classify.training import LabelledText
from drivetrain.cases.models import Case, CaseHistory, ClassificationCorrection
from drivetrain.cases.repository import CorrectionRepository
from drivetrain.cases.schemas import CaseCreate
from drivetrain.db import Database
from drivetrain.kit import clock
from tests.world import World

MONDAY = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
TEXT = "中控屏幕经常黑屏死机，很不满意"


@pytest.fixture(autouse=True)
def monday(db: Database) -> Iterator[datetime]:
    clock.freeze(MONDAY)
    yield MONDAY
    clock.unfreeze()


@pytest.fixture
def case(session: Session, world: World) -> Case:
    data = CaseCreate(description=TEXT, channel="hotline", dealer_code="A1")  # type: ignore[arg-type]
    opened = service.open_case(session, world.subject("hq_ops"), data=data)
    session.commit()
    return opened


def _other(category: str) -> Category:
    return Category.BRAKES if category != Category.BRAKES else Category.ENGINE


def test_a_correction_is_stored_changes_the_case_and_is_audited(
    session: Session, world: World, case: Case
) -> None:
    before = (case.category, case.sentiment)
    target = _other(case.category)
    correction = corrections.correct(session, world.subject("sa_a1"), case, category=target, sentiment=1)
    session.commit()
    assert correction is not None
    assert (correction.text, correction.category, correction.sentiment) == (case.description, target, 1)
    assert correction.corrected_by_id == world.users["sa_a1"].id and correction.at == MONDAY
    session.expire_all()
    stored = session.get(Case, case.id)
    assert stored is not None and (stored.category, stored.sentiment) == (target.value, 1)
    [history] = session.scalars(
        select(CaseHistory).where(CaseHistory.case_id == case.id, CaseHistory.kind == "reclassified")
    ).all()
    assert history.note == f"{before[0]}/{before[1]} → {target.value}/1"
    assert history.actor_id == world.users["sa_a1"].id
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "case.reclassify"))
    assert entry is not None and entry.entity_id == case.id and entry.dealer_id == case.dealer_id
    assert entry.changes["category"] == [before[0], target.value]


def test_the_latest_correction_of_each_case_is_a_training_example(
    session: Session, world: World, case: Case
) -> None:
    subject = world.subject("sa_a1")
    corrections.correct(session, subject, case, category=Category.BRAKES, sentiment=0)
    clock.advance(timedelta(minutes=5))
    corrections.correct(session, subject, case, category=Category.INFOTAINMENT_SOFTWARE, sentiment=-1)
    session.commit()
    examples = corrections.training_examples(session)
    assert examples == [LabelledText(text=case.description, category="infotainment_software", sentiment=-1)]
    assert len(CorrectionRepository(session).of_case(case.id)) == 2


def test_the_same_classification_again_writes_nothing(session: Session, world: World, case: Case) -> None:
    same = corrections.correct(
        session, world.subject("sa_a1"), case, category=Category(case.category), sentiment=case.sentiment
    )
    assert same is None
    assert session.scalar(select(func.count()).select_from(ClassificationCorrection)) == 0


def test_the_api(client_for: Any, session: Session, case: Case) -> None:
    api: TestClient = client_for("sm_a1")
    path = f"/api/v1/cases/{case.id}/classification"
    answer = api.post(path, json={"category": "adas", "sentiment": -1})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["category"], body["sentiment"], body["corrected"]) == ("adas", -1, True)
    again = api.post(path, json={"category": "adas", "sentiment": -1})
    assert again.json()["corrected"] is False and again.json()["corrected_at"] is None
    assert client_for("sm_b1").post(path, json={"category": "adas", "sentiment": -1}).status_code == 404
    assert client_for("quality").post(path, json={"category": "adas", "sentiment": -1}).status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"category": "wipers", "sentiment": -1}, "category"),
        ({"category": "brakes", "sentiment": 2}, "sentiment"),
        ({"category": "brakes"}, "sentiment"),
        ({"category": "brakes", "sentiment": -1, "severity": "low"}, "severity"),
    ],
)
def test_bad_corrections_are_422_and_change_nothing(
    client_for: Any, session: Session, case: Case, body: dict[str, Any], field: str
) -> None:
    answer = client_for("sm_a1").post(f"/api/v1/cases/{case.id}/classification", json=body)
    assert answer.status_code == 422, answer.text
    assert field in [e["field"].split(".")[-1] for e in answer.json()["errors"]]
    assert session.scalar(select(func.count()).select_from(ClassificationCorrection)) == 0


# ---------------------------------------------------------------- drivetrain classify retrain


@dataclass
class Trained:
    extra: list[LabelledText]
    out_dir: Path


@pytest.fixture
def trained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Trained]:
    """``train`` recorded instead of run: the full retrain takes a minute and would replace nothing here."""
    calls: list[Trained] = []

    def fake_train(bdci_csv: Path, extra: Any = (), *, out_dir: Path) -> Any:
        calls.append(Trained(list(extra), out_dir))
        model = out_dir / "model.joblib"
        return training_module.TrainReport(model, 0, 0, 0, 0, 0.5, 0.5, 0.5, 1.0)

    monkeypatch.setattr(training_module, "train", fake_train)
    return calls


def _retrain(tmp_path: Path, *flags: str) -> Any:
    bdci = tmp_path / "bdci.csv"
    bdci.write_text("content_id,content,subject,sentiment_value,sentiment_word\n", encoding="utf-8")
    args = ["classify", "retrain", "--bdci", str(bdci), "--out", str(tmp_path / "model"), *flags]
    return CliRunner().invoke(main_cli.app, args)


def test_retrain_learns_from_stored_corrections_by_default(
    session: Session, world: World, case: Case, trained: list[Trained], tmp_path: Path
) -> None:
    corrections.correct(session, world.subject("sa_a1"), case, category=Category.ADAS, sentiment=-1)
    session.commit()
    done = _retrain(tmp_path)
    assert done.exit_code == 0, done.output
    assert "console corrections: 1" in done.output
    [call] = trained
    assert call.extra == [LabelledText(text=case.description, category="adas", sentiment=-1)]
    assert call.out_dir == tmp_path / "model"
    skipped = _retrain(tmp_path, "--no-corrections")
    assert skipped.exit_code == 0 and trained[1].extra == []


def test_retrain_without_corrections_stored(trained: list[Trained], tmp_path: Path) -> None:
    done = _retrain(tmp_path, "--corrections")
    assert done.exit_code == 0, done.output
    assert trained[0].extra == [] and "console corrections: 0" in done.output
