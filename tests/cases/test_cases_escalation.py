"""Intake and the escalation ladder with a moved clock: five rungs, pause, resolve, two workers, catch-up."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from drivetrain.auth.models import User
from drivetrain.cases import escalation, service, tasks
from drivetrain.cases.models import Case, CaseHistory, Rung
from drivetrain.cases.repository import CaseRepository
from drivetrain.cases.schemas import CaseCreate, CaseStatusChange
from drivetrain.cases.tasks import sweep_escalations
from drivetrain.customers.models import TimelineEvent
from drivetrain.db import Database, unit_of_work
from drivetrain.jobs.models import Event, OutboxMessage
from drivetrain.jobs.worker import Worker
from drivetrain.kit import clock
from tests.conftest import run_workers_at_once
from tests.query_budget import counted
from tests.world import World, load_world, vin_for

MONDAY_0900_SHANGHAI = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
BRAKES = "刹车失灵，差点撞车，非常危险"  # critical: 24x7
NOISE = "保养后发动机有异响，很不满意"
RUDE = "店员态度恶劣，很不满意"  # not a product issue: the store manager takes it


@pytest.fixture
def monday(db: Database) -> Iterator[datetime]:
    clock.freeze(MONDAY_0900_SHANGHAI)
    yield MONDAY_0900_SHANGHAI
    clock.unfreeze()


def _open(session: Session, world: World, text: str = NOISE, **extra: str) -> Case:
    data = CaseCreate(description=text, channel="hotline", dealer_code="A1", **extra)  # type: ignore[arg-type]
    case = service.open_case(session, world.subject("hq_ops"), data=data)
    session.commit()
    return case


def _case(session: Session, case_id: str) -> Case:
    session.expire_all()
    found = session.get(Case, case_id)
    assert found is not None
    return found


def _holder(session: Session, world: World, case_id: str) -> str:
    owner = _case(session, case_id).owner_id
    return next(name for name, user in world.users.items() if user.id == owner)


def test_climbs_all_five_rungs_pauses_and_resolves(
    db: Database, session: Session, world: World, monday: datetime
) -> None:
    case = _open(session, world)
    assert (case.escalation_level, _holder(session, world, case.id)) == (0, "sa_a1")
    assert case.escalation_due_at == monday + timedelta(hours=1)
    clock.advance(timedelta(minutes=59, seconds=59))
    assert sweep_escalations(db, "w1") == 0
    for level, holder in enumerate(["sm_a1", "region_east", "hq_ops", "ceo"], start=1):
        clock.advance(timedelta(hours=1) if level > 1 else timedelta(seconds=1))
        assert sweep_escalations(db, "w1") == 1
        found = _case(session, case.id)
        assert (found.escalation_level, _holder(session, world, case.id)) == (level, holder)
    assert _case(session, case.id).escalation_due_at is None  # the CEO is the last rung
    notified = session.scalars(select(Event.recipient_id).where(Event.type == "case.escalated")).all()
    assert world.users["ceo"].id in notified and world.users["region_east"].id in notified
    texts = [m.payload["to"] for m in session.scalars(select(OutboxMessage))]
    assert ["ceo"] in texts
    history = session.scalars(
        select(CaseHistory).where(CaseHistory.case_id == case.id, CaseHistory.kind == "escalated")
    ).all()
    assert [h.held_seconds for h in history] == [3600] * 4

    service.change_status(
        session,
        world.subject("ceo"),
        _case(session, case.id),
        data=CaseStatusChange(status="resolved", note="已更换刹车片"),
    )
    session.commit()
    assert _case(session, case.id).status == "resolved"


def test_waiting_for_customer_pauses_the_clock(
    db: Database, session: Session, world: World, monday: datetime
) -> None:
    case = _open(session, world)
    clock.advance(timedelta(minutes=40))
    subject = world.subject("sa_a1")
    service.change_status(
        session, subject, _case(session, case.id), data=CaseStatusChange(status="waiting_customer")
    )
    session.commit()
    assert _case(session, case.id).escalation_due_at is None
    clock.advance(timedelta(hours=5))
    assert sweep_escalations(db, "w1") == 0
    service.change_status(session, subject, _case(session, case.id), data=CaseStatusChange(status="open"))
    session.commit()
    assert _case(session, case.id).escalation_due_at == clock.now() + timedelta(minutes=20)
    clock.advance(timedelta(minutes=20))
    assert sweep_escalations(db, "w1") == 1
    assert _case(session, case.id).escalation_level == 1


def test_critical_runs_24x7_and_policies_go_down_to_seconds(
    db: Database, session: Session, world: World, client_for
) -> None:
    clock.freeze(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))  # 20:00 in Shanghai: the store is closed
    try:
        api: TestClient = client_for("hq_ops")
        answer = api.put(
            "/api/v1/sla-policies/critical",
            json={
                "first_response_seconds": 60,
                "resolution_seconds": 600,
                "escalation_seconds": 30,
                "business_hours": True,
            },
        )
        assert answer.status_code == 200, answer.text
        same = {k: answer.json()[k] for k in POLICY_FIELDS}
        assert client_for("sm_a1").put("/api/v1/sla-policies/critical", json=same).status_code == 403
        case = _open(session, world, BRAKES)
        assert case.priority == "critical"
        assert case.escalation_due_at == clock.now() + timedelta(seconds=30)
        normal = _open(session, world)
        assert normal.escalation_due_at == datetime(2026, 3, 3, 1, 30, tzinfo=UTC)  # 09:30 next morning
    finally:
        clock.unfreeze()


def test_two_workers_in_turn_act_once(db: Database, session: Session, world: World, monday: datetime) -> None:
    case = _open(session, world)
    clock.advance(timedelta(minutes=61))
    assert sweep_escalations(db, "worker-a") + sweep_escalations(db, "worker-b") == 1
    assert escalation.escalate_due(session, case.id, now=clock.now()) is False  # a retry changes nothing
    count = session.scalar(
        select(func.count())
        .select_from(CaseHistory)
        .where(CaseHistory.case_id == case.id, CaseHistory.kind == "escalated")
    )
    assert count == 1


def test_restarted_worker_catches_up_to_the_right_rung(
    db: Database, session: Session, world: World, monday: datetime
) -> None:
    late = _open(session, world)
    clock.advance(timedelta(minutes=30))
    early = _open(session, world, NOISE + "。")
    clock.advance(timedelta(hours=2, minutes=40))  # down for hours: late is 3h10 old, early 2h40
    assert Worker(db=db, sweepers=[sweep_escalations]).run_until_idle() == 5
    assert _case(session, late.id).escalation_level == 3
    assert _case(session, early.id).escalation_level == 2
    assert _case(session, late.id).escalation_due_at == monday + timedelta(hours=4)
    ats = session.scalars(
        select(CaseHistory.at)
        .where(CaseHistory.case_id == late.id, CaseHistory.kind == "escalated")
        .order_by(CaseHistory.id)
    ).all()
    assert ats == [monday + timedelta(hours=h) for h in (1, 2, 3)]


def test_missing_regional_manager_is_skipped(
    db: Database, session: Session, world: World, monday: datetime
) -> None:
    data = CaseCreate(description="店员态度恶劣，很不满意", channel="wecom", dealer_code="B1")  # type: ignore[arg-type]
    case = service.open_case(session, world.subject("hq_ops"), data=data)
    session.commit()
    assert _holder(session, world, case.id) == "sm_b1"
    clock.advance(timedelta(hours=1))
    assert sweep_escalations(db, "w1") == 1
    assert (_case(session, case.id).escalation_level, _holder(session, world, case.id)) == (3, "hq_ops")
    kinds = session.scalars(select(CaseHistory.kind).where(CaseHistory.case_id == case.id)).all()
    assert kinds.count("skipped") == 2


def test_api_intake_links_normalises_and_shows_history(
    session: Session, world: World, client_for, monday: datetime
) -> None:
    api: TestClient = client_for("sm_a1")
    answer = api.post(
        "/api/v1/cases",
        json={
            "description": "剎車異響，很不滿意",
            "vin": vin_for(1),
            "channel": "wecom",
            "phone": "13800000001",
        },
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["description"] == "刹车异响,很不满意"  # Simplified, half-width punctuation
    assert (
        body["customer_id"] == world.customers["cust_a1"] and body["vehicle_id"] == world.vehicles["cust_a1"]
    )
    assert body["dealer_code"] == "A1" and body["escalation_level"] == 0 and body["owner"]
    got = api.get(f"/api/v1/cases/{body['id']}").json()
    assert {"category", "severity", "priority", "escalation_level", "owner", "history"} <= set(got)
    assert got["history"][0]["kind"] == "opened"
    assert client_for("sm_b1").get(f"/api/v1/cases/{body['id']}").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"description": "   ", "channel": "hotline"}, "description"),
        ({"description": "刹车异响", "channel": "fax"}, "channel"),
        ({"description": "刹车异响", "channel": "hotline", "vin": "LVSHCAE4XRC00000"}, "vin"),
        ({"description": "刹车异响", "channel": "hotline", "phone": "12"}, "phone"),
        ({"description": "刹车异响", "channel": "hotline", "plate": "???"}, "plate"),
    ],
)
def test_bad_input_is_422_and_writes_nothing(
    session: Session, world: World, client_for, body: dict[str, str], field: str
) -> None:
    api: TestClient = client_for("hq_ops")
    before = session.scalar(select(func.count()).select_from(Case))
    answer = api.post("/api/v1/cases", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert field in answer.text
    assert session.scalar(select(func.count()).select_from(Case)) == before


def test_two_concurrent_workers_never_double_escalate(committed_db: Database) -> None:
    clock.freeze(MONDAY_0900_SHANGHAI)
    try:
        with unit_of_work(committed_db) as session:
            world = load_world(session)
            ids = [
                service.open_case(
                    session,
                    world.subject("hq_ops"),
                    data=CaseCreate(description=f"{NOISE}{n}", channel="hotline", dealer_code="A1"),  # type: ignore[arg-type]
                ).id
                for n in range(20)
            ]
        clock.advance(timedelta(hours=2, minutes=30))  # two rungs due for every case
        acted = run_workers_at_once(committed_db, sweep_escalations)
        with committed_db.session(write=False) as session:
            escalations = dict(
                session.execute(
                    select(CaseHistory.case_id, func.count())
                    .where(CaseHistory.kind == "escalated")
                    .group_by(CaseHistory.case_id)
                ).all()
            )
            levels = dict(
                session.execute(select(Case.id, Case.escalation_level).where(Case.id.in_(ids))).all()
            )
        assert sum(acted) == 40
        assert escalations == dict.fromkeys(ids, 2)
        assert levels == dict.fromkeys(ids, 2)
    finally:
        clock.unfreeze()


POLICY_FIELDS = ("first_response_seconds", "resolution_seconds", "escalation_seconds", "business_hours")


@pytest.mark.parametrize(
    ("path", "change", "field"),
    [
        ("/api/v1/sla-policies/normal", {"escalation_seconds": 0}, "escalation_seconds"),
        ("/api/v1/sla-policies/normal", {"business_hours": "sometimes"}, "business_hours"),
        ("/api/v1/sla-policies/normal", {"priority": "low"}, "priority"),
        ("/api/v1/sla-policies/urgent", {}, "priority"),
    ],
)
def test_a_bad_policy_edit_is_422_and_changes_nothing(
    client_for, path: str, change: dict[str, object], field: str
) -> None:
    api: TestClient = client_for("hq_ops")
    before = {p["priority"]: p for p in api.get("/api/v1/sla-policies").json()}
    body = {k: before["normal"][k] for k in POLICY_FIELDS} | change
    answer = api.put(path, json=body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert any(error["field"].endswith(field) for error in answer.json()["errors"]), answer.text
    assert {p["priority"]: p for p in api.get("/api/v1/sla-policies").json()} == before


def _open_at(session: Session, world: World, dealer: str, text: str, **extra: str) -> Case:
    data = CaseCreate(description=text, channel="hotline", dealer_code=dealer, **extra)  # type: ignore[arg-type]
    case = service.open_case(session, world.subject("hq_ops"), data=data)
    session.commit()
    return case


def test_a_batch_at_several_dealers_moves_each_case_once_and_tells_each_new_holder(
    db: Database, session: Session, world: World, monday: datetime
) -> None:
    a1 = _open_at(session, world, "A1", NOISE, phone="13800000001")  # sa_a1 -> sm_a1; cust_a1's timeline
    a2 = _open_at(session, world, "A2", NOISE)  # sm_a2 holds rungs 0 and 1 -> region_east
    b1 = _open_at(session, world, "B1", RUDE)  # sm_b1; 西区 has no regional manager -> hq_ops
    top = _open_at(session, world, "A1", RUDE)
    session.execute(  # a case at the CEO whose clock still ran: nobody above, the CEO keeps it
        update(Case)
        .where(Case.id == top.id)
        .values(escalation_level=Rung.CEO, owner_id=world.users["ceo"].id)
    )
    session.execute(update(User).where(User.username == "region_east").values(wecom_userid=None))
    session.commit()
    assert a1.customer_id == world.customers["cust_a1"]
    clock.advance(timedelta(hours=1, seconds=5))

    assert sweep_escalations(db, "w1") == 4
    assert sweep_escalations(db, "w1") == 0
    assert escalation.escalate_due_cases(session, [a1.id, a2.id, b1.id, top.id], now=clock.now()) == 0
    moved = {
        c.id: (_case(session, c.id).escalation_level, _holder(session, world, c.id))
        for c in (a1, a2, b1, top)
    }
    assert moved == {
        a1.id: (1, "sm_a1"),
        a2.id: (2, "region_east"),
        b1.id: (3, "hq_ops"),
        top.id: (4, "ceo"),
    }
    due = monday + timedelta(hours=1)
    for case in (a1, a2, b1):
        assert _case(session, case.id).escalation_due_at == due + timedelta(hours=1)
        assert _case(session, case.id).held_since == due
    assert _case(session, top.id).escalation_due_at is None

    history = session.execute(
        select(CaseHistory.case_id, CaseHistory.kind, CaseHistory.level, CaseHistory.note)
        .where(CaseHistory.kind != "opened")
        .order_by(CaseHistory.case_id, CaseHistory.level)
    ).all()
    assert {(case_id, kind, level) for case_id, kind, level, _ in history} == {
        (a1.id, "escalated", 1),
        (a2.id, "skipped", 1),
        (a2.id, "escalated", 2),
        (b1.id, "skipped", 1),
        (b1.id, "skipped", 2),
        (b1.id, "escalated", 3),
        (top.id, "top", 4),
    }
    assert len(history) == 7
    escalated = session.scalars(
        select(CaseHistory).where(CaseHistory.case_id == a2.id, CaseHistory.kind == "escalated")
    ).one()
    assert (escalated.at, escalated.held_seconds, escalated.actor_id) == (due, 3600, None)
    assert (escalated.from_owner_id, escalated.to_owner_id) == (
        world.users["sm_a2"].id,
        world.users["region_east"].id,
    )
    assert escalated.note == "assignee → regional_manager; swept 5s late"

    told = {
        e.recipient_id: e.payload
        for e in session.scalars(select(Event).where(Event.type == "case.escalated"))
    }
    assert set(told) == {world.users[name].id for name in ("sm_a1", "region_east", "hq_ops")}
    assert told[world.users["sm_a1"].id] == {
        "case_id": a1.id,
        "title": a1.title,
        "priority": a1.priority,
        "escalation_level": 1,
        "rung": "store_manager",
        "due_at": (due + timedelta(hours=1)).isoformat(),
    }
    messages = {
        m.payload["case_id"]: m.payload
        for m in session.scalars(select(OutboxMessage).where(OutboxMessage.payload["case_id"].is_not(None)))
        if m.payload["text"].startswith("客诉工单升级至您")
    }
    assert set(messages) == {a1.id, b1.id}  # region_east has no WeCom id: told live only
    assert messages[b1.id]["to"] == ["hq_ops"]
    assert (
        messages[b1.id]["text"] == f"客诉工单升级至您（总部客户运营负责人，优先级 {b1.priority}）：{b1.title}"
    )
    timeline = session.scalars(
        select(TimelineEvent).where(
            TimelineEvent.customer_id == world.customers["cust_a1"], TimelineEvent.kind == "case.escalated"
        )
    ).all()
    assert [(t.detail, t.summary) for t in timeline] == [
        ({"case_id": a1.id, "level": 1}, "工单超时升级至店总")
    ]


def test_a_sweep_costs_the_same_statements_for_a_bigger_batch(
    db: Database, session: Session, world: World, monday: datetime
) -> None:
    def sweep_of(count: int) -> tuple[int, int]:
        for n in range(count):
            _open_at(session, world, ("A1", "A2", "B1")[n % 3], f"{NOISE}{n}")
        clock.advance(timedelta(hours=1))
        with counted(db) as statements:
            acted = sweep_escalations(db, "w1")
        return acted, len(statements)

    (small, small_statements), (large, large_statements) = sweep_of(3), sweep_of(12)
    assert (small, large) == (3, 3 + 12)  # the first three climb again with the twelve
    assert large_statements == small_statements  # the guarded moves are one executemany


def test_a_failing_case_is_rolled_back_alone(
    db: Database, session: Session, world: World, monday: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = [_open_at(session, world, "A1", f"{NOISE}{n}") for n in range(3)]
    poisoned = cases[1].id
    climb = escalation._climb

    def failing(session: Session, case: object, *args: object) -> object:
        if getattr(case, "id", None) == poisoned:
            raise RuntimeError("bad data")
        return climb(session, case, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(escalation, "_climb", failing)
    clock.advance(timedelta(hours=1))
    assert sweep_escalations(db, "w1") == 2
    assert [_case(session, c.id).escalation_level for c in cases] == [1, 0, 1]
    escalated = session.scalars(select(CaseHistory.case_id).where(CaseHistory.kind == "escalated")).all()
    assert sorted(escalated) == sorted([cases[0].id, cases[2].id])


def test_ladder_staff_for_many_places_is_ladder_staff_for_each(session: Session, world: World) -> None:
    session.execute(update(User).where(User.username == "sa_a1").values(active=False))
    repo = CaseRepository(session)
    dealers = {code: (dealer.id, dealer.region_id) for code, dealer in world.dealers.items()}
    places = {*dealers.values(), (None, None), (dealers["A1"][0], None)}
    found = repo.ladder_staff_at(places)
    for dealer_id, region_id in places:
        assert found.at[dealer_id, region_id] == repo.ladder_staff(dealer_id, region_id)
    names = {m.username for m in found.at[dealers["A1"]]}
    assert names == {"sm_a1", "region_east", "hq_ops", "ceo"}  # the inactive advisor holds no rung
    assert found.wecom_userids[world.users["hq_ops"].id] == "hq_ops"


def test_a_tick_takes_one_batch_oldest_first_and_the_next_ticks_the_rest(
    db: Database, session: Session, world: World, monday: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks, "BATCH", 2)
    cases = []
    for n in range(5):
        cases.append(_open_at(session, world, ("A1", "B1")[n % 2], f"{NOISE}{n}"))
        clock.advance(timedelta(minutes=1))
    clock.advance(timedelta(hours=1))
    assert sweep_escalations(db, "w1") == 2
    assert [_case(session, c.id).escalation_level for c in cases] == [1, 3, 0, 0, 0]  # B1's climbs to HQ
    assert Worker(db=db, sweepers=[sweep_escalations]).run_until_idle() == 3
    assert [_case(session, c.id).escalation_level for c in cases] == [1, 3, 1, 3, 1]


def test_a_case_moved_meanwhile_is_left_alone_and_the_rest_of_the_batch_moves(
    db: Database, session: Session, world: World, monday: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = [_open_at(session, world, "A1", f"{NOISE}{n}") for n in range(3)]
    raced = cases[1]
    climb = escalation._climb

    def racing(session: Session, case: object, *args: object) -> object:
        if getattr(case, "id", None) == raced.id:  # another worker moves it between our read and our write
            session.execute(update(Case).where(Case.id == raced.id).values(escalation_level=1, owner_id=None))
        return climb(session, case, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(escalation, "_climb", racing)
    clock.advance(timedelta(hours=1))
    assert escalation.escalate_due_cases(session, [c.id for c in cases], now=clock.now()) == 2
    assert cases[0].escalation_level == 1  # the copy loaded in this session was expired, not left stale
    assert [_case(session, c.id).escalation_level for c in cases] == [1, 1, 1]
    assert _case(session, raced.id).owner_id is None  # the other worker's move stands
    escalated = session.scalars(select(CaseHistory.case_id).where(CaseHistory.kind == "escalated")).all()
    assert sorted(escalated) == sorted([cases[0].id, cases[2].id])
    told = session.scalars(select(Event.payload).where(Event.type == "case.escalated")).all()
    assert sorted(p["case_id"] for p in told) == sorted([cases[0].id, cases[2].id])
