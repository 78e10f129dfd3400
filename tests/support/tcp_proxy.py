"""A loopback TCP proxy the tests control: a server that comes and goes, links that break.

Besides switching the whole proxy on and off, a test arms one fault at a
time, which fires at a point it chooses in the byte stream of one direction
(counted over every connection from the moment it is armed):

- *stall*: the connection that reaches the point stops forwarding in both
  directions, its sockets left open, as behind a network that black-holes
  packets; nothing it holds (data, a close) goes on until :meth:`release`;
- *cut*: that connection is closed on both sides, the rest of its data lost.

The point is a byte count (``after_bytes``: the fault fires after that many
more bytes) or the ``nth`` occurrence of a marker (it fires just before the
marker), e.g. ``b"COMMIT\\x00"``, the server's confirmation of a commit in
PostgreSQL's wire protocol. :attr:`TcpProxy.tripped` is set when it fires.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass, field
from enum import StrEnum


class Direction(StrEnum):
    """Which way bytes go: from the client to the server or back."""

    UP = "up"
    DOWN = "down"


class Action(StrEnum):
    """What a fault does to the connection it fires on."""

    STALL = "stall"
    CUT = "cut"


@dataclass
class _Fault:
    direction: Direction
    action: Action
    after_bytes: int | None = None
    marker: bytes = b""
    nth: int = 1
    #: Markers are counted only once this one has passed (b"": from the start).
    since: bytes = b""
    #: Bytes (or marker occurrences) counted since it was armed.
    seen: int = 0


@dataclass(eq=False)
class _Link:
    """One forwarded connection: the client's socket and ours to the server."""

    client: socket.socket
    upstream: socket.socket
    #: Cleared while stalled; set again by a release or a kill.
    flowing: threading.Event = field(default_factory=threading.Event)
    dead: bool = False
    #: Per direction, the last bytes seen, for markers split between two reads.
    tails: dict[Direction, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.flowing.set()

    def kill(self) -> None:
        """Stop forwarding for good; the pumps wake up and end."""
        self.dead = True
        self.flowing.set()
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def wait_flowing(self) -> bool:
        """Block while stalled; False once the link is dead."""
        self.flowing.wait()
        return not self.dead


class TcpProxy:
    """Forwards ``127.0.0.1:port`` to ``target`` while started; refuses connections otherwise."""

    def __init__(self, port: int, target: tuple[str, int]) -> None:
        self.port = port
        self._target = target
        self._listener: socket.socket | None = None
        self._links: list[_Link] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._fault: _Fault | None = None
        #: Set when the armed fault fired.
        self.tripped = threading.Event()
        #: Bytes forwarded in each direction since the proxy was made.
        self.forwarded = {Direction.UP: 0, Direction.DOWN: 0}

    # -- on and off ---------------------------------------------------------------

    def start(self) -> None:
        """Listen on the port and forward every connection."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        listener.settimeout(0.1)
        self._listener = listener
        self._spawn(self._accept, listener)

    def stop(self) -> None:
        """Close the port and every forwarded connection; wait for the threads."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            links, self._links = self._links, []
        for link in links:
            link.kill()
        for thread in self._threads:
            thread.join(5)
        self._threads = []
        for link in links:
            link.client.close()
            link.upstream.close()

    # -- faults -------------------------------------------------------------------

    def stall_after(self, after_bytes: int, direction: Direction = Direction.UP) -> None:
        """Stall the connection that carries the next ``after_bytes``-th byte ``direction``."""
        self._arm(_Fault(direction, Action.STALL, after_bytes=after_bytes))

    def cut_after(self, after_bytes: int, direction: Direction = Direction.UP) -> None:
        """Cut the connection that carries the next ``after_bytes``-th byte ``direction``."""
        self._arm(_Fault(direction, Action.CUT, after_bytes=after_bytes))

    def stall_at(
        self, marker: bytes, nth: int = 1, direction: Direction = Direction.DOWN, since: bytes = b""
    ) -> None:
        """Stall the connection just before the ``nth`` next ``marker`` passes ``direction``
        (counting from the first ``since`` on)."""
        self._arm(_Fault(direction, Action.STALL, marker=marker, nth=nth, since=since))

    def cut_at(self, marker: bytes, nth: int = 1, direction: Direction = Direction.DOWN) -> None:
        """Cut the connection just before the ``nth`` next ``marker`` passes ``direction``."""
        self._arm(_Fault(direction, Action.CUT, marker=marker, nth=nth))

    def release(self) -> None:
        """Stalled connections forward again, what they held first."""
        with self._lock:
            links = list(self._links)
        for link in links:
            link.flowing.set()

    def stalled(self) -> int:
        """How many connections are stalled now."""
        with self._lock:
            return sum(1 for link in self._links if not link.dead and not link.flowing.is_set())

    def _arm(self, fault: _Fault) -> None:
        with self._lock:
            self._fault = fault
            self.tripped.clear()

    # -- forwarding ---------------------------------------------------------------

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self._target)
            except OSError:
                client.close()
                continue
            link = _Link(client, upstream)
            with self._lock:
                self._links.append(link)
            self._spawn(self._pump, link, Direction.UP)
            self._spawn(self._pump, link, Direction.DOWN)

    def _pump(self, link: _Link, direction: Direction) -> None:
        source, sink = link.client, link.upstream
        if direction is Direction.DOWN:
            source, sink = sink, source
        try:
            while data := source.recv(65536):
                fired = self._fires_at(link, direction, data)
                if fired is not None:
                    split, action = fired
                    self._trip(link, direction, data[:split], sink, action)
                    if action is Action.CUT or not link.wait_flowing():
                        return
                    data = data[split:]
                if not link.wait_flowing():
                    return
                sink.sendall(data)
                self._count(direction, len(data))
        except OSError:
            pass
        # A stalled link does not pass a close on either: it waits like the data.
        if link.wait_flowing():
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)

    def _trip(
        self, link: _Link, direction: Direction, before: bytes, sink: socket.socket, action: Action
    ) -> None:
        """Forward what comes before the fault's point, then stall or cut the link."""
        if before and link.wait_flowing():
            sink.sendall(before)
            self._count(direction, len(before))
        # Tripped is set before the client can see the fault, and after it holds.
        if action is Action.CUT:
            self.tripped.set()
            link.kill()
        else:
            link.flowing.clear()
            self.tripped.set()

    def _fires_at(
        self, link: _Link, direction: Direction, data: bytes
    ) -> tuple[int, Action] | None:
        """Where in ``data`` the armed fault fires and what it does (disarming it), or None."""
        with self._lock:
            fault = self._fault
            if fault is None or fault.direction is not direction:
                return None
            if fault.after_bytes is not None:
                fault.seen += len(data)
                if fault.seen < fault.after_bytes:
                    return None
                split = len(data) - (fault.seen - fault.after_bytes)
            else:
                tail = link.tails.get(direction, b"")
                window = tail + data
                keep = max(len(fault.marker), len(fault.since)) - 1
                link.tails[direction] = window[len(window) - keep :] if keep else b""
                split = -1
                start = 0
                if fault.since:
                    start = window.find(fault.since)
                    if start < 0:
                        return None
                    start += len(fault.since)
                    fault.since = b""
                start = window.find(fault.marker, start)
                while start >= 0:
                    fault.seen += 1
                    if fault.seen == fault.nth:
                        split = max(0, start - len(tail))
                        break
                    start = window.find(fault.marker, start + 1)
                if split < 0:
                    return None
            self._fault = None
            return split, fault.action

    def _count(self, direction: Direction, n: int) -> None:
        with self._lock:
            self.forwarded[direction] += n
