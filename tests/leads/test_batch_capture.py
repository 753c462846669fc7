"""Capturing a batch in one transaction decides every lead as if they had come one by one."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from drivetrain.customers.models import Customer
from drivetrain.kit.errors import Conflict, InvalidInput
from drivetrain.leads.capture import Capture, CaptureRequest, capture_many
from drivetrain.leads.intake_queue import CaptureQueue
from drivetrain.leads.models import Lead, LeadTouch
from drivetrain.leads.schemas import LeadCreate, LeadRead
from tests.world import World

BINJIANG = "浙江省杭州市滨江区江南大道100号"


def _data(**changes: Any) -> LeadCreate:
    body: dict[str, Any] = {
        "name": "周杰",
        "phone": "13700001111",
        "address": BINJIANG,
        "series": "锐界",
        "channel": "ad",
    }
    body.update(changes)
    return LeadCreate.model_validate(body)


def _requests(world: World, *bodies: LeadCreate, key: str | None = None) -> list[CaptureRequest]:
    return [CaptureRequest(world.subject("integration"), body, key) for body in bodies]


def _count(session: Session, model: type[Any]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_repeat_in_the_same_batch_becomes_a_touch(session: Session, world: World) -> None:
    leads_before, customers_before = _count(session, Lead), _count(session, Customer)
    first, repeat = capture_many(session, _requests(world, _data(), _data(channel="weibo", campaign="直播")))
    assert isinstance(first, Capture) and isinstance(repeat, Capture)
    assert repeat.deduplicated and repeat.lead.id == first.lead.id
    assert _count(session, Lead) == leads_before + 1
    assert _count(session, Customer) == customers_before + 1
    touches = session.scalars(select(LeadTouch.channel).where(LeadTouch.lead_id == first.lead.id)).all()
    assert sorted(touches) == ["ad", "weibo"]


def test_the_same_source_ref_or_key_twice_in_a_batch_is_one_lead(session: Session, world: World) -> None:
    by_ref = capture_many(
        session,
        _requests(world, _data(source_ref="clk-1"), _data(phone="13700002222", source_ref="clk-1")),
    )
    assert isinstance(by_ref[0], Capture) and isinstance(by_ref[1], Capture)
    assert by_ref[0].lead.id == by_ref[1].lead.id
    by_key = capture_many(
        session, _requests(world, _data(phone="13700003333"), _data(phone="13700003333"), key="k-1")
    )
    assert isinstance(by_key[0], Capture) and isinstance(by_key[1], Capture)
    assert by_key[0].lead.id == by_key[1].lead.id
    other_body = capture_many(session, _requests(world, _data(phone="13700004444"), key="k-1"))
    assert isinstance(other_body[0], Conflict)


def test_a_bad_request_fails_alone_and_writes_nothing(session: Session, world: World) -> None:
    leads_before, customers_before = _count(session, Lead), _count(session, Customer)
    good, bad, also_good = capture_many(
        session,
        _requests(
            world,
            _data(phone="13700005555"),
            _data(phone="13700006666", series="不存在的车"),
            _data(phone="13700007777"),
        ),
    )
    assert isinstance(good, Capture) and isinstance(also_good, Capture)
    assert isinstance(bad, InvalidInput) and bad.field == "series"
    assert _count(session, Lead) == leads_before + 2
    assert _count(session, Customer) == customers_before + 2  # no prospect for the bad one


def test_a_batch_spreads_leads_over_the_dealer_consultants(session: Session, world: World) -> None:
    a1 = world.dealers["A1"].id
    before = _open_leads_per_consultant(session, a1)
    outcomes = capture_many(session, _requests(world, *(_data(phone=f"1370001{n:04d}") for n in range(6))))
    assert all(isinstance(o, Capture) and o.lead.dealer_id == a1 for o in outcomes)
    after = _open_leads_per_consultant(session, a1)
    gained = {user: after.get(user, 0) - before.get(user, 0) for user in after}
    assert sum(gained.values()) == 6 and set(gained) == {world.users["sc_a1"].id, world.users["sc_a1b"].id}
    # Least load first: the batch evens out the two consultants as far as six leads can.
    gap_before = abs(before.get(world.users["sc_a1"].id, 0) - before.get(world.users["sc_a1b"].id, 0))
    gap_after = abs(after[world.users["sc_a1"].id] - after[world.users["sc_a1b"].id])
    assert gap_after <= max(gap_before - 6, 1)


def _open_leads_per_consultant(session: Session, dealer_id: str) -> dict[str, int]:
    rows = session.execute(
        select(Lead.consultant_id, func.count())
        .where(Lead.dealer_id == dealer_id, Lead.stage == "new", Lead.consultant_id.is_not(None))
        .group_by(Lead.consultant_id)
    ).all()
    return {user: count for user, count in rows if user}


@pytest.mark.usefixtures("session")
def test_the_intake_queue_answers_every_request_once(world: World) -> None:
    queue = CaptureQueue()
    subject = world.subject("integration")
    answers = [
        queue.submit(
            CaptureRequest(subject, _data(phone=f"1370002{n:04d}", source_ref=f"q-{n % 5}")), locale="en"
        )
        for n in range(10)
    ]
    reads = [answer.result(timeout=30) for answer in answers]
    assert all(isinstance(read, LeadRead) for read in reads)
    by_ref: dict[str, set[str]] = {}
    for n, read in enumerate(reads):
        by_ref.setdefault(f"q-{n % 5}", set()).add(read.id)
    assert all(len(ids) == 1 for ids in by_ref.values())  # one lead per source_ref, however batched
    assert len({read.id for read in reads}) == 5
    bad = queue.submit(CaptureRequest(subject, _data(series="不存在的车")), locale="en")
    with pytest.raises(InvalidInput):
        bad.result(timeout=30)


def test_a_store_managers_repeat_capture_becomes_a_touch(session: Session, world: World) -> None:
    """Dealer staff match only customers they may see, and a repeat of one still folds into a touch."""
    manager = world.subject("sm_a1")
    first = capture_many(session, [CaptureRequest(manager, _data(phone="13700008888"))])[0]
    again = capture_many(session, [CaptureRequest(manager, _data(phone="13700008888", channel="walk_in"))])[0]
    assert isinstance(first, Capture) and isinstance(again, Capture)
    assert again.deduplicated and again.lead.id == first.lead.id
    assert first.lead.dealer_id == world.dealers["A1"].id
