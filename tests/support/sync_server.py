"""The sync tests' view of their server: a database per test, device roles in it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

from atom_desktop.sync.server.connection import ServerAddress, parse_address
from tests.support.postgres import PostgresServer


@dataclass(frozen=True)
class SyncDatabase:
    """A database of one test on the session's server."""

    server: PostgresServer
    name: str
    #: Unique per test: roles are server-wide, databases are not.
    prefix: str

    @property
    def admin_url(self) -> str:
        """The superuser over the Unix socket (no password)."""
        return self.server.admin_url(self.name)

    @property
    def admin(self) -> ServerAddress:
        """:attr:`admin_url`, parsed."""
        return parse_address(self.admin_url)

    def role(self, name: str) -> str:
        """A role name of this test's own."""
        return f"{self.prefix}_{name}"

    def connect_admin(self, **kwargs: Any) -> psycopg.Connection[Any]:
        """A superuser session on this database."""
        return psycopg.connect(self.admin_url, **kwargs)

    def connect_as(self, role: str, password: str, **kwargs: Any) -> psycopg.Connection[Any]:
        """A session of ``role`` over TCP, with its password."""
        return psycopg.connect(self.server.tcp_url(role, self.name), password=password, **kwargs)


@dataclass(frozen=True)
class Device:
    """A device's role: its name, password and tenant."""

    role: str
    password: str
    tenant_id: str


DeviceFactory = Callable[[str, str], Device]
