"""Alembic environment: the URL and connection come from Drivetrain, never from alembic.ini."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from drivetrain import models  # noqa: F401 - registers every table
from drivetrain.db import Base, open_database

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    db = open_database(context.config.get_main_option("sqlalchemy.url") or None)
    try:
        with db.writer.connect() as connection:
            _run(connection)
            connection.commit()
    finally:
        db.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `drivetrain migrate`")
run_online()
