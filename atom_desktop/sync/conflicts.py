"""Resolving the conflict inbox: one way, for the API and the window alike.

A task's kept version is restored by the store in one transaction
(:meth:`ConflictInbox.restore_task`); an automation's through the
automation service, which stores it and re-arms its triggers, and is then
marked resolved. After either, and after a dismiss, the sync status is read
again and published, so that every view of the conflict count (the tray,
the page, ``sync.status`` listeners) follows at once, sync on or off.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from pydantic import ValidationError

from atom_desktop.automations.model import AutomationSpec
from atom_desktop.automations.service import AutomationService
from atom_desktop.automations.triggers import TriggerError
from atom_desktop.core.events import EventBus
from atom_desktop.store.errors import NotFoundError
from atom_desktop.store.service import StoreService
from atom_desktop.store.sync_conflicts import (
    ConflictInbox,
    ConflictRecord,
    NotRestorableError,
    check_restorable,
)
from atom_desktop.sync.service import SyncService

#: Called with the spec about to be restored; raises to refuse it (the API's
#: scope check: shell steps that run unapproved need the ``run`` scope).
SpecCheck = Callable[[AutomationSpec], None]


class ConflictResolver:
    """Lists, restores and dismisses conflicts; call it on the agent's loop."""

    def __init__(
        self,
        store: StoreService,
        automations: AutomationService,
        sync: SyncService,
        bus: EventBus,
    ) -> None:
        self._store = store
        self._automations = automations
        self._sync = sync
        self._bus = bus

    def inbox(self) -> ConflictInbox:
        """The store's inbox (blocking: use it from a worker thread)."""
        return ConflictInbox(self._store.database, self._bus)

    async def async_page(
        self, *, include_resolved: bool = False, limit: int = 50, before: int | None = None
    ) -> list[ConflictRecord]:
        """Conflicts newest first (open ones unless ``include_resolved``)."""
        return await asyncio.to_thread(
            self.inbox().page, include_resolved=include_resolved, limit=limit, before=before
        )

    async def async_restore(
        self, conflict_id: int, *, check_spec: SpecCheck | None = None
    ) -> ConflictRecord:
        """Make the kept version the current one again, as a new change made here now.

        NotFoundError for an unknown conflict; ConflictResolvedError or
        NotRestorableError (saying why) when it cannot be restored.
        """
        inbox = self.inbox()
        record = await asyncio.to_thread(inbox.get, conflict_id)
        check_restorable(record)
        if record.entity == "task":
            restored, _ = await asyncio.to_thread(inbox.restore_task, conflict_id)
        else:
            await self._restore_automation(record, check_spec)
            restored = await asyncio.to_thread(inbox.mark_resolved, conflict_id)
        await self._sync.async_refresh()
        return restored

    async def async_dismiss(self, conflict_id: int) -> ConflictRecord:
        """Keep the version that won and resolve the conflict; nothing else changes."""
        dismissed = await asyncio.to_thread(self.inbox().dismiss, conflict_id)
        await self._sync.async_refresh()
        return dismissed

    async def _restore_automation(
        self, record: ConflictRecord, check_spec: SpecCheck | None
    ) -> None:
        automation_id = record.entity_id
        try:
            if record.deleted:
                if record.current.exists:
                    await self._automations.async_delete(automation_id)
                return
            if not record.current.exists:
                raise NotRestorableError(
                    f"Automation {automation_id} was deleted after this version was made, and "
                    "an automation cannot be brought back under its old id. Create it again "
                    "and dismiss this conflict."
                )
            spec = kept_spec(record)
            if check_spec is not None:
                check_spec(spec)
            await self._automations.async_replace(automation_id, spec)
        except NotFoundError:
            # Deleted between the check above and the change.
            if not record.deleted:
                raise NotRestorableError(
                    f"Automation {automation_id} was deleted meanwhile; create it again and "
                    "dismiss this conflict."
                ) from None
        except TriggerError as exc:
            raise NotRestorableError(
                f"This version of automation {automation_id} can no longer be armed "
                f"({exc.message}). Dismiss the conflict, or change the automation."
            ) from None


def kept_spec(record: ConflictRecord) -> AutomationSpec:
    """The automation spec a conflict kept; NotRestorableError if it cannot be read here."""
    spec = record.payload.get("spec")
    try:
        return AutomationSpec.model_validate(spec)
    except ValidationError as exc:
        # Where and what only: the input may hold a secret.
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise NotRestorableError(
            f"This version of automation {record.entity_id} is in a form this version of "
            f"ATOM Desktop cannot read ({where}: {first['msg']}). Dismiss the conflict."
        ) from None


__all__ = ["ConflictResolver", "SpecCheck", "kept_spec"]
