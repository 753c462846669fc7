"""staff by dealer and role: one index for routing's consultant lookup

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 13:05:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_app_user_dealer_role", "app_user", ["dealer_id", "role"], unique=False)
    op.drop_index("ix_app_user_dealer_id", table_name="app_user")


def downgrade() -> None:
    op.create_index("ix_app_user_dealer_id", "app_user", ["dealer_id"], unique=False)
    op.drop_index("ix_app_user_dealer_role", table_name="app_user")
