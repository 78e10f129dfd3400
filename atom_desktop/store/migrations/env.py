"""Alembic environment: migrate over the connection the store hands in.

The store opens the encrypted database itself (a URL cannot carry the key),
so this environment never builds an engine and has no offline mode.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, render_as_batch=True, transaction_per_migration=True)
with context.begin_transaction():
    context.run_migrations()
