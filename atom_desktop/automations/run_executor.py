"""Carrying out one automation run: its steps in order, then how it ended.

A failed step stops the run unless it says ``continue_on_failure``; then the
``on_failure`` steps run (each recorded, none stopping the others). The
whole run is bounded by the automation's ``timeout_s``. The history row is
updated after every step, so a crash loses at most the step in progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from atom_desktop.automations.steps import RunContext, StepRunner, write_paths_file
from atom_desktop.core.alert_kinds import AlertKind
from atom_desktop.core.events import AutomationRunChanged, EventBus, NotificationRequested
from atom_desktop.core.statuses import AUTOMATION_RUN_FAILED
from atom_desktop.diagnostics.alerts import Alerts
from atom_desktop.store.automation_runs import AutomationRunRepository

logger = logging.getLogger(__name__)


class RunExecutor:
    """Runs the steps of automation runs and records their results."""

    def __init__(
        self,
        steps: StepRunner,
        repo: Callable[[], AutomationRunRepository],
        bus: EventBus,
        scratch_dir: Path,
        alerts: Alerts,
    ) -> None:
        self._steps = steps
        self._repo = repo
        self._bus = bus
        self._alerts = alerts
        self._scratch = scratch_dir

    async def async_execute(self, ctx: RunContext) -> str:
        """Run every step of ``ctx``'s automation; the final status."""
        spec = ctx.spec

        async def waiting(wait: bool) -> None:
            await self._update(ctx, status="waiting_approval" if wait else "running")

        ctx.waiting = waiting
        results: list[dict[str, Any]] = []
        status, error = "succeeded", None
        try:
            await self._update(ctx, status="running", started_at=datetime.now(UTC))
            paths = ctx.paths()
            if paths:
                ctx.paths_file = self._scratch / f"{ctx.run_id}.paths"
                await asyncio.to_thread(write_paths_file, ctx.paths_file, paths)
            async with asyncio.timeout(spec.timeout_s):
                failed = await self._run_steps(ctx, spec.steps, results, stop_on_failure=True)
                if failed is not None:
                    status, error = "failed", failed.get("error") or "a step failed"
                    if spec.on_failure:
                        await self._run_steps(ctx, spec.on_failure, results, stop_on_failure=False)
        except TimeoutError:
            status, error = "timed_out", f"The run took longer than {spec.timeout_s:g} s."
        except asyncio.CancelledError:
            if ctx.current_run_id is not None:
                # The step in progress links its (cancelled) command in the history.
                results.append(
                    {"index": len(results), "status": "cancelled", "run_id": ctx.current_run_id}
                )
            await self._end(ctx, results, "cancelled", "The run was cancelled.")
            raise
        except Exception as exc:
            logger.exception("Automation run %s failed inside the agent", ctx.run_id)
            status, error = "failed", f"internal error: {exc}"
        finally:
            if ctx.paths_file is not None:
                with contextlib.suppress(OSError):
                    ctx.paths_file.unlink()
        await self._end(ctx, results, status, error)
        return status

    async def _run_steps(
        self,
        ctx: RunContext,
        steps: list[Any],
        results: list[dict[str, Any]],
        *,
        stop_on_failure: bool,
    ) -> dict[str, Any] | None:
        """Run ``steps``; the first failing result that stops the run, if any."""
        for step in steps:
            index = len(results)
            result = await self._steps.async_run(step, index, ctx)
            results.append(result)
            await self._update(ctx, steps=results)
            if result["status"] != "succeeded" and stop_on_failure and not step.continue_on_failure:
                return result
        return None

    async def _update(self, ctx: RunContext, **fields: Any) -> None:
        await asyncio.to_thread(self._repo().update, ctx.run_id, **fields)
        if "status" in fields:
            self._bus.publish(
                AutomationRunChanged(
                    automation_id=ctx.automation_id, run_id=ctx.run_id, status=fields["status"]
                )
            )

    async def _end(
        self, ctx: RunContext, results: list[dict[str, Any]], status: str, error: str | None
    ) -> None:
        await self._update(
            ctx, status=status, error=error, steps=results, ended_at=datetime.now(UTC)
        )
        title = f"{ctx.automation_name}: {status.replace('_', ' ')}"
        message = "Finished." if error is None else error
        wanted = ctx.spec.notify.success if status == "succeeded" else ctx.spec.notify.failure
        if wanted and status in AUTOMATION_RUN_FAILED:
            # An alert: the person hears of it with the window closed, at most
            # once in a while per automation, unless alerts of the kind are off.
            self._alerts.raise_alert(AlertKind.AUTOMATION_FAILED, ctx.automation_id, title, message)
        elif wanted:
            level = "info" if status == "succeeded" else "error"
            self._bus.publish(NotificationRequested(title=title, message=message, level=level))
        logger.info("Automation %r run %s ended %s", ctx.automation_name, ctx.run_id, status)
