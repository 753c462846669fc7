"""The bare-insert baseline for bench/leads_throughput.py: the same stack as ``drivetrain serve``
(uvicorn, FastAPI, a SQLAlchemy session on the engine of ``drivetrain.db.open_database``, so SQLite
gets the same single-writer ``BEGIN IMMEDIATE`` engine) inserting one row per request, with no
authentication and no logic.

    DRIVETRAIN_DATABASE_URL=sqlite:///… .venv/bin/python -m uvicorn --app-dir bench \
        bare_insert_app:create_app --factory --port 8001 --log-level warning
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fastapi import Body, FastAPI, Response
from sqlalchemy import Column, DateTime, Integer, MetaData, Table, Text, insert, text

from drivetrain.config import get_settings
from drivetrain.db import Database, open_database

METADATA = MetaData()
BARE_INSERT = Table(
    "bench_bare_insert",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("payload", Text),
    Column("created_at", DateTime(timezone=True)),
    sqlite_autoincrement=True,
)


def create_app(db: Database | None = None) -> FastAPI:
    """The app on ``db`` (default: DRIVETRAIN_DATABASE_URL), creating its one table if missing."""
    database = db or open_database(get_settings().database_url)
    METADATA.create_all(database.writer)
    app = FastAPI(title="bare insert baseline", openapi_url=None, docs_url=None, redoc_url=None)

    @app.post("/insert", status_code=201)
    def insert_one(body: dict[str, Any] = Body(...)) -> Response:
        with database.session(write=True) as session:
            session.execute(
                insert(BARE_INSERT).values(
                    payload=json.dumps(body, ensure_ascii=False), created_at=datetime.now(UTC)
                )
            )
            session.commit()
        return Response(status_code=201)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        with database.session(write=False) as session:
            session.execute(text("SELECT 1"))
        return {"status": "ok"}

    return app
