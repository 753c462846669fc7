"""The golden record: one value per field of a customer, chosen from every record that describes them.

Each field has its own survivorship rule, an ordered list of criteria; the first criterion that
tells the candidates apart decides, and the provenance says which one it was:

- ``full_name``: a full name beats a salutation (王建国 over 王先生), whatever its source;
- ``trust``: the source's trust rank (0-100);
- ``recency``: the most recently updated record (people change phone and address);
- ``frequency``: the value most records agree on.

What a person entered in Drivetrain itself (a field with no provenance entry) competes as one
more candidate, from source "drivetrain" at ``DRIVETRAIN_TRUST`` rank, so a correction typed in
the console survives a later import from a less trusted system. Identifiers only ever add
contact points (every e-mail, mobile and WeChat id the records carry); those the golden record
added are remembered under ``_contacts`` and removed when no record carries them any more.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from drivetrain.customers import service as customers
from drivetrain.customers.models import ContactKind, Customer

DRIVETRAIN_SOURCE = "drivetrain"
DRIVETRAIN_TRUST = 90
CONTACTS_KEY = "_contacts"
UNNAMED = "未具名客户"

FIELD_RULES: dict[str, tuple[str, ...]] = {
    "name": ("full_name", "trust", "frequency", "recency"),
    "gender": ("trust", "frequency", "recency"),
    "phone": ("recency", "trust", "frequency"),
    "address": ("recency", "trust", "frequency"),
    "id_number": ("trust", "frequency", "recency"),
}
"""Survivorship per golden field: criteria in the order they are tried."""

_CONTACT_KINDS = {
    "email": ContactKind.EMAIL,
    "wechat_unionid": ContactKind.WECHAT_UNIONID,
    "wecom_external_id": ContactKind.WECOM_EXTERNAL,
    "phone": ContactKind.MOBILE,
}


@dataclass(frozen=True)
class SourceFacts:
    """One source record as the golden record reads it."""

    record_id: str
    source: str
    trust: int
    updated_at: datetime
    normalized: dict[str, Any]


@dataclass(frozen=True)
class Candidate:
    value: Any
    source: str
    record_id: str
    trust: int
    at: datetime
    full_name: bool = True


def field_candidates(facts: SourceFacts) -> dict[str, Candidate]:
    """The golden fields one record offers."""
    n = facts.normalized

    def offer(value: Any, *, full_name: bool = True) -> Candidate:
        return Candidate(value, facts.source, facts.record_id, facts.trust, facts.updated_at, full_name)

    offered: dict[str, Candidate] = {}
    if n.get("name"):
        offered["name"] = offer(n["name"], full_name="salutation" not in n)
    if n.get("gender"):
        offered["gender"] = offer(n["gender"])
    if n.get("phone"):
        offered["phone"] = offer(n["phone"])
    if n.get("street") or n.get("adcode"):
        offered["address"] = offer(
            tuple(n.get(key) for key in ("province", "city", "district", "adcode", "street"))
        )
    if n.get("id_hash"):
        offered["id_number"] = offer((n["id_hash"], n.get("id_last4")))
    return offered


def survive(rules: Sequence[str], candidates: Sequence[Candidate]) -> tuple[Candidate, str] | None:
    """The winning candidate and the criterion that decided ("only value" when all agree)."""
    if not candidates:
        return None
    if len({c.value for c in candidates}) == 1:
        return max(candidates, key=lambda c: (c.trust, c.at)), "only value"
    frequency = Counter(c.value for c in candidates)
    scores: dict[str, Callable[[Candidate], Any]] = {
        "full_name": lambda c: c.full_name,
        "trust": lambda c: c.trust,
        "recency": lambda c: c.at,
        "frequency": lambda c: frequency[c.value],
    }
    pool = list(candidates)
    for criterion in rules:
        best = max(scores[criterion](c) for c in pool)
        leaders = [c for c in pool if scores[criterion](c) == best]
        if len({c.value for c in leaders}) == 1:
            return max(leaders, key=lambda c: (c.trust, c.at)), criterion
        pool = leaders
    return min(pool, key=lambda c: c.record_id), "record order"


def _own_candidates(customer: Customer) -> dict[str, Candidate]:
    """What was entered in Drivetrain (fields without provenance) as candidates."""
    entered = {
        "name": customer.name if customer.name != UNNAMED else None,
        "gender": customer.gender,
        "phone": customer.primary_phone,
        "address": (customer.province, customer.city, customer.district, customer.adcode, customer.address)
        if customer.address
        else None,
        "id_number": (customer.id_number_hash, customer.id_number_last4) if customer.id_number_hash else None,
    }
    record_id = f"crm:{customer.id}"
    return {
        name: Candidate(value, DRIVETRAIN_SOURCE, record_id, DRIVETRAIN_TRUST, customer.updated_at)
        for name, value in entered.items()
        if value is not None and name not in customer.provenance
    }


def recompute(session: Session, customer: Customer, records: Sequence[SourceFacts]) -> bool:
    """Bring ``customer``'s golden fields, provenance and derived contact points in line with
    ``records`` (all the source records linked to them). True when anything changed."""
    offers = [field_candidates(facts) for facts in records]
    own = _own_candidates(customer)
    provenance: dict[str, Any] = {}
    values: dict[str, Any] = {}
    for name, rules in FIELD_RULES.items():
        pool = [offer[name] for offer in offers if name in offer]
        if name in own:
            pool.append(own[name])
        chosen = survive(rules, pool)
        if chosen is None:
            continue
        winner, rule = chosen
        values[name] = winner.value
        if winner.source != DRIVETRAIN_SOURCE:
            provenance[name] = {
                "source": winner.source,
                "record_id": winner.record_id,
                "rule": rule,
                "at": winner.at.isoformat(),
            }
    added = _sync_contacts(session, customer, records)
    if added:
        provenance[CONTACTS_KEY] = added
    before = _golden_state(customer)
    _write(customer, values, provenance)
    return _golden_state(customer) != before


def _write(customer: Customer, values: dict[str, Any], provenance: dict[str, Any]) -> None:
    customer.name = values.get("name") or customer.name or UNNAMED
    customer.gender = values.get("gender", customer.gender)
    customer.primary_phone = values.get("phone", customer.primary_phone)
    if "address" in values:
        province, city, district, adcode, street = values["address"]
        if "address" in provenance:  # a source's parts: write the whole address from them
            parts = [province, city if city != province else None, district, street]
            customer.address = "".join(part for part in parts if part)[:200]
        customer.province, customer.city, customer.district, customer.adcode = (
            province,
            city,
            district,
            adcode,
        )
    if "id_number" in values:
        customer.id_number_hash, customer.id_number_last4 = values["id_number"]
    if provenance != customer.provenance:
        customer.provenance = provenance


def _golden_state(customer: Customer) -> tuple[Any, ...]:
    return (
        customer.name,
        customer.gender,
        customer.primary_phone,
        customer.address,
        customer.adcode,
        customer.id_number_hash,
        customer.provenance,
    )


def _sync_contacts(session: Session, customer: Customer, records: Sequence[SourceFacts]) -> dict[str, str]:
    """Add each identifier the records carry as a contact point; drop the ones this added before
    that no record carries now. Returns ``{"kind:value": record_id}`` of the ones it added."""
    carried: dict[tuple[str, str], str] = {}
    for facts in sorted(records, key=lambda f: f.record_id):
        for key, contact_kind in _CONTACT_KINDS.items():
            value = facts.normalized.get(key)
            if value:
                carried.setdefault((contact_kind.value, str(value)), facts.record_id)
    previous: dict[str, str] = dict(customer.provenance.get(CONTACTS_KEY, {}))
    existing = customers.contact_keys(session, customer.id)
    stale = [_contact_key(key) for key in previous if _contact_key(key) not in carried]
    added: dict[str, str] = {}
    new: list[tuple[str, str]] = []
    for (kind, value), record_id in carried.items():
        key = f"{kind}:{value}"
        if (kind, value) not in existing:
            new.append((kind, value))
            added[key] = record_id
        elif key in previous:
            added[key] = previous[key]
    customers.replace_contacts(session, customer.id, remove=stale, add=new)
    return added


def _contact_key(key: str) -> tuple[str, str]:
    """``"email:wang@example.com"`` -> ("email", "wang@example.com")."""
    kind, _, value = key.partition(":")
    return kind, value
