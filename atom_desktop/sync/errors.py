"""Errors of sync, each naming what failed so a person (or the window) can act on it."""

from __future__ import annotations

from enum import StrEnum

from atom_desktop.core.errors import AtomError


class ServerProblem(StrEnum):
    """What went wrong with the sync server: one vocabulary for messages and status."""

    DNS = "dns"  # the host name does not resolve
    REFUSED = "refused"  # nothing listens there (or a firewall says no)
    TIMEOUT = "timeout"  # no answer in time
    DISCONNECTED = "disconnected"  # a session was lost halfway (server restart, network)
    TLS = "tls"  # the TLS handshake or certificate check failed
    AUTHENTICATION = "authentication"  # wrong user or password, or pg_hba refuses
    DATABASE = "database"  # the database named in the URL does not exist
    PERMISSION = "permission"  # connected, but the role may not do what was asked
    SCHEMA_MISSING = "schema_missing"  # `sync server init` never ran on this database
    SCHEMA_TOO_OLD = "schema_too_old"  # the server needs `sync server init` from this version
    SCHEMA_TOO_NEW = "schema_too_new"  # a newer ATOM Desktop set the server up
    INVALID = "invalid"  # the URL or an argument is not usable as given
    OTHER = "other"


class SyncError(AtomError):
    """Sync could not do what was asked; ``problem`` says which kind of failure it was."""

    def __init__(
        self, message: str, *, problem: ServerProblem = ServerProblem.OTHER, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.problem = problem


class ServerConnectError(SyncError):
    """No session with the server: DNS, refused, timeout, TLS, authentication, database."""


class ServerPermissionError(SyncError):
    """Connected, but the role lacks a right the operation needs."""


class ServerSchemaError(SyncError):
    """The server's schema is missing, or older than this version needs."""


class ServerSchemaTooNewError(ServerSchemaError):
    """The server's schema was made by a newer ATOM Desktop; nothing is changed."""
