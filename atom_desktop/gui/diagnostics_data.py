"""What the Diagnostics page lists: the health of each service and integration, and
the latest error reports. Read on the agent loop (``host.call(diagnostics_overview, ...)``);
files and the store are read in worker threads.

Each part of the agent gets one row, in the order the runtime starts them,
then one row per integration account. A row says OK, a warning (works, but
worth knowing), a problem (something does not work) or off (not set up),
with a sentence on what was found: the same judgements ``atom-desktop
doctor`` makes from outside, here from inside the running agent.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from atom_desktop import __version__
from atom_desktop.core.statuses import AUTOMATION_RUN_FAILED
from atom_desktop.diagnostics.reports import ReportSummary
from atom_desktop.gui.number_cells import format_bytes

if TYPE_CHECKING:
    from atom_desktop.runtime import Runtime

#: How many reports the page lists (the newest).
REPORT_LIMIT = 20


class Health(StrEnum):
    """How a part of the agent is doing (the status chips have a word and colour for each)."""

    OK = "ok"
    WARNING = "warning"
    PROBLEM = "problem"
    OFF = "off"


@dataclass(frozen=True, slots=True)
class HealthRow:
    """One service or integration account: its name, health and what was found."""

    name: str
    health: Health
    detail: str


@dataclass(frozen=True, slots=True)
class Report:
    """An error report as the page lists it, with the file to open."""

    summary: ReportSummary
    path: str
    time: datetime | None


@dataclass(frozen=True, slots=True)
class DiagnosticsOverview:
    """Everything the page lists besides the plots."""

    health: list[HealthRow]
    reports: list[Report]


async def diagnostics_overview(runtime: Runtime) -> DiagnosticsOverview:
    """Each part's health and the newest reports."""
    rows = [_agent(runtime), _api(runtime), await _store(runtime), _runner(runtime)]
    rows.append(await _automations(runtime))
    rows.append(await _sync(runtime))
    rows.append(_updates(runtime))
    rows += _integrations(runtime)
    reports = await asyncio.to_thread(_reports, runtime)
    return DiagnosticsOverview(rows, reports)


def _agent(runtime: Runtime) -> HealthRow:
    up = _duration(runtime.uptime_s)
    if runtime.state == "running":
        return HealthRow("Agent", Health.OK, f"running for {up}, version {__version__}")
    return HealthRow("Agent", Health.WARNING, f"{runtime.state}, version {__version__}")


def _api(runtime: Runtime) -> HealthRow:
    address = f"http://{runtime.settings.host}:{runtime.api_port}"
    answered = runtime.api.requests_answered
    plural = "s" if answered != 1 else ""
    return HealthRow("API", Health.OK, f"listening on {address}, {answered} request{plural} so far")


async def _store(runtime: Runtime) -> HealthRow:
    key = runtime.store.key
    if key is None:
        return HealthRow("Database", Health.PROBLEM, "not open")
    size = await asyncio.to_thread(_database_size, runtime)
    found = f"encrypted, key in the {key.describe()}; {format_bytes(size)}"
    return HealthRow("Database", Health.WARNING if key.warning else Health.OK, found)


def _database_size(runtime: Runtime) -> int:
    path = runtime.paths.database
    total = 0
    for suffix in ("", "-wal"):
        with contextlib.suppress(OSError):  # no WAL file right now
            total += path.with_name(path.name + suffix).stat().st_size
    return total


def _runner(runtime: Runtime) -> HealthRow:
    runner = runtime.runner
    found = f"{runner.running_count} running, {runner.queued_count} queued"
    if runner.paused:
        return HealthRow("Runner", Health.WARNING, f"paused: new runs wait ({found})")
    return HealthRow("Runner", Health.OK, found)


async def _automations(runtime: Runtime) -> HealthRow:
    states = await runtime.automations.async_list()
    if not states:
        return HealthRow("Automations", Health.OFF, "none yet")
    enabled = sum(1 for s in states if s.record.enabled)
    failed = sorted(
        s.record.name
        for s in states
        if s.last_run is not None and s.last_run.status in AUTOMATION_RUN_FAILED
    )
    found = f"{enabled} of {len(states)} enabled"
    if failed:
        return HealthRow(
            "Automations", Health.WARNING, f"{found}; last run failed: {', '.join(failed)}"
        )
    return HealthRow("Automations", Health.OK, found)


async def _sync(runtime: Runtime) -> HealthRow:
    status = await runtime.sync.async_status()
    state = str(status.state)
    if state == "off":
        return HealthRow("Sync", Health.OFF, "no sync server set")
    waiting = f"{status.pending} change{'s' if status.pending != 1 else ''} waiting"
    if state in ("up_to_date", "syncing"):
        return HealthRow("Sync", Health.OK, f"{state.replace('_', ' ')} with {status.server}")
    said = status.last_error or "no error recorded"
    health = Health.PROBLEM if state == "error" else Health.WARNING
    return HealthRow("Sync", health, f"{state} ({waiting}): {said}")


def _updates(runtime: Runtime) -> HealthRow:
    status = runtime.updates.status
    state = str(status.state)
    if state == "off":
        return HealthRow("Updates", Health.OFF, status.message or "off")
    words = state.replace("_", " ")
    if state in ("failed", "rolled_back"):
        return HealthRow("Updates", Health.WARNING, f"{words}: {status.message or ''}".rstrip(": "))
    if status.available:
        words += f" ({status.available})"
    return HealthRow("Updates", Health.OK, words)


#: Integration account statuses and their health.
_ACCOUNT_HEALTH = {
    "connected": Health.OK,
    "pending": Health.OK,
    "reconnect_needed": Health.PROBLEM,
    "error": Health.PROBLEM,
}


def _integrations(runtime: Runtime) -> list[HealthRow]:
    accounts = runtime.integrations.accounts()
    if not accounts:
        return [HealthRow("Integrations", Health.OFF, "none connected")]
    rows = []
    for account in accounts:
        name = f"{account.provider_name} ({account.account})" if account.account else None
        found = account.status.replace("_", " ")
        if account.last_error:
            found += f": {account.last_error}"
        health = _ACCOUNT_HEALTH.get(account.status, Health.WARNING)
        if health is Health.OK and account.last_error:
            health = Health.WARNING  # e.g. a key kept while offline, not checked yet
        rows.append(HealthRow(name or account.provider_name, health, found))
    return rows


def _reports(runtime: Runtime) -> list[Report]:
    folder = runtime.error_reports.folder
    found = []
    for summary in folder.summaries()[:REPORT_LIMIT]:
        path = folder.path_of(summary.id)
        if path is not None:
            found.append(Report(summary, str(path), _parse_time(summary.time)))
    return found


def _parse_time(text: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return f"{int(seconds)} s"
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"
