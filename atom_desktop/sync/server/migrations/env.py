"""Alembic environment of the server schema: migrate over the connection handed in.

The migrator opens the connection itself (it names what failed and keeps
secrets out of messages), so this environment builds no engine and has no
offline mode. Alembic's version table lives in our own schema under its own
name, so it never meets another program's ``public.alembic_version``.
"""

from __future__ import annotations

from alembic import context

from atom_desktop.sync.server.schema import SCHEMA, VERSION_TABLE

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    version_table=VERSION_TABLE,
    version_table_schema=SCHEMA,
    transaction_per_migration=True,
)
with context.begin_transaction():
    context.run_migrations()
