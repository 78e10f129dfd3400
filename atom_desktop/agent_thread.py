"""The agent on a thread of its own: how the desktop app hosts it, and so how tests do.

The desktop app's window runs on the main thread; the agent (runtime, API,
runner, store) runs on an asyncio loop in an :class:`AgentThread`. The
window's bridge (gui/agent_host.py) wraps one and turns its callbacks into Qt
signals; tests and benchmarks use the same class directly, so they exercise
the path the app takes.

Everything here is free of Qt. asyncio and the runtime are imported on the
agent thread, so a window can show before they are loaded.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from atom_desktop.core.errors import AtomError

if TYPE_CHECKING:
    import asyncio

    from atom_desktop.core.events import Event
    from atom_desktop.runtime import Runtime

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class AgentCallbacks:
    """What an :class:`AgentThread` reports, each called on the agent thread."""

    started: Callable[[], object] = lambda: None
    failed: Callable[[BaseException], object] = lambda exc: None
    stopped: Callable[[], object] = lambda: None
    event: Callable[[Event], object] | None = None  # every event of the agent's bus


class AgentThread:
    """Builds a runtime on a thread of its own, runs it until asked to stop, carries calls in."""

    def __init__(
        self, make_runtime: Callable[[], Runtime], callbacks: AgentCallbacks | None = None
    ) -> None:
        self._make_runtime = make_runtime
        self._callbacks = callbacks or AgentCallbacks()
        self._runtime: Runtime | None = None  # once it has started
        self._built: Runtime | None = None  # from the moment it exists
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        # A stop asked for before the loop exists is remembered here.
        self._stop_requested = threading.Event()
        self._ready: concurrent.futures.Future[None] = concurrent.futures.Future()

    @property
    def runtime(self) -> Runtime | None:
        """The running runtime (None before it has started and after it stopped)."""
        return self._runtime

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The agent's event loop while it runs (for thread-safe callbacks)."""
        return self._loop

    @property
    def is_running(self) -> bool:
        """Whether the agent has started and not stopped."""
        return self._runtime is not None and self._loop is not None

    @property
    def thread_alive(self) -> bool:
        """Whether the agent thread exists and has not ended."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, *, daemon: bool = False) -> None:
        """Start the thread; ``started`` or ``failed`` is reported when the agent is up or not.

        The desktop app's thread is a daemon: if the agent ever fails to stop
        in time, the app can still exit (the store's transactions make an
        abrupt end safe).
        """
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._main, name="atom-agent", daemon=daemon)
        self._thread.start()

    def start_and_wait(self, timeout: float = 60.0) -> Runtime:
        """Start, and return the runtime once it runs; raise what stopped it from starting."""
        self.start()
        try:
            self._ready.result(timeout)
        except BaseException:
            self.stop(timeout)
            raise
        assert self._runtime is not None
        return self._runtime

    def request_stop(self) -> None:
        """Ask the agent to stop (runs are cancelled and recorded); ``stopped`` follows."""
        # The flag covers a request made before the runtime can take it.
        self._stop_requested.set()
        runtime = self._built
        if runtime is not None:
            runtime.request_stop()

    def stop(self, timeout: float | None = None) -> None:
        """Stop the agent and wait for its thread to end."""
        self.request_stop()
        thread = self._thread
        if thread is None:
            return
        runtime = self._runtime
        limit = runtime.settings.shutdown_timeout_s + 5 if runtime is not None else 30.0
        thread.join(timeout or limit)
        if thread.is_alive():
            raise AtomError("The agent did not stop in time.")
        self._thread = None

    def call(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run ``coro`` on the agent loop from another thread."""
        loop = self._loop
        if loop is None or self._runtime is None:
            coro.close()
            raise AtomError("The agent is not running.")
        import asyncio  # noqa: PLC0415 - loaded by the running agent already

        return asyncio.run_coroutine_threadsafe(coro, loop)

    def _main(self) -> None:
        import asyncio  # noqa: PLC0415 - see the module

        try:
            asyncio.run(self._async_main())
        except BaseException as exc:  # reported, never lost
            if not isinstance(exc, AtomError):
                logger.exception("The agent thread failed")
            if not self._ready.done():
                self._ready.set_exception(exc)
            self._callbacks.failed(exc)
        finally:
            self._runtime = None
            self._loop = None
            if not self._ready.done():
                self._ready.set_exception(AtomError("The agent stopped before it had started."))
            self._callbacks.stopped()

    async def _async_main(self) -> None:
        import asyncio  # noqa: PLC0415 - see the module

        runtime = self._built = self._make_runtime()
        self._loop = asyncio.get_running_loop()
        if self._stop_requested.is_set():
            return
        event = self._callbacks.event
        unsubscribe = runtime.bus.subscribe(event) if event is not None else None
        try:
            # A start that fails has already stopped what it had started.
            await runtime.async_start()
            self._runtime = runtime
            try:
                self._ready.set_result(None)
                self._callbacks.started()
                if not self._stop_requested.is_set():
                    # The runtime's own stop request: a quit from the tray, the
                    # API or request_stop here all end up there.
                    await runtime.async_wait_for_stop_request()
            finally:
                self._runtime = None
                await runtime.async_stop()
        finally:
            self._built = None
            if unsubscribe is not None:
                unsubscribe()
            self._loop = None
