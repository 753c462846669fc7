"""Configuration, only from ``DRIVETRAIN_*`` environment variables (or a ``.env`` file)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DRIVETRAIN_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./var/drivetrain.db",
        description="SQLAlchemy URL; postgresql+psycopg://… in production.",
    )
    secret_key: str = Field(
        default="dev-only-change-me",
        description="Keys the ID-number hash and the token hashes. Set it in production.",
    )
    secure_cookies: bool = Field(default=False, description="Mark session cookies Secure (behind HTTPS).")
    session_hours: int = Field(default=12, ge=1, description="Console session lifetime.")
    default_locale: str = Field(default="zh-CN")
    log_sql: bool = False
    run_worker: bool = Field(default=True, description="Run the worker inside `serve` (one process setups).")
    public_base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Where owners reach the public pages (survey links in SMS and WeCom messages).",
    )
    sms_sign_name: str = Field(default="Drivetrain", description="The approved SMS signature (签名).")
    sms_csat_template: str = Field(
        default="SMS_CSAT_SURVEY",
        description="Approved SMS template of the satisfaction survey; its text ends in "
        "{public_base_url}/survey/${token}.",
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()


def sqlite_path(url: str) -> Path | None:
    """The database file of a ``sqlite:///`` URL, or None for other databases and in-memory SQLite."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url in (prefix, prefix + ":memory:"):
        return None
    return Path(url.removeprefix(prefix).split("?", 1)[0])
