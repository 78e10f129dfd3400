"""The store as a runtime service: find the key, open, migrate, close."""

from __future__ import annotations

import asyncio
import logging

from atom_desktop.config.paths import AppPaths
from atom_desktop.core.events import EventBus
from atom_desktop.core.ids import IdFactory
from atom_desktop.secrets.database_key import DatabaseKey, DatabaseKeyPolicy
from atom_desktop.store.audit import AuditLog
from atom_desktop.store.automation_runs import AutomationRunRepository
from atom_desktop.store.automations import AutomationRepository
from atom_desktop.store.conversations import ConversationRepository
from atom_desktop.store.database import Database
from atom_desktop.store.errors import StoreError
from atom_desktop.store.outbox import Outbox
from atom_desktop.store.run_processes import RunProcessRepository
from atom_desktop.store.runs import RunRepository
from atom_desktop.store.tasks import TaskRepository
from atom_desktop.store.tokens import TokenRepository

logger = logging.getLogger(__name__)


class StoreService:
    """Owns the open database and the repositories over it."""

    name = "store"

    def __init__(
        self, paths: AppPaths, key_policy: DatabaseKeyPolicy, bus: EventBus, ids: IdFactory
    ) -> None:
        self._paths = paths
        self._key_policy = key_policy
        self._bus = bus
        self._ids = ids
        self._db: Database | None = None
        self._tasks: TaskRepository | None = None
        self._outbox: Outbox | None = None
        self._api_tokens: TokenRepository | None = None
        self._audit: AuditLog | None = None
        self._runs: RunRepository | None = None
        self._run_processes: RunProcessRepository | None = None
        self._automations: AutomationRepository | None = None
        self._automation_runs: AutomationRunRepository | None = None
        self._conversations: ConversationRepository | None = None
        self.key: DatabaseKey | None = None

    @property
    def key_policy(self) -> DatabaseKeyPolicy:
        """Finds the database key at the start (the window sets who it may ask)."""
        return self._key_policy

    @property
    def database(self) -> Database:
        """The open database (only between start and stop)."""
        if self._db is None:
            raise StoreError("The store is not open.")
        return self._db

    @property
    def tasks(self) -> TaskRepository:
        """The task repository (only between start and stop)."""
        if self._tasks is None:
            raise StoreError("The store is not open.")
        return self._tasks

    @property
    def outbox(self) -> Outbox:
        """Pending sync changes (only between start and stop)."""
        if self._outbox is None:
            raise StoreError("The store is not open.")
        return self._outbox

    @property
    def api_tokens(self) -> TokenRepository:
        """API token hashes (only between start and stop)."""
        if self._api_tokens is None:
            raise StoreError("The store is not open.")
        return self._api_tokens

    @property
    def runs(self) -> RunRepository:
        """Run records and output (only between start and stop)."""
        if self._runs is None:
            raise StoreError("The store is not open.")
        return self._runs

    @property
    def run_processes(self) -> RunProcessRepository:
        """The processes of going runs (only between start and stop)."""
        if self._run_processes is None:
            raise StoreError("The store is not open.")
        return self._run_processes

    @property
    def automations(self) -> AutomationRepository:
        """Automations and their missed times (only between start and stop)."""
        if self._automations is None:
            raise StoreError("The store is not open.")
        return self._automations

    @property
    def automation_runs(self) -> AutomationRunRepository:
        """Automation history and approvals (only between start and stop)."""
        if self._automation_runs is None:
            raise StoreError("The store is not open.")
        return self._automation_runs

    @property
    def conversations(self) -> ConversationRepository:
        """The assistant's conversations and plans (only between start and stop)."""
        if self._conversations is None:
            raise StoreError("The store is not open.")
        return self._conversations

    @property
    def audit(self) -> AuditLog:
        """The audit log (only between start and stop)."""
        if self._audit is None:
            raise StoreError("The store is not open.")
        return self._audit

    async def async_start(self) -> None:
        """Resolve the key and open the database off the event loop."""
        await asyncio.to_thread(self._open)

    def _open(self) -> None:
        key = self._key_policy.resolve()
        logger.info("Key storage: %s", key.describe())
        if key.warning:
            logger.warning(key.warning)
        db = Database.open(
            self._paths.database,
            key.key,
            key_verified=self._key_policy.record_path.exists(),
        )
        try:
            self._key_policy.confirm(key)
        except BaseException:
            db.close()
            raise
        self.key = key
        self._db = db
        self._tasks = TaskRepository(db, self._ids, self._bus)
        self._outbox = Outbox(db)
        self._api_tokens = TokenRepository(db, self._ids)
        self._audit = AuditLog(db)
        self._runs = RunRepository(db)
        self._run_processes = RunProcessRepository(db)
        self._automations = AutomationRepository(db, self._ids)
        self._automation_runs = AutomationRunRepository(db, self._ids)
        self._conversations = ConversationRepository(db, self._ids)
        logger.info("Opened the encrypted database %s", self._paths.database)

    async def async_stop(self) -> None:
        """Close the database (checkpoints the WAL) off the event loop."""
        db, self._db = self._db, None
        self._tasks = self._outbox = self._api_tokens = self._audit = self._runs = None
        self._automations = None
        self._automation_runs = None
        self._conversations = None
        self._run_processes = None
        if db is not None:
            await asyncio.to_thread(db.close)
