"""Automation history in the encrypted store: retention, approvals, missed times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from atom_desktop.core.ids import IdFactory
from atom_desktop.core.statuses import AutomationRunStatus
from atom_desktop.store.automation_runs import AutomationRunRepository
from atom_desktop.store.automations import AutomationRepository
from atom_desktop.store.database import Database
from atom_desktop.store.errors import ConflictError, NotFoundError

SPEC = {"name": "a", "enabled": True, "steps": [{"type": "notify", "title": "t"}]}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def automations(db: Database, clock: Clock) -> AutomationRepository:
    return AutomationRepository(db, IdFactory(), clock)


@pytest.fixture
def history(db: Database, clock: Clock) -> AutomationRunRepository:
    return AutomationRunRepository(db, IdFactory(), clock)


def test_retention_by_age_and_by_count(
    automations: AutomationRepository, history: AutomationRunRepository, clock: Clock
) -> None:
    automation = automations.create(SPEC)
    made = []
    for day in range(20):
        clock.now = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(days=day)
        made.append(
            history.create(
                automation.id, trigger_kind="manual", trigger={}, status=AutomationRunStatus.SKIPPED
            )
        )
    running = history.create(automation.id, trigger_kind="manual", trigger={})
    # Older than 14 days goes; a run still going stays whatever its age.
    removed = history.prune(older_than=clock.now - timedelta(days=14), keep=10_000)
    assert removed == 5
    kept = [r.id for r in history.page(automation.id, limit=500)]
    assert kept == [running.id] + [r.id for r in reversed(made[5:])]
    # At most 5 runs: the newest five stay.
    history.prune(older_than=clock.now - timedelta(days=365), keep=5)
    assert [r.id for r in history.page(automation.id, limit=500)] == kept[:5]


def test_an_approval_is_decided_once(
    automations: AutomationRepository, history: AutomationRunRepository, clock: Clock
) -> None:
    automation = automations.create(SPEC)
    run = history.create(automation.id, trigger_kind="api", trigger={})
    approval = history.request_approval(
        automation.id, run.id, 0, "make deploy", clock.now + timedelta(hours=1)
    )
    assert history.approvals(status="pending") == [approval]
    decided = history.decide(approval.id, "approved", "owner")
    assert decided.status == "approved" and decided.decided_by == "owner"
    with pytest.raises(ConflictError, match="already approved"):
        history.decide(approval.id, "denied", "someone else")
    with pytest.raises(NotFoundError):
        history.decide("nope", "denied", "x")


def test_a_restart_interrupts_unfinished_runs_and_expires_approvals(
    automations: AutomationRepository, history: AutomationRunRepository, clock: Clock
) -> None:
    automation = automations.create(SPEC)
    running = history.create(automation.id, trigger_kind="schedule", trigger={})
    history.update(running.id, status="waiting_approval")
    done = history.create(
        automation.id, trigger_kind="schedule", trigger={}, status=AutomationRunStatus.SKIPPED
    )
    history.request_approval(automation.id, running.id, 0, "x", clock.now + timedelta(hours=1))
    assert history.mark_interrupted() == 1
    assert history.expire_pending() == 1
    assert history.get(running.id).status == "interrupted"
    assert history.get(done.id).status == "skipped"
    assert history.approvals(status="expired")[0].decided_by == "agent restart"


def test_missed_times_are_recorded_with_the_check_point(
    automations: AutomationRepository, clock: Clock
) -> None:
    automation = automations.create(SPEC)
    times = [clock.now + timedelta(minutes=m) for m in range(3)]
    later = clock.now + timedelta(minutes=5)
    automations.record_missed(
        automation.id, times, reason="agent_stopped", action="skipped", checked_at=later
    )
    assert automations.get(automation.id).checked_at == later
    missed = automations.missed(automation.id)
    assert [m.scheduled_at for m in missed] == list(reversed(times))
    assert {(m.reason, m.action) for m in missed} == {("agent_stopped", "skipped")}
    # Deleting the automation deletes its bookkeeping too.
    automations.delete(automation.id)
    assert automations.missed(automation.id) == []
