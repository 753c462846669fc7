"""Routing decisions on the real Changan Ford dealer network (2018, 573 rows) and on small tables."""

import json
from dataclasses import replace
from importlib.resources import files
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivetrain.kit.geo import haversine_km, nearest
from drivetrain.leads.routing import (
    ConsultantCandidate,
    DealerCandidate,
    DealerDecision,
    LeadFacts,
    RoutingPolicy,
    choose_consultant,
    choose_dealer,
)

FORD = "福特"
BINJIANG = (30.2088, 120.2116)  # 杭州市滨江区 district seat
WESTERN_TIBET = (32.5, 80.1)
POLICY = RoutingPolicy()


def _load_network() -> tuple[tuple[DealerCandidate, ...], dict[str, str]]:
    """Every dealer as a candidate (first row per code, as the importer keeps it), and its city."""
    rows = json.loads(
        (files("drivetrain.org") / "data" / "dealers_changan_ford_2018.json").read_text("utf-8")
    )
    dealers: dict[str, DealerCandidate] = {}
    cities: dict[str, str] = {}
    for row in rows:
        code = row["dealer_code"].strip()
        if code in dealers:
            continue
        dealers[code] = DealerCandidate(
            dealer_id=f"dealer-{code}",
            code=code,
            name=row["dealer_name"].strip(),
            region=row["region"],
            latitude=row["latitude"],
            longitude=row["longitude"],
            brands=frozenset({FORD}),
            open_leads=0,
            capacity=None,
        )
        cities[f"dealer-{code}"] = row["city"]
    return tuple(dealers.values()), cities


NETWORK, CITY = _load_network()
BY_ID = {dealer.dealer_id: dealer for dealer in NETWORK}
SHANGHAI_DEALERS = [dealer for dealer in NETWORK if CITY[dealer.dealer_id] == "上海"]


def _lead(
    location: tuple[float, float] | None = None,
    *,
    label: str | None = None,
    relationship: tuple[str, ...] = (),
    region: str | None = None,
    brand: str = FORD,
) -> LeadFacts:
    return LeadFacts(brand, location, label, relationship, region)


def _changed(network: tuple[DealerCandidate, ...], **changes_by_id: dict[str, Any]) -> list[DealerCandidate]:
    return [replace(dealer, **changes_by_id.get(dealer.dealer_id, {})) for dealer in network]


def _codes(decision: DealerDecision) -> list[str]:
    return [reason.code for reason in decision.reasons]


def _place(dealer: DealerCandidate) -> tuple[float, float] | None:
    return (
        None if dealer.latitude is None or dealer.longitude is None else (dealer.latitude, dealer.longitude)
    )


def _ranked_from(location: tuple[float, float]) -> list[DealerCandidate]:
    return [dealer for dealer, _ in nearest(location, NETWORK, _place)]


def _km(dealer_id: str | None, location: tuple[float, float]) -> float:
    assert dealer_id is not None
    place = _place(BY_ID[dealer_id])
    assert place is not None
    return haversine_km(*location, *place)


def test_the_network_is_the_real_one() -> None:
    assert len(NETWORK) == 572  # 573 rows, A08752 listed twice
    assert len(SHANGHAI_DEALERS) > 2


# --- dealer: geography on the real network ---------------------------------------------------------


def test_binjiang_lead_goes_to_the_nearest_hangzhou_dealer() -> None:
    decision = choose_dealer(NETWORK, _lead(BINJIANG, label="杭州市滨江区"), POLICY)

    assert decision.dealer_id is not None
    dealer, km = BY_ID[decision.dealer_id], _km(decision.dealer_id, BINJIANG)
    where = f"routed to {dealer.code} {dealer.name} in {CITY[dealer.dealer_id]}, {km:.1f} km away"
    assert CITY[dealer.dealer_id] == "杭州", where
    assert dealer == _ranked_from(BINJIANG)[0], where
    assert km < 5, where
    [reason] = decision.reasons
    assert reason.code == "nearest"
    assert reason.data["distance_km"] == round(km, 1)
    assert "杭州市滨江区" in reason.text_zh and dealer.code in reason.text_zh


def test_dealer_not_authorised_for_the_brand_is_skipped_with_a_reason() -> None:
    first, second = _ranked_from(BINJIANG)[:2]
    network = _changed(NETWORK, **{first.dealer_id: {"brands": frozenset({"林肯"})}})

    decision = choose_dealer(network, _lead(BINJIANG), POLICY)

    assert decision.dealer_id == second.dealer_id
    assert _codes(decision) == ["skipped_not_authorised", "nearest"]
    assert decision.reasons[0].data["dealer_code"] == first.code
    assert FORD in decision.reasons[0].text_zh


def test_full_dealer_is_skipped_for_the_next_one() -> None:
    first, second = _ranked_from(BINJIANG)[:2]
    network = _changed(NETWORK, **{first.dealer_id: {"open_leads": 8, "capacity": 8}})

    decision = choose_dealer(network, _lead(BINJIANG), POLICY)

    assert decision.dealer_id == second.dealer_id
    assert _codes(decision) == ["skipped_full", "nearest"]
    assert decision.reasons[0].data["dealer_code"] == first.code


def test_full_dealer_still_takes_the_lead_when_nothing_else_is_in_the_radius() -> None:
    first, second = _ranked_from(BINJIANG)[:2]
    policy = RoutingPolicy(radius_km=(_km(first.dealer_id, BINJIANG) + _km(second.dealer_id, BINJIANG)) / 2)
    network = _changed(NETWORK, **{first.dealer_id: {"open_leads": 9, "capacity": 8}})

    decision = choose_dealer(network, _lead(BINJIANG), policy)

    assert decision.dealer_id == first.dealer_id
    assert _codes(decision) == ["all_full", "nearest"]


def test_remote_lead_falls_to_the_region_pool_of_the_nearest_dealer() -> None:
    closest = _ranked_from(WESTERN_TIBET)[0]
    assert _km(closest.dealer_id, WESTERN_TIBET) > POLICY.radius_km
    same_region = sorted((d for d in NETWORK if d.region == closest.region), key=lambda d: d.code)
    idle = same_region[-1]  # deliberately not the nearest one, nor the first by code
    assert idle != closest
    network = _changed(
        NETWORK, **{d.dealer_id: {"open_leads": 3} for d in NETWORK if d.dealer_id != idle.dealer_id}
    )

    decision = choose_dealer(network, _lead(WESTERN_TIBET, label="阿里地区"), POLICY)

    assert decision.dealer_id == idle.dealer_id
    assert _codes(decision) == ["none_in_radius", "region_pool"]
    assert decision.reasons[1].data == {
        "dealer_id": idle.dealer_id,
        "dealer_code": idle.code,
        "open_leads": 0,
        "capacity": None,
        "region": closest.region,
        "source": "nearest_dealer",
    }


@pytest.mark.parametrize("region", ["北区", "东北区", "华中区"])
def test_no_location_routes_by_region_hint_to_its_least_loaded_dealer(region: str) -> None:
    members = sorted((d for d in NETWORK if d.region == region), key=lambda d: d.code)
    idle, full = members[len(members) // 2], members[0]
    loads: dict[str, dict[str, Any]] = {d.dealer_id: {"open_leads": 2} for d in NETWORK}
    loads[idle.dealer_id] = {"open_leads": 1}
    loads[full.dealer_id] = {"open_leads": 0, "capacity": 0}  # least loaded, but full
    network = _changed(NETWORK, **loads)

    decision = choose_dealer(network, _lead(region=region), POLICY)

    assert decision.dealer_id == idle.dealer_id
    assert _codes(decision) == ["no_location", "region_pool"]
    assert decision.reasons[1].data["source"] == "region_hint"


def test_lead_with_no_location_and_no_region_is_unroutable() -> None:
    decision = choose_dealer(NETWORK, _lead(), POLICY)
    assert decision == DealerDecision(None, decision.reasons)
    assert _codes(decision) == ["no_location", "unroutable"]


def test_brand_nobody_sells_is_unroutable_after_skipping_the_dealers_in_radius() -> None:
    decision = choose_dealer(NETWORK, _lead(BINJIANG, brand="林肯"), POLICY)
    in_radius = nearest(BINJIANG, NETWORK, _place, within_km=POLICY.radius_km)

    assert decision.dealer_id is None
    assert _codes(decision) == ["skipped_not_authorised"] * len(in_radius) + ["none_in_radius", "unroutable"]


# --- dealer: relationship first ---------------------------------------------------------------------


def test_returning_owner_goes_back_to_their_shanghai_servicing_dealer_from_hangzhou() -> None:
    servicing = SHANGHAI_DEALERS[0]

    decision = choose_dealer(NETWORK, _lead(BINJIANG, relationship=(servicing.dealer_id,)), POLICY)

    assert decision.dealer_id == servicing.dealer_id, f"went to {decision.dealer_id}"
    [reason] = decision.reasons
    assert reason.code == "relationship"
    assert reason.data["distance_km"] > POLICY.radius_km  # geography would have said Hangzhou
    assert servicing.code in reason.text_zh


SERVICING, SELLING = SHANGHAI_DEALERS[0], SHANGHAI_DEALERS[1]


@pytest.mark.parametrize(
    ("servicing_changes", "selling_changes", "expected", "reasons"),
    [
        ({}, {}, SERVICING.dealer_id, ["relationship"]),
        ({"brands": frozenset({"林肯"})}, {}, SELLING.dealer_id, ["skipped_not_authorised", "relationship"]),
        ({"accepting": False}, {}, SELLING.dealer_id, ["skipped_not_accepting", "relationship"]),
        ({"open_leads": 5, "capacity": 5}, {}, SELLING.dealer_id, ["skipped_full", "relationship"]),
        ({"open_leads": 4, "capacity": 5}, {}, SERVICING.dealer_id, ["relationship"]),
        ({"accepting": False}, {"accepting": False}, None, ["skipped_not_accepting"] * 2 + ["nearest"]),
    ],
)
def test_relationship_dealers_in_order_unless_they_cannot_take_the_lead(
    servicing_changes: dict[str, Any],
    selling_changes: dict[str, Any],
    expected: str | None,
    reasons: list[str],
) -> None:
    network = _changed(
        NETWORK, **{SERVICING.dealer_id: servicing_changes, SELLING.dealer_id: selling_changes}
    )
    lead = _lead(BINJIANG, relationship=(SERVICING.dealer_id, SELLING.dealer_id))

    decision = choose_dealer(network, lead, POLICY)

    assert _codes(decision) == reasons
    if expected is None:  # fell through to geography
        assert CITY[str(decision.dealer_id)] == "杭州"
    else:
        assert decision.dealer_id == expected


def test_unknown_relationship_dealer_is_noted_and_geography_takes_over() -> None:
    decision = choose_dealer(NETWORK, _lead(BINJIANG, relationship=("dealer-closed",)), POLICY)
    assert _codes(decision) == ["skipped_unknown", "nearest"]
    assert decision.dealer_id == _ranked_from(BINJIANG)[0].dealer_id


# --- dealer: distance against load ------------------------------------------------------------------

KM_PER_DEGREE = 111.195  # along a meridian


def _on_meridian(code: str, km_north: float, **changes: Any) -> DealerCandidate:
    dealer = DealerCandidate(
        dealer_id=code,
        code=code,
        name=f"测试店 {code}",
        region="东区",
        latitude=BINJIANG[0] + km_north / KM_PER_DEGREE,
        longitude=BINJIANG[1],
        brands=frozenset({FORD}),
        open_leads=0,
        capacity=10,
    )
    return replace(dealer, **changes)


@pytest.mark.parametrize(
    ("near", "far", "policy", "expected", "reasons"),
    [
        ({}, {}, POLICY, "NEAR", ["nearest"]),
        ({"open_leads": 2}, {}, POLICY, "NEAR", ["nearest"]),  # 2 + 10 × 0.2 = 4 < 8
        ({"open_leads": 9}, {}, POLICY, "FAR", ["nearest"]),  # 2 + 10 × 0.9 = 11 > 8
        ({"open_leads": 9}, {"open_leads": 5}, POLICY, "NEAR", ["nearest"]),  # 11 < 8 + 5
        ({"open_leads": 9, "capacity": 100}, {}, POLICY, "NEAR", ["nearest"]),  # load is relative
        ({"open_leads": 10, "capacity": None}, {}, POLICY, "NEAR", ["nearest"]),  # 2 + 10 × 10/20 = 7
        ({"open_leads": 14, "capacity": None}, {}, POLICY, "FAR", ["nearest"]),  # 2 + 10 × 14/20 = 9
        ({"open_leads": 9}, {}, RoutingPolicy(max_candidates=1), "NEAR", ["nearest"]),
        ({"open_leads": 9}, {}, RoutingPolicy(radius_km=5), "NEAR", ["nearest"]),
        ({"open_leads": 9}, {}, RoutingPolicy(load_weight_km=5), "NEAR", ["nearest"]),  # 6.5 < 8
        ({"open_leads": 10}, {}, POLICY, "FAR", ["skipped_full", "nearest"]),
        ({"accepting": False}, {}, POLICY, "FAR", ["skipped_not_accepting", "nearest"]),
        ({"latitude": None}, {}, POLICY, "FAR", ["nearest"]),
        ({"open_leads": 10}, {"open_leads": 12}, POLICY, "NEAR", ["all_full", "nearest"]),
    ],
)
def test_distance_is_traded_against_load(
    near: dict[str, Any], far: dict[str, Any], policy: RoutingPolicy, expected: str, reasons: list[str]
) -> None:
    dealers = [_on_meridian("FAR", 8, **far), _on_meridian("NEAR", -2, **near)]

    decision = choose_dealer(dealers, _lead(BINJIANG), policy)

    assert (decision.dealer_id, _codes(decision)) == (expected, reasons)


def test_nearest_reason_shows_the_scores_it_compared() -> None:
    dealers = [_on_meridian("NEAR", 2, open_leads=9), _on_meridian("FAR", 8)]
    [reason] = choose_dealer(dealers, _lead(BINJIANG), POLICY).reasons
    assert reason.data["considered"] == [
        {"dealer_code": "NEAR", "distance_km": 2.0, "score": 11.0},
        {"dealer_code": "FAR", "distance_km": 8.0, "score": 8.0},
    ]
    assert reason.data["score"] == 8.0


def test_skips_farther_than_the_chosen_dealer_are_not_explained() -> None:
    dealers = [_on_meridian("NEAR", 2), _on_meridian("FAR", 8, accepting=False)]
    decision = choose_dealer(dealers, _lead(BINJIANG), POLICY)
    assert (decision.dealer_id, _codes(decision)) == ("NEAR", ["nearest"])


@pytest.mark.parametrize(
    "changes", [{"radius_km": 0}, {"max_candidates": 0}, {"default_capacity": 0}], ids=str
)
def test_policy_rejects_nonsense(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="radius_km must be positive"):
        RoutingPolicy(**changes)


# --- consultant -------------------------------------------------------------------------------------


def _consultant(
    username: str, open_leads: int, *, on_duty: bool = True, weight: float = 1.0
) -> ConsultantCandidate:
    return ConsultantCandidate(f"u-{username}", username, on_duty, open_leads, weight)


@pytest.mark.parametrize(
    ("roster", "rotation_index", "expected"),
    [
        # least loaded wins, whatever the turn
        ([_consultant("alice", 3), _consultant("bob", 1), _consultant("carol", 2)], 0, "bob"),
        ([_consultant("alice", 3), _consultant("bob", 1), _consultant("carol", 2)], 2, "bob"),
        # equal loads rotate with the index over username order, whatever the input order
        ([_consultant("carol", 2), _consultant("alice", 2), _consultant("bob", 2)], 0, "alice"),
        ([_consultant("carol", 2), _consultant("alice", 2), _consultant("bob", 2)], 1, "bob"),
        ([_consultant("carol", 2), _consultant("alice", 2), _consultant("bob", 2)], 2, "carol"),
        ([_consultant("carol", 2), _consultant("alice", 2), _consultant("bob", 2)], 3, "alice"),
        # a partial tie: the first tied consultant at or after the pointer
        ([_consultant("alice", 1), _consultant("bob", 2), _consultant("carol", 1)], 1, "carol"),
        ([_consultant("alice", 1), _consultant("bob", 2), _consultant("carol", 1)], 3, "alice"),
        # weights: 3 leads at weight 2 is a lighter load than 2 at weight 1
        ([_consultant("alice", 3, weight=2), _consultant("bob", 2)], 0, "alice"),
        ([_consultant("alice", 5, weight=2), _consultant("bob", 2)], 0, "bob"),
        ([_consultant("alice", 4, weight=2), _consultant("bob", 2)], 1, "bob"),  # tie → turn
        # off duty is skipped, however idle
        ([_consultant("alice", 0, on_duty=False), _consultant("bob", 5)], 0, "bob"),
    ],
)
def test_choose_consultant(roster: list[ConsultantCandidate], rotation_index: int, expected: str) -> None:
    decision = choose_consultant(roster, rotation_index=rotation_index)
    assert (decision.user_id, decision.fallback_to_manager) == (f"u-{expected}", False)
    assert decision.reasons[-1].code == "least_load"
    assert decision.reasons[-1].data["username"] == expected


def test_off_duty_consultants_are_named_in_the_reasons() -> None:
    decision = choose_consultant(
        [
            _consultant("dora", 0, on_duty=False),
            _consultant("bob", 5),
            _consultant("alice", 0, on_duty=False),
        ],
        rotation_index=0,
    )
    assert [(r.code, r.data.get("usernames")) for r in decision.reasons] == [
        ("skipped_off_duty", ["alice", "dora"]),
        ("least_load", None),
    ]


@pytest.mark.parametrize(
    "roster", [[], [_consultant("alice", 0, on_duty=False), _consultant("bob", 0, on_duty=False)]]
)
def test_nobody_on_duty_falls_back_to_the_store_manager(roster: list[ConsultantCandidate]) -> None:
    decision = choose_consultant(roster, rotation_index=7)
    assert (decision.user_id, decision.fallback_to_manager) == (None, True)
    assert decision.reasons[-1].code == "no_one_on_duty"


def test_reassignment_never_goes_back_to_the_same_consultant() -> None:
    roster = [_consultant("alice", 0), _consultant("bob", 4)]
    decision = choose_consultant(roster, rotation_index=0, exclude=frozenset({"u-alice"}))
    assert decision.user_id == "u-bob"
    assert [r.code for r in decision.reasons] == ["skipped_excluded", "least_load"]


def test_reassignment_with_nobody_else_on_duty_goes_to_the_manager() -> None:
    roster = [_consultant("alice", 0), _consultant("bob", 0, on_duty=False)]
    decision = choose_consultant(roster, rotation_index=0, exclude=frozenset({"u-alice"}))
    assert (decision.user_id, decision.fallback_to_manager) == (None, True)


def test_consultant_weight_must_be_positive() -> None:
    with pytest.raises(ValueError, match="weight must be positive"):
        _consultant("alice", 0, weight=0)


USERNAMES = st.lists(st.text("abcdefgh", min_size=1, max_size=4), min_size=1, max_size=8, unique=True)


@given(USERNAMES, st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=50))
def test_equal_loads_each_get_one_lead_per_round(usernames: list[str], start: int, load: int) -> None:
    roster = [_consultant(name, load) for name in usernames]
    chosen = [choose_consultant(roster, rotation_index=start + i).user_id for i in range(len(roster))]
    assert sorted(map(str, chosen)) == sorted(c.user_id for c in roster)


@given(
    st.lists(
        st.builds(
            _consultant,
            st.text("abcdefgh", min_size=1, max_size=4),
            st.integers(min_value=0, max_value=30),
            on_duty=st.booleans(),
            weight=st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0]),
        ),
        max_size=8,
        unique_by=lambda c: c.username,
    ),
    st.integers(min_value=0, max_value=100),
    st.sets(st.text("abcdefgh", min_size=1, max_size=4).map(lambda name: f"u-{name}"), max_size=3),
)
def test_choice_is_an_eligible_least_loaded_consultant(
    roster: list[ConsultantCandidate], rotation_index: int, exclude: set[str]
) -> None:
    eligible = [c for c in roster if c.on_duty and c.user_id not in exclude]
    decision = choose_consultant(roster, rotation_index=rotation_index, exclude=frozenset(exclude))
    assert decision.fallback_to_manager is (not eligible)
    if eligible:
        chosen = next(c for c in eligible if c.user_id == decision.user_id)
        assert chosen.open_leads / chosen.weight == min(c.open_leads / c.weight for c in eligible)
