"""Assistant conversations, plans and the digest gate on their steps, in a real SQLCipher file."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from atom_desktop.core.ids import IdFactory
from atom_desktop.store.conversations import (
    ConversationRepository,
    MessageRole,
    PlanRecord,
    PlanStepStatus,
)
from atom_desktop.store.database import Database
from atom_desktop.store.engine import build_engine, connect
from atom_desktop.store.errors import ConflictError, NotFoundError
from atom_desktop.store.migrator import alembic_config
from atom_desktop.store.task_types import TaskCreate
from atom_desktop.store.tasks import TaskRepository

TABLES = (
    "assistant_conversations",
    "assistant_messages",
    "assistant_plans",
    "assistant_plan_steps",
)
SHELL = ("shell", {"type": "shell", "command": "ls"}, "a" * 64)
NOTIFY = ("notify", {"type": "notify", "title": "hi"}, "b" * 64)


class Clock:
    """A clock that moves one second at each reading, so every write has its own time."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def repo(db: Database, clock: Clock) -> ConversationRepository:
    return ConversationRepository(db, IdFactory(), clock)


def _plan(repo: ConversationRepository, *steps: tuple[str, dict[str, Any], str]) -> PlanRecord:
    conversation = repo.create_conversation("chat")
    message = repo.add_message(conversation.id, MessageRole.USER, "list my files")
    return repo.add_plan(conversation.id, message.id, "list my files", steps or (SHELL,))


def _counts(db: Database) -> dict[str, int]:
    with db.read() as session:
        return {t: session.scalar(text(f"SELECT count(*) FROM {t}")) or 0 for t in TABLES}


# -- conversations and messages ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("  Plans for Monday \n", "Plans for Monday"),
        ("", "New conversation"),
        ("   \t", "New conversation"),
        ("x" * 199 + " y" + "z" * 50, "x" * 199),
        ("é" * 300, "é" * 200),
    ],
)
def test_titles_are_trimmed_and_never_blank(
    repo: ConversationRepository, given: str, stored: str
) -> None:
    made = repo.create_conversation(given)
    assert made.title == stored
    assert made.message_count == 0
    assert made.created_at == made.updated_at
    assert repo.conversation(made.id) == made


def test_messages_are_numbered_within_their_conversation(
    repo: ConversationRepository, clock: Clock
) -> None:
    first = repo.create_conversation("one")
    second = repo.create_conversation("two")
    sent = [{"role": "user", "content": "hello [redacted]"}]
    a = repo.add_message(first.id, MessageRole.USER, "hello", sent=sent)
    b = repo.add_message(second.id, "user", "other")
    c = repo.add_message(first.id, MessageRole.ASSISTANT, "hi", provider="rules")
    d = repo.add_message(first.id, MessageRole.ERROR, "The provider timed out.")
    assert [(m.seq, m.role) for m in (a, b, c, d)] == [
        (1, MessageRole.USER),
        (1, MessageRole.USER),
        (2, MessageRole.ASSISTANT),
        (3, MessageRole.ERROR),
    ]
    assert repo.messages(first.id) == [a, c, d]
    assert repo.messages(first.id)[0].sent == sent
    assert repo.messages(first.id)[1].provider == "rules"
    assert repo.conversation(first.id).updated_at == d.created_at == clock.now
    assert repo.conversation(first.id).message_count == 3


def test_messages_of_a_long_conversation_are_the_newest_in_order(
    repo: ConversationRepository,
) -> None:
    conversation = repo.create_conversation("long")
    for n in range(5):
        repo.add_message(conversation.id, MessageRole.USER, str(n))
    assert [m.text for m in repo.messages(conversation.id, limit=3)] == ["2", "3", "4"]


def test_unknown_conversations_and_roles_are_refused(repo: ConversationRepository) -> None:
    with pytest.raises(NotFoundError, match="no conversation"):
        repo.add_message("nope", MessageRole.USER, "hello")
    for read in (repo.conversation, repo.messages, repo.plans, repo.delete_conversation):
        with pytest.raises(NotFoundError):
            read("nope")
    conversation = repo.create_conversation("chat")
    with pytest.raises(ValueError, match="system"):
        repo.add_message(conversation.id, "system", "hello")
    assert repo.messages(conversation.id) == []


def test_listing_is_newest_first_with_message_counts(repo: ConversationRepository) -> None:
    old, middle, new = (repo.create_conversation(t) for t in ("old", "middle", "new"))
    repo.add_message(old.id, MessageRole.USER, "1")
    repo.add_message(old.id, MessageRole.ASSISTANT, "2")
    repo.add_message(middle.id, MessageRole.USER, "1")
    # ``old`` was written to last, then ``middle``; ``new`` has no message.
    listed = repo.conversations()
    assert [(c.title, c.message_count) for c in listed] == [("middle", 1), ("old", 2), ("new", 0)]
    assert listed[0] == repo.conversation(middle.id)
    assert [c.title for c in repo.conversations(limit=2)] == ["middle", "old"]
    assert [c.title for c in repo.conversations(limit=2, offset=2)] == ["new"]
    assert new.id in {c.id for c in repo.conversations()}


def test_deleting_a_conversation_deletes_all_of_it(
    db: Database, repo: ConversationRepository
) -> None:
    kept = _plan(repo, SHELL)
    gone = _plan(repo, SHELL, NOTIFY)
    repo.add_message(gone.conversation_id, MessageRole.ASSISTANT, "done")
    assert _counts(db) == {
        "assistant_conversations": 2,
        "assistant_messages": 3,
        "assistant_plans": 2,
        "assistant_plan_steps": 3,
    }
    repo.delete_conversation(gone.conversation_id)
    assert _counts(db) == {
        "assistant_conversations": 1,
        "assistant_messages": 1,
        "assistant_plans": 1,
        "assistant_plan_steps": 1,
    }
    assert repo.plan(kept.id) == kept
    with pytest.raises(NotFoundError):
        repo.plan(gone.id)
    with pytest.raises(NotFoundError):
        repo.delete_conversation(gone.conversation_id)
    repo.delete_conversation(kept.conversation_id)
    assert set(_counts(db).values()) == {0}


# -- plans ------------------------------------------------------------------------------------


def test_a_plan_is_stored_proposed_and_named_by_its_message(
    repo: ConversationRepository,
) -> None:
    plan = _plan(repo, SHELL, NOTIFY)
    assert [(s.index, s.kind, s.body, s.digest) for s in plan.steps] == [
        (0, *SHELL),
        (1, *NOTIFY),
    ]
    assert {s.status for s in plan.steps} == {PlanStepStatus.PROPOSED}
    step = plan.steps[0]
    assert (step.approved_digest, step.decided_by, step.decided_at, step.edited) == (
        None,
        None,
        None,
        False,
    )
    assert (step.run_id, step.result, step.started_at, step.ended_at) == (None, None, None, None)
    assert repo.plan(plan.id) == plan
    (message,) = repo.messages(plan.conversation_id)
    assert message.id == plan.message_id
    assert message.plan_id == plan.id

    reply = repo.add_message(plan.conversation_id, MessageRole.USER, "and notify me")
    second = repo.add_plan(plan.conversation_id, reply.id, "and notify me", [NOTIFY])
    empty = repo.add_plan(plan.conversation_id, reply.id, "nothing to do", [])
    assert repo.plans(plan.conversation_id) == [plan, second, empty]
    assert empty.steps == ()


def test_a_plan_needs_its_conversation_and_message(repo: ConversationRepository) -> None:
    plan = _plan(repo)
    other = repo.create_conversation("other")
    with pytest.raises(NotFoundError, match="no conversation"):
        repo.add_plan("nope", plan.message_id, "x", [SHELL])
    with pytest.raises(NotFoundError, match="no message"):
        repo.add_plan(other.id, plan.message_id, "x", [SHELL])
    with pytest.raises(NotFoundError, match="no message"):
        repo.add_plan(other.id, "nope", "x", [SHELL])
    assert repo.plans(other.id) == []
    with pytest.raises(NotFoundError, match="no plan"):
        repo.plan("nope")
    with pytest.raises(NotFoundError, match="no step 5"):
        repo.decide_step(plan.id, 5, approve=False, by="owner", digest=None)


# -- deciding and editing ---------------------------------------------------------------------


def test_an_approval_names_what_was_shown(repo: ConversationRepository, clock: Clock) -> None:
    plan = _plan(repo)
    digest = SHELL[2]
    for stale in ("c" * 64, None):
        with pytest.raises(ConflictError, match="changed since it was shown"):
            repo.decide_step(plan.id, 0, approve=True, by="owner", digest=stale)
    assert repo.plan(plan.id).steps[0].status is PlanStepStatus.PROPOSED

    approved = repo.decide_step(plan.id, 0, approve=True, by="owner", digest=digest)
    assert approved.status is PlanStepStatus.APPROVED
    assert approved.approved_digest == digest
    assert (approved.decided_by, approved.decided_at) == ("owner", clock.now)
    assert repo.plan(plan.id).steps[0] == approved

    # A decision can change until the step starts; a rejection needs no digest.
    rejected = repo.decide_step(plan.id, 0, approve=False, by="window", digest=None)
    assert rejected.status is PlanStepStatus.REJECTED
    assert rejected.approved_digest is None
    assert rejected.decided_by == "window"
    again = repo.decide_step(plan.id, 0, approve=True, by="owner", digest=digest)
    assert again.status is PlanStepStatus.APPROVED


def test_an_edit_resets_the_approval(repo: ConversationRepository) -> None:
    plan = _plan(repo)
    _, _, old = SHELL
    repo.decide_step(plan.id, 0, approve=True, by="owner", digest=old)
    new_body = {"type": "shell", "command": "rm -rf build"}
    edited = repo.edit_step(plan.id, 0, kind="shell", body=new_body, digest="d" * 64, by="owner")
    assert edited.status is PlanStepStatus.PROPOSED
    assert (edited.body, edited.digest, edited.approved_digest, edited.edited) == (
        new_body,
        "d" * 64,
        None,
        True,
    )
    assert edited.decided_by == "owner"
    assert repo.plan(plan.id).steps[0] == edited
    # The old approval does not carry over: neither digest starts it.
    for digest in (old, "d" * 64):
        with pytest.raises(ConflictError, match="not approved"):
            repo.start_step(plan.id, 0, digest=digest, auto=False)
    with pytest.raises(ConflictError, match="changed since it was shown"):
        repo.decide_step(plan.id, 0, approve=True, by="owner", digest=old)
    repo.decide_step(plan.id, 0, approve=True, by="owner", digest="d" * 64)
    assert repo.start_step(plan.id, 0, digest="d" * 64, auto=False).body == new_body


def test_a_started_step_cannot_be_decided_or_edited(repo: ConversationRepository) -> None:
    plan = _plan(repo)
    kind, body, digest = SHELL
    repo.start_step(plan.id, 0, digest=digest, auto=True)
    decide = (
        lambda: repo.decide_step(plan.id, 0, approve=True, by="owner", digest=digest),
        lambda: repo.decide_step(plan.id, 0, approve=False, by="owner", digest=None),
        lambda: repo.edit_step(plan.id, 0, kind=kind, body=body, digest=digest, by="owner"),
    )
    for attempt in decide:
        with pytest.raises(ConflictError, match="running"):
            attempt()
    repo.finish_step(plan.id, 0, status="succeeded", result={"exit_code": 0})
    for attempt in decide:
        with pytest.raises(ConflictError, match=r"already ran \(succeeded\)"):
            attempt()
    assert repo.plan(plan.id).steps[0].status is PlanStepStatus.SUCCEEDED


# -- the gate ---------------------------------------------------------------------------------

Setup = Callable[[ConversationRepository, str], object]
CURRENT = SHELL[2]


def _approve(repo: ConversationRepository, plan_id: str) -> object:
    return repo.decide_step(plan_id, 0, approve=True, by="owner", digest=CURRENT)


def _reject(repo: ConversationRepository, plan_id: str) -> object:
    return repo.decide_step(plan_id, 0, approve=False, by="owner", digest=None)


def _edit_after_approval(repo: ConversationRepository, plan_id: str) -> object:
    _approve(repo, plan_id)
    return repo.edit_step(plan_id, 0, kind="shell", body={}, digest="e" * 64, by="owner")


def _running(repo: ConversationRepository, plan_id: str) -> object:
    _approve(repo, plan_id)
    return repo.start_step(plan_id, 0, digest=CURRENT, auto=False)


def _ended(status: str) -> Setup:
    def setup(repo: ConversationRepository, plan_id: str) -> object:
        _running(repo, plan_id)
        return repo.finish_step(plan_id, 0, status=status, result=None)

    return setup


def _denied(repo: ConversationRepository, plan_id: str) -> object:
    return repo.finish_step(plan_id, 0, status="denied", result={"error": "on the deny list"})


def _nothing(repo: ConversationRepository, plan_id: str) -> object:
    return None


@pytest.mark.parametrize(
    ("setup", "digest", "auto", "refusal"),
    [
        (_nothing, CURRENT, False, "not approved"),
        (_nothing, "c" * 64, True, "not the one that was proposed"),
        (_reject, CURRENT, False, "rejected"),
        (_reject, CURRENT, True, "rejected"),
        (_approve, "c" * 64, False, "not the one that was approved"),
        (_approve, "c" * 64, True, "not the one that was approved"),
        (_edit_after_approval, CURRENT, False, "not approved"),
        (_edit_after_approval, CURRENT, True, "not the one that was proposed"),
        (_running, CURRENT, False, "running"),
        (_running, CURRENT, True, "running"),
        (_ended("succeeded"), CURRENT, True, r"already ran \(succeeded\)"),
        (_ended("failed"), CURRENT, False, r"already ran \(failed\)"),
        (_denied, CURRENT, True, "refused before it started"),
    ],
    ids=lambda v: getattr(v, "__name__", None),
)
def test_start_is_refused_without_a_matching_approval(
    repo: ConversationRepository, setup: Setup, digest: str, auto: bool, refusal: str
) -> None:
    plan = _plan(repo)
    setup(repo, plan.id)
    before = repo.plan(plan.id).steps[0]
    with pytest.raises(ConflictError, match=refusal):
        repo.start_step(plan.id, 0, digest=digest, auto=auto)
    assert repo.plan(plan.id).steps[0] == before


@pytest.mark.parametrize(
    ("setup", "auto"),
    [(_approve, False), (_approve, True), (_nothing, True)],
    ids=["approved", "approved-auto", "auto-from-proposed"],
)
def test_start_is_allowed_with_the_current_digest(
    repo: ConversationRepository, clock: Clock, setup: Setup, auto: bool
) -> None:
    plan = _plan(repo, SHELL, NOTIFY)
    setup(repo, plan.id)
    started = repo.start_step(plan.id, 0, digest=CURRENT, auto=auto)
    assert started.status is PlanStepStatus.RUNNING
    assert started.started_at == clock.now
    assert started.ended_at is None
    # The other step is untouched.
    assert repo.plan(plan.id).steps[1].status is PlanStepStatus.PROPOSED


def test_the_database_refuses_an_approval_of_other_content(
    db: Database, repo: ConversationRepository
) -> None:
    plan = _plan(repo)
    _approve(repo, plan.id)
    for change in (
        "UPDATE assistant_plan_steps SET digest = 'f'",
        "UPDATE assistant_plan_steps SET approved_digest = 'f'",
        "UPDATE assistant_plan_steps SET approved_digest = NULL",
    ):
        with pytest.raises(IntegrityError, match="CHECK constraint"), db.write() as session:
            session.execute(text(change))
    assert repo.plan(plan.id).steps[0].approved_digest == CURRENT


# -- running and ending -----------------------------------------------------------------------


def test_a_step_runs_and_ends(repo: ConversationRepository, clock: Clock) -> None:
    plan = _plan(repo, SHELL, NOTIFY)
    repo.start_step(plan.id, 0, digest=CURRENT, auto=True)
    repo.set_step_run(plan.id, 0, "run-1")
    assert repo.plan(plan.id).steps[0].run_id == "run-1"
    ended = repo.finish_step(plan.id, 0, status="succeeded", result={"exit_code": 0})
    assert (ended.status, ended.result, ended.run_id, ended.ended_at) == (
        PlanStepStatus.SUCCEEDED,
        {"exit_code": 0},
        "run-1",
        clock.now,
    )
    with pytest.raises(ConflictError, match=r"already ended \(succeeded\)"):
        repo.finish_step(plan.id, 0, status="failed", result=None)

    repo.start_step(plan.id, 1, digest=NOTIFY[2], auto=True)
    failed = repo.finish_step(plan.id, 1, status="failed", result={"error": "x"}, run_id="run-2")
    assert (failed.status, failed.run_id) == (PlanStepStatus.FAILED, "run-2")
    with pytest.raises(NotFoundError):
        repo.set_step_run(plan.id, 2, "run-3")


def test_only_a_refusal_ends_a_step_that_did_not_start(repo: ConversationRepository) -> None:
    plan = _plan(repo, SHELL, NOTIFY, SHELL)
    for end in ("succeeded", "failed"):
        with pytest.raises(ConflictError, match="has not started"):
            repo.finish_step(plan.id, 0, status=end, result=None)
    denied = repo.finish_step(plan.id, 0, status="denied", result={"error": "deny list"})
    assert (denied.status, denied.started_at) == (PlanStepStatus.DENIED, None)
    assert denied.ended_at is not None

    with pytest.raises(ConflictError, match="refused before it started"):
        _approve(repo, plan.id)
    repo.decide_step(plan.id, 1, approve=True, by="owner", digest=NOTIFY[2])
    assert repo.finish_step(plan.id, 1, status="denied", result=None).status == "denied"

    repo.decide_step(plan.id, 2, approve=False, by="owner", digest=None)
    with pytest.raises(ConflictError, match="rejected"):
        repo.finish_step(plan.id, 2, status="denied", result=None)
    for wrong in ("running", "approved", "done"):
        with pytest.raises(ValueError, match=wrong):
            repo.finish_step(plan.id, 2, status=wrong, result=None)


def test_steps_left_running_are_failed_at_the_next_start(
    repo: ConversationRepository, clock: Clock
) -> None:
    first = _plan(repo, SHELL, NOTIFY)
    second = _plan(repo, SHELL)
    repo.start_step(first.id, 0, digest=CURRENT, auto=True)
    repo.start_step(second.id, 0, digest=CURRENT, auto=True)
    assert repo.interrupt_running() == 2
    for step in (repo.plan(first.id).steps[0], repo.plan(second.id).steps[0]):
        assert step.status is PlanStepStatus.FAILED
        assert step.result == {"error": "The agent stopped while this step ran."}
        assert step.ended_at == clock.now
    assert repo.plan(first.id).steps[1].status is PlanStepStatus.PROPOSED
    assert repo.interrupt_running() == 0


# -- migration --------------------------------------------------------------------------------


def _migrate(db_path: Path, key: bytes, revision: str) -> None:
    engine = build_engine(lambda: connect(db_path, key), writer=True)
    try:
        with engine.connect() as conn:
            config = alembic_config()
            config.attributes["connection"] = conn
            command.downgrade(config, revision)
            conn.commit()
    finally:
        engine.dispose()


def _tables(db: Database) -> set[str]:
    with db.read() as session:
        return set(session.scalars(text("SELECT name FROM sqlite_master WHERE type = 'table'")))


def test_migration_0009_goes_down_and_up_over_a_database_with_data(
    db_path: Path, key: bytes
) -> None:
    db = Database.open(db_path, key)
    task = TaskRepository(db, IdFactory()).create(TaskCreate(title="kept"))
    _plan(ConversationRepository(db, IdFactory()))
    db.close()

    _migrate(db_path, key, "0008")  # drops the conversations, keeps the rest
    engine = build_engine(lambda: connect(db_path, key), writer=False)
    try:
        with engine.connect() as conn:
            names = set(
                conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'")).scalars()
            )
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()
    assert version == "0008"
    assert not names & set(TABLES)
    assert "tasks" in names

    db = Database.open(db_path, key)  # 0008 -> 0009
    try:
        assert db.schema_revision() == "0009"
        assert set(TABLES) <= _tables(db)
        assert TaskRepository(db, IdFactory()).get(task.id).title == "kept"
        repo = ConversationRepository(db, IdFactory())
        assert repo.conversations() == []
        plan = _plan(repo)
        assert repo.start_step(plan.id, 0, digest=CURRENT, auto=True).status == "running"
    finally:
        db.close()
