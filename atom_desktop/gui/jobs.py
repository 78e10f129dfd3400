"""What the window asks of the agent: coroutines run on the agent loop.

Every function takes the runtime first (the shape :meth:`AgentHost.call`
expects) and does its blocking work (the store, the keyring) in a worker
thread, so the agent loop only schedules. The window never touches the
database or subprocesses itself.

Every change the window makes is written to the audit log here, with the
actor ``window`` (the API writes its requests with the actor ``api``): a page
that changes something calls a job of this module, never a service directly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from atom_desktop.core.actors import Actor
from atom_desktop.core.alert_kinds import AlertKind
from atom_desktop.core.errors import AtomError
from atom_desktop.core.statuses import RUN_FAILED
from atom_desktop.store.errors import NotFoundError

# pydantic and the request and task models are imported where a job uses
# them: jobs run on the agent thread, which has loaded them already, and the
# window's first paint need not wait for them.
if TYPE_CHECKING:
    from atom_desktop.assistant.providers.choice import ProviderChoice
    from atom_desktop.assistant.service import (
        AskEvent,
        AskOutcome,
        ConversationView,
        Decision,
        PlanView,
    )
    from atom_desktop.automations.model import AutomationSpec
    from atom_desktop.automations.service import AutomationState
    from atom_desktop.runtime import Runtime
    from atom_desktop.store.audit import AuditEntry
    from atom_desktop.store.automation_runs import ApprovalRecord, AutomationRunRecord
    from atom_desktop.store.automations import MissedTime
    from atom_desktop.store.conversations import ConversationRecord
    from atom_desktop.store.runs import RunRecord
    from atom_desktop.store.task_types import Task, TaskCreate, TaskFilter, TaskUpdate
    from atom_desktop.store.tokens import TokenRecord
    from atom_desktop.updates.status import UpdateStatus

#: How an approval decided at the window names who decided it.
WINDOW_ACTOR = "desktop app"

P = ParamSpec("P")
T = TypeVar("T")


async def _in_thread(function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """``asyncio.to_thread``, with asyncio imported on the agent thread.

    The window imports this module before its first paint; asyncio (about
    40 ms to import) is only needed once a job runs, on the agent's loop.
    """
    import asyncio  # noqa: PLC0415

    return await asyncio.to_thread(function, *args, **kwargs)


async def _audit(runtime: Runtime, action: str, target: str | None, *, status: int = 200) -> None:
    """Record a change the window made, once it is made (as the API records a request)."""
    await _in_thread(
        runtime.audit.record,
        actor=Actor.WINDOW,
        action=action,
        target=target,
        status=status,
        result="ok",
    )


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
    from atom_desktop.store.task_types import TaskFilter  # noqa: PLC0415 - see the imports

    runs = runtime.store.runs
    recent = await _in_thread(runs.page, limit=10)
    failures = await _in_thread(runs.page, status=sorted(RUN_FAILED), limit=5)
    open_tasks = await _in_thread(runtime.store.tasks.count, TaskFilter(statuses=("todo", "doing")))
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
    from pydantic import ValidationError  # noqa: PLC0415 - see the imports

    from atom_desktop.runner.request import RunRequest  # noqa: PLC0415 - see the imports

    try:
        request = RunRequest(shell=line)
    except ValidationError as exc:
        raise AtomError(f"That command cannot run: {exc.errors()[0]['msg']}.") from None
    record = await runtime.runner.async_submit(request, source="ui", requester=None)
    await _audit(runtime, "run.start", record.id, status=201)
    return record


async def rerun(runtime: Runtime, run_id: str) -> RunRecord:
    """Start the same command again, in the same directory."""
    from atom_desktop.runner.request import RunRequest  # noqa: PLC0415 - see the imports

    old = await runtime.runner.async_record(run_id)
    request = (
        RunRequest(argv=list(old.argv), cwd=old.cwd)
        if old.argv is not None
        else RunRequest(shell=old.shell, cwd=old.cwd)
    )
    record = await runtime.runner.async_submit(request, source="ui", requester=None)
    await _audit(runtime, "run.rerun", record.id, status=201)
    return record


async def cancel(runtime: Runtime, run_id: str) -> None:
    """Cancel a queued or running run."""
    await runtime.runner.async_cancel(run_id)
    await _audit(runtime, "run.cancel", run_id)


async def send_input(runtime: Runtime, run_id: str, text: str) -> None:
    """Type a line into a running run's stdin (the text itself is not recorded)."""
    await runtime.runner.async_input(run_id, text.encode())
    await _audit(runtime, "run.input", run_id)


async def run_history(runtime: Runtime, limit: int = 200) -> list[RunRecord]:
    """Past and present runs, newest first."""
    return await _in_thread(runtime.store.runs.page, limit=limit)


async def set_paused(runtime: Runtime, paused: bool) -> bool:
    """Pause or resume the runner; returns the new state."""
    if paused:
        await runtime.runner.async_pause()
    else:
        await runtime.runner.async_resume()
    await _audit(runtime, "runner.pause" if paused else "runner.resume", None)
    return runtime.runner.paused


# -- tasks ---------------------------------------------------------------------------


async def list_tasks(runtime: Runtime, filters: TaskFilter, limit: int = 500) -> list[Task]:
    """Tasks matching ``filters`` (full-text in ``filters.text``), newest first."""
    page = await _in_thread(runtime.store.tasks.page, filters, limit=limit)
    return list(page.items)


async def create_task(runtime: Runtime, data: TaskCreate) -> Task:
    """Store a new task."""
    task = await _in_thread(runtime.store.tasks.create, data)
    await _audit(runtime, "task.create", task.id, status=201)
    return task


async def update_task(runtime: Runtime, task_id: str, changes: TaskUpdate) -> Task:
    """Change a task."""
    task = await _in_thread(runtime.store.tasks.update, task_id, changes)
    await _audit(runtime, "task.update", task_id)
    return task


async def delete_task(runtime: Runtime, task_id: str) -> None:
    """Delete a task."""
    await _in_thread(runtime.store.tasks.delete, task_id)
    await _audit(runtime, "task.delete", task_id)


# -- activity and settings -------------------------------------------------------------


async def audit_entries(runtime: Runtime, limit: int = 200) -> list[AuditEntry]:
    """The newest audit entries."""
    return await _in_thread(runtime.audit.page, limit)


async def list_tokens(runtime: Runtime) -> list[TokenRecord]:
    """Every API token (secrets are never stored, so none is here)."""
    return await _in_thread(runtime.store.api_tokens.all)


async def create_token(runtime: Runtime, name: str, scopes: list[str]) -> tuple[TokenRecord, str]:
    """Make a named token; the secret comes back once, to be shown once."""
    record, secret = await _in_thread(runtime.tokens.create, name, scopes)
    await _audit(runtime, "token.create", record.id, status=201)
    return record, secret


async def revoke_token(runtime: Runtime, token_id: str) -> TokenRecord:
    """Revoke a token; requests with it fail from now on."""
    record = await _in_thread(runtime.tokens.revoke, token_id)
    await _audit(runtime, "token.revoke", token_id)
    return record


# -- alerts -------------------------------------------------------------------------------


async def set_alert_enabled(runtime: Runtime, kind: AlertKind, enabled: bool) -> None:
    """Turn one kind of alert on or off at once (the Settings page saves it for later)."""
    runtime.alerts.set_enabled(kind, enabled)
    await _audit(runtime, "alerts.enable" if enabled else "alerts.disable", kind.value)


# -- updates ------------------------------------------------------------------------------


async def check_for_update(runtime: Runtime) -> UpdateStatus:
    """Check for a new version now (as POST /updates/check does)."""
    status = await runtime.updates.async_check_now()
    await _audit(runtime, "update.check", None)
    return status


async def install_update(runtime: Runtime) -> UpdateStatus:
    """Install the downloaded update once no run is active (as POST /updates/apply does)."""
    status = await runtime.updates.async_apply()
    await _audit(runtime, "update.install", status.available)
    return status


# -- automations -------------------------------------------------------------------------


@dataclass(frozen=True)
class AutomationHistory:
    """One automation's runs and the scheduled times it missed, newest first."""

    automation_id: str
    runs: list[AutomationRunRecord]
    missed: list[MissedTime]


@dataclass(frozen=True)
class PendingApproval:
    """A shell step waiting for a person, with the name of its automation."""

    record: ApprovalRecord
    automation_name: str


async def list_automations(runtime: Runtime) -> list[AutomationState]:
    """Every automation with its next fire time and last run, by name."""
    states = await runtime.automations.async_list()
    return sorted(states, key=lambda s: (s.record.name.casefold(), s.record.id))


async def create_automation(runtime: Runtime, spec: AutomationSpec) -> AutomationState:
    """Store a new automation (TriggerError names a trigger that cannot work)."""
    state = await runtime.automations.async_create(spec)
    await _audit(runtime, "automation.create", state.record.id)
    return state


async def replace_automation(
    runtime: Runtime, automation_id: str, spec: AutomationSpec
) -> AutomationState:
    """Replace an automation's definition."""
    state = await runtime.automations.async_replace(automation_id, spec)
    await _audit(runtime, "automation.update", automation_id)
    return state


async def set_automation_enabled(
    runtime: Runtime, automation_id: str, enabled: bool
) -> AutomationState:
    """Enable or disable an automation."""
    state = await runtime.automations.async_set_enabled(automation_id, enabled=enabled)
    await _audit(runtime, "automation.enable" if enabled else "automation.disable", automation_id)
    return state


async def delete_automation(runtime: Runtime, automation_id: str) -> None:
    """Delete an automation and its history."""
    await runtime.automations.async_delete(automation_id)
    await _audit(runtime, "automation.delete", automation_id)


async def trigger_automation(runtime: Runtime, automation_id: str) -> AutomationRunRecord:
    """Run an automation now, by hand."""
    run = await runtime.automations.async_trigger(automation_id, kind="manual")
    await _audit(runtime, "automation.trigger", automation_id)
    return run


async def automation_history(
    runtime: Runtime, automation_id: str, limit: int = 100
) -> AutomationHistory:
    """An automation's newest runs and missed times."""
    runs = await runtime.automations.async_runs(automation_id, limit=limit)
    missed = await runtime.automations.async_missed(automation_id, limit=limit)
    return AutomationHistory(automation_id, runs, missed)


async def automation_run(runtime: Runtime, run_id: str) -> AutomationRunRecord:
    """One automation run with its step results."""
    return await runtime.automations.async_run(run_id)


async def cancel_automation_run(runtime: Runtime, run_id: str) -> AutomationRunRecord:
    """Cancel an automation run in progress (and its command)."""
    record = await runtime.automations.async_cancel_run(run_id)
    await _audit(runtime, "automation_run.cancel", run_id)
    return record


async def run_record(runtime: Runtime, run_id: str) -> RunRecord:
    """One run of the runner (a shell step's command)."""
    return await runtime.runner.async_record(run_id)


async def pending_approvals(runtime: Runtime) -> list[PendingApproval]:
    """Shell steps waiting for a decision, oldest first (the one that expires first on top)."""
    records = await runtime.automations.async_approvals("pending")
    names: dict[str, str] = {}
    for record in records:
        if record.automation_id not in names:
            try:
                state = await runtime.automations.async_get(record.automation_id)
                names[record.automation_id] = state.record.name
            except NotFoundError:  # deleted meanwhile; its approval expires with its run
                names[record.automation_id] = record.automation_id
    ordered = sorted(records, key=lambda r: r.expires_at)
    return [PendingApproval(r, names[r.automation_id]) for r in ordered]


async def decide_approval(runtime: Runtime, approval_id: str, approve: bool) -> ApprovalRecord:
    """Approve or deny a pending approval, as the person at the window."""
    record = await runtime.automations.approvals.async_decide(
        approval_id, approve=approve, by=WINDOW_ACTOR
    )
    await _audit(runtime, "approval.approve" if approve else "approval.deny", approval_id)
    return record


# -- assistant ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AssistantSettingsView:
    """What Settings → Assistant shows of the running agent: its settings and the stored key."""

    has_key: bool
    keyring_usable: bool


async def assistant_conversations(runtime: Runtime) -> list[ConversationRecord]:
    """The assistant's conversations, the most recently active first."""
    return await runtime.assistant.async_conversations()


async def assistant_conversation(runtime: Runtime, conversation_id: str) -> ConversationView:
    """One conversation with its messages and plans."""
    return await runtime.assistant.async_conversation(conversation_id)


async def assistant_plan(runtime: Runtime, plan_id: str) -> PlanView:
    """One plan as it stands."""
    return await runtime.assistant.async_plan(plan_id)


async def assistant_ask(
    runtime: Runtime,
    text: str,
    conversation_id: str | None,
    emit: Callable[[AskEvent], Awaitable[None]],
) -> AskOutcome:
    """Answer a request typed in the window; ``emit`` sees the answer as it comes."""
    outcome = await runtime.assistant.async_ask(text, conversation_id=conversation_id, emit=emit)
    await _audit(runtime, "assistant.ask", outcome.conversation_id, status=201)
    return outcome


async def assistant_decide(
    runtime: Runtime, plan_id: str, decisions: list[Decision], *, run: bool = True
) -> PlanView:
    """Approve (by the digest shown) or reject steps of a plan, then run what may run."""
    view = await runtime.assistant.async_decide(plan_id, decisions, by=Actor.WINDOW.value, run=run)
    for decision in decisions:
        action = "assistant.approve" if decision.approve else "assistant.reject"
        await _audit(runtime, action, f"{plan_id}/{decision.index}")
    return view


async def assistant_edit(
    runtime: Runtime, plan_id: str, index: int, body: dict[str, Any]
) -> PlanView:
    """Replace a step that has not run; it needs approval again."""
    try:
        view = await runtime.assistant.async_edit(plan_id, index, body, by=Actor.WINDOW.value)
    except ValueError as exc:  # pydantic's ValidationError: the body is not a valid step
        raise AtomError(f"That step is not valid: {exc}") from None
    await _audit(runtime, "assistant.edit", f"{plan_id}/{index}")
    return view


async def assistant_delete(runtime: Runtime, conversation_id: str) -> None:
    """Delete a conversation with its messages and plans (runs stay in the history)."""
    await runtime.assistant.async_delete(conversation_id)
    await _audit(runtime, "assistant.delete", conversation_id)


async def assistant_configure(runtime: Runtime, values: dict[str, Any]) -> None:
    """Use the assistant settings ``values`` (already saved to config.toml) from now on."""
    from atom_desktop.assistant.service import AssistantConfig  # noqa: PLC0415

    settings = runtime.settings.model_copy(update=values)
    runtime.assistant.configure(AssistantConfig.from_settings(settings))
    await _audit(runtime, "assistant.configure", None)


async def assistant_key_state(runtime: Runtime, kind: str, base_url: str) -> AssistantSettingsView:
    """Whether a key for ``kind`` at ``base_url`` is in the keyring (never the key)."""
    from atom_desktop.assistant.providers.keys import ProviderKeys  # noqa: PLC0415

    usable = (await _in_thread(runtime.vault.probe)).usable
    keys = ProviderKeys(runtime.vault, runtime.redactor)
    stored = usable and (await _in_thread(keys.get, kind, base_url)) is not None
    return AssistantSettingsView(has_key=stored, keyring_usable=usable)


async def assistant_store_key(runtime: Runtime, kind: str, base_url: str, key: str) -> None:
    """Keep a provider's API key in the OS keyring (only there)."""
    from atom_desktop.assistant.providers.keys import ProviderKeys  # noqa: PLC0415

    await _in_thread(ProviderKeys(runtime.vault, runtime.redactor).set, kind, base_url, key)
    await _audit(runtime, "assistant.key.store", kind)


async def assistant_forget_key(runtime: Runtime, kind: str, base_url: str) -> None:
    """Remove a provider's API key from the keyring."""
    from atom_desktop.assistant.providers.keys import ProviderKeys  # noqa: PLC0415

    await _in_thread(ProviderKeys(runtime.vault, runtime.redactor).delete, kind, base_url)
    await _audit(runtime, "assistant.key.forget", kind)


async def assistant_check(runtime: Runtime, choice: ProviderChoice, key: str | None) -> str:
    """Ask the provider ``choice`` names for a one-word answer ("Test"); ProviderError if not.

    ``key`` is the one typed and not yet stored; None uses the stored one.
    """
    from atom_desktop.assistant.providers.choice import (  # noqa: PLC0415
        build_provider,
        check_provider,
    )
    from atom_desktop.assistant.providers.client import new_client  # noqa: PLC0415

    key = key or await _stored_key(runtime, choice)
    async with new_client() as client:
        return await check_provider(build_provider(choice, client, key))


async def assistant_models(runtime: Runtime, choice: ProviderChoice, key: str | None) -> list[str]:
    """The models the provider offers ("Load models"); ProviderError if it cannot say."""
    from atom_desktop.assistant.providers.choice import build_provider  # noqa: PLC0415
    from atom_desktop.assistant.providers.client import new_client  # noqa: PLC0415

    key = key or await _stored_key(runtime, choice)
    async with new_client() as client:
        return await build_provider(choice, client, key).list_models()


async def _stored_key(runtime: Runtime, choice: ProviderChoice) -> str | None:
    from atom_desktop.assistant.providers.keys import ProviderKeys  # noqa: PLC0415

    keys = ProviderKeys(runtime.vault, runtime.redactor)
    return await _in_thread(keys.get, choice.kind, choice.base_url)
