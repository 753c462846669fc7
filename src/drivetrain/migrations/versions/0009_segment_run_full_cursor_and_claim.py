"""segment run: a full recompute's cursor and claim, so it goes in chunks and resumes

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import drivetrain.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("segment_run", sa.Column("full_cursor", sa.String(length=26), nullable=True))
    op.add_column("segment_run", sa.Column("claimed_by", sa.String(length=26), nullable=True))
    op.add_column(
        "segment_run", sa.Column("claimed_until", drivetrain.db.UTCDateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("segment_run") as batch:
        batch.drop_column("claimed_until")
        batch.drop_column("claimed_by")
        batch.drop_column("full_cursor")
