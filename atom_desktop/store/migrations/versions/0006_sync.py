"""What sync keeps on the device: its id, pull cursor and clock, row versions, conflicts.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08

- ``sync_state``: one row. ``device_id`` is made here, once, and never
  changes (it breaks ties between equal clock stamps, so it must be the same
  on every push of this device); ``pull_cursor`` is the last server
  ``change_id`` applied; ``hlc`` the clock's latest stamp, so a restart never
  stamps a change older than one made or received before.
- ``sync_versions``: the stamp and origin device of the version of each
  synced row the device holds, deleted rows too (a tombstone stops an older
  version from coming back).
- ``outbox.hlc``: each pending change's stamp, taken in its transaction.
- ``sync_conflicts``: local changes that lost to a newer version of their
  row from another device, kept to be looked at or restored.

Existing outbox entries are stamped from their times, in their order, and
existing rows get versions from them: nothing made before this migration is
lost or sent unstamped.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_COUNTER_BITS = 16


def _ms(stored: str) -> int:
    parsed = datetime.fromisoformat(stored)
    parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
    return max(0, int(parsed.timestamp() * 1000))


def upgrade() -> None:
    """Create the sync tables, stamp the outbox, give existing rows their versions."""
    op.create_table(
        "sync_state",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("device_id", sa.String(36), nullable=False),
        sa.Column("pull_cursor", sa.BigInteger(), nullable=False),
        sa.Column("hlc", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_sync_state_one_row"),
    )
    op.create_table(
        "sync_versions",
        sa.Column("entity", sa.String(32), primary_key=True),
        sa.Column("entity_id", sa.String(36), primary_key=True),
        sa.Column("hlc", sa.BigInteger(), nullable=False),
        sa.Column("device_id", sa.String(36), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "sync_conflicts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.String(36), nullable=False),
        sa.Column("op", sa.String(16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("hlc", sa.BigInteger(), nullable=False),
        sa.Column("winner_hlc", sa.BigInteger(), nullable=False),
        sa.Column("winner_device_id", sa.String(36), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("detected_at", sa.DateTime(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_sync_conflicts_resolved_at", "sync_conflicts", ["resolved_at", "id"])
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("hlc", sa.BigInteger(), nullable=False, server_default="0"))
    op.create_index("ix_outbox_entity", "outbox", ["entity", "entity_id"])

    conn = op.get_bind()
    device_id = str(uuid.uuid4())
    last = 0
    versions: dict[tuple[str, str], tuple[int, bool]] = {}
    entries = conn.execute(
        sa.text("SELECT seq, entity, entity_id, op, created_at FROM outbox ORDER BY seq")
    ).all()
    for seq, entity, entity_id, change, created_at in entries:
        # Strictly growing in outbox order, whatever the stored times say.
        last = max(_ms(created_at) << _COUNTER_BITS, last + 1)
        conn.execute(
            sa.text("UPDATE outbox SET hlc = :hlc WHERE seq = :seq"), {"hlc": last, "seq": seq}
        )
        if entity in ("task", "automation"):
            versions[(entity, entity_id)] = (last, change == "delete")
    for entity, table in (("task", "tasks"), ("automation", "automations")):
        for row_id, updated_at in conn.execute(sa.text(f"SELECT id, updated_at FROM {table}")):  # noqa: S608 - our own table names
            if (entity, row_id) not in versions:
                last = max(_ms(updated_at) << _COUNTER_BITS, last + 1)
                versions[(entity, row_id)] = (last, False)
    if versions:
        conn.execute(
            sa.text(
                "INSERT INTO sync_versions (entity, entity_id, hlc, device_id, deleted) "
                "VALUES (:entity, :entity_id, :hlc, :device_id, :deleted)"
            ),
            [
                {"entity": e, "entity_id": i, "hlc": h, "device_id": device_id, "deleted": d}
                for (e, i), (h, d) in versions.items()
            ],
        )
    conn.execute(
        sa.text(
            "INSERT INTO sync_state (id, device_id, pull_cursor, hlc) "
            "VALUES (1, :device_id, 0, :hlc)"
        ),
        {"device_id": device_id, "hlc": last},
    )


def downgrade() -> None:
    """Drop what revision 0006 added."""
    op.drop_index("ix_outbox_entity", "outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("hlc")
    op.drop_index("ix_sync_conflicts_resolved_at", "sync_conflicts")
    op.drop_table("sync_conflicts")
    op.drop_table("sync_versions")
    op.drop_table("sync_state")
