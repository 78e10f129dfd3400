"""The audit log names its actor: the API or the window.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07

- ``audit_log.actor``: ``api`` (a request; ``token_name`` is its token) or
  ``window`` (a person at the desktop app; no token). Earlier versions wrote
  the window's few entries with the token name ``desktop app``: they become
  ``window`` entries without a token name, so the log reads one way.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the column; move the window's old entries onto it."""
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("actor", sa.String(16), nullable=False, server_default="api"))
    op.execute(
        "UPDATE audit_log SET actor = 'window', token_name = NULL WHERE token_name = 'desktop app'"
    )


def downgrade() -> None:
    """Drop the column (the window's entries keep no token name)."""
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("actor")
