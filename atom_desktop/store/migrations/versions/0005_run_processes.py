"""The processes of runs still going, so a start after a crash can end them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create run_processes."""
    op.create_table(
        "run_processes",
        sa.Column(
            "run_id", sa.String(36), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("pid", sa.Integer(), primary_key=True),
        sa.Column("started", sa.Float(), primary_key=True),
    )


def downgrade() -> None:
    """Drop run_processes."""
    op.drop_table("run_processes")
