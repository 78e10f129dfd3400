"""Automations, their runs, missed fire times and approvals.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

AUTOMATION_RUN_STATUSES = (
    "'queued', 'running', 'waiting_approval', 'succeeded', 'failed', 'timed_out', "
    "'cancelled', 'skipped', 'interrupted'"
)


def upgrade() -> None:
    """Create automations, automation_runs, automation_missed and approvals."""
    op.create_table(
        "automations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("anchor_at", sa.DateTime(), nullable=False),
        sa.Column("checked_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "automation_runs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "automation_id",
            sa.String(36),
            sa.ForeignKey("automations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("trigger_kind", sa.String(16), nullable=False),
        sa.Column("trigger", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            f"status IN ({AUTOMATION_RUN_STATUSES})", name="ck_automation_runs_status"
        ),
    )
    op.create_index("ix_automation_runs_automation_id", "automation_runs", ["automation_id", "id"])
    op.create_index("ix_automation_runs_status", "automation_runs", ["status"])
    op.create_table(
        "automation_missed",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "automation_id",
            sa.String(36),
            sa.ForeignKey("automations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("scheduled_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
    )
    op.create_index(
        "ix_automation_missed_automation_id", "automation_missed", ["automation_id", "id"]
    )
    op.create_table(
        "approvals",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "automation_id",
            sa.String(36),
            sa.ForeignKey("automations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("automation_run_id", sa.String(36), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("command", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'denied', 'expired')", name="ck_approvals_status"
        ),
    )
    op.create_index("ix_approvals_status", "approvals", ["status", "id"])


def downgrade() -> None:
    """Drop the four tables."""
    op.drop_table("approvals")
    op.drop_table("automation_missed")
    op.drop_table("automation_runs")
    op.drop_table("automations")
