"""Lead routing: which 4S store, then which consultant, and why. Pure data in, decision out, so every
rule is table-tested and every decision carries the reasons a dealer or auditor will ask for.

Order for the dealer: existing relationship → geography (nearest authorised dealers within a radius,
traded against their load) → the region's pool → unroutable (HQ pool). Inside the dealer: on-duty
consultants by weighted least load, equal loads taken in round-robin turn; nobody on duty → manager.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from drivetrain.kit.geo import haversine_km, nearest


@dataclass(frozen=True)
class DealerCandidate:
    dealer_id: str
    code: str
    name: str
    region: str
    latitude: float | None
    longitude: float | None
    brands: frozenset[str]
    open_leads: int
    capacity: int | None  # max open leads; None = unlimited
    accepting: bool = True


@dataclass(frozen=True)
class ConsultantCandidate:
    user_id: str
    username: str
    on_duty: bool
    open_leads: int
    weight: float = 1.0  # 2.0 = takes twice the leads of a 1.0 colleague (e.g. a senior consultant)

    def __post_init__(self) -> None:
        if self.weight <= 0:
            raise ValueError(f"consultant weight must be positive, got {self.weight}")


@dataclass(frozen=True)
class LeadFacts:
    brand: str
    location: tuple[float, float] | None  # (lat, lng)
    location_label: str | None  # e.g. "杭州市滨江区", only for the explanation
    relationship_dealer_ids: tuple[str, ...]  # the customer's servicing dealer first, then selling dealer
    region_hint: str | None


@dataclass(frozen=True)
class RoutingPolicy:
    """Geography scores each authorised, accepting dealer within `radius_km` as

        score = distance_km + load_weight_km × open_leads / capacity

    and takes the lowest score among the `max_candidates` nearest. So a dealer at 100 % of its capacity
    counts as `load_weight_km` further away than an idle one; half full, half that. Dealers without a
    declared capacity are measured against `default_capacity` (for load only; they are never full).
    Dealers at or over capacity are skipped unless nothing else in the radius qualifies."""

    radius_km: float = 50.0
    max_candidates: int = 5  # load can pull a lead past at most this many nearer dealers
    load_weight_km: float = 10.0
    default_capacity: int = 20

    def __post_init__(self) -> None:
        if self.radius_km <= 0 or self.max_candidates < 1 or self.default_capacity < 1:
            raise ValueError("radius_km must be positive, max_candidates and default_capacity at least 1")


@dataclass(frozen=True)
class Reason:
    code: str
    text_zh: str
    text_en: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DealerDecision:
    dealer_id: str | None  # None: nobody could take it, the lead waits in the HQ pool
    reasons: list[Reason]


@dataclass(frozen=True)
class ConsultantDecision:
    user_id: str | None
    fallback_to_manager: bool  # the caller assigns the store manager
    reasons: list[Reason]


# --- dealer ---------------------------------------------------------------------------------------


def choose_dealer(
    candidates: Sequence[DealerCandidate], lead: LeadFacts, policy: RoutingPolicy
) -> DealerDecision:
    """The dealer for a lead, with every step that led there (skips included)."""
    reasons: list[Reason] = []
    chosen = (
        _by_relationship(candidates, lead, reasons)
        or _by_geography(candidates, lead, policy, reasons)
        or _by_region_pool(candidates, lead, policy, reasons)
    )
    if chosen is None:
        reasons.append(
            Reason(
                "unroutable",
                "无法确定经销店，线索进入总部线索池",
                "No dealer could be determined; the lead goes to the HQ pool",
                {"brand": lead.brand},
            )
        )
        return DealerDecision(None, reasons)
    return DealerDecision(chosen.dealer_id, reasons)


def _by_relationship(
    candidates: Sequence[DealerCandidate], lead: LeadFacts, reasons: list[Reason]
) -> DealerCandidate | None:
    """A returning customer goes back to the store that already knows them, wherever they are now."""
    by_id = {dealer.dealer_id: dealer for dealer in candidates}
    for rank, dealer_id in enumerate(dict.fromkeys(lead.relationship_dealer_ids)):
        dealer = by_id.get(dealer_id)
        if dealer is None:
            reasons.append(
                Reason(
                    "skipped_unknown",
                    f"客户关系店 {dealer_id} 不在可分配经销店中",
                    f"Relationship dealer {dealer_id} is not among the routable dealers",
                    {"dealer_id": dealer_id},
                )
            )
            continue
        distance = _distance(dealer, lead)
        refusal = _refusal(dealer, lead.brand, distance) or (
            _full(dealer, distance) if _is_full(dealer) else None
        )
        if refusal is not None:
            reasons.append(refusal)
            continue
        reasons.append(
            Reason(
                "relationship",
                f"老客户，回到其服务/购车店 {_label_zh(dealer, distance)}",
                f"Returning customer: back to their own dealer {_label_en(dealer, distance)}",
                {**_facts(dealer, distance), "rank": rank},
            )
        )
        return dealer
    return None


def _by_geography(
    candidates: Sequence[DealerCandidate], lead: LeadFacts, policy: RoutingPolicy, reasons: list[Reason]
) -> DealerCandidate | None:
    """Nearest authorised dealers within the radius, traded against their load (see RoutingPolicy)."""
    if lead.location is None:
        reasons.append(
            Reason(
                "no_location",
                "客户位置未知，无法按距离分配",
                "Customer location unknown; no distance routing",
            )
        )
        return None
    skipped: list[tuple[float, Reason]] = []
    eligible: list[tuple[DealerCandidate, float]] = []
    for dealer, distance in nearest(lead.location, candidates, _coordinates, within_km=policy.radius_km):
        refusal = _refusal(dealer, lead.brand, distance)
        if refusal is None:
            eligible.append((dealer, distance))
        else:
            skipped.append((distance, refusal))
    with_room = [(dealer, distance) for dealer, distance in eligible if not _is_full(dealer)]
    if with_room:
        skipped += [(distance, _full(dealer, distance)) for dealer, distance in eligible if _is_full(dealer)]
    pool = with_room or eligible
    if not pool:
        reasons.extend(reason for _, reason in skipped)
        reasons.append(_none_in_radius(lead, policy))
        return None
    considered = pool[: policy.max_candidates]
    chosen, distance = min(considered, key=lambda pair: _score(pair[0], pair[1], policy))
    # Only the skips nearer than the chosen dealer need explaining ("why not the closer one?").
    reasons.extend(reason for km, reason in sorted(skipped, key=lambda pair: pair[0]) if km < distance)
    if not with_room:
        reasons.append(
            Reason(
                "all_full",
                f"{policy.radius_km:g} km 内授权经销店均已满负荷，仍按距离与负载分配",
                f"Every authorised dealer within {policy.radius_km:g} km is at capacity; "
                "assigned by distance and load anyway",
                {"radius_km": policy.radius_km},
            )
        )
    reasons.append(_nearest_reason(chosen, distance, considered, lead, policy))
    return chosen


def _by_region_pool(
    candidates: Sequence[DealerCandidate], lead: LeadFacts, policy: RoutingPolicy, reasons: list[Reason]
) -> DealerCandidate | None:
    """Fallback: the least-loaded dealer of the lead's region (hinted, or that of the nearest dealer)."""
    eligible = [dealer for dealer in candidates if _refusal(dealer, lead.brand, None) is None]
    region, source = lead.region_hint, "region_hint"
    if region is None and lead.location is not None:
        closest = nearest(lead.location, eligible, _coordinates, limit=1)
        region, source = (closest[0][0].region, "nearest_dealer") if closest else (None, source)
    if region is None:
        return None
    members = [dealer for dealer in eligible if dealer.region == region]
    pool = [dealer for dealer in members if not _is_full(dealer)] or members
    if not pool:
        return None
    chosen = min(pool, key=lambda dealer: (_load(dealer, policy), dealer.code))
    via_zh = "线索所属区域" if source == "region_hint" else "最近授权经销店所在区域"
    via_en = "the lead's region" if source == "region_hint" else "the nearest authorised dealer's region"
    reasons.append(
        Reason(
            "region_pool",
            f"转入{via_zh}「{region}」的区域池：负载最低的 {_label_zh(chosen, None)}",
            f"Sent to the pool of {via_en} '{region}': least-loaded dealer {_label_en(chosen, None)}",
            {**_facts(chosen, None), "region": region, "source": source},
        )
    )
    return chosen


def _refusal(dealer: DealerCandidate, brand: str, distance: float | None) -> Reason | None:
    """Why this dealer may not take the lead at all (capacity aside), or None if it may."""
    if brand not in dealer.brands:
        return Reason(
            "skipped_not_authorised",
            f"跳过 {_label_zh(dealer, distance)}：未获「{brand}」品牌授权",
            f"Skipped {_label_en(dealer, distance)}: not authorised for '{brand}'",
            {**_facts(dealer, distance), "brand": brand},
        )
    if not dealer.accepting:
        return Reason(
            "skipped_not_accepting",
            f"跳过 {_label_zh(dealer, distance)}：暂停接收线索",
            f"Skipped {_label_en(dealer, distance)}: not accepting leads",
            _facts(dealer, distance),
        )
    return None


def _full(dealer: DealerCandidate, distance: float | None) -> Reason:
    return Reason(
        "skipped_full",
        f"跳过 {_label_zh(dealer, distance)}：进行中线索 {_capacity_text(dealer)}，已满负荷",
        f"Skipped {_label_en(dealer, distance)}: at capacity ({_capacity_text(dealer)} open leads)",
        _facts(dealer, distance),
    )


def _none_in_radius(lead: LeadFacts, policy: RoutingPolicy) -> Reason:
    where = lead.location_label or "客户位置"
    return Reason(
        "none_in_radius",
        f"{where} {policy.radius_km:g} km 内没有可接单的授权经销店",
        f"No authorised dealer able to take the lead within {policy.radius_km:g} km "
        f"of {lead.location_label or 'the customer'}",
        {"radius_km": policy.radius_km, "location": lead.location},
    )


def _nearest_reason(
    chosen: DealerCandidate,
    distance: float,
    considered: list[tuple[DealerCandidate, float]],
    lead: LeadFacts,
    policy: RoutingPolicy,
) -> Reason:
    where_zh = lead.location_label or "客户位置"
    where_en = lead.location_label or "the customer"
    return Reason(
        "nearest",
        f"距{where_zh} {distance:.1f} km，综合距离与负载最优：{_label_zh(chosen, None)}"
        f"（进行中线索 {_capacity_text(chosen)}）",
        f"{distance:.1f} km from {where_en}, best on distance and load: {_label_en(chosen, None)} "
        f"({_capacity_text(chosen)} open leads)",
        {
            **_facts(chosen, distance),
            "score": round(_score(chosen, distance, policy), 2),
            "considered": [
                {
                    "dealer_code": dealer.code,
                    "distance_km": round(km, 1),
                    "score": round(_score(dealer, km, policy), 2),
                }
                for dealer, km in considered
            ],
        },
    )


def _score(dealer: DealerCandidate, distance: float, policy: RoutingPolicy) -> float:
    return distance + policy.load_weight_km * _load(dealer, policy)


def _load(dealer: DealerCandidate, policy: RoutingPolicy) -> float:
    """Open leads as a share of capacity (1.0 = full)."""
    capacity = policy.default_capacity if dealer.capacity is None else dealer.capacity
    return dealer.open_leads / max(capacity, 1)


def _is_full(dealer: DealerCandidate) -> bool:
    return dealer.capacity is not None and dealer.open_leads >= dealer.capacity


def _coordinates(dealer: DealerCandidate) -> tuple[float, float] | None:
    if dealer.latitude is None or dealer.longitude is None:
        return None
    return dealer.latitude, dealer.longitude


def _distance(dealer: DealerCandidate, lead: LeadFacts) -> float | None:
    place = _coordinates(dealer)
    if place is None or lead.location is None:
        return None
    return haversine_km(*lead.location, *place)


def _capacity_text(dealer: DealerCandidate) -> str:
    return f"{dealer.open_leads}/{'∞' if dealer.capacity is None else dealer.capacity}"


def _label_zh(dealer: DealerCandidate, distance: float | None) -> str:
    away = "" if distance is None else f"（{distance:.1f} km）"
    return f"{dealer.code} {dealer.name}{away}"


def _label_en(dealer: DealerCandidate, distance: float | None) -> str:
    away = "" if distance is None else f" ({distance:.1f} km)"
    return f"{dealer.code} {dealer.name}{away}"


def _facts(dealer: DealerCandidate, distance: float | None) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "dealer_id": dealer.dealer_id,
        "dealer_code": dealer.code,
        "open_leads": dealer.open_leads,
        "capacity": dealer.capacity,
    }
    if distance is not None:
        facts["distance_km"] = round(distance, 1)
    return facts


# --- consultant -----------------------------------------------------------------------------------


def choose_consultant(
    consultants: Sequence[ConsultantCandidate],
    *,
    rotation_index: int,
    exclude: frozenset[str] = frozenset(),
) -> ConsultantDecision:
    """Weighted least load among on-duty consultants; equal loads go to the first one at or after
    the round-robin pointer `rotation_index` (the caller persists it per dealer and bumps it after
    each assignment) in username order. `exclude` holds user ids that must not get the lead, e.g. the
    consultant who let it breach its SLA."""
    reasons: list[Reason] = []
    off_duty = sorted(c.username for c in consultants if not c.on_duty)
    if off_duty:
        reasons.append(
            Reason(
                "skipped_off_duty",
                f"不在岗，跳过：{'、'.join(off_duty)}",
                f"Off duty, skipped: {', '.join(off_duty)}",
                {"usernames": off_duty},
            )
        )
    excluded = sorted(c.username for c in consultants if c.on_duty and c.user_id in exclude)
    if excluded:
        reasons.append(
            Reason(
                "skipped_excluded",
                f"改派，不再分给：{'、'.join(excluded)}",
                f"Reassignment, not given again to: {', '.join(excluded)}",
                {"usernames": excluded},
            )
        )
    roster = sorted(
        (c for c in consultants if c.on_duty and c.user_id not in exclude), key=lambda c: c.username
    )
    if not roster:
        reasons.append(
            Reason(
                "no_one_on_duty",
                "无在岗顾问，转交店长分配",
                "No consultant on duty; the store manager takes the lead",
            )
        )
        return ConsultantDecision(None, True, reasons)
    start = rotation_index % len(roster)
    turn_order = roster[start:] + roster[:start]
    chosen = min(turn_order, key=_consultant_load)  # min keeps the first of equals: the round-robin turn
    tied = [c.username for c in roster if _consultant_load(c) == _consultant_load(chosen)]
    reasons.append(_least_load_reason(chosen, tied, rotation_index))
    return ConsultantDecision(chosen.user_id, False, reasons)


def _consultant_load(consultant: ConsultantCandidate) -> float:
    return consultant.open_leads / consultant.weight


def _least_load_reason(chosen: ConsultantCandidate, tied: list[str], rotation_index: int) -> Reason:
    load = f"{chosen.open_leads} 条进行中线索，权重 {chosen.weight:g}"
    load_en = f"{chosen.open_leads} open leads, weight {chosen.weight:g}"
    turn_zh = f"；与 {'、'.join(tied)} 负载相同，按轮转顺序选中" if len(tied) > 1 else ""
    turn_en = f"; tied with {', '.join(tied)}, taken in round-robin turn" if len(tied) > 1 else ""
    return Reason(
        "least_load",
        f"在岗顾问中负载最低：{chosen.username}（{load}）{turn_zh}",
        f"Least loaded consultant on duty: {chosen.username} ({load_en}){turn_en}",
        {
            "user_id": chosen.user_id,
            "username": chosen.username,
            "open_leads": chosen.open_leads,
            "weight": chosen.weight,
            "tied": tied,
            "rotation_index": rotation_index,
        },
    )
