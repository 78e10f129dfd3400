"""The one bridge between the Qt thread and the agent thread.

The agent (runtime, API, runner, store) runs on an asyncio loop in a thread
of its own. The window talks to it only through :class:`AgentHost`:

- :meth:`AgentHost.call` runs a coroutine on the agent loop and hands its
  result (or error) to a callback on the Qt thread;
- every event of the agent's bus arrives as the ``agent_event`` signal, on the Qt
  thread (Qt queues signals emitted from another thread);
- when the keyring would prompt before the database key can be kept there,
  the agent's start waits for the person's answer (``key_storage_asked``),
  on its own thread: the window stays live and shows the question.

Nothing here blocks the Qt thread: even importing and building the runtime
happens on the agent thread, so the window shows before the agent is up.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import shiboken6
from PySide6.QtCore import QObject, QTimer, Signal

from atom_desktop.agent_thread import AgentCallbacks, AgentThread
from atom_desktop.config.paths import AppPaths
from atom_desktop.config.profile import Profile
from atom_desktop.core.errors import AtomError
from atom_desktop.secrets.errors import SecretsError

# asyncio (about 40 ms to import) is first needed on the agent thread, after
# the window's first paint: imported there, and for types only here.
if TYPE_CHECKING:
    import asyncio

    from keyring.backend import KeyringBackend

    from atom_desktop.config.settings import Settings
    from atom_desktop.runtime import Runtime
    from atom_desktop.secrets.database_key import KeyChoice, KeyStorageQuestion

logger = logging.getLogger(__name__)

T = TypeVar("T")
Job = Callable[["Runtime"], Coroutine[Any, Any, T]]


@dataclass(frozen=True)
class KeyStorageRequest:
    """The key storage question, and where its answer goes ("keyring" or "file")."""

    question: KeyStorageQuestion
    answer: concurrent.futures.Future[str]


class AgentHost(QObject):
    """Starts the agent on its own thread and carries calls and events across."""

    starting = Signal()  # on the window's thread, just before the agent thread begins
    started = Signal()
    failed = Signal(str)  # why the agent could not start (a message for a person)
    stopped = Signal()
    agent_event = Signal(object)  # atom_desktop.core.events.Event
    key_storage_asked = Signal(object)  # KeyStorageRequest; answer it from the Qt thread
    _finished = Signal(object, object, object)  # callback, result, error

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        keyring_backend: KeyringBackend | None = None,
    ) -> None:
        super().__init__(parent)
        self._keyring_backend = keyring_backend
        # Given to start(): the window exists before the settings are loaded.
        self._profile: Profile | None = None
        # Signals emitted on the agent thread reach Qt slots queued, on the Qt thread.
        self._agent = AgentThread(
            self._make_runtime,
            AgentCallbacks(
                started=self.started.emit,
                failed=self._on_failed,
                stopped=self.stopped.emit,
                event=self.agent_event.emit,
            ),
        )
        self._finished.connect(self._deliver)
        self._questions: set[concurrent.futures.Future[str]] = set()
        self._questions_lock = threading.Lock()
        self._stop_requested = False

    # -- life -----------------------------------------------------------------------

    @property
    def profile(self) -> Profile:
        """The profile the agent was started with (an error before :meth:`start`)."""
        if self._profile is None:
            raise RuntimeError("the agent has not been given its profile yet")
        return self._profile

    @property
    def settings(self) -> Settings:
        """The settings the agent was started with."""
        return self.profile.settings

    @property
    def paths(self) -> AppPaths:
        """The profile's directories."""
        return self.profile.paths

    @property
    def runtime(self) -> Runtime | None:
        """The running runtime (None before it has started and after it stopped)."""
        return self._agent.runtime

    @property
    def is_running(self) -> bool:
        """Whether the agent has started and not stopped."""
        return self._agent.is_running

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The agent's event loop while it runs (for thread-safe callbacks)."""
        return self._agent.loop

    @property
    def thread_alive(self) -> bool:
        """Whether the agent thread exists and has not ended."""
        return self._agent.thread_alive

    def when_started(self, slot: Callable[[], object]) -> None:
        """Call ``slot`` whenever the agent has started, and soon if it already has.

        For pages built after the agent came up: ``started`` alone would never
        reach them.
        """
        self.started.connect(slot)
        if self.is_running:
            QTimer.singleShot(0, slot)

    def start(self, profile: Profile) -> None:
        """Start the agent of ``profile`` on its thread; ``started`` or ``failed`` follows."""
        if self._profile is not None:
            return
        self._profile = profile
        self.starting.emit()
        self._agent.start(daemon=True)

    def request_stop(self) -> None:
        """Ask the agent to stop (runs are cancelled and recorded); ``stopped`` follows."""
        self._cancel_questions()
        self._agent.request_stop()

    def stop(self, timeout: float | None = None) -> None:
        """Stop the agent and wait for its thread to end."""
        self._cancel_questions()
        self._agent.stop(timeout)

    def _on_failed(self, exc: BaseException) -> None:
        # A start ended by Quit (e.g. while the key question was open) is no failure to show.
        if self._stop_requested:
            logger.warning("The agent did not start: %s", _describe(exc))
            return
        self.failed.emit(_describe(exc))

    def _cancel_questions(self) -> None:
        # A start waiting for the person ends (with an error) rather than wait forever.
        with self._questions_lock:
            self._stop_requested = True
            pending, self._questions = self._questions, set()
        for answer in pending:
            answer.cancel()

    def _ask_key_storage(self, question: KeyStorageQuestion) -> KeyChoice:
        """Show the question in the window and wait for the answer (on the store's thread)."""
        from atom_desktop.secrets.database_key import KeyChoice  # noqa: PLC0415 - loaded here

        answer: concurrent.futures.Future[str] = concurrent.futures.Future()
        with self._questions_lock:
            # Under the lock: a stop asked for just before would find nothing to cancel.
            if self._stop_requested:
                answer.cancel()
            self._questions.add(answer)
        logger.info("Asking in the window where to keep the database key: %s", question.text())
        self.key_storage_asked.emit(KeyStorageRequest(question, answer))
        try:
            return KeyChoice(answer.result())
        except concurrent.futures.CancelledError:
            raise SecretsError(
                "ATOM Desktop was stopped while it asked where to keep the database key."
            ) from None
        finally:
            with self._questions_lock:
                self._questions.discard(answer)

    def _make_runtime(self) -> Runtime:
        # Imported here, on the agent thread: the API stack takes a good part
        # of a second to import and the window should not wait for it.
        from atom_desktop.runtime import Runtime  # noqa: PLC0415

        profile = self.profile
        runtime = Runtime(
            profile.settings,
            paths=profile.paths,
            redactor=profile.redactor,
            keyring_backend=self._keyring_backend,
        )
        runtime.window_attached = True
        # A keyring that would prompt first is asked about in the window.
        runtime.store.key_policy.ask = self._ask_key_storage
        return runtime

    # -- calls --------------------------------------------------------------------------

    def call(
        self,
        job: Job[T],
        on_done: Callable[[T], object] | None = None,
        on_error: Callable[[AtomError], object] | None = None,
    ) -> concurrent.futures.Future[T] | None:
        """Run ``job(runtime)`` on the agent loop; callbacks run on the Qt thread.

        An :class:`AtomError` (a problem a person can act on) goes to
        ``on_error``; any other exception is a bug and is logged. Returns None
        (and reports through ``on_error``) when the agent is not running.
        """
        runtime = self._agent.runtime
        if runtime is None:
            if on_error is not None:
                on_error(AtomError("The agent is not running."))
            return None
        try:
            future = self._agent.call(job(runtime))
        except AtomError as exc:  # it stopped meanwhile
            if on_error is not None:
                on_error(exc)
            return None

        def finished(done: concurrent.futures.Future[T]) -> None:
            if done.cancelled():
                return
            error = done.exception()
            if error is None:
                if on_done is not None:
                    self._finished.emit(on_done, done.result(), None)
            elif isinstance(error, AtomError):
                if on_error is not None:
                    self._finished.emit(on_error, None, error)
                else:
                    logger.warning("A request from the window failed: %s", error)
            else:
                logger.error("A call from the window failed", exc_info=error)
                if on_error is not None:
                    self._finished.emit(
                        on_error, None, AtomError(f"Something went wrong inside the agent: {error}")
                    )

        future.add_done_callback(finished)
        return future

    @staticmethod
    def _deliver(callback: Callable[[object], object], result: object, error: object) -> None:
        # A page or dialog deleted while its call ran has nobody left to tell.
        owner = getattr(callback, "__self__", None)
        if isinstance(owner, QObject) and not shiboken6.isValid(owner):
            return
        callback(error if error is not None else result)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, AtomError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
