"""Running one step of an automation: shell, http, notify or task.

Every step returns a result dict (stored in the run's history and visible to
later steps as ``${steps.NAME.FIELD}``); a step that cannot run reports
``failed`` with a message instead of raising. Trigger data reaches a shell
step only as arguments (``"$@"``: the changed paths) and environment
variables, never inside the shell line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, assert_never
from urllib.parse import quote, urlsplit

from pydantic import ValidationError

from atom_desktop.automations.approvals import ApprovalDesk
from atom_desktop.automations.errors import StepError
from atom_desktop.automations.model import (
    AutomationSpec,
    HttpStep,
    NotifyStep,
    ShellStep,
    Step,
    TaskStep,
)
from atom_desktop.automations.references import fill, fill_json
from atom_desktop.core.errors import AtomError
from atom_desktop.core.events import EventBus, NotificationRequested
from atom_desktop.core.redaction import MASK
from atom_desktop.core.statuses import RunStatus
from atom_desktop.integrations.health import RequestAuth
from atom_desktop.runner.request import RunRequest, RunSource
from atom_desktop.runner.service import RunnerService
from atom_desktop.store.runs import RunRecord, RunRepository
from atom_desktop.store.task_types import TaskCreate, TaskUpdate
from atom_desktop.store.tasks import TaskRepository

if TYPE_CHECKING:
    import httpx

#: What a request as an integration's account carries, by the integration's id.
Credentials = Callable[[str], Awaitable[RequestAuth]]

# What a result keeps of output and bodies (the full output stays with the run).
KEEP_TEXT = 64 * 1024
# Changed paths go to "$@" while they fit comfortably under the kernel's
# argument limits (ARG_MAX, often 2 MiB with the environment); beyond that
# they are only in TRIGGER_PATHS_FILE.
ARGS_BUDGET = 512 * 1024
# Characters of the previous step's output passed on (up to 3 bytes each in UTF-8).
PREVIOUS_CHARS = 32 * 1024


@dataclass
class RunContext:
    """What the steps of one automation run share."""

    automation_id: str
    automation_name: str
    run_id: str
    spec: AutomationSpec
    trigger: dict[str, Any]
    paths_file: Path | None = None
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    previous_shell: dict[str, Any] | None = None
    # The changed paths exactly as the file system has them (the trigger's may be
    # made printable for storage).
    raw_paths: list[str] | None = None
    # The runner run of the shell step in progress (kept in history if it is cancelled).
    current_run_id: str | None = None
    # Marks the run as waiting for an approval (True) and running again (False).
    waiting: Callable[[bool], Awaitable[None]] | None = None
    # Who the shell steps' runs are recorded as started by: an automation, or
    # an assistant plan (whose steps were approved before they got here).
    source: RunSource = "automation"
    # Told each shell step's run id as soon as the run exists.
    on_run: Callable[[str], Awaitable[None]] | None = None

    def scope(self) -> dict[str, Any]:
        """What ``${...}`` references can name."""
        return {
            "automation": {"id": self.automation_id, "name": self.automation_name},
            "run": {"id": self.run_id},
            "trigger": self.trigger,
            "steps": self.results,
        }

    def paths(self) -> list[str]:
        """The changed paths of a file trigger (none for other triggers)."""
        if self.raw_paths is not None:
            return self.raw_paths
        return list(self.trigger.get("paths") or [])

    def shell_inputs(self) -> tuple[list[str], dict[str, str]]:
        """The arguments and environment variables that carry trigger data to a shell step."""
        env: dict[str, str] = {}
        if self.source != "automation":
            # A plan's step has no automation or trigger; only the previous step's output.
            self._add_previous(env)
            return [], env
        env = {
            "AUTOMATION_ID": self.automation_id,
            "AUTOMATION_NAME": self.automation_name,
            "AUTOMATION_RUN_ID": self.run_id,
            "TRIGGER_KIND": str(self.trigger.get("kind", "")),
            "TRIGGER_TIME": str(self.trigger.get("time", "")),
        }
        if self.trigger.get("payload") is not None:
            env["TRIGGER_PAYLOAD"] = json.dumps(self.trigger["payload"])
        paths = self.paths()
        args: list[str] = []
        if self.paths_file is not None:
            env["TRIGGER_PATHS_FILE"] = str(self.paths_file)
            env["TRIGGER_PATH_COUNT"] = str(len(paths))
            if sum(len(p) + 1 for p in paths) <= ARGS_BUDGET:
                args = paths
            env["TRIGGER_PATHS_IN_ARGS"] = "1" if args or not paths else "0"
        self._add_previous(env)
        return args, env

    def _add_previous(self, env: dict[str, str]) -> None:
        if self.previous_shell is not None:
            # Its tail: one environment string may hold 128 KiB at most (Linux).
            env["PREVIOUS_STDOUT"] = str(self.previous_shell.get("stdout", ""))[-PREVIOUS_CHARS:]
            env["PREVIOUS_EXIT_CODE"] = str(self.previous_shell.get("exit_code", ""))


def write_paths_file(path: Path, paths: list[str]) -> None:
    """The changed paths, NUL-separated (``xargs -0`` reads it), readable by the user only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(b"".join(os.fsencode(p) + b"\0" for p in paths))


# How a shell step's command ended, where its status alone says it.
_ENDINGS = {
    RunStatus.CANCELLED: "The command was cancelled.",
    RunStatus.INTERRUPTED: "The command was interrupted: the agent stopped while it ran.",
}


def command_failure(record: RunRecord) -> str:
    """How a shell step's command did not succeed, as a sentence for the run's history."""
    if record.status == RunStatus.TIMED_OUT:
        return _timed_out(record)
    if record.status in _ENDINGS:
        return _ENDINGS[record.status]
    if record.exit_code is not None:
        return f"The command failed with exit code {record.exit_code}."
    if record.signal is not None:
        return f"The command was ended by signal {record.signal}."
    return f"The command failed: {record.error}." if record.error else "The command failed."


def _timed_out(record: RunRecord) -> str:
    # Which limit it was is plain only when the run had one of the two.
    if record.idle_timeout_s is None and record.timeout_s is not None:
        return f"The command timed out after {record.timeout_s:g} s and was stopped."
    if record.timeout_s is None and record.idle_timeout_s is not None:
        return f"The command printed nothing for {record.idle_timeout_s:g} s and was stopped."
    return "The command timed out and was stopped."


class StepRunner:
    """Runs steps against the agent's runner, task store, bus and an HTTP client."""

    def __init__(
        self,
        runner: RunnerService,
        *,
        runs: Callable[[], RunRepository],
        tasks: Callable[[], TaskRepository],
        bus: EventBus,
        http: Callable[[], httpx.AsyncClient],
        approvals: ApprovalDesk,
        credentials: Credentials | None = None,
    ) -> None:
        """``credentials``: what a request as an integration's account carries (by its id)."""
        self._runner = runner
        self._runs = runs
        self._tasks = tasks
        self._bus = bus
        self._http = http
        self._approvals = approvals
        self._credentials = credentials

    async def async_run(self, step: Step, index: int, ctx: RunContext) -> dict[str, Any]:
        """Run ``step``; its result (``status`` is succeeded, failed or denied)."""
        started = datetime.now(UTC)
        result: dict[str, Any] = {"index": index, "type": step.type, "name": step.name}
        try:
            _refuse_masked_values(step)
            # Exhaustive: a new kind of step is a type error here until it is handled.
            match step:
                case ShellStep():
                    result.update(await self._shell(step, index, ctx))
                case HttpStep():
                    result.update(await self._http_request(step, ctx))
                case NotifyStep():
                    result.update(self._notify(step, ctx))
                case TaskStep():
                    result.update(await self._task(step, ctx))
                case _:
                    assert_never(step)
        except (AtomError, ValidationError) as exc:
            result.update(status="failed", error=_message(exc))
        result["started_at"] = started.isoformat()
        result["ended_at"] = datetime.now(UTC).isoformat()
        if step.name is not None:
            ctx.results[step.name] = result
        return result

    # -- shell --------------------------------------------------------------------------

    async def _shell(self, step: ShellStep, index: int, ctx: RunContext) -> dict[str, Any]:
        mode = ctx.spec.approval
        if mode == "deny":
            return {
                "status": "denied",
                "error": "Shell steps are denied for this automation (approval: deny).",
            }
        if mode == "ask":
            if ctx.waiting is not None:
                await ctx.waiting(True)
            approval = await self._approvals.async_ask(
                ctx.automation_id, ctx.run_id, index, step.shell, ctx.spec.approval_timeout_s
            )
            if ctx.waiting is not None:
                await ctx.waiting(False)
            if approval.status != "approved":
                who = f" by {approval.decided_by}" if approval.decided_by else ""
                return {
                    "status": "denied",
                    "approval_id": approval.id,
                    "error": f"The shell step was not approved: {approval.status}{who}.",
                }
        args, env = ctx.shell_inputs()
        request = RunRequest(
            shell=step.shell,
            args=args,
            cwd=step.cwd,
            env={**env, **step.env},
            timeout_s=step.timeout_s,
        )
        submit = asyncio.ensure_future(
            self._runner.async_submit(
                request, source=ctx.source, requester=f"{ctx.source}:{ctx.automation_name}"[:64]
            )
        )
        try:
            # Shielded: a cancel that lands mid-submit must still learn the
            # run's id, or the command would go on with nobody to end it.
            record = await asyncio.shield(submit)
            ctx.current_run_id = record.id
            if ctx.on_run is not None:
                await ctx.on_run(record.id)
            final = await self._runner.async_wait(record.id)
        except asyncio.CancelledError:
            # The automation was cancelled or timed out: its command ends too.
            with contextlib.suppress(Exception):
                record = await submit
                ctx.current_run_id = record.id
                await self._runner.async_cancel(record.id)
            raise
        ctx.current_run_id = None
        stdout = await asyncio.to_thread(self._runs().output, record.id, "stdout")
        text = stdout[-KEEP_TEXT:].decode("utf-8", "replace").replace("\x00", "")
        result: dict[str, Any] = {
            "status": "succeeded" if final.status == "succeeded" else "failed",
            "run_id": record.id,
            "run_status": final.status,
            "exit_code": final.exit_code,
            "stdout": text,
        }
        if final.status != "succeeded":
            result["error"] = command_failure(final)
        ctx.previous_shell = result
        return result

    # -- http -----------------------------------------------------------------------------

    async def _http_request(self, step: HttpStep, ctx: RunContext) -> dict[str, Any]:
        scope = ctx.scope()
        url = fill(step.url, scope, escape=lambda v: quote(v, safe=""))
        bad = StepError(f"The address {url!r} is not a valid http:// or https:// address.")
        try:
            parts = urlsplit(url)
        except ValueError:  # "http://[" and other malformed hosts
            raise bad from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise bad
        headers = {name: fill(value, scope) for name, value in step.headers.items()}
        content = fill(step.body, scope).encode() if step.body is not None else None
        json_body = fill_json(step.json_body, scope) if step.json_body is not None else None
        secrets: tuple[str, ...] = ()
        if step.auth is not None:
            url, secrets = await self._authorize(step.auth, url, headers)
        # Loaded with the first http step: most agents never run one.
        import httpx  # noqa: PLC0415

        try:
            result = await self._send(step, url, headers, content, json_body)
        except httpx.InvalidURL:
            # What urlsplit lets through and httpx does not (a port that is no number).
            raise bad from None
        except httpx.TimeoutException as exc:
            raise StepError(f"The request timed out ({type(exc).__name__}).") from None
        except httpx.HTTPError as exc:
            raise StepError(_scrubbed(f"The request failed: {exc}", secrets)) from None
        return _scrub_result(result, secrets) if secrets else result

    async def _authorize(
        self, account_id: str, url: str, headers: dict[str, str]
    ) -> tuple[str, tuple[str, ...]]:
        """Add the account's credential to the request; the URL and the values to hide."""
        if self._credentials is None:
            raise StepError("Integrations are not available in this agent.")
        try:
            auth = await self._credentials(account_id)
        except AtomError as exc:
            raise StepError(f"Integration {account_id}: {exc.message}") from None
        named = {name.lower() for name in headers}
        clash = sorted(name for name in auth.headers if name.lower() in named)
        if clash:
            raise StepError(
                f"The step sets {', '.join(clash)} itself and also names integration "
                f"{account_id}, which sets it: remove one of the two."
            )
        headers.update(auth.headers)
        # Every value the credential added is secret but fixed headers' (Notion-Version).
        secrets = tuple(auth.secret_values)
        return auth.url(url), secrets

    async def _send(
        self,
        step: HttpStep,
        url: str,
        headers: dict[str, str],
        content: bytes | None,
        json_body: Any,
    ) -> dict[str, Any]:
        received = bytearray()
        async with self._http().stream(
            step.method,
            url,
            headers=headers,
            content=content,
            json=json_body,
            timeout=step.timeout_s,
        ) as response:
            # Only what the history keeps is read: a huge answer is cut off.
            async for piece in response.aiter_bytes():
                received += piece
                if len(received) > KEEP_TEXT:
                    break
        complete = len(received) <= KEEP_TEXT
        body = bytes(received[:KEEP_TEXT]).decode("utf-8", "replace")
        ok = (
            response.status_code in step.expect_status
            if step.expect_status
            else 200 <= response.status_code < 300
        )
        result: dict[str, Any] = {
            "status": "succeeded" if ok else "failed",
            "http_status": response.status_code,
            "body": body if complete else body + "\n[cut off at 64 KiB]",
        }
        if complete:
            with contextlib.suppress(ValueError):
                result["json"] = json.loads(received)
        if not ok:
            result["error"] = (
                f"{step.method} {urlsplit(url).netloc} answered {response.status_code}."
            )
        return result

    # -- notify and task ------------------------------------------------------------------

    def _notify(self, step: NotifyStep, ctx: RunContext) -> dict[str, Any]:
        scope = ctx.scope()
        title, message = fill(step.title, scope), fill(step.message, scope)
        self._bus.publish(NotificationRequested(title=title, message=message))
        return {"status": "succeeded", "title": title, "message": message}

    async def _task(self, step: TaskStep, ctx: RunContext) -> dict[str, Any]:
        fields = fill_json(step.fields, ctx.scope())
        if step.action == "create":
            task = await asyncio.to_thread(self._tasks().create, TaskCreate.model_validate(fields))
        else:
            if step.task_id is None:
                raise StepError("An update step needs task_id.")
            task_id = fill(step.task_id, ctx.scope())
            changes = TaskUpdate.model_validate(fields)
            task = await asyncio.to_thread(self._tasks().update, task_id, changes)
        return {"status": "succeeded", "task_id": task.id, "task": task.to_json()}


def _scrubbed(text: str, secrets: tuple[str, ...]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def _scrub_result(result: dict[str, Any], secrets: tuple[str, ...]) -> dict[str, Any]:
    """The result with the credential masked wherever the service echoed it."""
    scrubbed = dict(result)
    for key in ("body", "error"):
        if isinstance(scrubbed.get(key), str):
            scrubbed[key] = _scrubbed(scrubbed[key], secrets)
    if "json" in scrubbed:
        text = json.dumps(scrubbed["json"])
        clean = _scrubbed(text, secrets)
        if clean != text:
            scrubbed["json"] = json.loads(clean)
    return scrubbed


def _refuse_masked_values(step: Step) -> None:
    """A value that is only the mask sync put in place of a secret fails the step, saying so.

    Secrets never leave the device that has them (sync/secrets.py): an
    automation made on another device arrives with ``***`` for each one.
    Running the command or request with ``***`` as its token would fail in
    a way nobody could read, or worse, send the mask to a service.
    """
    masked: list[str] = []
    if isinstance(step, ShellStep):
        masked = [f"environment variable {name}" for name, v in step.env.items() if v == MASK]
    elif isinstance(step, HttpStep):
        masked = [f"header {name}" for name, v in step.headers.items() if v == MASK]
    if masked:
        raise StepError(
            f"The {', '.join(masked)} of this step holds {MASK}: the automation came from "
            "another device, and secrets are not synced. Set the value on this device "
            "(edit the automation) and run it again."
        )


def _message(exc: AtomError | ValidationError) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "value"
        return f"{where}: {first['msg']}"
    return exc.message
