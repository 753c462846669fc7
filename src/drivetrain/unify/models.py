"""Identity-resolution runs, the review queue of borderline pairs (whose decisions bind later runs),
and manual merges (with what moved, so an unmerge restores it)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from drivetrain.db import Base, UTCDateTime
from drivetrain.kit import clock
from drivetrain.kit.model_mixins import IdMixin


class ReviewStatus(StrEnum):
    PENDING = "pending"
    SAME = "same"
    DIFFERENT = "different"


class ResolutionRun(IdMixin, Base):
    __tablename__ = "resolution_run"
    engine: Mapped[str] = mapped_column(String(10))
    actor_id: Mapped[str | None] = mapped_column(ForeignKey("app_user.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    records: Mapped[int] = mapped_column(Integer, default=0)
    clusters: Mapped[int] = mapped_column(Integer, default=0)
    customers_created: Mapped[int] = mapped_column(Integer, default=0)
    customers_updated: Mapped[int] = mapped_column(Integer, default=0)
    records_moved: Mapped[int] = mapped_column(Integer, default=0)
    review_pairs: Mapped[int] = mapped_column(Integer, default=0)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class MatchReview(IdMixin, Base):
    """Two records the matcher could not decide on, and a person's decision. A decided pair is a
    constraint on every later run: ``same`` links the two records, ``different`` keeps them apart.

    Records are named by reference: a source record's id, or ``crm:<customer id>`` for what
    Drivetrain itself holds about a customer. ``via`` says where a decision came from (the review
    queue, a manual merge or an unmerge)."""

    __tablename__ = "match_review"
    __table_args__ = (
        UniqueConstraint("record_l", "record_r"),
        Index("ix_match_review_status_probability", "status", "probability"),
    )
    record_l: Mapped[str] = mapped_column(String(40))
    record_r: Mapped[str] = mapped_column(String(40))
    probability: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(10), default=ReviewStatus.PENDING)
    via: Mapped[str] = mapped_column(String(10), default="review")
    run_id: Mapped[str | None] = mapped_column(ForeignKey("resolution_run.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    decided_by: Mapped[str | None] = mapped_column(ForeignKey("app_user.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    comment: Mapped[str | None] = mapped_column(String(500))


class CustomerMerge(IdMixin, Base):
    """``merged_id`` was merged into ``survivor_id``. ``moved`` lists, per ``table.column``, the rows
    that were repointed, and ``survivor_before`` the survivor's golden fields beforehand, so an
    unmerge puts back exactly what the merge changed."""

    __tablename__ = "customer_merge"
    __table_args__ = (Index("ix_customer_merge_merged_id", "merged_id", "merged_at"),)
    survivor_id: Mapped[str] = mapped_column(ForeignKey("customer.id"), index=True)
    merged_id: Mapped[str] = mapped_column(ForeignKey("customer.id"))
    reason: Mapped[str] = mapped_column(String(500))
    moved: Mapped[dict[str, list[str]]] = mapped_column(JSON)
    survivor_before: Mapped[dict[str, Any]] = mapped_column(JSON)
    merged_by: Mapped[str | None] = mapped_column(ForeignKey("app_user.id"))
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    unmerged_by: Mapped[str | None] = mapped_column(ForeignKey("app_user.id"))
    unmerged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
