"""A plan's state from its steps': order, rejections, auto kinds, failures that end it."""

from __future__ import annotations

from typing import Any

import pytest

from atom_desktop.assistant.plan_state import PlanState, next_step, plan_state
from atom_desktop.store.conversations import PlanStepRecord


def step(index: int, status: str, kind: str = "shell", **body: Any) -> PlanStepRecord:
    return PlanStepRecord(
        plan_id="p",
        index=index,
        kind=kind,
        body={"type": kind, **body},
        digest="d" * 64,
        status=status,  # type: ignore[arg-type]
        approved_digest="d" * 64 if status == "approved" else None,
        decided_by=None,
        decided_at=None,
        edited=False,
        run_id=None,
        result=None,
        started_at=None,
        ended_at=None,
    )


@pytest.mark.parametrize(
    ("statuses", "auto", "state", "next_index", "runnable"),
    [
        ([], set(), PlanState.ANSWERED, None, False),
        (["proposed"], set(), PlanState.WAITING, 0, False),
        (["proposed"], {"shell"}, PlanState.READY, 0, True),
        (["approved", "proposed"], set(), PlanState.READY, 0, True),
        (["succeeded", "proposed"], set(), PlanState.WAITING, 1, False),
        (["rejected", "approved"], set(), PlanState.READY, 1, True),
        (["rejected", "rejected"], set(), PlanState.DONE, None, False),
        (["succeeded", "running", "approved"], set(), PlanState.RUNNING, 1, False),
        (["failed", "approved"], set(), PlanState.FAILED, None, False),
        (["denied", "approved"], {"shell"}, PlanState.FAILED, None, False),
        (["succeeded", "succeeded"], set(), PlanState.DONE, None, False),
    ],
)
def test_the_state_and_the_next_step(
    statuses: list[str],
    auto: set[str],
    state: PlanState,
    next_index: int | None,
    runnable: bool,
) -> None:
    steps = [step(i, s) for i, s in enumerate(statuses)]
    assert plan_state(steps, auto) == state
    found, may_run = next_step(steps, auto)
    assert (found.index if found else None, may_run) == (next_index, runnable)


def test_a_step_that_may_fail_does_not_end_the_plan() -> None:
    steps = [step(0, "failed", continue_on_failure=True), step(1, "approved")]
    assert plan_state(steps, ()) == PlanState.READY
    assert next_step(steps, ())[0] == steps[1]


def test_auto_counts_only_for_its_own_kind() -> None:
    steps = [step(0, "proposed", kind="notify", title="x"), step(1, "proposed")]
    assert next_step(steps, {"notify"}) == (steps[0], True)
    done_first = [step(0, "succeeded", kind="notify", title="x"), step(1, "proposed")]
    assert plan_state(done_first, {"notify"}) == PlanState.WAITING
