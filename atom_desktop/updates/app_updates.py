"""The update service of this copy of the app: what it was built with and where it runs."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import Callable, MutableMapping
from pathlib import Path

import httpx

from atom_desktop import __version__
from atom_desktop.core.events import EventBus
from atom_desktop.updates.build_info import load_update_source
from atom_desktop.updates.handover import handover_program
from atom_desktop.updates.linux_layout import LinuxLayout
from atom_desktop.updates.manifest import this_platform
from atom_desktop.updates.markers import HANDOVER_ENV, TRIAL_ENV
from atom_desktop.updates.service import AppHandover, RunControl, UpdateService, UpdateTiming
from atom_desktop.updates.trial import confirm_trial
from atom_desktop.updates.updater import Updater

logger = logging.getLogger(__name__)

#: How long a version on trial tries to reach its own /health before giving up.
_HEALTH_WAIT_S = 30.0


def app_update_service(
    *,
    check: bool,
    url_setting: str | None,
    cache_dir: Path,
    bus: EventBus,
    runs: RunControl,
    quit_app: Callable[[], None],
    health_url: Callable[[], str],
    environ: MutableMapping[str, str] | None = None,
    frozen: bool | None = None,
    executable: Path | None = None,
    argv: list[str] | None = None,
    timing: UpdateTiming | None = None,
) -> UpdateService:
    """Build the update service for the running app (the defaults describe this process)."""
    env = os.environ if environ is None else environ
    is_frozen = getattr(sys, "frozen", False) if frozen is None else frozen
    program = Path(sys.executable) if executable is None else executable
    source = load_update_source(
        frozen=is_frozen, executable=program, url_setting=url_setting, check_setting=check
    )
    layout = LinuxLayout.of_executable(program) if sys.platform.startswith("linux") else None
    off = source.off
    if off is None and layout is None:
        off = (
            "This copy is not installed where it can update itself "
            "(INSTALL_ROOT/versions/<version>, started through INSTALL_ROOT/current)."
            if sys.platform.startswith("linux")
            else "Installing updates is not available on this system yet."
        )
    updater = None
    if off is None and layout is not None:
        updater = Updater(
            source,
            installer=layout,
            installed=__version__,
            platform=this_platform(),
            cache_dir=cache_dir / "updates",
        )
    # The new version inherits this app's environment, minus the handover's own markers.
    child_env = {k: v for k, v in env.items() if k not in (TRIAL_ENV, HANDOVER_ENV)}
    handover = AppHandover(
        program=handover_program(frozen=is_frozen, executable=program),
        app_args=list(sys.argv[1:] if argv is None else argv),
        pid=os.getpid(),
        env=child_env,
        quit=quit_app,
    )

    async def confirm_when_healthy() -> None:
        await async_confirm_trial(health_url(), env)

    return UpdateService(
        updater=updater,
        layout=layout,
        installed=__version__,
        off_reason=off,
        bus=bus,
        runs=runs,
        handover=handover,
        timing=timing,
        on_started=confirm_when_healthy if env.get(TRIAL_ENV) else None,
    )


async def async_confirm_trial(health_url: str, environ: MutableMapping[str, str]) -> bool:
    """Confirm a trial start once this agent answers ``health_url``; False if it never does."""
    deadline = time.monotonic() + _HEALTH_WAIT_S
    async with httpx.AsyncClient(timeout=5.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            try:
                response = await client.get(health_url)
            except httpx.HTTPError:
                response = None
            if response is not None and response.status_code == 200:
                await asyncio.to_thread(confirm_trial, environ)
                logger.info("Started on trial after an update; confirmed")
                return True
            await asyncio.sleep(0.1)
    logger.error(
        "The agent did not answer %s; the update's trial start is not confirmed", health_url
    )
    return False
