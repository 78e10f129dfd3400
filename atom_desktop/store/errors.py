"""Errors of the store."""

from __future__ import annotations

from atom_desktop.core.errors import AtomError


class StoreError(AtomError):
    """The database cannot be opened, read or written as asked."""


class DatabaseUnreadableError(StoreError):
    """The key does not open the file, or the file is not an ATOM database."""


class DatabaseCorruptError(StoreError):
    """Pages of the database fail their integrity check."""


class SchemaTooNewError(StoreError):
    """The database was written by a newer version of ATOM Desktop."""


class NotFoundError(StoreError):
    """The requested row does not exist."""


class ConflictError(StoreError):
    """The write conflicts with an existing row (e.g. a duplicate external id)."""
