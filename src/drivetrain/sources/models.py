"""Source systems, their column-mapping profiles, every record they sent (raw beside normalised), imports."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from drivetrain.db import Base, UTCDateTime
from drivetrain.kit import clock
from drivetrain.kit.model_mixins import IdMixin, TimestampMixin


class SourceType(StrEnum):
    DMS = "dms"
    ERP = "erp"
    INSURANCE = "insurance"
    USED_CAR = "used_car"
    FINANCE = "finance"
    WECOM = "wecom"
    MINI_PROGRAM = "mini_program"
    CRM = "crm"


class ImportVia(StrEnum):
    FILE = "file"
    API = "api"


class Source(IdMixin, Base):
    """A system customer records come from (a dealer's DMS, the insurer, WeCom …). HQ-level: no dealer.

    ``trust_rank`` (0-100): when sources disagree about a person, the higher rank wins."""

    __tablename__ = "source_system"
    name: Mapped[str] = mapped_column(String(40), unique=True)
    type: Mapped[str] = mapped_column(String(20))
    trust_rank: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)


class ImportProfile(IdMixin, TimestampMixin, Base):
    """How one kind of export of a source reads: target field -> source column, plus options
    (``date_format``, ``encoding``, ``sheet``)."""

    __tablename__ = "import_profile"
    __table_args__ = (UniqueConstraint("source_id", "name"),)
    source_id: Mapped[str] = mapped_column(ForeignKey("source_system.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(40))
    mapping: Mapped[dict[str, str]] = mapped_column(JSON)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ImportRun(IdMixin, Base):
    """One import of a file or an API batch, with its counts and its problems (the first few hundred;
    the CLI's error file holds them all). ``mapping`` is the column mapping in force, for lineage."""

    __tablename__ = "import_run"
    __table_args__ = (Index("ix_import_run_source_id_id", "source_id", "id"),)
    source_id: Mapped[str] = mapped_column(ForeignKey("source_system.id", ondelete="CASCADE"))
    via: Mapped[str] = mapped_column(String(10))
    file_name: Mapped[str | None] = mapped_column(String(255))
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    profile: Mapped[str | None] = mapped_column(String(40))
    mapping: Mapped[dict[str, str]] = mapped_column(JSON)
    actor_id: Mapped[str | None] = mapped_column(ForeignKey("app_user.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    problems: Mapped[int] = mapped_column(Integer, default=0)
    """Every problem found, in rejected rows and (as dropped or corrected values) in kept ones."""
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    error_file: Mapped[str | None] = mapped_column(String(500))


class SourceRecord(IdMixin, Base):
    """One row as the source sent it (``raw``; an ID number only masked) beside its normalised form.

    ``external_id`` is the row's key in the source (its mapped key column, or a hash of the row);
    ``row_hash`` tells a changed row from the same one sent again."""

    __tablename__ = "source_record"
    __table_args__ = (
        UniqueConstraint("source_id", "external_id"),
        Index("ix_source_record_source_id_id", "source_id", "id"),
    )
    source_id: Mapped[str] = mapped_column(ForeignKey("source_system.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(100))
    raw: Mapped[dict[str, Any]] = mapped_column(JSON)
    normalized: Mapped[dict[str, Any]] = mapped_column(JSON)
    row_hash: Mapped[str] = mapped_column(String(64))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    last_import_id: Mapped[str | None] = mapped_column(ForeignKey("import_run.id", ondelete="SET NULL"))
    customer_id: Mapped[str | None] = mapped_column(
        ForeignKey("customer.id", ondelete="SET NULL"), index=True
    )
    """The person identity resolution linked this record to (None until it has run)."""
