"""Every route of the app, every scope: nobody reads or changes what lies outside their scope.

Each route declares the object it touches. Out-of-scope objects answer 404 (so existence does
not leak), lists never contain them, and creating things at an out-of-scope dealer or for an
out-of-scope customer fails. The expected visibility comes from ``tests.world.VISIBLE``, a
table written by hand, not from the code under test. A route missing from this file fails
``test_every_route_is_declared``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from drivetrain.app import create_app
from drivetrain.auth import service as auth_service
from drivetrain.auth.deps import SESSION_COOKIE, ApiGate, ConsoleGate, Gate
from drivetrain.auth.roles import ROLE_PERMISSIONS, ROLE_SCOPE, Permission, Role, Scope
from drivetrain.auth.subject import SYSTEM
from drivetrain.cases import service as case_service
from drivetrain.cases.approvals import service as approval_service
from drivetrain.cases.approvals.schemas import ApprovalCreate
from drivetrain.cases.models import Case
from drivetrain.cases.schemas import CaseCreate
from tests.world import CUSTOMERS, STAFF, VISIBLE, World, vin_for

SUBJECTS = sorted(STAFF)
NO_SUCH_ID = "01ZZZZZZZZZZZZZZZZZZZZZZZZ"


@dataclass(frozen=True)
class ObjectRoute:
    """A route about one customer (or its car, lead, task, consultant or dealer); ``body`` is a request body.

    Write bodies are chosen so they cannot move the object out of anyone's scope mid-walk."""

    target: str  # customer | vehicle | lead | task | staff | dealer
    body: Callable[[World, str], dict[str, Any]] | None = None
    console: bool = False


@dataclass(frozen=True)
class ListRoute:
    """A list whose filter would find the customer's row; out of scope it must be missing.

    ``complete`` lists show every visible row (others, like "my tasks", show a subset)."""

    params: Callable[[World, str], dict[str, Any]]
    finds: Callable[[dict[str, Any], World, str], bool]
    console: bool = False
    complete: bool = True


@dataclass(frozen=True)
class CreateRoute:
    """Creating something placed at the customer's dealer or owned by the customer.

    ``leaked`` says whether a 201 answer shows or touched the out-of-scope customer."""

    body: Callable[[World, str, int], dict[str, Any]]
    leaked: Callable[[dict[str, Any], World, str], bool]
    level: str = "customer"  # what must be out of scope for the create to be refused: customer | dealer


@dataclass(frozen=True)
class Public:
    reason: str


@dataclass(frozen=True)
class OwnSubject:
    reason: str = "answers about the caller only"


@dataclass(frozen=True)
class Global:
    reason: str


def _dealer_of(key: str) -> str | None:
    return CUSTOMERS[key][0]


def _ids(payload: dict[str, Any], key: str = "id") -> list[Any]:
    return [item[key] for item in payload["items"]]


MATRIX: dict[tuple[str, str], Any] = {
    ("GET", "/api/v1/customers/{customer_id}"): ObjectRoute("customer"),
    ("PATCH", "/api/v1/customers/{customer_id}"): ObjectRoute("customer", body=lambda w, k: {"gender": "m"}),
    ("GET", "/api/v1/customers/{customer_id}/timeline"): ObjectRoute("customer"),
    ("GET", "/api/v1/customers/{customer_id}/consents"): ObjectRoute("customer"),
    ("POST", "/api/v1/customers/{customer_id}/consents"): ObjectRoute(
        "customer", body=lambda w, k: {"purpose": "marketing", "status": "granted", "source": "test"}
    ),
    ("POST", "/api/v1/customers/{customer_id}/tags"): ObjectRoute(
        "customer", body=lambda w, k: {"tags": ["new"]}
    ),
    ("DELETE", "/api/v1/customers/{customer_id}/tags/{tag}"): ObjectRoute("customer"),
    ("GET", "/api/v1/vehicles/{vehicle_id}"): ObjectRoute("vehicle"),
    ("PATCH", "/api/v1/vehicles/{vehicle_id}"): ObjectRoute(
        "vehicle", body=lambda w, k: {"mileage_km": 99_000}
    ),
    ("POST", "/api/v1/vehicles/{vehicle_id}/transfer"): ObjectRoute(
        "vehicle",
        body=lambda w, k: {"customer_id": w.customers[k]},  # to its own owner: 422 when visible
    ),
    ("GET", "/api/v1/dealers/{code}"): ObjectRoute("dealer"),
    ("GET", "/api/v1/dealers/{code}/staff"): ObjectRoute("dealer"),
    ("GET", "/api/v1/customers"): ListRoute(
        params=lambda w, k: {"phone": w.phones[k]}, finds=lambda p, w, k: w.customers[k] in _ids(p)
    ),
    ("GET", "/api/v1/vehicles"): ListRoute(
        params=lambda w, k: {"vin": vin_for(CUSTOMERS[k][4])}, finds=lambda p, w, k: w.vehicles[k] in _ids(p)
    ),
    ("GET", "/api/v1/dealers"): ListRoute(
        params=lambda w, k: {"q": _dealer_of(k) or "-"},
        finds=lambda p, w, k: _dealer_of(k) in _ids(p, "code"),
    ),
    ("GET", "/api/v1/audit"): ListRoute(
        params=lambda w, k: {"entity_id": w.customers[k]},
        finds=lambda p, w, k: any(e["entity_id"] == w.customers[k] for e in p["items"]),
    ),
    ("POST", "/api/v1/customers"): CreateRoute(
        body=lambda w, k, n: {
            "name": "新客户",
            "phone": f"1390000{n:04d}",
            "dealer_code": _dealer_of(k) or "A1",
        },
        leaked=lambda body, w, k: body.get("dealer_code") == _dealer_of(k),
        level="dealer",
    ),
    ("POST", "/api/v1/vehicles"): CreateRoute(
        body=lambda w, k, n: {"vin": vin_for(5000 + n), "customer_id": w.customers[k]},
        leaked=lambda body, w, k: True,
    ),
    ("POST", "/api/v1/leads"): CreateRoute(
        body=lambda w, k, n: {
            "name": "来电客户",
            "phone": w.phones[k],
            "series": "锐界",
            "channel": "hotline",
            "source_ref": f"matrix-{n}",
        },
        leaked=lambda body, w, k: (
            body["customer_id"] == w.customers[k] or body["customer_name"] == CUSTOMERS[k][2]
        ),
    ),
    ("GET", "/api/v1/leads/{lead_id}"): ObjectRoute("lead"),
    ("POST", "/api/v1/leads/{lead_id}/stage"): ObjectRoute("lead", body=lambda w, k: {"stage": "contacted"}),
    ("POST", "/api/v1/leads/{lead_id}/reassign"): ObjectRoute(
        "lead",
        body=lambda w, k: {"consultant": "nobody", "reason": "matrix"},  # 422 when visible: moves nothing
    ),
    ("POST", "/api/v1/leads/{lead_id}/tasks"): ObjectRoute(
        "lead", body=lambda w, k: {"due_at": "2026-12-02T10:00:00+08:00", "note": "回电"}
    ),
    ("POST", "/api/v1/tasks/{task_id}/done"): ObjectRoute("task"),
    ("PUT", "/api/v1/staff/{username}/duty"): ObjectRoute("staff", body=lambda w, k: {"on_duty": True}),
    ("PUT", "/api/v1/dealers/{code}/lead-intake"): ObjectRoute(
        "dealer", body=lambda w, k: {"accepting": True}
    ),
    ("GET", "/api/v1/leads"): ListRoute(
        params=lambda w, k: {"channel": "walk_in", "limit": 200}, finds=lambda p, w, k: w.leads[k] in _ids(p)
    ),
    ("GET", "/api/v1/tasks"): ListRoute(
        params=lambda w, k: {"open": False},
        finds=lambda p, w, k: w.tasks[k] in [t["id"] for t in p],
        complete=False,
    ),
    ("GET", "/api/v1/lead-settings"): Global("the OEM's routing settings; no dealer data"),
    ("PUT", "/api/v1/lead-settings"): Global("the OEM's routing settings; HQ permission checked"),
    ("GET", "/api/v1/events"): OwnSubject("streams the caller's own events"),
    ("GET", "/api/v1/tokens"): Global(
        "tokens by account, not by customer; tests/auth/test_tokens.py walks every subject"
    ),
    ("DELETE", "/api/v1/tokens/{token_id}"): Global(
        "tokens by account, not by customer; tests/auth/test_tokens.py tries every subject on every token"
    ),
    ("GET", "/leads"): ListRoute(
        params=lambda w, k: {}, finds=lambda html, w, k: f"/leads/{w.leads[k]}" in html, console=True
    ),
    ("GET", "/leads/board"): ListRoute(
        params=lambda w, k: {}, finds=lambda html, w, k: f"/leads/{w.leads[k]}" in html, console=True
    ),
    ("GET", "/leads/{lead_id}"): ObjectRoute("lead", console=True),
    ("POST", "/leads/{lead_id}/stage"): ObjectRoute("lead", console=True),
    ("POST", "/leads/{lead_id}/tasks"): ObjectRoute("lead", console=True),
    ("POST", "/leads/{lead_id}/reassign"): ObjectRoute("lead", console=True),
    ("GET", "/test-drive"): Public("owner-side test-drive form"),
    ("POST", "/test-drive"): Public("owner-side submission: rate-limited, form token, honeypot"),
    ("GET", "/leads/settings"): Global("the OEM's routing settings page"),
    ("POST", "/leads/settings"): Global("saves the OEM's routing settings; HQ permission checked"),
    ("GET", "/api/v1/reports/lead-channels"): Global(
        "totals over LeadRepository.readable; tests/leads/test_reports.py"
    ),
    ("GET", "/api/v1/reports/first-contact"): Global(
        "totals over LeadRepository.readable; tests/leads/test_reports.py"
    ),
    ("POST", "/api/v1/leads/import"): Global(
        "CSV capture at the caller's scope; tests/leads/test_importing.py"
    ),
    ("POST", "/api/v1/spend/import"): Global("OEM-level spend; HQ permission checked"),
    ("GET", "/api/v1/me"): OwnSubject(),
    ("POST", "/api/v1/classify"): Global("classifies the text it is sent; reads and stores no data"),
    ("POST", "/api/v1/cases"): CreateRoute(
        body=lambda w, k, n: {
            "description": f"刹车异响{n}，很不满意",
            "phone": w.phones[k],
            "channel": "hotline",
        },
        leaked=lambda body, w, k: body["customer_id"] == w.customers[k],
    ),
    ("GET", "/api/v1/cases/{case_id}"): ObjectRoute("case"),
    ("POST", "/api/v1/cases/{case_id}/status"): ObjectRoute(
        "case", body=lambda w, k: {"status": "waiting_customer"}
    ),
    ("GET", "/api/v1/cases"): ListRoute(
        params=lambda w, k: {"limit": 200}, finds=lambda p, w, k: CASES[k] in _ids(p)
    ),
    ("POST", "/api/v1/cases/{case_id}/notes"): ObjectRoute("case", body=lambda w, k: {"note": "已联系车主"}),
    ("GET", "/cases"): ListRoute(
        params=lambda w, k: {"view": "active"},
        finds=lambda html, w, k: f"/cases/{CASES[k]}" in html,
        console=True,
    ),
    ("GET", "/cases/{case_id}"): ObjectRoute("case", console=True),
    ("POST", "/cases/{case_id}/status"): ObjectRoute("case", console=True),
    ("POST", "/cases/{case_id}/notes"): ObjectRoute("case", console=True),
    ("GET", "/cases/new"): Global("the intake form; reads no data"),
    ("GET", "/cases/settings"): Global("the OEM's SLA policies and authority matrix; no dealer data"),
    ("POST", "/cases/settings/{priority}"): Global("the OEM's SLA policies; HQ permission checked"),
    ("GET", "/cases/authority"): Global("the OEM's authority matrix; no dealer data"),
    ("POST", "/cases/authority"): Global(
        "the OEM's authority matrix through the API's service; HQ permission checked "
        "(tests/cases/test_case_settings_views.py)"
    ),
    ("GET", "/cases/report"): Global(
        "totals over CaseRepository.readable; tests/cases/test_case_settings_views.py"
    ),
    ("POST", "/cases/{case_id}/classification"): ObjectRoute("case", console=True),
    ("POST", "/cases/{case_id}/approvals"): ObjectRoute("case", console=True),
    ("POST", "/cases/{case_id}/approvals/{approval_id}/decision"): ObjectRoute("approval", console=True),
    ("GET", "/feedback"): Public("owner-side feedback form"),
    ("POST", "/feedback"): Public("owner-side feedback: rate-limited, form token, honeypot; files a case"),
    ("POST", "/cases/new"): Global("opens a case through the scope-checked intake of POST /api/v1/cases"),
    ("POST", "/api/v1/cases/{case_id}/classification"): ObjectRoute(
        "case", body=lambda w, k: {"category": "brakes", "sentiment": -1}
    ),
    ("GET", "/api/v1/reports/case-sla"): Global(
        "totals over CaseRepository.readable; tests/cases/test_case_reports.py"
    ),
    ("GET", "/survey/{token}"): Public("owner-side CSAT survey; the link's token is the key"),
    ("POST", "/survey/{token}"): Public("owner-side CSAT answer: rate-limited, form token, answered once"),
    ("POST", "/api/v1/cases/{case_id}/approvals"): ObjectRoute(
        "case", body=lambda w, k: {"kind": "goodwill", "amount": "100.00", "reason": "matrix"}
    ),
    ("GET", "/api/v1/cases/{case_id}/approvals"): ObjectRoute("case"),
    ("GET", "/api/v1/approvals"): ListRoute(
        params=lambda w, k: {"limit": 200}, finds=lambda p, w, k: APPROVALS[k] in _ids(p)
    ),
    ("GET", "/api/v1/approvals/{approval_id}"): ObjectRoute("approval"),
    # Visible: 422 (a rejection needs a comment), so the walk decides nothing.
    ("POST", "/api/v1/approvals/{approval_id}/decision"): ObjectRoute(
        "approval", body=lambda w, k: {"decision": "reject"}
    ),
    ("GET", "/api/v1/approval-authority"): Global("the OEM's authority matrix; no dealer data"),
    ("PUT", "/api/v1/approval-authority/{kind}/{role}"): Global(
        "the OEM's authority matrix; HQ permission checked (tests/cases/test_approvals.py)"
    ),
    ("DELETE", "/api/v1/approval-authority/{kind}/{role}"): Global(
        "the OEM's authority matrix; HQ permission checked (tests/cases/test_approvals.py)"
    ),
    ("GET", "/api/v1/sla-policies"): Global("the OEM's SLA policies; no dealer data"),
    ("PUT", "/api/v1/sla-policies/{priority}"): Global("the OEM's SLA policies; HQ permission checked"),
    ("GET", "/healthz"): Public("liveness"),
    ("GET", "/api/v1/openapi.json"): Public("the API description"),
    ("GET", "/api/v1/docs"): Public("API documentation page"),
    ("GET", "/login"): Public("sign-in form"),
    ("POST", "/login"): Public("sign-in"),
    ("POST", "/logout"): OwnSubject("ends the caller's own session"),
    ("GET", "/lang/{locale}"): Public("language cookie"),
    ("GET", "/"): Public("redirect to the customer list"),
    ("GET", "/customers"): ListRoute(
        params=lambda w, k: {"q": w.phones[k]},
        finds=lambda html, w, k: f"/customers/{w.customers[k]}" in html,
        console=True,
    ),
    ("GET", "/customers/{customer_id}"): ObjectRoute("customer", console=True),
    ("GET", "/dealers"): ListRoute(
        params=lambda w, k: {"q": _dealer_of(k) or "-"},
        finds=lambda html, w, k: f'href="/dealers/{_dealer_of(k)}"' in html,
        console=True,
    ),
    ("GET", "/dealers/{code}"): ObjectRoute("dealer", console=True),
    ("GET", "/api/v1/quality/clusters"): Global(
        "counts over CaseRepository.readable; scope in tests/quality/test_quality_api.py"
    ),
    ("GET", "/api/v1/quality/clusters/vehicles"): Global(
        "a cluster's cars from CaseRepository.readable; scope in tests/quality/test_quality_api.py"
    ),
    ("GET", "/api/v1/quality/components"): Global("counts over CaseRepository.readable"),
    ("GET", "/api/v1/quality/trend"): Global("counts over CaseRepository.readable"),
    ("GET", "/api/v1/quality/alerts"): Global("HQ-level alerts: empty below scope all (tests/quality)"),
    ("GET", "/api/v1/quality/alerts/{alert_id}"): Global(
        "HQ-level alert: 404 below scope all (tests/quality)"
    ),
    ("POST", "/api/v1/quality/alerts/{alert_id}/acknowledge"): Global(
        "HQ-level alert: 404 below scope all, quality:triage checked (tests/quality)"
    ),
    ("POST", "/api/v1/quality/alerts/{alert_id}/close"): Global(
        "HQ-level alert: 404 below scope all, quality:triage checked (tests/quality)"
    ),
    ("GET", "/quality"): Global("the quality dashboard over the API's scoped numbers; alerts for scope all"),
    ("POST", "/quality/alerts/{alert_id}/acknowledge"): Global("HQ-level alert: 404 below scope all"),
    ("POST", "/quality/alerts/{alert_id}/close"): Global("HQ-level alert: 404 below scope all"),
    ("GET", "/api/v1/customers/{customer_id}/segments"): ObjectRoute("customer"),
    ("GET", "/customers/{customer_id}/tags"): ObjectRoute("customer", console=True),
    ("POST", "/customers/{customer_id}/tags"): ObjectRoute("customer", console=True),
    ("POST", "/customers/{customer_id}/tags/remove"): ObjectRoute("customer", console=True),
    ("GET", "/api/v1/tags"): Global(
        "counts over CustomerRepository.readable (tests/customers/test_segments_api.py)"
    ),
    ("GET", "/api/v1/segments/tiers"): Global("bins plus per-tier counts over readable (tests/customers)"),
    ("GET", "/api/v1/segments/rules"): Global("HQ configuration: 403 below scope all"),
    ("PUT", "/api/v1/segments/rules/{rule}"): Global("HQ: 403 below scope all; segments:configure"),
    ("PUT", "/api/v1/segments/tiers"): Global("HQ: 403 below scope all; segments:configure"),
    ("POST", "/api/v1/segments/recompute"): Global("HQ: 403 below scope all; segments:configure"),
    ("GET", "/customers/segments"): Global("HQ page: 403 below scope all"),
    ("POST", "/customers/segments/rules/{rule}"): Global("HQ: segments:configure"),
    ("POST", "/customers/segments/tiers"): Global("HQ: segments:configure"),
    ("POST", "/customers/segments/recompute"): Global("HQ: segments:configure"),
    ("POST", "/api/v1/resolution-runs"): Global(
        "HQ-wide identity resolution: identity:manage, scope all (tests/unify)"
    ),
    ("GET", "/api/v1/resolution-runs"): Global("HQ-wide resolution runs: 403 below scope all (tests/unify)"),
    ("GET", "/api/v1/match-reviews"): Global("HQ-wide review queue: 403 below scope all (tests/unify)"),
    ("POST", "/api/v1/match-reviews/{review_id}/decision"): Global(
        "HQ-wide review queue: identity:manage, scope all; merges read both customers in scope (tests/unify)"
    ),
    ("POST", "/api/v1/customers/{customer_id}/merges"): ObjectRoute(
        "customer",
        body=lambda w, k: {"merged_id": w.customers[k], "reason": "matrix"},  # itself: 422
    ),
    ("POST", "/api/v1/customer-merges/{merge_id}/undo"): Global(
        "HQ-wide: identity:manage, scope all; the survivor read in scope (tests/unify)"
    ),
    ("GET", "/api/v1/customers/{customer_id}/golden"): ObjectRoute("customer"),
    ("GET", "/identity/review"): Global("the HQ review queue page: identity:manage, scope all"),
    ("POST", "/identity/review/{review_id}"): Global("decides a review pair through the HQ-only service"),
    ("POST", "/identity/merges/{merge_id}/undo"): Global("unmerges through the HQ-only service"),
    ("GET", "/customers/{customer_id}/identity"): ObjectRoute("customer", console=True),
    ("POST", "/customers/{customer_id}/merge"): ObjectRoute("customer", console=True),
    ("POST", "/api/v1/sources"): Global("HQ-level source systems: sources:manage checked (tests/sources)"),
    ("GET", "/api/v1/sources"): Global("HQ-level source systems: 403 below scope all (tests/sources)"),
    ("GET", "/api/v1/sources/{source_id}"): Global(
        "HQ-level source system: 404 below scope all (tests/sources)"
    ),
    ("PUT", "/api/v1/sources/{source_id}/profiles/{name}"): Global(
        "HQ-level import profile: 404 below scope all, sources:manage checked (tests/sources)"
    ),
    ("POST", "/api/v1/sources/{source_id}/records"): Global(
        "HQ-level source records: 404 below scope all, sources:manage checked (tests/sources)"
    ),
    ("GET", "/api/v1/sources/{source_id}/records"): Global(
        "HQ-level lineage: 404 below scope all, PII masked without pii:read (tests/sources)"
    ),
    ("GET", "/api/v1/sources/{source_id}/imports"): Global(
        "HQ-level import runs: 404 below scope all (tests/sources)"
    ),
}


# ------------------------------------------------------------------------------ who may call a route
@dataclass(frozen=True)
class Needs:
    """The gate a route declares (``Requires``/``ConsoleRequires``): every permission listed, and with
    ``hq`` a view of every dealer. ``Needs()`` asks only that someone is signed in."""

    permissions: tuple[Permission, ...] = ()
    hq: bool = False

    def admits(self, role: Role) -> bool:
        held = ROLE_PERMISSIONS[role]
        return all(p in held for p in self.permissions) and (not self.hq or ROLE_SCOPE[role] is Scope.ALL)


@dataclass(frozen=True)
class Anyone:
    """No gate: a public page, the sign-in form, health and docs."""

    reason: str


def needs(*permissions: Permission, hq: bool = False) -> Needs:
    return Needs(permissions, hq)


P = Permission
SIGNED_IN = Needs()
ROUTE_GATES: dict[tuple[str, str], Needs | Anyone] = {
    # customers
    ("GET", "/api/v1/customers"): needs(P.CUSTOMERS_READ),
    ("POST", "/api/v1/customers"): needs(P.CUSTOMERS_WRITE),
    ("GET", "/api/v1/customers/{customer_id}"): needs(P.CUSTOMERS_READ),
    ("PATCH", "/api/v1/customers/{customer_id}"): needs(P.CUSTOMERS_WRITE),
    ("GET", "/api/v1/customers/{customer_id}/consents"): needs(P.CUSTOMERS_READ),
    ("POST", "/api/v1/customers/{customer_id}/consents"): needs(P.CUSTOMERS_WRITE),
    ("GET", "/api/v1/customers/{customer_id}/timeline"): needs(P.CUSTOMERS_READ),
    ("GET", "/api/v1/vehicles"): needs(P.VEHICLES_READ),
    ("POST", "/api/v1/vehicles"): needs(P.VEHICLES_WRITE),
    ("GET", "/api/v1/vehicles/{vehicle_id}"): needs(P.VEHICLES_READ),
    ("PATCH", "/api/v1/vehicles/{vehicle_id}"): needs(P.VEHICLES_WRITE),
    ("POST", "/api/v1/vehicles/{vehicle_id}/transfer"): needs(P.VEHICLES_WRITE),
    ("GET", "/customers"): needs(P.CUSTOMERS_READ),
    ("GET", "/customers/{customer_id}"): needs(P.CUSTOMERS_READ),
    # customers: tags, tiers and segment rules
    ("GET", "/api/v1/tags"): needs(P.CUSTOMERS_READ),
    ("GET", "/api/v1/customers/{customer_id}/segments"): needs(P.CUSTOMERS_READ),
    ("POST", "/api/v1/customers/{customer_id}/tags"): needs(P.CUSTOMERS_WRITE),
    ("DELETE", "/api/v1/customers/{customer_id}/tags/{tag}"): needs(P.CUSTOMERS_WRITE),
    ("GET", "/api/v1/segments/rules"): needs(P.CUSTOMERS_READ, hq=True),
    ("PUT", "/api/v1/segments/rules/{rule}"): needs(P.SEGMENTS_CONFIGURE, hq=True),
    ("GET", "/api/v1/segments/tiers"): needs(P.CUSTOMERS_READ),
    ("PUT", "/api/v1/segments/tiers"): needs(P.SEGMENTS_CONFIGURE, hq=True),
    ("POST", "/api/v1/segments/recompute"): needs(P.SEGMENTS_CONFIGURE, hq=True),
    ("GET", "/customers/segments"): needs(P.CUSTOMERS_READ, hq=True),
    ("POST", "/customers/segments/rules/{rule}"): needs(P.SEGMENTS_CONFIGURE, hq=True),
    ("POST", "/customers/segments/tiers"): needs(P.SEGMENTS_CONFIGURE, hq=True),
    ("POST", "/customers/segments/recompute"): needs(P.SEGMENTS_CONFIGURE, hq=True),
    ("GET", "/customers/{customer_id}/tags"): needs(P.CUSTOMERS_READ),
    ("POST", "/customers/{customer_id}/tags"): needs(P.CUSTOMERS_WRITE),
    ("POST", "/customers/{customer_id}/tags/remove"): needs(P.CUSTOMERS_WRITE),
    # org
    ("GET", "/api/v1/dealers"): needs(P.DEALERS_READ),
    ("GET", "/api/v1/dealers/{code}"): needs(P.DEALERS_READ),
    ("GET", "/api/v1/dealers/{code}/staff"): needs(P.STAFF_READ),
    ("GET", "/dealers"): needs(P.DEALERS_READ),
    ("GET", "/dealers/{code}"): needs(P.DEALERS_READ),
    # leads
    ("POST", "/api/v1/leads"): needs(P.LEADS_CAPTURE),
    ("GET", "/api/v1/leads"): needs(P.LEADS_READ),
    ("GET", "/api/v1/leads/{lead_id}"): needs(P.LEADS_READ),
    ("POST", "/api/v1/leads/{lead_id}/stage"): needs(P.LEADS_WORK),
    ("POST", "/api/v1/leads/{lead_id}/reassign"): needs(P.LEADS_ASSIGN),
    ("POST", "/api/v1/leads/{lead_id}/tasks"): needs(P.LEADS_WORK),
    ("GET", "/api/v1/tasks"): needs(P.LEADS_READ),
    ("POST", "/api/v1/tasks/{task_id}/done"): needs(P.LEADS_WORK),
    ("GET", "/api/v1/lead-settings"): needs(P.LEADS_READ),
    ("PUT", "/api/v1/lead-settings"): needs(P.LEADS_CONFIGURE),
    ("PUT", "/api/v1/dealers/{code}/lead-intake"): needs(P.LEADS_ASSIGN),
    ("PUT", "/api/v1/staff/{username}/duty"): needs(P.LEADS_ASSIGN),
    ("GET", "/api/v1/reports/lead-channels"): needs(P.REPORTS_READ),
    ("GET", "/api/v1/reports/first-contact"): needs(P.REPORTS_READ),
    ("POST", "/api/v1/leads/import"): needs(P.LEADS_CAPTURE),
    ("POST", "/api/v1/spend/import"): needs(P.LEADS_CONFIGURE),
    ("GET", "/leads"): needs(P.LEADS_READ),
    ("GET", "/leads/board"): needs(P.LEADS_READ),
    ("GET", "/leads/{lead_id}"): needs(P.LEADS_READ),
    ("POST", "/leads/{lead_id}/stage"): needs(P.LEADS_WORK),
    ("POST", "/leads/{lead_id}/tasks"): needs(P.LEADS_WORK),
    ("POST", "/leads/{lead_id}/reassign"): needs(P.LEADS_ASSIGN),
    ("GET", "/leads/settings"): needs(P.LEADS_READ),
    ("POST", "/leads/settings"): needs(P.LEADS_CONFIGURE),
    ("GET", "/test-drive"): Anyone("the owner's test-drive form"),
    ("POST", "/test-drive"): Anyone("the owner's test-drive request: rate-limited, form token, honeypot"),
    # cases
    ("POST", "/api/v1/classify"): SIGNED_IN,
    ("POST", "/api/v1/cases"): needs(P.CASES_WORK),
    ("GET", "/api/v1/cases"): needs(P.CASES_READ),
    ("GET", "/api/v1/cases/{case_id}"): needs(P.CASES_READ),
    ("POST", "/api/v1/cases/{case_id}/status"): needs(P.CASES_WORK),
    ("POST", "/api/v1/cases/{case_id}/notes"): needs(P.CASES_WORK),
    ("POST", "/api/v1/cases/{case_id}/classification"): needs(P.CASES_WORK),
    ("GET", "/api/v1/sla-policies"): needs(P.CASES_READ),
    ("PUT", "/api/v1/sla-policies/{priority}"): needs(P.CASES_CONFIGURE),
    ("POST", "/api/v1/cases/{case_id}/approvals"): needs(P.CASES_WORK),
    ("GET", "/api/v1/cases/{case_id}/approvals"): needs(P.CASES_READ),
    ("GET", "/api/v1/approvals"): needs(P.CASES_READ),
    ("GET", "/api/v1/approvals/{approval_id}"): needs(P.CASES_READ),
    ("POST", "/api/v1/approvals/{approval_id}/decision"): needs(P.CASES_WORK),
    ("GET", "/api/v1/approval-authority"): needs(P.CASES_READ),
    ("PUT", "/api/v1/approval-authority/{kind}/{role}"): needs(P.CASES_CONFIGURE),
    ("DELETE", "/api/v1/approval-authority/{kind}/{role}"): needs(P.CASES_CONFIGURE),
    ("GET", "/api/v1/reports/case-sla"): needs(P.CASES_READ, P.REPORTS_READ),
    ("GET", "/cases"): needs(P.CASES_READ),
    ("GET", "/cases/new"): needs(P.CASES_WORK),
    ("POST", "/cases/new"): needs(P.CASES_WORK),
    ("GET", "/cases/{case_id}"): needs(P.CASES_READ),
    ("POST", "/cases/{case_id}/status"): needs(P.CASES_WORK),
    ("POST", "/cases/{case_id}/notes"): needs(P.CASES_WORK),
    ("POST", "/cases/{case_id}/classification"): needs(P.CASES_WORK),
    ("POST", "/cases/{case_id}/approvals"): needs(P.CASES_WORK),
    ("POST", "/cases/{case_id}/approvals/{approval_id}/decision"): needs(P.CASES_WORK),
    ("GET", "/cases/settings"): needs(P.CASES_READ),
    ("POST", "/cases/settings/{priority}"): needs(P.CASES_CONFIGURE),
    ("GET", "/cases/authority"): needs(P.CASES_READ),
    ("POST", "/cases/authority"): needs(P.CASES_CONFIGURE),
    ("GET", "/cases/report"): needs(P.CASES_READ, P.REPORTS_READ),
    ("GET", "/feedback"): Anyone("the owner's feedback form"),
    ("POST", "/feedback"): Anyone("the owner's feedback: rate-limited, form token, honeypot"),
    ("GET", "/survey/{token}"): Anyone("the owner's survey; the link's token is the key"),
    ("POST", "/survey/{token}"): Anyone("the owner's survey answer; the link's token is the key"),
    # quality
    ("GET", "/api/v1/quality/clusters"): needs(P.QUALITY_READ),
    ("GET", "/api/v1/quality/clusters/vehicles"): needs(P.QUALITY_READ),
    ("GET", "/api/v1/quality/components"): needs(P.QUALITY_READ),
    ("GET", "/api/v1/quality/trend"): needs(P.QUALITY_READ),
    ("GET", "/api/v1/quality/alerts"): needs(P.QUALITY_READ),
    ("GET", "/api/v1/quality/alerts/{alert_id}"): needs(P.QUALITY_READ),
    ("POST", "/api/v1/quality/alerts/{alert_id}/acknowledge"): needs(P.QUALITY_TRIAGE),
    ("POST", "/api/v1/quality/alerts/{alert_id}/close"): needs(P.QUALITY_TRIAGE),
    ("GET", "/quality"): needs(P.QUALITY_READ),
    ("POST", "/quality/alerts/{alert_id}/acknowledge"): needs(P.QUALITY_TRIAGE),
    ("POST", "/quality/alerts/{alert_id}/close"): needs(P.QUALITY_TRIAGE),
    # sources (HQ data)
    ("POST", "/api/v1/sources"): needs(P.SOURCES_MANAGE, hq=True),
    ("GET", "/api/v1/sources"): needs(P.CUSTOMERS_READ, hq=True),
    ("GET", "/api/v1/sources/{source_id}"): needs(P.CUSTOMERS_READ, hq=True),
    ("PUT", "/api/v1/sources/{source_id}/profiles/{name}"): needs(P.SOURCES_MANAGE, hq=True),
    ("POST", "/api/v1/sources/{source_id}/records"): needs(P.SOURCES_MANAGE, hq=True),
    ("GET", "/api/v1/sources/{source_id}/records"): needs(P.CUSTOMERS_READ, hq=True),
    ("GET", "/api/v1/sources/{source_id}/imports"): needs(P.CUSTOMERS_READ, hq=True),
    # identity resolution (HQ work across every dealer)
    ("POST", "/api/v1/resolution-runs"): needs(P.IDENTITY_MANAGE, hq=True),
    ("GET", "/api/v1/resolution-runs"): needs(P.IDENTITY_MANAGE, hq=True),
    ("GET", "/api/v1/match-reviews"): needs(P.IDENTITY_MANAGE, hq=True),
    ("POST", "/api/v1/match-reviews/{review_id}/decision"): needs(P.IDENTITY_MANAGE, hq=True),
    ("POST", "/api/v1/customers/{customer_id}/merges"): needs(P.IDENTITY_MANAGE, hq=True),
    ("POST", "/api/v1/customer-merges/{merge_id}/undo"): needs(P.IDENTITY_MANAGE, hq=True),
    ("GET", "/api/v1/customers/{customer_id}/golden"): needs(P.CUSTOMERS_READ),
    ("GET", "/identity/review"): needs(P.IDENTITY_MANAGE, hq=True),
    ("POST", "/identity/review/{review_id}"): needs(P.IDENTITY_MANAGE, hq=True),
    ("POST", "/identity/merges/{merge_id}/undo"): needs(P.IDENTITY_MANAGE, hq=True),
    ("POST", "/customers/{customer_id}/merge"): needs(P.IDENTITY_MANAGE, hq=True),
    ("GET", "/customers/{customer_id}/identity"): needs(P.CUSTOMERS_READ),
    # auth: the caller's own account, tokens, audit, events
    ("GET", "/api/v1/me"): SIGNED_IN,
    ("GET", "/api/v1/events"): SIGNED_IN,
    ("GET", "/api/v1/tokens"): SIGNED_IN,
    ("DELETE", "/api/v1/tokens/{token_id}"): SIGNED_IN,
    ("GET", "/api/v1/audit"): needs(P.AUDIT_READ),
    ("POST", "/logout"): SIGNED_IN,
    ("GET", "/login"): Anyone("the sign-in form"),
    ("POST", "/login"): Anyone("signing in"),
    ("GET", "/lang/{locale}"): Anyone("choosing the console's language (a cookie)"),
    ("GET", "/"): Anyone("sends the signed-in to their page, the rest to the sign-in form"),
    ("GET", "/healthz"): Anyone("health check for load balancers"),
    ("GET", "/api/v1/openapi.json"): Anyone("the API's published contract"),
    ("GET", "/api/v1/docs"): Anyone("the API's documentation page"),
}


def _app_routes() -> set[tuple[str, str]]:
    routes = set()
    for route in iter_route_contexts(create_app().routes):
        if route.methods and not route.path.startswith("/static"):
            routes |= {(m, route.path) for m in route.methods if m != "HEAD"}
    return routes


def test_every_route_is_declared() -> None:
    assert _app_routes() == set(MATRIX), "declare new routes in MATRIX (and remove gone ones)"


def _dealer_visible(subject: str, key: str) -> bool:
    """A dealer is visible to whoever sees any of its customers (every test dealer has customers)."""
    dealer = _dealer_of(key)
    seen_dealers = {_dealer_of(k) for k in VISIBLE[subject]}
    return dealer is not None and (dealer in seen_dealers or len(VISIBLE[subject]) == len(CUSTOMERS))


def _expected_visible(subject: str, key: str, target: str) -> bool:
    if target == "dealer":
        if STAFF[subject][0].value == "sales_consultant":
            return _dealer_of(key) == STAFF[subject][1]  # a consultant sees their own store
        return _dealer_visible(subject, key)
    return key in VISIBLE[subject]


CASES: dict[str, str] = {}
"""One case per world customer (filed by phone, so placed like the customer); see ``cases``."""
APPROVALS: dict[str, str] = {}
"""One pending refund request on each of those cases; see ``cases``."""


@pytest.fixture
def cases(world: World, session: Session) -> dict[str, str]:
    CASES.clear()
    for key in CUSTOMERS:
        data = CaseCreate(description="发动机异响，很不满意", phone=world.phones[key], channel="hotline")  # type: ignore[arg-type]
        CASES[key] = case_service.open_case(session, SYSTEM, data=data).id
    APPROVALS.clear()
    for key, case_id in CASES.items():
        ask = ApprovalCreate(kind="refund", amount="100", reason="matrix")  # type: ignore[arg-type]
        case = session.get(Case, case_id)
        APPROVALS[key] = approval_service.request_approval(session, SYSTEM, case, data=ask).id  # type: ignore[arg-type]
    session.commit()
    return CASES


@dataclass
class Clients:
    world: World
    session: Session
    cache: dict[tuple[str, bool], TestClient] = field(default_factory=dict)
    app: FastAPI = field(default_factory=create_app)

    def __call__(self, username: str, *, console: bool) -> TestClient:
        if (username, console) not in self.cache:
            client = TestClient(self.app, follow_redirects=False)
            user = self.world.users[username]
            if console:
                cookie, _ = auth_service.open_console_session(self.session, user)
                client.cookies.set(SESSION_COOKIE, cookie)
            else:
                plain, _ = auth_service.create_token(
                    self.session, self.world.subject("hq_admin"), user=user, name="m"
                )
                client.headers["Authorization"] = f"Bearer {plain}"
            self.session.commit()
            self.cache[(username, console)] = client
        return self.cache[(username, console)]


@pytest.fixture
def clients(world: World, session: Session, cases: dict[str, str]) -> Clients:
    return Clients(world, session)


def _path(template: str, world: World, key: str) -> str:
    values = {
        "customer_id": world.customers[key],
        "vehicle_id": world.vehicles[key],
        "lead_id": world.leads[key],
        "task_id": world.tasks[key],
        "case_id": CASES.get(key, NO_SUCH_ID),
        "approval_id": APPROVALS.get(key, NO_SUCH_ID),
        "username": CUSTOMERS[key][1] or "nobody",
        "code": _dealer_of(key) or "NONE",
        "tag": "vip",
    }
    return template.format(**{name: values[name] for name in values if "{" + name + "}" in template})


def _missing_path(template: str, world: World, key: str) -> str:
    path = _path(template, world, key)
    known_ids = (
        world.customers[key],
        world.vehicles[key],
        world.leads[key],
        world.tasks[key],
        CASES.get(key),
        APPROVALS.get(key),
    )
    for known in filter(None, known_ids):
        path = path.replace(known, NO_SUCH_ID)
    username = CUSTOMERS[key][1]
    return path.replace(f"/staff/{username}/", "/staff/nobody/") if username else path


OBJECT_ROUTES = [(m, p) for (m, p), spec in MATRIX.items() if isinstance(spec, ObjectRoute)]
LIST_ROUTES = [(m, p) for (m, p), spec in MATRIX.items() if isinstance(spec, ListRoute)]
CREATE_ROUTES = [(m, p) for (m, p), spec in MATRIX.items() if isinstance(spec, CreateRoute)]


@pytest.mark.parametrize(("method", "template"), OBJECT_ROUTES, ids=[f"{m} {p}" for m, p in OBJECT_ROUTES])
def test_object_routes_answer_404_outside_scope(
    method: str, template: str, clients: Clients, world: World
) -> None:
    spec: ObjectRoute = MATRIX[(method, template)]
    for subject in SUBJECTS:
        client = clients(subject, console=spec.console)
        for key in CUSTOMERS:
            if spec.target in ("dealer", "staff") and _dealer_of(key) is None:
                continue
            body = spec.body(world, key) if spec.body else None
            headers = {"X-CSRF-Token": "unused"} if spec.console else {}
            answer = client.request(method, _path(template, world, key), json=body, headers=headers)
            visible = _expected_visible(subject, key, spec.target)
            where = f"{subject} {method} {template} for {key}: {answer.status_code}"
            if visible:
                assert answer.status_code not in (401, 404), where
            else:
                assert answer.status_code == 404, where
                if not spec.console:  # the same answer as for an id that does not exist at all
                    missing = client.request(method, _missing_path(template, world, key), json=body)
                    assert answer.json()["detail"] == missing.json()["detail"], where


@pytest.mark.parametrize(("method", "template"), LIST_ROUTES, ids=[f"{m} {p}" for m, p in LIST_ROUTES])
def test_lists_never_show_rows_outside_scope(
    method: str, template: str, clients: Clients, world: World
) -> None:
    spec: ListRoute = MATRIX[(method, template)]
    for subject in SUBJECTS:
        client = clients(subject, console=spec.console)
        for key in CUSTOMERS:
            answer = client.get(template, params=spec.params(world, key))
            where = f"{subject} {template} for {key}: {answer.status_code}"
            if answer.status_code == 403:  # the role may not use this list at all
                continue
            assert answer.status_code == 200, where
            found = spec.finds(answer.text if spec.console else answer.json(), world, key)
            target = "dealer" if "dealers" in template else "customer"
            if not _expected_visible(subject, key, target):
                assert not found, where
            elif spec.complete and template != "/api/v1/audit":
                assert found, where


@pytest.mark.parametrize(("method", "template"), CREATE_ROUTES, ids=[f"{m} {p}" for m, p in CREATE_ROUTES])
def test_nothing_is_created_outside_scope(method: str, template: str, clients: Clients, world: World) -> None:
    spec: CreateRoute = MATRIX[(method, template)]
    number = 0
    for subject in SUBJECTS:
        client = clients(subject, console=False)
        for key in CUSTOMERS:
            number += 1
            if _dealer_of(key) is None and template.endswith("/customers"):
                continue  # an HQ customer has no dealer code to aim at
            answer = client.post(template, json=spec.body(world, key, number))
            where = f"{subject} POST {template} for {key}: {answer.status_code} {answer.text[:120]}"
            if not _expected_visible(subject, key, spec.level) and answer.status_code == 201:
                assert not spec.leaked(answer.json(), world, key), where
            else:
                assert answer.status_code in (201, 403, 404, 422), where


# ------------------------------------------------------------------------------ gates, route by route
def test_every_route_has_its_gate_written_down() -> None:
    assert set(ROUTE_GATES) == set(MATRIX), "write each route's gate in ROUTE_GATES"


def _declared_gates(dependant: Any) -> list[Gate]:
    gates: list[Gate] = []
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, Gate):
            gates.append(dependency.call)
        gates += _declared_gates(dependency)
    return gates


def _gate_mismatch(method: str, path: str, gates: list[Gate]) -> str | None:
    expected = ROUTE_GATES[(method, path)]
    declared = [(type(g).__name__, sorted(g.permissions), g.hq) for g in gates]
    if isinstance(expected, Anyone):
        return None if not gates else f"{method} {path}: public, yet declares {declared}"
    kind = ApiGate if path.startswith("/api/") else ConsoleGate
    wanted = (kind.__name__, sorted(expected.permissions), expected.hq)
    return None if declared == [wanted] else f"{method} {path}: declares {declared}, wants [{wanted}]"


def test_each_route_declares_the_gate_written_down() -> None:
    """Read from the routes themselves: one ``Requires``/``ConsoleRequires`` each, as ROUTE_GATES says."""
    mismatches = []
    for route in iter_route_contexts(create_app().routes):
        dependant = getattr(route.route, "dependant", None)
        if not route.methods or route.path.startswith("/static") or dependant is None:
            continue
        gates = _declared_gates(dependant)
        for method in route.methods - {"HEAD"}:
            if (mismatch := _gate_mismatch(method, route.path, gates)) is not None:
                mismatches.append(mismatch)
    assert not mismatches, "\n".join(sorted(mismatches))


GATED = sorted(
    (route, gate) for route, gate in ROUTE_GATES.items() if isinstance(gate, Needs) and gate != SIGNED_IN
)
GATE_REFUSALS = ("may not do this", "this is HQ")
"""The words of ``AuthSubject.require`` and ``require_hq``: a 403 without them is a later refusal."""


def _any_path(template: str, world: World) -> str:
    """The path with the A1 customer's objects, and a missing id where the world has none: a gate decides
    before any row is looked up, so which object is named does not matter."""
    known = (
        "customer_id",
        "vehicle_id",
        "lead_id",
        "task_id",
        "case_id",
        "approval_id",
        "username",
        "code",
        "tag",
    )
    unknown = re.sub(r"\{([a-z_]+)\}", lambda m: m[0] if m[1] in known else NO_SUCH_ID, template)
    return _path(unknown, world, "cust_a1")


def _refused_at_the_gate(answer: Any) -> bool:
    return answer.status_code == 403 and any(words in answer.text for words in GATE_REFUSALS)


def _walk_gates(world: World, session: Session, *, admitted: bool) -> list[str]:
    """Every gated route, called by every subject the gate admits (``admitted``) or refuses: a body of
    ``{}`` and no CSRF token, so nothing gets past a handler's own checks."""
    clients = Clients(world, session)
    wrong = []
    for (method, template), gate in GATED:
        console = not template.startswith("/api/")
        path = _any_path(template, world)
        for subject in SUBJECTS:
            if gate.admits(STAFF[subject][0]) is not admitted:
                continue
            body = None if method in ("GET", "DELETE") else {}
            answer = clients(subject, console=console).request(method, path, json=body)
            if _refused_at_the_gate(answer) is admitted:
                wrong.append(f"{subject} {method} {template}: {answer.status_code} {answer.text[:100]}")
    return wrong


def test_a_role_without_the_permission_is_refused_at_the_gate(world: World, session: Session) -> None:
    wrong = _walk_gates(world, session, admitted=False)
    assert not wrong, f"{len(wrong)} calls were not refused at the gate:\n" + "\n".join(wrong)


def test_a_role_with_the_permission_passes_the_gate(world: World, session: Session) -> None:
    wrong = _walk_gates(world, session, admitted=True)
    assert not wrong, f"{len(wrong)} calls were refused at the gate:\n" + "\n".join(wrong)
