"""Jinja2 templates and the page frame: navigation by permission, the catalogue's translator, CSRF."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from drivetrain.auth.roles import Permission, Role
from drivetrain.auth.subject import AuthSubject
from drivetrain.kit.clock import CHINA_TZ
from drivetrain.kit.i18n import locale_of, translator

WEB_DIR = Path(__file__).parent
templates = Jinja2Templates(directory=WEB_DIR / "templates")


def local_time(value: datetime, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Times are stored in UTC; the console shows China Standard Time."""
    return value.astimezone(CHINA_TZ).strftime(fmt)


templates.env.filters["local"] = local_time


NAV_BY_PERMISSION: list[tuple[str, str, Permission]] = [
    ("leads", "/leads", Permission.LEADS_READ),
    ("cases", "/cases", Permission.CASES_READ),
    ("customers", "/customers", Permission.CUSTOMERS_READ),
    ("dealers", "/dealers", Permission.DEALERS_READ),
    ("quality", "/quality", Permission.QUALITY_READ),
    ("identity", "/identity/review", Permission.IDENTITY_MANAGE),
]


def navigation(subject: AuthSubject) -> list[tuple[str, str]]:
    return [(key, href) for key, href, permission in NAV_BY_PERMISSION if subject.can(permission)]


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    subject: AuthSubject | None = None,
    status: int = 200,
) -> HTMLResponse:
    locale = locale_of(request)
    base = {
        "request": request,
        "t": translator(locale),
        "locale": locale,
        "subject": subject,
        "nav": navigation(subject) if subject else [],
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "roles": Role,
    }
    return templates.TemplateResponse(request, template, base | context, status_code=status)
