"""The FastAPI application: API routers under /api/v1, console pages, static files, error handling."""

from __future__ import annotations

import gc
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from starlette.exceptions import HTTPException

from drivetrain import (
    models,  # noqa: F401 - registers every table
    tasks,  # noqa: F401 - registers every worker job
)
from drivetrain.auth import api as auth_api
from drivetrain.auth import views as auth_views
from drivetrain.auth.deps import LoginRequired
from drivetrain.auth.events import api as events_api
from drivetrain.cases import api as cases_api
from drivetrain.cases import public as cases_public
from drivetrain.cases import views as cases_views
from drivetrain.cases.approvals import api as approvals_api
from drivetrain.cases.classify import api as case_corrections_api
from drivetrain.cases.classify import classifier
from drivetrain.cases.csat import public as csat_public
from drivetrain.cases.reports import api as case_reports_api
from drivetrain.cases.settings import views as case_settings_views
from drivetrain.config import get_settings
from drivetrain.customers import api as customers_api
from drivetrain.customers import views as customers_views
from drivetrain.customers.segments import api as customer_segments_api
from drivetrain.customers.segments import views as customer_segments_views
from drivetrain.db import database
from drivetrain.jobs.worker import Worker
from drivetrain.kit import names, problems
from drivetrain.kit.errors import DomainError, Unauthorized
from drivetrain.leads import api as leads_api
from drivetrain.leads import public as leads_public
from drivetrain.leads import views as leads_views
from drivetrain.leads.reports import api as leads_reports_api
from drivetrain.org import api as org_api
from drivetrain.org import views as org_views
from drivetrain.quality import api as quality_api
from drivetrain.quality import views as quality_views
from drivetrain.sources import api as sources_api
from drivetrain.unify import api as unify_api
from drivetrain.unify import views as unify_views
from drivetrain.web.templating import WEB_DIR, render

API_PREFIX = "/api/v1"


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX) or request.url.path == "/healthz"


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    if _is_api(request):
        return await problems.domain_error(request, exc)
    if isinstance(exc, Unauthorized):
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    return render(request, "error.html", {"status": exc.status, "detail": exc.detail}, status=exc.status)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if _is_api(request):
        return await problems.http_error(request, exc)
    return render(
        request, "error.html", {"status": exc.status_code, "detail": str(exc.detail)}, status=exc.status_code
    )


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(f"/login?next={quote(exc.next_path)}", status_code=303)


def _api_router() -> APIRouter:
    api = APIRouter(prefix=API_PREFIX)
    for module in (
        auth_api,
        customers_api,
        org_api,
        leads_api,
        leads_reports_api,
        events_api,
        cases_api,
        approvals_api,
        case_reports_api,
        case_corrections_api,
        quality_api,
        sources_api,
        unify_api,
        customer_segments_api,
    ):
        api.include_router(module.router)
    return api


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """`serve` runs the worker in-process unless DRIVETRAIN_RUN_WORKER=false (then: `drivetrain worker`)."""
    # What start-up loaded (address tables, name dictionaries, templates, the ORM) lives as long as
    # the process: out of the collector's sight, a full collection under load takes milliseconds,
    # not hundreds.
    names.load_dictionaries()
    threading.Thread(target=classifier.warm_up, name="classifier-warm-up", daemon=True).start()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)  # requests make short-lived objects by the thousand: collect less often
    stop = threading.Event()
    thread = None
    if get_settings().run_worker:
        thread = threading.Thread(
            target=Worker().run_forever, args=(stop,), name="drivetrain-worker", daemon=True
        )
        thread.start()
    yield
    stop.set()
    if thread is not None:
        thread.join(timeout=10)


def create_app() -> FastAPI:
    app = FastAPI(
        lifespan=_lifespan,
        title="Drivetrain",
        version="0.1.0",
        summary="Customer operations for car makers, dealer networks and owners",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.include_router(_api_router())
    for module in (
        auth_views,
        customer_segments_views,  # before customers_views: /customers/segments is not a customer id
        customers_views,
        org_views,
        leads_views,
        leads_public,
        case_settings_views,
        cases_views,
        cases_public,
        csat_public,
        quality_views,
        unify_views,
    ):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, problems.validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(LoginRequired, _login_required)

    @app.get("/healthz", tags=["health"], summary="Liveness and database reachability")
    def healthz() -> dict[str, str]:
        with database().session(write=False) as session:
            session.execute(text("SELECT 1"))
        return {"status": "ok"}

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/customers", status_code=303)

    return app
