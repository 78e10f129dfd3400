"""What the window asks of the agent: coroutines run on the agent loop.

Every function takes the runtime first (the shape :meth:`AgentHost.call`
expects) and does its blocking work (the store, the keyring) in a worker
thread, so the agent loop only schedules. The window never touches the
database or subprocesses itself.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import ValidationError

from atom_desktop.core.errors import AtomError
from atom_desktop.runner.request import RunRequest
from atom_desktop.store.task_types import Task, TaskCreate, TaskFilter, TaskUpdate

if TYPE_CHECKING:
    from atom_desktop.runtime import Runtime
    from atom_desktop.store.audit import AuditEntry
    from atom_desktop.store.runs import RunRecord
    from atom_desktop.store.tokens import TokenRecord

WINDOW_ACTOR = "desktop app"


@dataclass(frozen=True)
class AgentOverview:
    """What the Home page shows."""

    api_url: str
    key_storage: str | None
    key_warning: str | None
    keyring_backend: str | None
    active: list[RunRecord]
    recent: list[RunRecord]
    failures: list[RunRecord]
    tasks_open: int
    paused: bool


async def overview(runtime: Runtime) -> AgentOverview:
    """Status, runs and counts for the Home page."""
    runs = runtime.store.runs
    recent = await asyncio.to_thread(runs.page, limit=10)
    failures = await asyncio.to_thread(
        runs.page, status=["failed", "timed_out", "interrupted"], limit=5
    )
    open_tasks = await asyncio.to_thread(
        runtime.store.tasks.count, TaskFilter(statuses=("todo", "doing"))
    )
    key = runtime.store.key
    return AgentOverview(
        api_url=f"http://{runtime.settings.host}:{runtime.api_port}",
        key_storage=key.describe() if key else None,
        key_warning=key.warning if key else None,
        keyring_backend=key.keyring_backend if key else None,
        active=runtime.runner.active_runs(),
        recent=recent,
        failures=failures,
        tasks_open=open_tasks,
        paused=runtime.runner.paused,
    )


async def start_shell(runtime: Runtime, line: str) -> RunRecord:
    """Run a shell line a person typed (the policy does not apply: it is theirs)."""
    try:
        request = RunRequest(shell=line)
    except ValidationError as exc:
        raise AtomError(f"That command cannot run: {exc.errors()[0]['msg']}.") from None
    return await runtime.runner.async_submit(request, source="ui", requester=None)


async def rerun(runtime: Runtime, run_id: str) -> RunRecord:
    """Start the same command again, in the same directory."""
    old = await runtime.runner.async_record(run_id)
    request = (
        RunRequest(argv=list(old.argv), cwd=old.cwd)
        if old.argv is not None
        else RunRequest(shell=old.shell, cwd=old.cwd)
    )
    return await runtime.runner.async_submit(request, source="ui", requester=None)


async def cancel(runtime: Runtime, run_id: str) -> None:
    """Cancel a queued or running run."""
    await runtime.runner.async_cancel(run_id)


async def send_input(runtime: Runtime, run_id: str, text: str) -> None:
    """Type a line into a running run's stdin."""
    await runtime.runner.async_input(run_id, text.encode())


async def run_history(runtime: Runtime, limit: int = 200) -> list[RunRecord]:
    """Past and present runs, newest first."""
    return await asyncio.to_thread(runtime.store.runs.page, limit=limit)


async def set_paused(runtime: Runtime, paused: bool) -> bool:
    """Pause or resume the runner; returns the new state."""
    if paused:
        await runtime.runner.async_pause()
    else:
        await runtime.runner.async_resume()
    return runtime.runner.paused


# -- tasks ---------------------------------------------------------------------------


async def list_tasks(runtime: Runtime, filters: TaskFilter, limit: int = 500) -> list[Task]:
    """Tasks matching ``filters`` (full-text in ``filters.text``), newest first."""
    page = await asyncio.to_thread(runtime.store.tasks.page, filters, limit=limit)
    return list(page.items)


async def create_task(runtime: Runtime, data: TaskCreate) -> Task:
    """Store a new task."""
    return await asyncio.to_thread(runtime.store.tasks.create, data)


async def update_task(runtime: Runtime, task_id: str, changes: TaskUpdate) -> Task:
    """Change a task."""
    return await asyncio.to_thread(runtime.store.tasks.update, task_id, changes)


async def delete_task(runtime: Runtime, task_id: str) -> None:
    """Delete a task."""
    await asyncio.to_thread(runtime.store.tasks.delete, task_id)


# -- activity and settings -------------------------------------------------------------


async def audit_entries(runtime: Runtime, limit: int = 200) -> list[AuditEntry]:
    """The newest audit entries."""
    return await asyncio.to_thread(runtime.audit.page, limit)


async def list_tokens(runtime: Runtime) -> list[TokenRecord]:
    """Every API token (secrets are never stored, so none is here)."""
    return await asyncio.to_thread(runtime.store.api_tokens.all)


async def create_token(runtime: Runtime, name: str, scopes: list[str]) -> tuple[TokenRecord, str]:
    """Make a named token; the secret comes back once, to be shown once."""
    record, secret = await asyncio.to_thread(runtime.tokens.create, name, scopes)
    await asyncio.to_thread(
        runtime.audit.record,
        token_name=WINDOW_ACTOR,
        action="token.create",
        target=record.id,
        status=201,
        result="ok",
    )
    return record, secret


async def revoke_token(runtime: Runtime, token_id: str) -> TokenRecord:
    """Revoke a token; requests with it fail from now on."""
    record = await asyncio.to_thread(runtime.tokens.revoke, token_id)
    await asyncio.to_thread(
        runtime.audit.record,
        token_name=WINDOW_ACTOR,
        action="token.revoke",
        target=token_id,
        status=200,
        result="ok",
    )
    return record
