"""/api/v1 tags, value tiers and their configuration.

A customer's tags and tier are read through ``CustomerRepository.get`` (out of scope: 404); the counts
are over the caller's readable customers; the rules and bins are HQ's (scope all to read,
segments:configure to change).

Changing them recomputes every customer, in chunks of their own transactions like any full run
(``segments_tasks.recompute``): the change commits with the start of that run, so a request that dies
half-way leaves the change saved and the run unfinished, and the worker's next sweep finishes it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select
from sqlalchemy.orm import Session

from drivetrain.auth.deps import SessionDep
from drivetrain.auth.subject import AuthSubject
from drivetrain.customers.auth import CustomerReader, CustomerWriter, HqCustomerReader, SegmentConfigurer
from drivetrain.customers.models import Customer
from drivetrain.customers.repository import CustomerRepository
from drivetrain.customers.schemas import TagsIn
from drivetrain.customers.segments import tags, tiers
from drivetrain.customers.segments import tasks as segments_tasks
from drivetrain.customers.segments.repository import every_customer
from drivetrain.customers.segments.tags import Rule
from drivetrain.customers.segments.tiers import TierBins, ValueTierRead

router = APIRouter(tags=["segments"])


class TagRef(BaseModel):
    name: str
    kind: str = Field(description="manual (staff add and remove it) or rule (its rule sets and clears it)")


class TagCountRead(TagRef):
    customers: int = Field(description="Customers you may see who hold the tag")


class CustomerSegmentsRead(BaseModel):
    customer_id: str
    tags: list[TagRef]
    tier: ValueTierRead | None = Field(description="None until the first recompute that saw the customer")


class RuleRead(BaseModel):
    rule: Rule
    tag: str
    enabled: bool
    params: dict[str, Any]
    customers: int


class RuleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    params: dict[str, Any] = Field(
        default_factory=dict, description="The rule's parameters; absent ones take defaults"
    )


class TiersRead(BaseModel):
    bins: TierBins
    customers: dict[str, int] = Field(description="Customers per tier")


class RecomputeRead(BaseModel):
    full: bool
    customers: int
    tags_added: int
    tags_removed: int
    tiers_written: int
    as_of: datetime
    skipped: bool


def _readable_ids(session: Session, subject: AuthSubject) -> Select[Any]:
    return CustomerRepository(session).readable(subject).with_only_columns(Customer.id)


def customer_segments(session: Session, customer: Customer) -> CustomerSegmentsRead:
    """Tags and tier of a customer already read in scope."""
    held = tags.tags_of(session, [customer.id]).get(customer.id, [])
    tier = tiers.tiers_of(session, [customer.id]).get(customer.id)
    return CustomerSegmentsRead(
        customer_id=customer.id,
        tags=[TagRef(name=name, kind=kind) for name, kind in held],
        tier=tier,
    )


def rule_reads(session: Session) -> list[RuleRead]:
    """Every rule, counted over all customers (HQ reads these)."""
    rules = tags.ensure_rules(session)
    counts = {c.name: c.customers for c in tags.tag_counts(session, every_customer())}
    return [
        RuleRead(
            rule=c.rule,
            tag=c.tag_name,
            enabled=c.enabled,
            params=c.params.model_dump(),
            customers=counts.get(c.tag_name, 0),
        )
        for c in rules
    ]


@router.get("/tags", summary="Tags with how many of your customers hold each")
def list_tags(subject: CustomerReader, session: SessionDep) -> list[TagCountRead]:
    tags.ensure_rules(session)
    return [
        TagCountRead(name=c.name, kind=c.kind, customers=c.customers)
        for c in tags.tag_counts(session, _readable_ids(session, subject))
    ]


@router.get("/customers/{customer_id}/segments", summary="A customer's tags and value tier")
def get_customer_segments(
    customer_id: str, subject: CustomerReader, session: SessionDep
) -> CustomerSegmentsRead:
    return customer_segments(session, CustomerRepository(session).get_readable(subject, customer_id))


@router.post("/customers/{customer_id}/tags", summary="Add manual tags (a rule tag's name is refused)")
def add_tags(
    customer_id: str, body: TagsIn, subject: CustomerWriter, session: SessionDep
) -> CustomerSegmentsRead:
    customer = CustomerRepository(session).get_readable(subject, customer_id)
    tags.add_manual_tags(session, subject, customer, body.tags)
    return customer_segments(session, customer)


@router.delete("/customers/{customer_id}/tags/{tag}", status_code=204, summary="Remove a manual tag")
def remove_tag(customer_id: str, tag: str, subject: CustomerWriter, session: SessionDep) -> None:
    customer = CustomerRepository(session).get_readable(subject, customer_id)
    tags.remove_manual_tag(session, subject, customer, tag)


@router.get("/segments/rules", summary="Rule tags with their parameters (HQ)")
def list_rules(subject: HqCustomerReader, session: SessionDep) -> list[RuleRead]:
    return rule_reads(session)


@router.put("/segments/rules/{rule}", summary="Change a rule's parameters and recompute its tag (HQ)")
def update_rule(rule: Rule, body: RuleUpdate, subject: SegmentConfigurer, session: SessionDep) -> RuleRead:
    tags.update_rule(session, subject, rule, params=body.params, enabled=body.enabled)
    segments_tasks.recompute(session, full=True)
    return next(r for r in rule_reads(session) if r.rule == rule)


@router.get("/segments/tiers", summary="Value-tier bins and customers per tier")
def get_tiers(subject: CustomerReader, session: SessionDep) -> TiersRead:
    return TiersRead(
        bins=tiers.load_bins(session), customers=tiers.tier_counts(session, _readable_ids(session, subject))
    )


@router.put("/segments/tiers", summary="Change the value-tier bins and recompute the tiers (HQ)")
def update_tiers(body: TierBins, subject: SegmentConfigurer, session: SessionDep) -> TiersRead:
    tiers.save_bins(session, subject, body)
    segments_tasks.recompute(session, full=True)
    return TiersRead(
        bins=tiers.load_bins(session), customers=tiers.tier_counts(session, _readable_ids(session, subject))
    )


@router.post("/segments/recompute", summary="Recompute rule tags and value tiers now (HQ)")
def recompute(
    subject: SegmentConfigurer,
    session: SessionDep,
    full: Annotated[
        bool, Query(description="Every customer, not only those changed since the last run")
    ] = True,
) -> RecomputeRead:
    result = segments_tasks.recompute(session, full=full)
    return RecomputeRead.model_validate(result, from_attributes=True)
