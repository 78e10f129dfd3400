"""Tasks with full-text search, and the sync outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create tasks, their FTS5 index with its triggers, and the outbox."""
    op.create_table(
        "tasks",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False, server_default=""),
        sa.Column("status", sa.String(16), nullable=False, server_default="todo"),
        sa.Column("priority", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("due_at", sa.DateTime(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False, server_default="[]"),
        sa.Column("source", sa.String(64), nullable=False, server_default="local"),
        sa.Column("external_id", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('todo', 'doing', 'done', 'cancelled')", name="ck_tasks_status"
        ),
        sa.CheckConstraint("priority BETWEEN 0 AND 3", name="ck_tasks_priority"),
    )
    op.create_index("ix_tasks_status_id", "tasks", ["status", "id"])
    op.create_index("ix_tasks_priority_id", "tasks", ["priority", "id"])
    op.create_index("ix_tasks_due_at", "tasks", ["due_at"])
    op.create_index("ix_tasks_updated_at_id", "tasks", ["updated_at", "id"])
    op.create_index("ux_tasks_source_external_id", "tasks", ["source", "external_id"], unique=True)
    # External-content FTS5 index over title and notes, kept in step by triggers.
    op.execute(
        "CREATE VIRTUAL TABLE tasks_fts USING fts5("
        "title, notes, content='tasks', content_rowid='rowid', "
        "tokenize='unicode61 remove_diacritics 2')"
    )
    op.execute(
        "CREATE TRIGGER tasks_fts_insert AFTER INSERT ON tasks BEGIN "
        "INSERT INTO tasks_fts(rowid, title, notes) VALUES (new.rowid, new.title, new.notes); "
        "END"
    )
    op.execute(
        "CREATE TRIGGER tasks_fts_delete AFTER DELETE ON tasks BEGIN "
        "INSERT INTO tasks_fts(tasks_fts, rowid, title, notes) "
        "VALUES ('delete', old.rowid, old.title, old.notes); "
        "END"
    )
    op.execute(
        "CREATE TRIGGER tasks_fts_update AFTER UPDATE OF title, notes ON tasks BEGIN "
        "INSERT INTO tasks_fts(tasks_fts, rowid, title, notes) "
        "VALUES ('delete', old.rowid, old.title, old.notes); "
        "INSERT INTO tasks_fts(rowid, title, notes) VALUES (new.rowid, new.title, new.notes); "
        "END"
    )
    op.create_table(
        "outbox",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.String(36), nullable=False),
        sa.Column("op", sa.String(16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    """Drop everything this revision made."""
    op.drop_table("outbox")
    op.execute("DROP TABLE tasks_fts")
    op.drop_table("tasks")
