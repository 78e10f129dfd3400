"""Integration accounts and the revocations still owed to providers.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07

- ``integration_accounts``: one row per connected account: the provider, the
  values its URLs needed, the scopes granted, its status, when it expires and
  was refreshed and checked, and the last error. Tokens and keys are in the OS
  keyring (entries named by ``secret_generation``); only without a usable
  keyring are they in ``secret``, inside this encrypted database.
- ``integration_revocations``: tokens of disconnected accounts that the
  provider has not yet confirmed revoked (offline at the time); retried with
  back-off, then dropped after the last attempt.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the two tables."""
    op.create_table(
        "integration_accounts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("account", sa.String(200), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("client_id", sa.String(500), nullable=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("token_storage", sa.String(16), nullable=False),
        sa.Column("secret_generation", sa.Integer(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("refreshed_at", sa.DateTime(), nullable=True),
        sa.Column("checked_at", sa.DateTime(), nullable=True),
        sa.Column("retry_at", sa.DateTime(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'connected', 'reconnect_needed', 'error')",
            name="ck_integration_accounts_status",
        ),
        sa.CheckConstraint(
            "token_storage IN ('keyring', 'database')",
            name="ck_integration_accounts_token_storage",
        ),
    )
    op.create_table(
        "integration_revocations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("account", sa.String(200), nullable=False),
        sa.Column("revoke_url", sa.String(2000), nullable=False),
        sa.Column("client_id", sa.String(500), nullable=True),
        sa.Column("token_storage", sa.String(16), nullable=False),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index(
        "ix_integration_revocations_next_attempt_at",
        "integration_revocations",
        ["next_attempt_at"],
    )


def downgrade() -> None:
    """Drop them (tokens in the keyring are not touched)."""
    op.drop_index("ix_integration_revocations_next_attempt_at", "integration_revocations")
    op.drop_table("integration_revocations")
    op.drop_table("integration_accounts")
