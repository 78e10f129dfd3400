"""Running a plan's steps: only those a person approved, or of a kind set to ``auto``.

The check is made here, on the agent, right before each step, and not by
whoever asked for the run: the step is read back from the store, its digest
recomputed from what will run, and the store lets it start only when it is
approved with that same digest (or is of an ``auto`` kind and still as
proposed) - one atomic write (:meth:`ConversationRepository.start_step`).
The runner's command policy is checked before that, so the deny list wins
over ``auto`` and over an approval. Shell steps run through the automations'
step runner with ``source: ai``; tasks and automations go through the same
repository and service as the API's.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable, Collection
from typing import Any, assert_never

from pydantic import ValidationError

from atom_desktop.assistant.plan import (
    CreateAutomationStep,
    CreateTaskStep,
    PlanStep,
    UpdateTaskStep,
    kind,
)
from atom_desktop.assistant.plan_state import next_step, plan_state
from atom_desktop.assistant.step_digest import parse_step, step_digest
from atom_desktop.automations.model import AutomationSpec, HttpStep, NotifyStep, ShellStep
from atom_desktop.automations.service import AutomationService
from atom_desktop.automations.steps import RunContext
from atom_desktop.core.errors import AtomError
from atom_desktop.core.events import AssistantPlanChanged, EventBus
from atom_desktop.runner.errors import RunnerError
from atom_desktop.runner.policy import CommandPolicy
from atom_desktop.runner.request import RunRequest
from atom_desktop.store.conversations import ConversationRepository, PlanRecord
from atom_desktop.store.errors import ConflictError
from atom_desktop.store.tasks import TaskRepository

logger = logging.getLogger(__name__)

STOPPED = "The agent stopped while this step ran."


def refusal(policy: CommandPolicy, step: PlanStep) -> str | None:
    """Why ``policy`` refuses a step's commands (None if it does not).

    An automation step is refused for any of its shell lines: approving it
    would only store an automation whose steps could never run.
    """
    lines: list[ShellStep] = []
    if isinstance(step, ShellStep):
        lines = [step]
    elif isinstance(step, CreateAutomationStep):
        spec = step.automation
        lines = [s for s in [*spec.steps, *spec.on_failure] if isinstance(s, ShellStep)]
    for shell in lines:
        try:
            policy.check(RunRequest(shell=shell.shell))
        except RunnerError as exc:
            return str(exc)
    return None


class PlanExecutor:
    """Runs the steps of stored plans, one plan at a time each."""

    def __init__(
        self,
        conversations: Callable[[], ConversationRepository],
        tasks: Callable[[], TaskRepository],
        automations: AutomationService,
        policy: CommandPolicy,
        bus: EventBus,
    ) -> None:
        self._conversations = conversations
        self._tasks = tasks
        self._automations = automations
        self._policy = policy
        self._bus = bus
        # One run of a plan at a time: a second approve while steps run waits
        # and then finds those steps already done. Weak: a lock lives while a
        # run of its plan holds or awaits it.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def async_run(self, plan_id: str, auto_kinds: Collection[str]) -> PlanRecord:
        """Run the plan's steps in order as far as approvals allow; the plan afterwards."""
        lock = self._locks.get(plan_id)
        if lock is None:
            lock = self._locks[plan_id] = asyncio.Lock()
        async with lock:
            while True:
                plan = await asyncio.to_thread(self._conversations().plan, plan_id)
                step, runnable = next_step(plan.steps, auto_kinds)
                if step is None or not runnable:
                    return plan
                if not await self._run_step(plan, step.index, step.body, auto_kinds):
                    return await asyncio.to_thread(self._conversations().plan, plan_id)

    async def _run_step(
        self, plan: PlanRecord, index: int, body: dict[str, Any], auto_kinds: Collection[str]
    ) -> bool:
        """Run one step; False when the store would not let it start."""
        repo = self._conversations()
        try:
            step = parse_step(body)
        except ValidationError as exc:
            # Stored by this agent from a validated step: only a changed database gets here.
            await asyncio.to_thread(
                repo.finish_step,
                plan.id,
                index,
                status="denied",
                result={
                    "error": f"The stored step is not a valid step: {exc.error_count()} "
                    "problem(s). It was not run."
                },
            )
            await self._publish(plan.id, auto_kinds)
            return True
        refused = refusal(self._policy, step)
        if refused is not None:
            await asyncio.to_thread(
                repo.finish_step, plan.id, index, status="denied", result={"error": refused}
            )
            await self._publish(plan.id, auto_kinds)
            return True
        try:
            await asyncio.to_thread(
                repo.start_step,
                plan.id,
                index,
                digest=step_digest(step),
                auto=kind(step) in auto_kinds,
            )
        except ConflictError as exc:
            # Decided or edited between the read and now, or its approval names
            # other content than is stored: it waits for a person again.
            logger.info("Plan %s step %d did not start: %s", plan.id, index, exc)
            return False
        await self._publish(plan.id, auto_kinds)
        try:
            status, result, run_id = await self._execute(plan, index, step, auto_kinds)
        except asyncio.CancelledError:
            await asyncio.shield(
                asyncio.to_thread(
                    repo.finish_step, plan.id, index, status="failed", result={"error": STOPPED}
                )
            )
            await self._publish(plan.id, auto_kinds)
            raise
        await asyncio.to_thread(
            repo.finish_step, plan.id, index, status=status, result=result, run_id=run_id
        )
        await self._publish(plan.id, auto_kinds)
        return True

    async def _execute(
        self, plan: PlanRecord, index: int, step: PlanStep, auto_kinds: Collection[str]
    ) -> tuple[str, dict[str, Any], str | None]:
        match step:
            case ShellStep() | HttpStep() | NotifyStep():
                return await self._automation_step(plan, index, step, auto_kinds)
            case CreateTaskStep():
                return await self._guarded(self._create_task, step)
            case UpdateTaskStep():
                return await self._guarded(self._update_task, step)
            case CreateAutomationStep():
                return await self._guarded(self._create_automation, step)
            case _:
                assert_never(step)

    async def _automation_step(
        self,
        plan: PlanRecord,
        index: int,
        step: ShellStep | HttpStep | NotifyStep,
        auto_kinds: Collection[str],
    ) -> tuple[str, dict[str, Any], str | None]:
        repo = self._conversations()

        async def started(run_id: str) -> None:
            # Linked at once, so the window can follow the output while it runs.
            await asyncio.to_thread(repo.set_step_run, plan.id, index, run_id)
            await self._publish(plan.id, auto_kinds)

        ctx = RunContext(
            automation_id=plan.id,
            automation_name="assistant plan",
            run_id=plan.id,
            # This gate has let the step through: the step runner must not ask again.
            spec=AutomationSpec(name="assistant plan", steps=[step], approval="auto"),
            trigger={"kind": "assistant"},
            source="ai",
            on_run=started,
        )
        result = await self._automations.steps.async_run(step, index, ctx)
        status = str(result.get("status", "failed"))
        run_id = result.get("run_id")
        return status, result, str(run_id) if run_id else None

    @staticmethod
    async def _guarded(
        action: Callable[[Any], Any], step: PlanStep
    ) -> tuple[str, dict[str, Any], str | None]:
        try:
            return "succeeded", await action(step), None
        except (AtomError, ValidationError) as exc:
            return "failed", {"error": str(exc)}, None

    async def _create_task(self, step: CreateTaskStep) -> dict[str, Any]:
        task = await asyncio.to_thread(self._tasks().create, step.task())
        return {"task_id": task.id, "task": task.to_json()}

    async def _update_task(self, step: UpdateTaskStep) -> dict[str, Any]:
        task = await asyncio.to_thread(self._tasks().update, step.task_id, step.update())
        return {"task_id": task.id, "task": task.to_json()}

    async def _create_automation(self, step: CreateAutomationStep) -> dict[str, Any]:
        state = await self._automations.async_create(step.automation)
        return {"automation_id": state.record.id, "name": state.record.name}

    async def _publish(self, plan_id: str, auto_kinds: Collection[str]) -> None:
        plan = await asyncio.to_thread(self._conversations().plan, plan_id)
        self._bus.publish(
            AssistantPlanChanged(
                plan_id=plan_id,
                conversation_id=plan.conversation_id,
                state=plan_state(plan.steps, auto_kinds).value,
            )
        )
