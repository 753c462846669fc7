"""Roles, what each may do, and how far each may see (its data scope)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    HQ_ADMIN = "hq_admin"
    HQ_OPS = "hq_ops"
    QUALITY_ENGINEER = "quality_engineer"
    EXECUTIVE = "executive"
    REGIONAL_MANAGER = "regional_manager"
    GROUP_ADMIN = "group_admin"
    STORE_MANAGER = "store_manager"
    SALES_CONSULTANT = "sales_consultant"
    SERVICE_ADVISOR = "service_advisor"
    INTEGRATION = "integration"


class Scope(StrEnum):
    ALL = "all"
    REGION = "region"
    GROUP = "group"
    DEALER = "dealer"
    OWN = "own"


class Permission(StrEnum):
    CUSTOMERS_READ = "customers:read"
    CUSTOMERS_WRITE = "customers:write"
    VEHICLES_READ = "vehicles:read"
    VEHICLES_WRITE = "vehicles:write"
    PII_READ = "pii:read"
    """See phone numbers and addresses unmasked (ID numbers are never stored whole)."""
    DEALERS_READ = "dealers:read"
    DEALERS_WRITE = "dealers:write"
    STAFF_READ = "staff:read"
    STAFF_MANAGE = "staff:manage"
    AUDIT_READ = "audit:read"
    LEADS_READ = "leads:read"
    LEADS_CAPTURE = "leads:capture"
    LEADS_WORK = "leads:work"
    """Move stages, log follow-ups."""
    LEADS_ASSIGN = "leads:assign"
    """Reassign leads; set a dealer's capacity and its consultants' duty."""
    LEADS_CONFIGURE = "leads:configure"
    """The OEM's routing and first-contact SLA settings."""
    REPORTS_READ = "reports:read"
    CASES_READ = "cases:read"
    CASES_WORK = "cases:work"
    """Open cases, pause, resume and resolve them."""
    CASES_CONFIGURE = "cases:configure"
    """The OEM's SLA policies per priority."""
    QUALITY_READ = "quality:read"
    """Defect clusters and trends of the cases in scope; emerging-issue alerts for HQ (scope all)."""
    QUALITY_TRIAGE = "quality:triage"
    """Acknowledge and close emerging-issue alerts."""
    SOURCES_MANAGE = "sources:manage"
    """Register source systems (DMS, ERP, insurer …), save their import profiles, import their records."""
    IDENTITY_MANAGE = "identity:manage"
    """Run identity resolution, decide its review queue, merge and unmerge customers (HQ)."""
    SEGMENTS_CONFIGURE = "segments:configure"
    """Rule tags and the value-tier (RFM) bins."""


P = Permission
_READ_CRM = {P.CUSTOMERS_READ, P.VEHICLES_READ, P.DEALERS_READ, P.STAFF_READ, P.LEADS_READ, P.REPORTS_READ}
_WRITE_CRM = {P.CUSTOMERS_WRITE, P.VEHICLES_WRITE, P.LEADS_CAPTURE, P.LEADS_WORK}
_MANAGE_LEADS = {P.LEADS_ASSIGN, P.LEADS_CONFIGURE}
_WORK_CASES = {P.CASES_READ, P.CASES_WORK}
_MANAGE_CASES = _WORK_CASES | {P.CASES_CONFIGURE}
_QUALITY = {P.QUALITY_READ, P.QUALITY_TRIAGE}

ROLE_SCOPE: dict[Role, Scope] = {
    Role.HQ_ADMIN: Scope.ALL,
    Role.HQ_OPS: Scope.ALL,
    Role.QUALITY_ENGINEER: Scope.ALL,
    Role.EXECUTIVE: Scope.ALL,
    Role.INTEGRATION: Scope.ALL,
    Role.REGIONAL_MANAGER: Scope.REGION,
    Role.GROUP_ADMIN: Scope.GROUP,
    Role.STORE_MANAGER: Scope.DEALER,
    Role.SERVICE_ADVISOR: Scope.DEALER,
    Role.SALES_CONSULTANT: Scope.OWN,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.HQ_ADMIN: frozenset(
        _READ_CRM
        | _WRITE_CRM
        | _MANAGE_LEADS
        | _MANAGE_CASES
        | _QUALITY
        | {P.DEALERS_WRITE, P.STAFF_MANAGE, P.AUDIT_READ, P.SOURCES_MANAGE}
        | {P.IDENTITY_MANAGE, P.SEGMENTS_CONFIGURE}
    ),
    Role.HQ_OPS: frozenset(
        _READ_CRM
        | _WRITE_CRM
        | _MANAGE_LEADS
        | _MANAGE_CASES
        | {P.PII_READ, P.QUALITY_READ, P.SOURCES_MANAGE, P.IDENTITY_MANAGE, P.SEGMENTS_CONFIGURE}
    ),
    Role.QUALITY_ENGINEER: frozenset(
        {P.CUSTOMERS_READ, P.VEHICLES_READ, P.DEALERS_READ, P.REPORTS_READ, P.CASES_READ} | _QUALITY
    ),
    Role.EXECUTIVE: frozenset(_READ_CRM | _WORK_CASES | {P.AUDIT_READ, P.QUALITY_READ}),
    Role.INTEGRATION: frozenset(
        _READ_CRM | _WRITE_CRM | _WORK_CASES | {P.PII_READ, P.QUALITY_READ, P.SOURCES_MANAGE}
    ),
    Role.REGIONAL_MANAGER: frozenset(_READ_CRM | _WORK_CASES | {P.QUALITY_READ}),
    Role.GROUP_ADMIN: frozenset(_READ_CRM | _WRITE_CRM | _WORK_CASES | {P.STAFF_MANAGE, P.QUALITY_READ}),
    Role.STORE_MANAGER: frozenset(
        _READ_CRM | _WRITE_CRM | _WORK_CASES | {P.LEADS_ASSIGN, P.PII_READ, P.STAFF_MANAGE, P.QUALITY_READ}
    ),
    Role.SALES_CONSULTANT: frozenset(_READ_CRM | _WRITE_CRM | _WORK_CASES | {P.PII_READ}),
    Role.SERVICE_ADVISOR: frozenset(_READ_CRM | _WRITE_CRM | _WORK_CASES | {P.PII_READ}),
}

ANCHOR_FOR_SCOPE: dict[Scope, str | None] = {
    Scope.ALL: None,
    Scope.REGION: "region",
    Scope.GROUP: "group",
    Scope.DEALER: "dealer",
    Scope.OWN: "dealer",
}
"""Which organisation unit a user of each scope must belong to."""
