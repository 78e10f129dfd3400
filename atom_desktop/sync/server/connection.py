"""Connecting to the sync server: URLs shown without secrets, failures named plainly.

A server is given as a libpq URL (``postgresql://USER@HOST:PORT/DB?sslmode=...``;
the SQLAlchemy spelling ``postgresql+psycopg://`` is taken too) or a
``key=value`` connection string. libpq's own environment applies as usual,
so a password can come from ``PGPASSWORD`` or ``~/.pgpass`` rather than
from a URL on a command line, where every user of the machine can read it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from atom_desktop.core.redaction import Redactor
from atom_desktop.sync.errors import ServerConnectError, ServerProblem, SyncError

#: Seconds to wait for a server that does not answer, unless the URL says otherwise.
CONNECT_TIMEOUT_S = 10
#: Seconds one exchange with the server (a statement and its answer) may take
#: before the session is given up: a link that stalls (a network that drops
#: packets, a laptop that slept mid-push) otherwise keeps a sync waiting for ever.
IO_TIMEOUT_S = 60.0
#: Seconds the server lets a session of ours sit idle inside a transaction
#: (unless its administrator chose otherwise): a device that vanished between
#: an upsert and its commit would otherwise keep its tenant's write turn, and
#: every other device of the tenant waiting, until TCP gives up (hours).
IDLE_IN_TRANSACTION_S = 60.0
#: TCP keepalives, unless the URL says otherwise: a server that went away
#: without a word is noticed in about a minute, not after the system's two hours.
_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
               "keepalives_count": 3}  # fmt: skip
APPLICATION_NAME = "atom-desktop"

# libpq's words for each failure (regular expressions over the lowered
# message), checked in this order: where it tried several addresses, the most
# telling failure is named (a password refused on one address says more than
# a refused connection on another).
_SIGNS: tuple[tuple[ServerProblem, re.Pattern[str]], ...] = tuple(
    (problem, re.compile("|".join(signs)))
    for problem, signs in (
        (
            ServerProblem.AUTHENTICATION,
            (
                "password authentication failed",
                "no password supplied",
                "authentication failed",
                "no pg_hba.conf entry",
                "pg_hba.conf rejects",
                'role "[^"]*" does not exist',
                # The role exists but may no longer log in (revoked with NOLOGIN).
                "is not permitted to log in",
            ),
        ),
        (ServerProblem.PERMISSION, ("permission denied",)),
        (ServerProblem.DATABASE, ('database "[^"]*" does not exist',)),
        (
            # Before TLS: a TLS session that drops says "SSL" and "closed unexpectedly".
            ServerProblem.DISCONNECTED,
            (
                "closed the connection unexpectedly",
                "connection has been closed unexpectedly",
                "terminating connection",
                "could not receive data",
                "could not send data",
                "connection reset",
                "broken pipe",
            ),
        ),
        (ServerProblem.TLS, ("ssl", "certificate", "tls")),
        (
            ServerProblem.DNS,
            (
                "could not translate host name",
                "name or service not known",
                "temporary failure in name resolution",
                "nodename nor servname",
                "no address associated",
            ),
        ),
        (ServerProblem.TIMEOUT, ("timeout expired", "timed out")),
        (
            ServerProblem.REFUSED,
            ("connection refused", "no such file or directory", "network is unreachable"),
        ),
    )
)


# What libpq and psycopg put before the reason itself.
_PREAMBLE = re.compile(
    r"^(?:connection failed:\s*|connection to server (?:at|on socket) .*? failed:\s*|"
    r"FATAL:\s*|ERROR:\s*)+"
)


@dataclass(frozen=True, slots=True)
class ServerAddress:
    """A parsed server address; ``display`` is safe to print, ``conninfo`` is not."""

    conninfo: str
    user: str | None
    host: str | None
    port: str | None
    dbname: str | None
    password: str | None

    @property
    def display(self) -> str:
        """The address as a URL without its password (a socket directory as ``?host=``)."""
        user = f"{quote(self.user, safe='')}@" if self.user else ""
        query: dict[str, str] = {}
        host = self.host or ""
        if host.startswith("/"):
            query["host"], host = host, ""
        elif ":" in host and "," not in host:
            host = f"[{host}]"  # an IPv6 address
        port = self.port or ""
        if port and not host:
            query["port"] = port
        elif port:
            host = f"{host}:{port}"
        text = f"postgresql://{user}{host}/{quote(self.dbname or '', safe='')}"
        return f"{text}?{urlencode(query, safe='/')}" if query else text


def parse_address(url: str) -> ServerAddress:
    """Parse a URL or connection string; SyncError (INVALID) when libpq cannot read it."""
    text = url.strip()
    if text.startswith("postgresql+psycopg://"):
        text = "postgresql://" + text.removeprefix("postgresql+psycopg://")
    try:
        params = conninfo_to_dict(text)
    except psycopg.ProgrammingError as exc:
        raise SyncError(
            "The server address is neither a PostgreSQL URL nor a connection string "
            f"({_without_quoted(str(exc))}).",
            problem=ServerProblem.INVALID,
            hint="Write it as postgresql://USER@HOST:PORT/DATABASE, with the password in "
            "PGPASSWORD or ~/.pgpass.",
        ) from None
    return ServerAddress(
        conninfo=make_conninfo(text),
        user=_str(params.get("user")),
        host=_str(params.get("host")),
        port=_str(params.get("port")),
        dbname=_str(params.get("dbname")),
        password=_str(params.get("password")),
    )


class _TimedConnection(psycopg.Connection[Any]):
    """A session whose every exchange with the server ends within :data:`IO_TIMEOUT_S`.

    libpq has no such limit, and neither keepalives (the kernel of a stalled
    middlebox answers them) nor ``statement_timeout`` (the server never got
    the statement, or cannot send its answer) end a wait on a stalled link.
    """

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        if timeout is not None:  # the caller's own limit (notifies() polls with one)
            return super().wait(gen, interval, timeout)
        limit = IO_TIMEOUT_S
        try:
            return super().wait(gen, interval, limit)
        except psycopg.errors._WaitTimeout:
            # Halfway through an exchange the session is unusable: close it now,
            # so that nothing (a rollback on the way out) waits on it again.
            self.pgconn.finish()
            raise psycopg.OperationalError(
                f"timed out: the server sent no answer within {limit:g} s"
            ) from None


def connect(
    address: ServerAddress,
    *,
    autocommit: bool = False,
    redactor: Redactor | None = None,
    io_limit: bool = True,
) -> psycopg.Connection[Any]:
    """Open a session; ServerConnectError saying what failed and what to do if none opens.

    ``io_limit=False`` lifts :data:`IO_TIMEOUT_S`, for an administrator's
    step that may rightly take longer (a migration building an index).
    """
    given = conninfo_to_dict(address.conninfo)
    params: dict[str, Any] = {"application_name": APPLICATION_NAME}
    if "connect_timeout" not in given:
        params["connect_timeout"] = CONNECT_TIMEOUT_S
    params.update({key: value for key, value in _KEEPALIVES.items() if key not in given})
    try:
        kind = _TimedConnection if io_limit else psycopg.Connection
        conn = kind.connect(address.conninfo, autocommit=autocommit, **params)
    except psycopg.OperationalError as exc:
        raise connect_error(address, str(exc), redactor) from None
    try:
        _limit_idle_in_transaction(conn)
    except psycopg.OperationalError as exc:
        conn.close()
        raise connect_error(address, str(exc), redactor) from None
    except BaseException:
        conn.close()
        raise
    return conn


def _limit_idle_in_transaction(conn: psycopg.Connection[Any]) -> None:
    """Set :data:`IDLE_IN_TRANSACTION_S` for the session, where the server sets no limit."""
    conn.execute(
        "SELECT set_config('idle_in_transaction_session_timeout', %s, false) "
        "WHERE current_setting('idle_in_transaction_session_timeout') = '0'",
        (f"{round(IDLE_IN_TRANSACTION_S * 1000)}ms",),
    )
    if not conn.autocommit:
        conn.commit()


def connect_error(
    address: ServerAddress, detail: str, redactor: Redactor | None = None
) -> ServerConnectError:
    """The error for a failed connection, from libpq's message ``detail``."""
    problem = classify(detail)
    where = address.display
    role = address.user or "the default user"
    messages = {
        ServerProblem.DNS: (
            f"Cannot find the server {address.host!r}: its name does not resolve (DNS).",
            "Check the host name in the URL, and that this computer's network and DNS work.",
        ),
        ServerProblem.REFUSED: (
            f"The server at {where} refused the connection: nothing accepts connections there.",
            "Check the host and port, and that PostgreSQL runs and listens on that address.",
        ),
        ServerProblem.TIMEOUT: (
            f"The server at {where} did not answer in time.",
            "Check the host and port, and that no firewall drops the connection.",
        ),
        ServerProblem.DISCONNECTED: (
            f"The connection to the server at {where} was lost.",
            "Sync tries again by itself; if this keeps happening, check the network and the "
            "server's log (a restart or an administrator ends sessions).",
        ),
        ServerProblem.TLS: (
            f"The TLS connection to {where} failed.",
            "Check sslmode and the certificates (sslrootcert), or whether the server uses TLS.",
        ),
        ServerProblem.AUTHENTICATION: (
            f"The server at {where} refused the login of {role}: authentication failed.",
            "Check the user name and password (give the password by PGPASSWORD or "
            "~/.pgpass, not in the URL), and that pg_hba.conf lets this role in from here.",
        ),
        ServerProblem.DATABASE: (
            f"The database {address.dbname!r} does not exist on the server at {where}.",
            "Check the database name in the URL, or create it (CREATE DATABASE).",
        ),
        ServerProblem.PERMISSION: (
            f"{role} may not connect to the database at {where}.",
            "An administrator grants it: GRANT CONNECT ON DATABASE ... TO the role.",
        ),
    }
    message, hint = messages.get(
        problem, (f"Cannot connect to the server at {where}.", "Check the URL and the server.")
    )
    said = _server_said(detail, address, redactor)
    full = f"{message} ({said})" if said else message
    return ServerConnectError(full, problem=problem, hint=hint)


def error_line(exc: BaseException) -> str:
    """The first line of a server error (psycopg adds context lines after it)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def classify(detail: str) -> ServerProblem:
    """Which failure libpq's message describes."""
    lowered = detail.lower()
    for problem, signs in _SIGNS:
        if signs.search(lowered):
            return problem
    return ServerProblem.OTHER


def _server_said(detail: str, address: ServerAddress, redactor: Redactor | None) -> str:
    """libpq's line about the failure, without its preamble and with anything secret masked."""
    lines = [line.strip().lstrip("- ") for line in detail.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    problem = classify(detail)
    text = next((line for line in lines if classify(line) == problem), lines[-1])
    text = _PREAMBLE.sub("", text)
    masker = redactor or Redactor()
    if address.password:
        masker.add(address.password)
    return masker.redact(text)


def _without_quoted(text: str) -> str:
    """libpq quotes the connection string it could not parse; that may hold a password."""
    return re.sub(r'"[^"]*"', '"..."', text.strip()) or "unreadable"


def _str(value: object) -> str | None:
    return None if value is None or value == "" else str(value)
