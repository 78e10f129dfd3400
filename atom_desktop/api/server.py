"""The API as a runtime service: uvicorn on the agent's loop."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import socket
from collections.abc import Iterator

import psutil
import uvicorn
from fastapi import FastAPI

from atom_desktop.api.app import create_app
from atom_desktop.api.context import AgentContext
from atom_desktop.api.open_streams import OpenStreams
from atom_desktop.api.request_metrics import RequestStats
from atom_desktop.api.uvicorn_config import uvicorn_config
from atom_desktop.core.errors import AtomError

logger = logging.getLogger(__name__)


class PortInUseError(AtomError):
    """Another process listens on the API port."""

    exit_code = 2


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def holder_of(port: int) -> str:
    """Who listens on ``port``, as far as this user may see."""
    with contextlib.suppress(psutil.Error, OSError):
        for conn in psutil.net_connections(kind="tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN:
                if conn.pid is None:
                    return "another process"
                with contextlib.suppress(psutil.Error):
                    return f"PID {conn.pid} ({psutil.Process(conn.pid).name()})"
                return f"PID {conn.pid}"
    return "another process"


def bind(host: str, port: int) -> socket.socket:
    """Bind the listening socket ourselves, so a busy port is a clear error."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio only sets TCP_NODELAY on connections whose
    # socket says TCP, and without it every response waits ~40 ms for a
    # delayed ACK (Nagle's algorithm holds back the body after the headers).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
        sock.set_inheritable(False)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(
                f"Port {port} on {host} is in use by {holder_of(port)}.",
                hint="Set ATOM_PORT (or --port) to a free port, or stop that process.",
            ) from None
        raise AtomError(f"Cannot listen on {host}:{port}: {exc.strerror}.") from None
    return sock


class AgentServer(uvicorn.Server):
    """uvicorn without its own signal handlers: the runtime owns SIGINT/SIGTERM
    and stops the services in order."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._exit_requested = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def request_exit(self) -> None:
        """Stop serving (on the loop): wakes the main loop at once."""
        self.should_exit = True
        self._exit_requested.set()

    async def main_loop(self) -> None:
        # uvicorn wakes up ten times a second to refresh its Date header and
        # look for should_exit; an idle desktop agent should not. Once a
        # second for the header (each tick counts as ten of uvicorn's), and
        # an event for the exit.
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 10) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._exit_requested.wait(), 1.0)


class ApiService:
    """Serves the API until stopped; open event streams end when it stops."""

    name = "api"

    def __init__(self, agent: AgentContext, *, heartbeat_s: float = 15.0) -> None:
        self._agent = agent
        self._heartbeat_s = heartbeat_s
        self._server: AgentServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._streams: OpenStreams | None = None
        self.port: int | None = None
        self.app: FastAPI | None = None
        self._sock: socket.socket | None = None  # bound by listen(), until uvicorn takes it

    @property
    def requests_answered(self) -> int:
        """Requests the API has answered since it started (0 before); thread-safe."""
        app = self.app
        stats: RequestStats | None = getattr(app.state, "request_stats", None) if app else None
        return stats.answered if stats is not None else 0

    def listen(self) -> None:
        """Check the host and bind the port, before the agent makes anything.

        The runtime calls this right after taking the instance lock, so a
        busy port or a refused host stops a first start before a database,
        key or token exists. uvicorn is later given this very socket: no gap
        in which another process could take the port.
        """
        if self._sock is not None:
            return
        settings = self._agent.settings
        if not is_loopback(settings.host):
            if not settings.allow_remote:
                raise AtomError(
                    f"ATOM_HOST={settings.host} is not a loopback address.",
                    hint="The API can run commands; set ATOM_ALLOW_REMOTE=true only if you "
                    "really mean to expose it, or use 127.0.0.1.",
                )
            logger.warning(
                "The API listens on %s, which other machines may reach; anyone with a token "
                "can use it",
                settings.host,
            )
        self._sock = bind(settings.host, settings.port)
        self.port = self._sock.getsockname()[1]

    def close_unused(self) -> None:
        """Close the socket from :meth:`listen` if uvicorn never took it (a failed start)."""
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    async def async_start(self) -> None:
        """Bind (unless :meth:`listen` did), start uvicorn, return once it accepts connections."""
        settings = self._agent.settings
        self.listen()
        sock, self._sock = self._sock, None
        assert sock is not None
        app = self.app = create_app(self._agent, heartbeat_s=self._heartbeat_s)
        self._streams = app.state.streams
        config = uvicorn_config(app)
        self._server = AgentServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="uvicorn")
        # uvicorn has no "started" future: wait for its flag, or its failure.
        while not self._server.started:
            if self._task.done():
                sock.close()
                self._task.result()
                raise AtomError("The API server stopped while starting.")
            await asyncio.sleep(0.005)
        logger.info("API listening on http://%s:%d", settings.host, self.port)

    async def async_stop(self) -> None:
        """End event streams, then let uvicorn finish open requests and stop."""
        if self._streams is not None:
            self._streams.end_all()
        if self._server is not None:
            self._server.request_exit()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 5)
            except TimeoutError:
                assert self._server is not None
                self._server.force_exit = True
                await self._task
        self._server = None
        self._task = None
