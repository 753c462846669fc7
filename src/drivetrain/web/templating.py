"""Jinja2 templates, the zh-CN / English catalogs, and the console's sign-in dependency."""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from drivetrain.auth.deps import optional_console_subject
from drivetrain.auth.roles import Permission, Role
from drivetrain.auth.subject import AuthSubject
from drivetrain.config import get_settings

WEB_DIR = Path(__file__).parent
LOCALES = ("zh-CN", "en")
LANG_COOKIE = "dt_lang"
CONSOLE_TZ = ZoneInfo("Asia/Shanghai")
templates = Jinja2Templates(directory=WEB_DIR / "templates")


def local_time(value: datetime, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Times are stored in UTC; the console shows China Standard Time."""
    return value.astimezone(CONSOLE_TZ).strftime(fmt)


templates.env.filters["local"] = local_time


@lru_cache
def catalog(locale: str) -> dict[str, str]:
    """``i18n/<locale>.json`` plus each domain's ``i18n/<locale>.<domain>.json``."""
    texts: dict[str, str] = {}
    for path in sorted((WEB_DIR / "i18n").glob(f"{locale}*.json")):
        if path.stem == locale or path.stem.startswith(f"{locale}."):
            texts.update(json.loads(path.read_text(encoding="utf-8")))
    return texts


def locale_of(request: Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE)
    return chosen if chosen in LOCALES else get_settings().default_locale


def translator(locale: str) -> Any:
    texts, fallback = catalog(locale), catalog("zh-CN")

    def t(key: str, **values: Any) -> str:
        text = texts.get(key) or fallback.get(key) or key
        return text.format(**values) if values else text

    return t


class LoginRequired(Exception):
    """Raised by console routes without a session; the app answers with a redirect to /login."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def console_subject(request: Request) -> AuthSubject:
    subject = optional_console_subject(request)
    if subject is None:
        raise LoginRequired(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    return subject


ConsoleSubject = Annotated[AuthSubject, Depends(console_subject)]

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
