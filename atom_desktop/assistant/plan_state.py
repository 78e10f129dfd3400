"""Where a plan stands as a whole, read from its steps' states.

Steps run in order. A rejected step is left out; the first step that is
neither approved nor of a kind the person lets run by itself (``auto``) holds
the ones after it back; a step that fails or is refused ends the plan unless
it may fail (``continue_on_failure``), because later steps were planned on
the assumption that it worked.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from enum import StrEnum

from atom_desktop.store.conversations import PlanStepRecord

ENDED = frozenset({"succeeded", "failed", "denied"})
NOT_STARTED = frozenset({"proposed", "approved", "rejected"})


class PlanState(StrEnum):
    """A plan's state, for the window's card, the API and the command line."""

    #: A step waits for a person's approval before anything more can run.
    WAITING = "waiting"
    #: The next step may run (approved, or of an ``auto`` kind).
    READY = "ready"
    RUNNING = "running"
    #: Every step ran or was rejected, and none that mattered failed.
    DONE = "done"
    #: A step failed or was refused, and the rest will not run.
    FAILED = "failed"
    #: Only a reply: there was nothing to run.
    ANSWERED = "answered"


def may_fail(step: PlanStepRecord) -> bool:
    """The step's own ``continue_on_failure`` (automation-vocabulary steps have it)."""
    return bool(step.body.get("continue_on_failure", False))


def halted(steps: Sequence[PlanStepRecord]) -> bool:
    """A step that mattered failed or was refused: nothing after it runs."""
    return any(s.status in ("failed", "denied") and not may_fail(s) for s in steps)


def next_step(
    steps: Sequence[PlanStepRecord], auto_kinds: Collection[str]
) -> tuple[PlanStepRecord | None, bool]:
    """The next step to run and whether it may run now (None when there is none left)."""
    if halted(steps):
        return None, False
    for step in steps:
        if step.status in ENDED or step.status == "rejected":
            continue
        if step.status == "running":
            return step, False
        runnable = step.status == "approved" or step.kind in auto_kinds
        return step, runnable
    return None, False


def plan_state(steps: Sequence[PlanStepRecord], auto_kinds: Collection[str]) -> PlanState:
    """The plan's state from its steps' (see the module's notes)."""
    if not steps:
        return PlanState.ANSWERED
    if any(s.status == "running" for s in steps):
        return PlanState.RUNNING
    if halted(steps):
        return PlanState.FAILED
    step, runnable = next_step(steps, auto_kinds)
    if step is None:
        return PlanState.DONE
    return PlanState.READY if runnable else PlanState.WAITING
