"""How a run and an automation run stand: one vocabulary each, used by every layer.

The store checks them in its tables, the runner and the automations set
them, the API publishes them and the window and the command line show them;
all import them from here. Members are strings (``StrEnum``), so they are
stored, sent as JSON and compared with plain strings unchanged.
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    """A run of a command: ``queued`` -> ``running`` -> one of the ends."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    INTERRUPTED = "interrupted"  # a crash or stop left it going; set at the next start


RUN_ACTIVE = frozenset({RunStatus.QUEUED, RunStatus.RUNNING})
RUN_FINISHED = frozenset(set(RunStatus) - RUN_ACTIVE)
# The ends a person is told about as failures.
RUN_FAILED = frozenset({RunStatus.FAILED, RunStatus.TIMED_OUT, RunStatus.INTERRUPTED})


class AutomationRunStatus(StrEnum):
    """A run of an automation, which may wait for a person's approval."""

    QUEUED = "queued"
    RUNNING = "running"
    WAITING_APPROVAL = "waiting_approval"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    INTERRUPTED = "interrupted"


AUTOMATION_RUN_ENDED = frozenset(
    {
        AutomationRunStatus.SUCCEEDED,
        AutomationRunStatus.FAILED,
        AutomationRunStatus.TIMED_OUT,
        AutomationRunStatus.CANCELLED,
        AutomationRunStatus.SKIPPED,
        AutomationRunStatus.INTERRUPTED,
    }
)
AUTOMATION_RUN_FAILED = frozenset(
    {AutomationRunStatus.FAILED, AutomationRunStatus.TIMED_OUT, AutomationRunStatus.INTERRUPTED}
)


def sql_in(column: str, values: type[StrEnum]) -> str:
    """A CHECK constraint's ``column IN (...)`` over every member of ``values``."""
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"
