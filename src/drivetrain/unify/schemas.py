"""Request and response shapes of identity resolution, its review queue and merges."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from drivetrain.kit.validators import Text
from drivetrain.unify.config import ResolveConfig


class ResolutionRequest(BaseModel):
    """A run on DuckDB, in the request; runs on Spark (for more than one machine can hold) are the
    operator's, from ``drivetrain resolve --engine spark``."""

    model_config = ConfigDict(extra="forbid")
    match_probability: float = Field(default=ResolveConfig.match_probability, ge=0, le=1)
    review_probability: float = Field(default=ResolveConfig.review_probability, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> ResolutionRequest:
        if self.review_probability > self.match_probability:
            raise ValueError("review_probability must not exceed match_probability")
        return self


class ResolutionRunRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    engine: str
    started_at: datetime
    finished_at: datetime | None
    records: int
    clusters: int
    customers_created: int
    customers_updated: int
    records_moved: int
    review_pairs: int
    settings: dict[str, Any]


class RecordView(BaseModel):
    """One side of a review pair: a source record, or what Drivetrain holds about a customer."""

    ref: str
    source: str
    external_id: str | None
    customer_id: str | None
    dealer: str | None = None
    """The dealer holding the record's customer, as "code name" (None: held by HQ)."""
    name: str | None
    phone: str | None
    vin: str | None
    city: str | None
    email: str | None
    wechat_id: str | None


class ReviewRead(BaseModel):
    id: str
    probability: float
    reason: str
    status: str
    via: str
    created_at: datetime
    decided_at: datetime | None
    comment: str | None
    left: RecordView
    right: RecordView


class DecisionWrite(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    same: bool
    comment: Text | None = Field(default=None, max_length=500)


class DecisionRead(BaseModel):
    review: ReviewRead
    merge_id: str | None
    survivor_id: str | None
    applies_at_next_run: bool


class MergeWrite(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    merged_id: Text = Field(min_length=26, max_length=26, description="The customer merged into this one")
    reason: Text = Field(min_length=2, max_length=500)


class UnmergeWrite(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    reason: Text = Field(min_length=2, max_length=500)


class MergeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    survivor_id: str
    merged_id: str
    reason: str
    rows_moved: int
    merged_at: datetime
    unmerged_at: datetime | None


class FieldSource(BaseModel):
    field: str
    value: str | None
    source: str
    rule: str | None
    at: datetime | None


class LinkedRecord(BaseModel):
    id: str
    source: str
    trust_rank: int
    external_id: str
    updated_at: datetime


class GoldenRead(BaseModel):
    """Where each golden field came from, the records behind the customer, and their merges."""

    customer_id: str
    merged_into_id: str | None
    fields: list[FieldSource]
    records: list[LinkedRecord]
    merges: list[MergeRead]
