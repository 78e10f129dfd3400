"""Alembic migrations of the sync server's schema ``atom_sync`` (not the local store's)."""
