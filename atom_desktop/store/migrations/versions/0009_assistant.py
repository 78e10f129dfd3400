"""The assistant's conversations, the plans it proposed and each step's approval.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

All four tables stay on this device; sync never sends them.

- ``assistant_conversations``: a title and when it was started and last
  written to (the listing is newest first, hence the index).
- ``assistant_messages``: numbered 1.. within their conversation (``seq``).
  ``sent`` is what was sent to the AI provider for the request, redacted
  before it was stored; ``provider`` says who answered; ``plan_id`` names the
  plan proposed in answer, if any.
- ``assistant_plans``: the request a plan answers, and its message.
- ``assistant_plan_steps``: each step as shown (``kind``, ``body``) and the
  digest of that; an approval records the digest it was given
  (``approved_digest``), and a step starts only if that is still the step's
  digest, so what runs is exactly what a person approved. Checks keep an
  approval naming the current content.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_STEP_STATUSES = "'proposed', 'approved', 'rejected', 'running', 'succeeded', 'failed', 'denied'"


def _conversation_id() -> sa.Column[str]:
    return sa.Column(
        "conversation_id",
        sa.String(36),
        sa.ForeignKey("assistant_conversations.id", ondelete="CASCADE"),
        nullable=False,
    )


def upgrade() -> None:
    """Create the four tables."""
    op.create_table(
        "assistant_conversations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_index(
        "ix_assistant_conversations_updated_at", "assistant_conversations", ["updated_at"]
    )
    op.create_table(
        "assistant_messages",
        sa.Column("id", sa.String(36), primary_key=True),
        _conversation_id(),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sent", sa.JSON(), nullable=True),
        sa.Column("provider", sa.String(200), nullable=True),
        sa.Column("plan_id", sa.String(36), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "role IN ('user', 'assistant', 'error')", name="ck_assistant_messages_role"
        ),
    )
    op.create_index(
        "ux_assistant_messages_conversation_id_seq",
        "assistant_messages",
        ["conversation_id", "seq"],
        unique=True,
    )
    op.create_table(
        "assistant_plans",
        sa.Column("id", sa.String(36), primary_key=True),
        _conversation_id(),
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index(
        "ix_assistant_plans_conversation_id", "assistant_plans", ["conversation_id", "id"]
    )
    op.create_table(
        "assistant_plan_steps",
        sa.Column(
            "plan_id",
            sa.String(36),
            sa.ForeignKey("assistant_plans.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("idx", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("approved_digest", sa.String(64), nullable=True),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("edited", sa.Boolean(), nullable=False, server_default="0"),
        sa.Column("run_id", sa.String(36), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(f"status IN ({_STEP_STATUSES})", name="ck_assistant_plan_steps_status"),
        sa.CheckConstraint(
            "approved_digest IS NULL OR approved_digest = digest",
            name="ck_assistant_plan_steps_approved_digest",
        ),
        sa.CheckConstraint(
            "status <> 'approved' OR approved_digest IS NOT NULL",
            name="ck_assistant_plan_steps_approved",
        ),
    )


def downgrade() -> None:
    """Drop them, and with them every conversation."""
    op.drop_table("assistant_plan_steps")
    op.drop_index("ix_assistant_plans_conversation_id", "assistant_plans")
    op.drop_table("assistant_plans")
    op.drop_index("ux_assistant_messages_conversation_id_seq", "assistant_messages")
    op.drop_table("assistant_messages")
    op.drop_index("ix_assistant_conversations_updated_at", "assistant_conversations")
    op.drop_table("assistant_conversations")
