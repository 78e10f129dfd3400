"""The context a request may carry: by consent only, redacted, within its token budget.

On a real SQLCipher store with real task and run repositories.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from atom_desktop.assistant.context import (
    AutomationLine,
    Consent,
    ContextBuilder,
    IntegrationLine,
    SharedContext,
    estimate_tokens,
)
from atom_desktop.core.events import EventBus
from atom_desktop.core.ids import IdFactory
from atom_desktop.core.output import Chunk
from atom_desktop.core.redaction import Redactor
from atom_desktop.core.statuses import RunStatus
from atom_desktop.runner.output import now
from atom_desktop.store.database import Database
from atom_desktop.store.runs import RunRepository
from atom_desktop.store.task_types import TaskCreate, TaskUpdate
from atom_desktop.store.tasks import TaskRepository

REGISTERED = "registered-secret-value-1234"
ZONE = ZoneInfo("Europe/Berlin")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(tmp_path / "atom.db", os.urandom(32))
    try:
        yield database
    finally:
        database.close()


@pytest.fixture
def redactor() -> Redactor:
    redactor = Redactor()
    redactor.add(REGISTERED)
    return redactor


def builder(
    db: Database, redactor: Redactor, automations: Sequence[AutomationLine] = ()
) -> ContextBuilder:
    tasks = TaskRepository(db, IdFactory(), EventBus())
    runs = RunRepository(db)

    async def lines() -> Sequence[AutomationLine]:
        return automations

    return ContextBuilder(lambda: tasks, lambda: runs, lines, redactor)


def build(built: ContextBuilder, consent: Consent, budget: int = 3000) -> SharedContext | None:
    return asyncio.run(built.async_build(consent, budget, ZONE))


def add_run(db: Database, shell: str, out: bytes, status: RunStatus, exit_code: int) -> str:
    runs = RunRepository(db)
    run_id = IdFactory().new()
    runs.create(
        id=run_id, source="api", requester=None, argv=None, shell=shell, cwd="/", env_names=[]
    )
    runs.save_output(
        run_id, [Chunk(1, "stdout", now(), out)], None, piece=8, status=status, exit_code=exit_code
    )
    return run_id


def test_nothing_is_built_without_consent(db: Database, redactor: Redactor) -> None:
    TaskRepository(db, IdFactory(), EventBus()).create(TaskCreate(title="private"))
    assert build(builder(db, redactor), Consent()) is None


def test_open_tasks_soonest_due_first_and_only_with_their_consent(
    db: Database, redactor: Redactor
) -> None:
    tasks = TaskRepository(db, IdFactory(), EventBus())
    soon = datetime.now(UTC) + timedelta(days=1)
    tasks.create(TaskCreate(title="no date"))
    tasks.create(TaskCreate(title="later", due_at=soon + timedelta(days=3)))
    tasks.create(TaskCreate(title="soon", due_at=soon))
    done = tasks.create(TaskCreate(title="finished one"))
    tasks.update(done.id, TaskUpdate(status="done"))
    add_run(db, "echo not shared", b"hi\n", RunStatus.SUCCEEDED, 0)
    shared = build(builder(db, redactor), Consent(tasks=True))
    assert shared is not None
    text = shared.text
    assert text.index("soon") < text.index("later") < text.index("no date")
    assert "finished one" not in text
    assert "echo not shared" not in text
    assert shared.sent == {"tasks": 3}
    assert shared.left_out == {"tasks": 0}


def test_runs_carry_their_outputs_tail_redacted(db: Database, redactor: Redactor) -> None:
    add_run(
        db,
        "make deploy",
        b"token=abcdefgh12345678 and " + REGISTERED.encode() + b"\nboom\n",
        RunStatus.FAILED,
        2,
    )
    shared = build(builder(db, redactor), Consent(runs=True))
    assert shared is not None
    assert "make deploy | failed (exit code 2)" in shared.text
    assert "boom" in shared.text
    assert "abcdefgh12345678" not in shared.text
    assert REGISTERED not in shared.text


def test_each_source_keeps_to_its_share_of_the_budget(db: Database, redactor: Redactor) -> None:
    tasks = TaskRepository(db, IdFactory(), EventBus())
    tasks.create_many(TaskCreate(title=f"a task with a longish title {n}") for n in range(100))
    for n in range(30):
        add_run(db, f"make step-{n}", b"line of output\n" * 200, RunStatus.SUCCEEDED, 0)
    automations = [
        AutomationLine(f"automation {n}", True, "every 5 minutes", "succeeded", None)
        for n in range(50)
    ]
    sent_before = -1
    for budget in (200, 1000, 5000):
        shared = build(builder(db, redactor, automations), Consent(True, True, True), budget)
        assert shared is not None
        assert shared.tokens <= budget
        assert shared.tokens == estimate_tokens(shared.text)
        assert shared.left_out["tasks"] > 0  # 100 tasks never fit
        assert "more not sent" in shared.text
        sent = sum(shared.sent.values())
        assert sent > sent_before  # a bigger budget sends more
        sent_before = sent


def test_integrations_go_with_the_automations_and_without_account_names(
    db: Database, redactor: Redactor
) -> None:
    tasks = TaskRepository(db, IdFactory(), EventBus())
    runs = RunRepository(db)

    async def no_automations() -> Sequence[AutomationLine]:
        return ()

    accounts = [IntegrationLine("01a2b3", "GitHub", "connected")]
    built = ContextBuilder(
        lambda: tasks, lambda: runs, no_automations, redactor, integrations=lambda: accounts
    )
    assert "GitHub" not in (build(built, Consent(tasks=True)) or SharedContext("", 0, {}, {})).text
    shared = build(built, Consent(automations=True))
    assert shared is not None
    assert "- 01a2b3 | GitHub | connected" in shared.text
    assert shared.sent["integrations"] == 1
