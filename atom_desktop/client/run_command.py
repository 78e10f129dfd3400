"""``atom-desktop run``: a command on the agent, its output here, byte for byte.

stdout goes to stdout and stderr to stderr exactly as the child wrote them,
and the command exits the way the child did: its exit code, or 128 + the
signal that ended it. Ctrl-C cancels the run (its whole process tree) and
still shows the rest of its output; SIGTERM and SIGHUP cancel it too, then
exit at once with 128 + that signal; a reader that goes away (``| head``)
cancels it as well. A run the agent ended itself (a timeout) says so.
"""

from __future__ import annotations

import base64
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, BinaryIO

import httpx

from atom_desktop.client.agent_client import AgentClient, ApiError, NoAgentError
from atom_desktop.client.sse import sse_events
from atom_desktop.core.errors import AtomError
from atom_desktop.core.statuses import RunStatus

PROG = "atom-desktop"

SignalHandler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


def exit_code_of(exit_event: dict[str, Any]) -> int:
    """The shell convention: the exit code, or 128 + signal."""
    if exit_event.get("signal"):
        return 128 + int(exit_event["signal"])
    if exit_event.get("exit_code") is not None:
        return int(exit_event["exit_code"])
    return 127 if exit_event.get("status") == RunStatus.FAILED else 1


def caller_directory() -> str:
    """The directory ``run`` was started in, named as the caller's shell names it."""
    try:
        physical = Path.cwd()
    except FileNotFoundError:
        raise AtomError(
            "The current directory no longer exists, so the run has no directory to start in.",
            hint="cd to a directory that exists, or give --cwd DIR.",
        ) from None
    # $PWD keeps the symbolic links the person went through, as their `pwd` shows.
    logical = Path(os.environ.get("PWD", "."))
    if logical.is_absolute():
        try:
            if logical.samefile(physical):
                return str(logical)
        except OSError:
            pass
    return str(physical)


# What to say about a run that ended without the child's own say, by its status.
_ENDINGS = {
    RunStatus.CANCELLED: "the run was cancelled (from another client, or the agent is stopping).",
    RunStatus.INTERRUPTED: "the run was interrupted: the agent stopped while it ran.",
}


def ending_message(record: dict[str, Any]) -> str | None:
    """What to say on stderr about how a run ended, when its exit code does not tell it."""
    status = record.get("status")
    if status == RunStatus.TIMED_OUT:
        return _timed_out(record)
    if status in _ENDINGS:
        return _ENDINGS[status]
    if status == RunStatus.FAILED and record.get("exit_code") is None and not record.get("signal"):
        return str(record.get("error") or "the run failed.")  # it could not start
    return None


def _timed_out(record: dict[str, Any]) -> str:
    limit, idle = record.get("timeout_s"), record.get("idle_timeout_s")
    # Which limit it was is plain only when the run had one of the two.
    if idle is None and limit is not None:
        return f"the run timed out after {limit:g} s and was stopped."
    if limit is None and idle is not None:
        return f"the run printed nothing for {idle:g} s and was stopped."
    return "the run timed out and was stopped."


class Interrupted(BaseException):
    """A signal asked the client to stop following its run."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class StopSignals:
    """SIGINT, SIGTERM and SIGHUP, taken over while a run is followed.

    A signal raises :class:`Interrupted` only inside :meth:`raising` (while
    the output is awaited); any other time, such as while the run is being
    started or cancelled, it waits there, so no request is cut in half and
    the run's id is never lost. SIGINT is taken over even when it was
    ignored at launch (a shell script starts its ``cmd &`` that way), or
    Ctrl-C and ``kill -INT`` could not cancel the run; SIGTERM and SIGHUP
    stay ignored when they were (``nohup`` asks to outlive the terminal).
    """

    def __init__(self) -> None:
        self.pending: list[int] = []
        self._raising = False
        self._previous: dict[int, SignalHandler] = {}

    def __enter__(self) -> StopSignals:
        # Python lets only the main thread handle signals.
        if threading.current_thread() is not threading.main_thread():
            return self
        for sig in _stop_signals():
            if sig != signal.SIGINT and signal.getsignal(sig) == signal.SIG_IGN:
                continue
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self._raising:
            self._raising = False
            raise Interrupted(signum)
        self.pending.append(signum)

    @contextmanager
    def raising(self) -> Iterator[None]:
        """A block in which a signal (or one that came before it) raises :class:`Interrupted`."""
        if self.pending:
            raise Interrupted(self.pending.pop(0))
        self._raising = True
        try:
            yield
        finally:
            self._raising = False


def _stop_signals() -> tuple[signal.Signals, ...]:
    # Windows has no SIGHUP.
    hangup = getattr(signal, "SIGHUP", None)
    return (signal.SIGINT, signal.SIGTERM, *((hangup,) if hangup is not None else ()))


def run(
    client: AgentClient,
    body: dict[str, Any],
    *,
    stdout: BinaryIO | None = None,
    stderr: BinaryIO | None = None,
) -> int:
    """Start the run, stream it, return the exit code to exit with."""
    out = stdout or sys.stdout.buffer
    err = stderr or sys.stderr.buffer
    with StopSignals() as stops:
        record = client.request("POST", "/runs", json=body)
        return _follow(client, record["id"], stops, out, err)


def _follow(
    client: AgentClient, run_id: str, stops: StopSignals, out: BinaryIO, err: BinaryIO
) -> int:
    last = 0
    cancelled = False
    drops = 0
    while True:
        try:
            with stops.raising():
                exit_event, last = _stream(client, run_id, last, out, err)
        except Interrupted as stop:
            if not cancelled:
                cancelled = True
                _cancel(client, run_id)
            if stop.signum != signal.SIGINT:
                # Sent to end this command (or its terminal is gone): the
                # agent ends the run, and this exits as the signal asked.
                return 128 + stop.signum
            continue  # Ctrl-C: show the rest of the output and the real exit
        except BrokenPipeError:
            # Nobody reads the output any more: the run stops too, as the
            # writer of a pipeline would.
            _cancel(client, run_id)
            raise
        except httpx.HTTPError as exc:
            drops += 1  # the connection dropped: resume after the last chunk
            if drops > 5:
                raise NoAgentError(f"Lost the agent while following run {run_id}: {exc}.") from None
            continue
        if exit_event is not None:
            _explain_ending(client, run_id, exit_event, err, cancelled_here=cancelled)
            return exit_code_of(exit_event)


def _cancel(client: AgentClient, run_id: str) -> None:
    try:
        client.request("POST", f"/runs/{run_id}/cancel")
    except ApiError as exc:
        if exc.status != 409:  # 409: it has already ended
            raise


def _explain_ending(
    client: AgentClient,
    run_id: str,
    exit_event: dict[str, Any],
    err: BinaryIO,
    *,
    cancelled_here: bool,
) -> None:
    status = exit_event.get("status")
    if status == RunStatus.FAILED:
        # A child that exited or was killed tells it by the exit code.
        silent = exit_event.get("exit_code") is not None or bool(exit_event.get("signal"))
    else:
        silent = status == RunStatus.SUCCEEDED or (status == RunStatus.CANCELLED and cancelled_here)
    if silent:
        return
    message = ending_message(client.request("GET", f"/runs/{run_id}"))
    if message is not None:
        err.write(f"{PROG}: {message}\n".encode())
        err.flush()


def _stream(
    client: AgentClient, run_id: str, last: int, out: BinaryIO, err: BinaryIO
) -> tuple[dict[str, Any] | None, int]:
    path = f"/api/v1/runs/{run_id}/stream"
    headers = {"Last-Event-ID": str(last)}
    with client.http.stream(
        "GET", path, params={"encoding": "base64"}, headers=headers, timeout=None
    ) as response:
        if response.is_error:
            response.read()
            raise ApiError(response.status_code, "stream", response.text)
        for kind, data in sse_events(response.iter_lines()):
            if kind == "output":
                target = out if data["stream"] == "stdout" else err
                target.write(base64.b64decode(data["data"]))
                target.flush()
                last = int(data["seq"])
            elif kind == "exit":
                return data, last
    return None, last
