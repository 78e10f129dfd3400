"""The composition root: builds every service from settings and runs them.

The agent lives on one asyncio loop: the main thread's for ``serve``, a
thread of its own (atom_desktop/agent_thread.py) in the desktop app.
Services start in order and stop in reverse; a stop is bounded in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import time
from typing import Literal, TypeVar

import keyring.backend

from atom_desktop import __version__
from atom_desktop.api.auth import TokenAuthority, TokenService
from atom_desktop.api.routes.oauth_callback import CALLBACK_PATH
from atom_desktop.api.server import ApiService
from atom_desktop.assistant.context import IntegrationLine
from atom_desktop.assistant.service import AssistantConfig, AssistantService
from atom_desktop.automations.service import AutomationService, AutomationSettings
from atom_desktop.config.logging_setup import LOG_FILE_NAME
from atom_desktop.config.paths import AppPaths
from atom_desktop.config.settings import Settings
from atom_desktop.core.events import AgentStateChanged, EventBus
from atom_desktop.core.ids import IdFactory
from atom_desktop.core.redaction import Redactor
from atom_desktop.core.service import Service
from atom_desktop.diagnostics import edges
from atom_desktop.diagnostics.alerts import Alerts
from atom_desktop.diagnostics.reports import REPORTS_DIR_NAME, ErrorReports
from atom_desktop.integrations.clients import ClientSettings
from atom_desktop.integrations.service import IntegrationService
from atom_desktop.platform import stop_signals
from atom_desktop.platform.instance_lock import LOCK_FILE_NAME, InstanceService
from atom_desktop.runner.policy import CommandPolicy
from atom_desktop.runner.service import RunnerService, RunnerSettings
from atom_desktop.secrets.api_token import OwnerTokenStore
from atom_desktop.secrets.database_key import KEY_ENTRY, DatabaseKeyPolicy
from atom_desktop.secrets.keyring_vault import KeyringVault
from atom_desktop.secrets.profile import keyring_service
from atom_desktop.store.audit import AuditLog
from atom_desktop.store.service import StoreService
from atom_desktop.sync.conflicts import ConflictResolver
from atom_desktop.sync.connection_settings import SyncConnectionStore
from atom_desktop.sync.service import SyncService
from atom_desktop.updates.app_updates import app_update_service
from atom_desktop.updates.service import RunControl

logger = logging.getLogger(__name__)

T = TypeVar("T")
State = Literal["new", "starting", "running", "stopping", "stopped", "failed"]


class Runtime:
    """Builds and runs the agent of one profile."""

    def __init__(
        self,
        settings: Settings,
        *,
        paths: AppPaths | None = None,
        redactor: Redactor | None = None,
        keyring_backend: keyring.backend.KeyringBackend | None = None,
        heartbeat_s: float = 15.0,
    ) -> None:
        self.settings = settings
        self.paths = paths or AppPaths.resolve(
            data_dir=settings.data_dir, config_dir=settings.config_dir, log_dir=settings.log_dir
        )
        self.redactor = redactor or Redactor()
        # Unexpected failures the services log become reports (diagnostics/edges.py).
        self.error_reports = ErrorReports(
            self.paths.data_dir / REPORTS_DIR_NAME,
            self.redactor,
            log_file=self.paths.log_dir / LOG_FILE_NAME,
        )
        self._report_handler: edges.ReportingHandler | None = None
        self.bus = EventBus()
        self.ids = IdFactory()
        # The database key is the first secret the start reads.
        self.vault = KeyringVault(
            keyring_service(self.paths.data_dir), keyring_backend, probe_entry=KEY_ENTRY
        )
        # Problems the person hears about with the window closed (diagnostics/alerts.py).
        self.alerts = Alerts(
            settings,
            self.bus,
            self.redactor,
            self.paths.data_dir,
            keyring_locked=self.vault.locked_now,
        )
        self.vault.on_locked = self.alerts.keyring_found_locked
        self.store = StoreService(
            self.paths,
            DatabaseKeyPolicy(settings, self.paths, self.vault, self.redactor),
            self.bus,
            self.ids,
        )
        self.instance = InstanceService(self.paths.data_dir / LOCK_FILE_NAME)
        self.token_service = TokenService(
            OwnerTokenStore(settings, self.paths, self.vault, self.redactor),
            lambda: self.store.api_tokens,
        )
        # One policy for every command nobody typed: runs, automations, plans.
        policy = CommandPolicy(settings.deny_commands, settings.allow_commands)
        self.runner = RunnerService(
            RunnerSettings(
                max_concurrent=settings.max_concurrent_runs,
                output_cap=int(settings.run_output_cap_mib * 1024 * 1024),
                kill_grace_s=settings.kill_grace_s,
                policy=policy,
            ),
            lambda: self.store.runs,
            lambda: self.store.run_processes,
            self.bus,
            self.ids,
            secrets=self.redactor.secrets,
        )
        self.integrations = IntegrationService(
            self.store,
            self.vault,
            ClientSettings(self.paths.config_file, self.vault),
            self.bus,
            self.redactor,
            self.ids,
            lambda: f"http://127.0.0.1:{self.api_port}{CALLBACK_PATH}",
            alerts=self.alerts,
        )
        self.automations = AutomationService(
            AutomationSettings(
                debounce_s=settings.automation_debounce_s,
                history_days=settings.automation_history_days,
                history_max_runs=settings.automation_history_max_runs,
                scratch_dir=self.paths.data_dir / "automation-runs",
            ),
            self.store,
            self.runner,
            self.bus,
            alerts=self.alerts,
            credentials=self.integrations.async_request_auth,
        )
        self.assistant = AssistantService(
            AssistantConfig.from_settings(settings),
            self.store,
            self.automations,
            policy=policy,
            vault=self.vault,
            redactor=self.redactor,
            bus=self.bus,
            integrations=lambda: [
                IntegrationLine(a.id, a.provider_name, a.status)
                for a in self.integrations.accounts()
            ],
        )
        # Off (nothing started, nothing connected) unless a server URL is set.
        self.sync_connection = SyncConnectionStore(self.paths.config_file, self.vault)
        self.sync = SyncService(
            settings.sync_url.get_secret_value() if settings.sync_url else None,
            self.store,
            self.bus,
            self.redactor,
            password=self.sync_connection.stored_password,
        )
        self.sync_conflicts = ConflictResolver(self.store, self.automations, self.sync, self.bus)
        self.api = ApiService(self, heartbeat_s=heartbeat_s)
        # Off (with the reason) from source and in builds without an update key.
        self.updates = app_update_service(
            check=settings.update_check,
            url_setting=settings.update_url,
            cache_dir=self.paths.cache_dir,
            bus=self.bus,
            runs=RunControl(
                active=lambda: len(self.runner.active_runs()),
                paused=lambda: self.runner.paused,
                pause=self.runner.async_pause,
                resume=self.runner.async_resume,
            ),
            quit_app=self.request_stop,
            health_url=lambda: f"http://127.0.0.1:{self.api_port}/api/v1/health",
        )
        # Start order; stop runs it backwards (the API closes before runs are cancelled).
        # What can fail cheaply comes first: the lock, then the API's port, so
        # a second agent or a busy port is refused before a database, key or
        # token is made.
        self.services: list[Service] = [
            self.instance,
            _ApiPort(self.api),
            # Before the services whose problems it tells, so it stops after them.
            self.alerts,
            self.store,
            self.token_service,
            self.runner,
            self.integrations,
            self.automations,
            self.assistant,
            self.sync,
            self.api,
            # Last: a version started on trial confirms once the API answers.
            self.updates,
        ]
        self.state: State = "new"
        self.started_at: float | None = None
        self._started: list[Service] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_requested: asyncio.Event | None = None
        # Set by the desktop app that hosts this agent; headless agents have none.
        self.window_attached = False

    # -- what the API reads -------------------------------------------------------

    @property
    def uptime_s(self) -> float:
        """Seconds since the agent started running (0 before)."""
        return 0.0 if self.started_at is None else time.monotonic() - self.started_at

    @property
    def api_port(self) -> int:
        """The port the API listens on (the configured one until it is bound)."""
        return self.api.port if self.api.port is not None else self.settings.port

    @property
    def tokens(self) -> TokenAuthority:
        """The API token authority."""
        return self.token_service.authority

    @property
    def audit(self) -> AuditLog:
        """The audit log."""
        return self.store.audit

    # -- on the loop ------------------------------------------------------------

    async def async_start(self) -> None:
        """Start every service in order; on failure stop those already started."""
        self._loop = asyncio.get_running_loop()
        self._stop_requested = asyncio.Event()
        self._set_state("starting")
        try:
            self.paths.ensure()
            self._report_handler = edges.attach(self.error_reports)
            for service in self.services:
                try:
                    await service.async_start()
                except BaseException:
                    self._set_state("failed")
                    await self._async_stop_started()
                    self._detach_reports()
                    raise
                self._started.append(service)
            self.started_at = time.monotonic()
            # Everything built so far (imports, engines, the app) lives as long as
            # the agent: keep it out of the collector's full passes, which
            # otherwise stall requests for tens of milliseconds (bench/api.py).
            # The few hundred objects of start-up garbage frozen with it are
            # cheaper than the 50-100 ms a collection first would stall for.
            gc.freeze()
        finally:
            # The command line holds collection off while the agent starts
            # (cli.hold_collection); from here on it runs as usual.
            gc.enable()
        self.instance.lock.update({"pid": os.getpid(), "port": self.api_port})
        self._set_state("running")
        logger.info("ATOM Desktop %s agent running (data in %s)", __version__, self.paths.data_dir)

    async def async_stop(self) -> None:
        """Stop the started services in reverse order within the shutdown timeout."""
        if self.state in ("stopped", "new"):
            return
        self._set_state("stopping")
        await self._async_stop_started()
        self._detach_reports()
        self._set_state("stopped")
        logger.info("Agent stopped")

    def _detach_reports(self) -> None:
        handler, self._report_handler = self._report_handler, None
        if handler is not None:
            edges.detach(handler)

    async def _async_stop_started(self) -> None:
        deadline = time.monotonic() + self.settings.shutdown_timeout_s
        while self._started:
            service = self._started.pop()
            remaining = max(0.1, deadline - time.monotonic())
            try:
                await asyncio.wait_for(service.async_stop(), remaining)
            except TimeoutError:
                logger.error("Service %s did not stop within %.1f s", service.name, remaining)
            except Exception:
                logger.exception("Service %s failed while stopping", service.name)

    async def async_run(self) -> None:
        """Start, wait until a stop is requested, stop."""
        await self.async_start()
        try:
            await self.async_wait_for_stop_request()
        finally:
            await self.async_stop()

    async def async_reconnect_sync(self) -> str | None:
        """Read the sync server from the settings again and sync with it (or turn sync off).

        For a server set or removed after the start (``sync connect``, the
        window). Returns the address now used, without its password.
        """
        configured = await asyncio.to_thread(self.sync_connection.configured)
        url = configured.url if configured else None
        await self.sync.async_reconfigure(url)
        return self.sync.status.server

    async def async_wait_for_stop_request(self) -> None:
        """Return once :meth:`request_stop` has been called (after :meth:`async_start`)."""
        assert self._stop_requested is not None
        await self._stop_requested.wait()

    # -- thread-safe ----------------------------------------------------------------

    def request_stop(self) -> None:
        """Ask the agent to stop; safe from any thread and from signal handlers."""
        loop, event = self._loop, self._stop_requested
        if loop is None or event is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(event.set)

    def serve(self) -> None:
        """Run the agent on this (main) thread until SIGINT, SIGTERM or a stop request."""
        asyncio.run(self._serve_with_signals())

    async def _serve_with_signals(self) -> None:
        # The loop's own handlers on POSIX, signal.signal on Windows (whose loop has none).
        uninstall = stop_signals.choose_backend().install(
            asyncio.get_running_loop(), self._on_signal
        )
        try:
            await self.async_run()
        finally:
            uninstall()

    def _on_signal(self, sig: signal.Signals) -> None:
        logger.info("Received %s; stopping", sig.name)
        self.request_stop()

    def _set_state(self, state: State) -> None:
        self.state = state
        self.bus.publish(AgentStateChanged(state=state))


class _ApiPort:
    """Binds the API's port early in the start (see :meth:`ApiService.listen`)."""

    name = "api-port"

    def __init__(self, api: ApiService) -> None:
        self._api = api

    async def async_start(self) -> None:
        """Take the port now; the API service serves on it once everything else runs."""
        self._api.listen()

    async def async_stop(self) -> None:
        """Let the port go if the start failed before the API took it."""
        self._api.close_unused()
