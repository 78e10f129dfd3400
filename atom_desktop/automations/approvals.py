"""Approvals: a shell step of an ``ask`` automation waits here for a person.

The pending approval is stored first (so the window, the tray and
``GET /api/v1/approvals`` see it), then the step waits for a decision or the
expiry. A decision is stored atomically: the first of approve, deny and
expire wins, and the others get a conflict.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from atom_desktop.core.events import ApprovalChanged, EventBus
from atom_desktop.store.automation_runs import ApprovalRecord, AutomationRunRepository
from atom_desktop.store.errors import ConflictError

logger = logging.getLogger(__name__)


class ApprovalDesk:
    """Creates approvals, waits on them, and takes decisions."""

    def __init__(
        self,
        repo: Callable[[], AutomationRunRepository],
        bus: EventBus,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._repo = repo
        self._bus = bus
        self._clock = clock
        self._waiting: dict[str, asyncio.Future[ApprovalRecord]] = {}

    async def async_ask(
        self, automation_id: str, run_id: str, step: int, command: str, timeout_s: float
    ) -> ApprovalRecord:
        """Wait for a decision on ``command``; the decided (or expired) approval."""
        expires_at = self._clock() + timedelta(seconds=timeout_s)
        record = await asyncio.to_thread(
            self._repo().request_approval, automation_id, run_id, step, command, expires_at
        )
        future: asyncio.Future[ApprovalRecord] = asyncio.get_running_loop().create_future()
        self._waiting[record.id] = future
        self._publish(record)
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout_s)
        except TimeoutError:
            return await self._close(record.id, "expired", "timeout")
        except asyncio.CancelledError:
            # The run was cancelled or the agent is stopping: nobody waits any more.
            with contextlib.suppress(Exception):
                await self._close(record.id, "expired", "run ended")
            raise
        finally:
            self._waiting.pop(record.id, None)

    async def async_decide(self, approval_id: str, *, approve: bool, by: str) -> ApprovalRecord:
        """Approve or deny a pending approval (NotFoundError, ConflictError if decided)."""
        status = "approved" if approve else "denied"
        record = await asyncio.to_thread(self._repo().decide, approval_id, status, by)
        logger.info("Approval %s %s by %s", approval_id, status, by)
        self._publish(record)
        future = self._waiting.get(approval_id)
        if future is not None and not future.done():
            future.set_result(record)
        return record

    async def _close(self, approval_id: str, status: str, by: str) -> ApprovalRecord:
        try:
            record = await asyncio.to_thread(self._repo().decide, approval_id, status, by)
        except ConflictError:
            # A decision landed just before: it counts.
            return await asyncio.to_thread(self._repo().approval, approval_id)
        self._publish(record)
        return record

    def _publish(self, record: ApprovalRecord) -> None:
        self._bus.publish(
            ApprovalChanged(
                approval_id=record.id,
                automation_id=record.automation_id,
                status=record.status,
                command=record.command,
            )
        )
