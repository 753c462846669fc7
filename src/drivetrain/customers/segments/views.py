"""Console: HQ's segmentation page (rule parameters, tier bins, counts, recompute) and the tags-and-tier
panel of the customer 360 page (an HTMX fragment with the manual-tag form). A saved change recomputes
in chunks, committed as they go, as over the API (``segments_api``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from drivetrain.auth.deps import SessionDep, check_csrf
from drivetrain.auth.roles import Permission
from drivetrain.auth.subject import AuthSubject
from drivetrain.customers.auth import (
    ConsoleCustomerReader,
    ConsoleCustomerWriter,
    ConsoleHqCustomerReader,
    ConsoleSegmentConfigurer,
)
from drivetrain.customers.models import Customer
from drivetrain.customers.repository import CustomerRepository
from drivetrain.customers.schemas import TagsIn
from drivetrain.customers.segments import tags, tiers
from drivetrain.customers.segments import tasks as segments_tasks
from drivetrain.customers.segments.api import rule_reads
from drivetrain.customers.segments.repository import every_customer
from drivetrain.customers.segments.tags import Rule
from drivetrain.customers.segments.tiers import TIER_LABELS, Tier, TierBins
from drivetrain.kit import clock
from drivetrain.kit.errors import InvalidInput
from drivetrain.web.forms import field_errors, is_htmx
from drivetrain.web.templating import render

router = APIRouter(include_in_schema=False)
CsrfField = Annotated[str, Form(max_length=100)]
EDGE_FIELDS = ("recency_days", "frequency", "monetary")
THRESHOLD_FIELDS = ("window_days", "silver_min", "gold_min", "platinum_min")


def _edges(text: str) -> list[str]:
    """ "30, 90，180" -> ["30", "90", "180"]: commas (either width) or spaces between edges."""
    return [part for part in text.replace("，", ",").replace(",", " ").split() if part]


def _segments_page(
    request: Request,
    session: Session,
    subject: AuthSubject,
    *,
    errors: dict[str, dict[str, str]] | None = None,
    typed: dict[str, dict[str, Any]] | None = None,
    notice: str | None = None,
) -> HTMLResponse:
    bins = tiers.load_bins(session).model_dump()
    shown_bins = {k: ", ".join(f"{v:g}" for v in bins[k]) for k in EDGE_FIELDS} | {
        k: bins[k] for k in THRESHOLD_FIELDS
    }
    everyone = every_customer()
    last_run = segments_tasks.last_run(session)
    context = {
        "rules": rule_reads(session),
        "typed": typed or {},
        "bins": shown_bins | (typed or {}).get("tiers", {}),
        "edge_fields": EDGE_FIELDS,
        "threshold_fields": THRESHOLD_FIELDS,
        "errors": errors or {},
        "notice": notice,
        "editable": subject.can(Permission.SEGMENTS_CONFIGURE),
        "tag_counts": tags.tag_counts(session, everyone),
        "tier_counts": tiers.tier_counts(session, everyone),
        "tier_labels": {t.value: TIER_LABELS[t] for t in Tier},
        "last_run": last_run,
        "full_run": segments_tasks.full_run_state(last_run, clock.now()),
    }
    return render(request, "customers/segments.html", context, subject=subject, status=422 if errors else 200)


@router.get("/customers/segments")
def segments_page(
    request: Request,
    subject: ConsoleHqCustomerReader,
    session: SessionDep,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    """Rule tags with their parameters, the tier bins, and how many customers each holds (HQ)."""
    notice = done if done in {"rule", "tiers", "recompute"} else None
    return _segments_page(request, session, subject, notice=notice)


def _rule_params(rule: Rule, form: dict[str, str]) -> dict[str, Any]:
    fields = tags.PARAMS[rule].model_fields
    params: dict[str, Any] = {}
    for name in fields:
        value = form.get(name, "").strip()
        if name == "powertrains":
            params[name] = _edges(value)
        elif value:
            params[name] = value
        elif name == "warranty_km":
            params[name] = None  # empty: no mileage limit
    return params


@router.post("/customers/segments/rules/{rule}")
async def save_rule(
    request: Request, rule: Rule, subject: ConsoleSegmentConfigurer, session: SessionDep
) -> Response:
    """A rule's parameters from its form; a bad one saves nothing and is shown beside its input."""
    form = {k: str(v) for k, v in (await request.form()).items()}
    check_csrf(request, form.get("csrf_token", ""))
    try:
        tags.update_rule(
            session, subject, rule, params=_rule_params(rule, form), enabled=bool(form.get("enabled"))
        )
    except InvalidInput as error:
        field = error.field.removeprefix("params.")
        typed = {rule.value: {k: form.get(k, "") for k in tags.PARAMS[rule].model_fields}}
        return _segments_page(
            request, session, subject, errors={rule.value: {field: error.reason}}, typed=typed
        )
    segments_tasks.recompute(session, full=True)
    return RedirectResponse(f"/customers/segments?done=rule#rule-{rule.value}", status_code=303)


@router.post("/customers/segments/tiers")
def save_tiers(
    request: Request,
    subject: ConsoleSegmentConfigurer,
    session: SessionDep,
    csrf_token: CsrfField = "",
    recency_days: Annotated[str, Form(max_length=200)] = "",
    frequency: Annotated[str, Form(max_length=200)] = "",
    monetary: Annotated[str, Form(max_length=200)] = "",
    window_days: Annotated[str, Form(max_length=10)] = "",
    silver_min: Annotated[str, Form(max_length=10)] = "",
    gold_min: Annotated[str, Form(max_length=10)] = "",
    platinum_min: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """The bin edges (comma-separated, ascending) and tier thresholds; then the tiers are recomputed."""
    check_csrf(request, csrf_token)
    typed = {
        "recency_days": recency_days,
        "frequency": frequency,
        "monetary": monetary,
        "window_days": window_days,
        "silver_min": silver_min,
        "gold_min": gold_min,
        "platinum_min": platinum_min,
    }
    values: dict[str, Any] = {k: _edges(typed[k]) for k in EDGE_FIELDS} | {
        k: typed[k].strip() for k in THRESHOLD_FIELDS
    }
    try:
        bins = TierBins.model_validate(values)
    except ValidationError as error:
        field, reason = next(iter(field_errors(error).items()))
        errors = {"tiers": {field.split(".")[0]: reason}}
        return _segments_page(request, session, subject, errors=errors, typed={"tiers": typed})
    tiers.save_bins(session, subject, bins)
    segments_tasks.recompute(session, full=True)
    return RedirectResponse("/customers/segments?done=tiers#tiers", status_code=303)


@router.post("/customers/segments/recompute")
def recompute_now(
    request: Request, subject: ConsoleSegmentConfigurer, session: SessionDep, csrf_token: CsrfField = ""
) -> Response:
    check_csrf(request, csrf_token)
    segments_tasks.recompute(session, full=True)
    return RedirectResponse("/customers/segments?done=recompute", status_code=303)


# ---------------------------------------------------------------- the 360 panel


def _panel(
    request: Request,
    session: Session,
    subject: AuthSubject,
    customer: Customer,
    *,
    error: str | None = None,
    typed: str = "",
) -> HTMLResponse:
    context = {
        "customer_id": customer.id,
        "tags": tags.tags_of(session, [customer.id]).get(customer.id, []),
        "tier": tiers.tiers_of(session, [customer.id]).get(customer.id),
        "can_tag": subject.can(Permission.CUSTOMERS_WRITE),
        "error": error,
        "typed": typed,
    }
    return render(request, "customers/_tags.html", context, subject=subject, status=422 if error else 200)


def _after_change(request: Request, session: Session, subject: AuthSubject, customer: Customer) -> Response:
    if is_htmx(request):
        return _panel(request, session, subject, customer)
    return RedirectResponse(f"/customers/{customer.id}", status_code=303)


@router.get("/customers/{customer_id}/tags")
def tags_panel(
    request: Request, customer_id: str, subject: ConsoleCustomerReader, session: SessionDep
) -> HTMLResponse:
    """The customer's tags as chips (rule tags marked), the value tier, and the manual-tag form."""
    return _panel(request, session, subject, CustomerRepository(session).get_readable(subject, customer_id))


@router.post("/customers/{customer_id}/tags")
def add_tag(
    request: Request,
    customer_id: str,
    subject: ConsoleCustomerWriter,
    session: SessionDep,
    csrf_token: CsrfField = "",
    tag: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    customer = CustomerRepository(session).get_readable(subject, customer_id)
    check_csrf(request, csrf_token)
    try:
        names = TagsIn.model_validate({"tags": [tag]}).tags
        tags.add_manual_tags(session, subject, customer, names)
    except ValidationError as error:
        return _panel(
            request, session, subject, customer, error=next(iter(field_errors(error).values())), typed=tag
        )
    except InvalidInput as error:
        return _panel(request, session, subject, customer, error=error.reason, typed=tag)
    return _after_change(request, session, subject, customer)


@router.post("/customers/{customer_id}/tags/remove")
def remove_tag(
    request: Request,
    customer_id: str,
    subject: ConsoleCustomerWriter,
    session: SessionDep,
    csrf_token: CsrfField = "",
    tag: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    customer = CustomerRepository(session).get_readable(subject, customer_id)
    check_csrf(request, csrf_token)
    try:
        tags.remove_manual_tag(session, subject, customer, tag)
    except InvalidInput as error:
        return _panel(request, session, subject, customer, error=error.reason)
    return _after_change(request, session, subject, customer)
