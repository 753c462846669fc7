"""API shapes for approvals and the authority matrix. Amounts are yuan as decimal strings ("5000.00")."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from drivetrain.auth.roles import Role
from drivetrain.cases.models import ApprovalKind, ApprovalStatus
from drivetrain.kit.validators import Text

Yuan = Annotated[
    Decimal,
    Field(
        gt=0, max_digits=12, decimal_places=2, description="Yuan, at most two decimals", examples=["500.00"]
    ),
]


class ApprovalCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    kind: ApprovalKind
    amount: Yuan
    reason: Text = Field(min_length=1, max_length=500)


class ApprovalDecision(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    decision: Literal["approve", "reject"]
    comment: Text | None = Field(default=None, max_length=500, description="Required to reject")


class ApprovalRead(BaseModel):
    id: str
    case_id: str
    kind: ApprovalKind
    amount: Decimal = Field(description="Yuan")
    reason: str
    status: ApprovalStatus
    requested_by: str | None = Field(description="Username of the requester")
    requested_by_name: str | None = Field(default=None, description="The requester's display name")
    approver: str | None = Field(description="Username of whoever holds the decision now")
    approver_name: str | None = Field(default=None, description="The approver's display name")
    approver_level: int | None = Field(description="The approver's rung on the case's ladder (0..4)")
    decided_by: str | None
    decided_by_name: str | None = Field(default=None, description="The decider's display name")
    decided_at: datetime | None
    comment: str | None
    created_at: datetime


class AuthorityUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_amount: Yuan | None = Field(
        description="The most this role may approve of this kind; null = no limit"
    )


class AuthorityRead(BaseModel):
    kind: ApprovalKind
    role: Role
    max_amount: Decimal | None = Field(description="Yuan; null = no limit")
    updated_at: datetime
