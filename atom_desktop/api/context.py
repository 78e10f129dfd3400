"""What the API needs from the running agent (the runtime provides it)."""

from __future__ import annotations

from typing import Protocol

from atom_desktop.api.auth import TokenAuthority
from atom_desktop.assistant.service import AssistantService
from atom_desktop.automations.service import AutomationService
from atom_desktop.config.paths import AppPaths
from atom_desktop.config.settings import Settings
from atom_desktop.core.events import EventBus
from atom_desktop.diagnostics.alerts import Alerts
from atom_desktop.integrations.service import IntegrationService
from atom_desktop.runner.service import RunnerService
from atom_desktop.store.audit import AuditLog
from atom_desktop.store.service import StoreService
from atom_desktop.sync.conflicts import ConflictResolver
from atom_desktop.sync.service import SyncService
from atom_desktop.updates.service import UpdateService


class AgentContext(Protocol):
    """The services and facts routes use; the runtime implements it."""

    settings: Settings
    paths: AppPaths
    bus: EventBus
    store: StoreService
    runner: RunnerService
    automations: AutomationService
    sync: SyncService
    sync_conflicts: ConflictResolver
    integrations: IntegrationService
    updates: UpdateService
    alerts: Alerts
    assistant: AssistantService

    @property
    def state(self) -> str:
        """new, starting, running, stopping, stopped or failed."""
        ...

    @property
    def uptime_s(self) -> float:
        """Seconds since the agent started running."""
        ...

    @property
    def tokens(self) -> TokenAuthority:
        """The token authority."""
        ...

    @property
    def audit(self) -> AuditLog:
        """The audit log."""
        ...

    @property
    def window_attached(self) -> bool:
        """Whether a desktop window is attached to this agent (False when headless)."""
        ...

    @property
    def api_port(self) -> int:
        """The port the API listens on."""
        ...

    async def async_reconnect_sync(self) -> str | None:
        """Read the sync server from the settings again and use it; the address or None."""
        ...
