"""RFM value tiers: scores against HQ's bins, the tier they add up to, bins validated, and the tier moving
when time moves."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy.orm import Session

from drivetrain.auth.subject import SYSTEM
from drivetrain.customers.segments import tiers
from drivetrain.customers.segments.tasks import recompute
from drivetrain.customers.segments.tiers import TierBins
from drivetrain.kit import clock
from tests.customers.test_tags import NOW, event, move_to, person


@pytest.fixture
def now() -> Iterator[datetime]:
    clock.freeze(NOW)
    yield NOW
    clock.unfreeze()


def tier_of(session: Session, customer_id: str) -> tiers.TierRead:
    return tiers.tiers_of(session, [customer_id])[customer_id]


def test_scores_and_tiers_with_the_default_bins(session: Session, now: datetime) -> None:
    loyal, buyer, old, nobody = (person(session, n) for n in ("常客", "新车主", "老客户", "无记录"))
    event(session, loyal, "purchase", now - timedelta(days=400), amount=150_000.0)
    for days_ago in (20, 120, 250, 380):
        event(session, loyal, "service_visit", now - timedelta(days=days_ago), amount=900.0)
    event(session, buyer, "purchase", now - timedelta(days=10), amount=120_000.0)
    event(session, old, "purchase", now - timedelta(days=900), amount=200_000.0)  # outside the 730-day window
    event(session, old, "service_visit", now - timedelta(days=200))  # no amount
    event(session, old, "insurance_policy", now - timedelta(days=1), amount=5_000.0)  # not spend on cars
    recompute(session, now=now)

    top = tier_of(session, loyal.id)
    # recency 20 days: 30/90/180/365 all reached; 5 visits and purchase in 730 days: 1/2/4 reached;
    # ¥153,600: every monetary edge. 4 + 3 + 4 = 11.
    assert (top.r_score, top.f_score, top.m_score, top.tier, top.label) == (4, 3, 4, "platinum", "铂金")
    assert (top.frequency, top.monetary) == (5, 153_600.0)
    new = tier_of(session, buyer.id)
    assert (new.r_score, new.f_score, new.m_score, new.tier) == (4, 1, 4, "gold")
    lapsing = tier_of(session, old.id)
    assert (lapsing.r_score, lapsing.f_score, lapsing.m_score, lapsing.tier) == (1, 1, 0, "standard")
    assert lapsing.last_activity_at == now - timedelta(days=200)
    none = tier_of(session, nobody.id)
    assert (none.r_score, none.f_score, none.m_score, none.tier, none.last_activity_at) == (
        0,
        0,
        0,
        "standard",
        None,
    )


def test_recency_edge_crossing_moves_the_tier_incrementally(session: Session, now: datetime) -> None:
    customer = person(session, "临界")
    event(session, customer, "purchase", now - timedelta(days=29, hours=23), amount=10_000.0)
    recompute(session, now=now)
    # 30 days: recency 4, frequency 1, monetary 2 (1,000 and 5,000 reached) = 7: gold.
    assert tier_of(session, customer.id).tier == "gold"
    result = recompute(session, now=move_to(now + timedelta(hours=2)), overlap=timedelta(0))
    assert not result.full
    assert (tier_of(session, customer.id).r_score, tier_of(session, customer.id).tier) == (3, "silver")


def test_hq_bins_change_the_tiers(session: Session, now: datetime) -> None:
    customer = person(session, "中等")
    event(session, customer, "purchase", now - timedelta(days=10), amount=120_000.0)
    recompute(session, now=now)
    assert tier_of(session, customer.id).tier == "gold"
    tiers.save_bins(
        session, SYSTEM, TierBins(monetary=[200_000, 500_000], silver_min=2, gold_min=6, platinum_min=7)
    )
    recompute(session, now=now, full=True)
    assert tiers.load_bins(session).monetary == [200_000.0, 500_000.0]
    assert (tier_of(session, customer.id).m_score, tier_of(session, customer.id).tier) == (0, "silver")


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"recency_days": [90, 30]}, "recency_days"),
        ({"frequency": [1, 1, 2]}, "frequency"),
        ({"monetary": [0, 1000]}, "monetary"),
        ({"monetary": []}, "monetary"),
        ({"silver_min": 5, "gold_min": 5}, "gold_min"),
        ({"platinum_min": 13}, "platinum_min"),
        ({"frequency": [1]}, "platinum_min"),  # the default threshold of 10 points out of reach of 9
        ({"window_days": 7}, "window_days"),
    ],
)
def test_bins_must_ascend_and_tiers_be_reachable(values: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as error:
        TierBins.model_validate(values)
    assert [str(e["loc"][0]) for e in error.value.errors()] == [field]


def test_only_segment_configurers_change_bins(client_for: Callable[[str], TestClient]) -> None:
    """The route's gate refuses: HQ's CEO reads the bins but does not configure them."""
    answer = client_for("ceo").put("/api/v1/segments/tiers", json=TierBins().model_dump())
    assert answer.status_code == 403
