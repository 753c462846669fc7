"""Run Alembic migrations from code (``drivetrain migrate`` and the tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from drivetrain.db import Database

PACKAGE_DIR = Path(__file__).parent


def alembic_config(url: str | None = None) -> Config:
    config = Config(str(PACKAGE_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(PACKAGE_DIR / "migrations"))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(db: Database, revision: str = "head") -> None:
    config = alembic_config(db.url)
    if db.pinned is not None:  # a test's connection: migrate inside its transaction
        config.attributes["connection"] = db.pinned
        command.upgrade(config, revision)
        return
    with db.writer.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()
