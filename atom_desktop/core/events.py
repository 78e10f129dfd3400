"""The in-process event bus.

Every event gets an id from one counter, so ids are strictly increasing in
the order listeners see them; a client that remembers the last id it saw can
resume with :meth:`EventBus.since` and learn whether it missed any. Listeners
are called synchronously by the publishing thread and must be quick (hand the
event to a queue or a loop); one that raises is logged and the others still
run.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EventPayload:
    """Base of every typed event payload; subclasses set ``kind``."""

    kind: ClassVar[str] = "event"


@dataclass(frozen=True, slots=True)
class AgentStateChanged(EventPayload):
    """The agent started, is stopping or stopped."""

    kind: ClassVar[str] = "agent.state"
    state: str


@dataclass(frozen=True, slots=True)
class TaskChanged(EventPayload):
    """A task was created, updated or deleted."""

    kind: ClassVar[str] = "task.changed"
    task_id: str
    op: str


@dataclass(frozen=True, slots=True)
class RunChanged(EventPayload):
    """A run was queued, started or ended (with its status)."""

    kind: ClassVar[str] = "run.changed"
    run_id: str
    status: str


@dataclass(frozen=True, slots=True)
class RunnerPaused(EventPayload):
    """The runner was paused (queued runs wait) or resumed."""

    kind: ClassVar[str] = "runner.paused"
    paused: bool


@dataclass(frozen=True, slots=True)
class AutomationChanged(EventPayload):
    """An automation was created, changed, enabled, disabled or deleted."""

    kind: ClassVar[str] = "automation.changed"
    automation_id: str
    op: str


@dataclass(frozen=True, slots=True)
class AutomationPulled(EventPayload):
    """Sync wrote another device's version of an automation here.

    ``op`` is ``created``, ``updated`` or ``deleted``. The automation service
    arms or disarms it from the store and then announces it as
    :class:`AutomationChanged`; it is published from sync's worker thread.
    """

    kind: ClassVar[str] = "automation.pulled"
    automation_id: str
    op: str


@dataclass(frozen=True, slots=True)
class AutomationRunChanged(EventPayload):
    """An automation run was queued, started, waits for approval or ended."""

    kind: ClassVar[str] = "automation.run"
    automation_id: str
    run_id: str
    status: str


@dataclass(frozen=True, slots=True)
class ApprovalChanged(EventPayload):
    """A shell step asks for approval (``pending``) or was approved, denied or expired."""

    kind: ClassVar[str] = "approval.changed"
    approval_id: str
    automation_id: str
    status: str
    command: str


@dataclass(frozen=True, slots=True)
class AutomationProblem(EventPayload):
    """Something keeps an automation's trigger from working as configured."""

    kind: ClassVar[str] = "automation.problem"
    automation_id: str
    message: str


@dataclass(frozen=True, slots=True)
class NotificationRequested(EventPayload):
    """Something the user should be told (the window shows it as a desktop notification)."""

    kind: ClassVar[str] = "notification"
    title: str
    message: str
    level: str = "info"


@dataclass(frozen=True, slots=True)
class AlertRaised(EventPayload):
    """A problem the person should hear about (diagnostics/alerts.py decides when).

    ``alert`` is an :class:`~atom_desktop.core.alert_kinds.AlertKind` value;
    ``subject`` what it is about (an automation's or account's id, a
    service's name, a folder); ``repeats`` how many alerts of its kind the
    rate limit held back since the last one shown. Title and message are
    redacted.
    """

    kind: ClassVar[str] = "alert"
    alert: str
    subject: str
    title: str
    message: str
    repeats: int = 0


@dataclass(frozen=True, slots=True)
class ServiceStopped(EventPayload):
    """A service's long-lived task ended with an error: that part of the agent stopped."""

    kind: ClassVar[str] = "service.stopped"
    service: str
    error: str


@dataclass(frozen=True, slots=True)
class SyncStatusChanged(EventPayload):
    """Sync's state, queue depth, conflict count or last error changed."""

    kind: ClassVar[str] = "sync.status"
    state: str
    pending: int
    conflicts: int
    last_error: str | None


@dataclass(frozen=True, slots=True)
class IntegrationChanged(EventPayload):
    """An integration account was added, changed status, was checked or removed."""

    kind: ClassVar[str] = "integration.changed"
    integration_id: str
    provider: str
    status: str  # pending, connected, reconnect_needed, error, or removed
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class AssistantPlanChanged(EventPayload):
    """An assistant plan was proposed, or one of its steps was decided, edited, started or ended."""

    kind: ClassVar[str] = "assistant.plan"
    plan_id: str
    conversation_id: str
    #: The plan's state as a whole (assistant/plan_state.py).
    state: str


@dataclass(frozen=True, slots=True)
class WindowActivationRequested(EventPayload):
    """Someone (a second launch, a script) asked the desktop window to show itself."""

    kind: ClassVar[str] = "app.activate"


@dataclass(frozen=True, slots=True)
class Event:
    """A published payload with its bus-wide id and UTC time."""

    id: int
    time: datetime
    payload: EventPayload

    @property
    def kind(self) -> str:
        """The payload's event kind, e.g. ``"task.changed"``."""
        return self.payload.kind


Listener = Callable[[Event], Any]
Unsubscribe = Callable[[], None]


@dataclass(slots=True)
class _Subscription:
    listener: Listener
    kinds: frozenset[str] | None
    active: bool = field(default=True)


class EventBus:
    """Publishes typed events to listeners; thread-safe.

    ``history`` events are kept so that a reconnecting client can catch up.
    """

    def __init__(self, history: int = 1000) -> None:
        # One re-entrant lock orders id assignment and delivery together, so
        # every listener sees events in id order even with many publishers.
        self._lock = threading.RLock()
        self._next_id = 1
        self._subscriptions: list[_Subscription] = []
        self._history: deque[Event] = deque(maxlen=history)

    @property
    def last_id(self) -> int:
        """The id of the newest event, 0 before the first."""
        with self._lock:
            return self._next_id - 1

    @property
    def subscriber_count(self) -> int:
        """How many listeners are subscribed now."""
        with self._lock:
            return len(self._subscriptions)

    def subscribe(self, listener: Listener, *kinds: str) -> Unsubscribe:
        """Call ``listener`` for every event (or only for ``kinds``).

        Returns a callable that removes the subscription; calling it twice is
        harmless.
        """
        sub = _Subscription(listener, frozenset(kinds) if kinds else None)
        with self._lock:
            self._subscriptions.append(sub)

        def unsubscribe() -> None:
            with self._lock:
                if sub.active:
                    sub.active = False
                    self._subscriptions.remove(sub)

        return unsubscribe

    def publish(self, payload: EventPayload) -> Event:
        """Assign the next id to ``payload`` and deliver it to listeners."""
        with self._lock:
            event = Event(self._next_id, datetime.now(UTC), payload)
            self._next_id += 1
            self._history.append(event)
            for sub in tuple(self._subscriptions):
                if sub.kinds is not None and event.kind not in sub.kinds:
                    continue
                try:
                    sub.listener(event)
                except Exception:
                    logger.exception(
                        "Event listener %r failed on event %d (%s); other listeners still run",
                        sub.listener,
                        event.id,
                        event.kind,
                    )
            return event

    def since(self, last_seen: int) -> tuple[list[Event], bool]:
        """Events after ``last_seen`` still in history, and whether some were lost.

        The flag is true when events after ``last_seen`` have already left the
        history, so the caller knows to reload its state instead of trusting
        the stream.
        """
        with self._lock:
            events = [e for e in self._history if e.id > last_seen]
            oldest_kept = self._history[0].id if self._history else self._next_id
            gap = last_seen + 1 < oldest_kept and last_seen < self._next_id - 1
            return events, gap
