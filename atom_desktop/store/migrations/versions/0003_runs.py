"""Runs of commands and their output chunks.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create runs and run_chunks."""
    op.create_table(
        "runs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("requester", sa.String(64), nullable=True),
        sa.Column("argv", sa.JSON(), nullable=True),
        sa.Column("shell", sa.Text(), nullable=True),
        sa.Column("cwd", sa.Text(), nullable=False),
        sa.Column("env_names", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("signal", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("timeout_s", sa.Float(), nullable=True),
        sa.Column("idle_timeout_s", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("stdout_bytes", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("stderr_bytes", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("dropped_bytes", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_seq", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("peak_rss", sa.Integer(), nullable=True),
        sa.Column("cpu_s", sa.Float(), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', "
            "'timed_out', 'interrupted')",
            name="ck_runs_status",
        ),
    )
    op.create_index("ix_runs_status_id", "runs", ["status", "id"])
    op.create_table(
        "run_chunks",
        sa.Column(
            "run_id", sa.String(36), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("stream", sa.String(8), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table("run_chunks")
    op.drop_table("runs")
