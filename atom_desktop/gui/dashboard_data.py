"""What Home's dashboard shows beyond the agent's overview: today's automation fires,
sync and integrations. Read on the agent loop (``host.call(dashboard_extras, ...)``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from atom_desktop.runtime import Runtime
    from atom_desktop.sync.service import SyncStatus

#: Runs of one automation read per refresh: more than fire in a day for all but a few.
RUNS_PER_AUTOMATION = 50


@dataclass(frozen=True, slots=True)
class AutomationFire:
    """An automation run of today, or (``status`` empty) one due later today."""

    automation_id: str
    name: str
    status: str
    at: datetime


@dataclass(frozen=True, slots=True)
class DashboardExtras:
    """Home's parts that exist only once automations, sync or integrations do."""

    #: Today's runs, newest first, then the fires still due today, soonest first.
    fires: list[AutomationFire]
    automations: int
    #: None while sync is off.
    sync: SyncStatus | None
    #: Integration accounts: how many are connected, and how many need the person.
    connected: int
    need_attention: int


def start_of_today(now: datetime) -> datetime:
    """Local midnight before ``now``, in UTC."""
    local = now.astimezone()
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


async def dashboard_extras(runtime: Runtime, now: datetime | None = None) -> DashboardExtras:
    """Today's automation fires, sync's status and the integrations' health."""
    now = now or datetime.now(UTC)
    since = start_of_today(now)
    until = since + timedelta(days=1)
    states = await runtime.automations.async_list()
    done: list[AutomationFire] = []
    due: list[AutomationFire] = []
    for state in states:
        record = state.record
        if state.last_run is not None and state.last_run.created_at >= since:
            runs = await runtime.automations.async_runs(record.id, limit=RUNS_PER_AUTOMATION)
            done += [
                AutomationFire(record.id, record.name, str(run.status), run.created_at)
                for run in runs
                if run.created_at >= since
            ]
        if state.next_fire_at is not None and now <= state.next_fire_at < until:
            due.append(AutomationFire(record.id, record.name, "", state.next_fire_at))
    done.sort(key=lambda fire: fire.at, reverse=True)
    due.sort(key=lambda fire: fire.at)
    status = await runtime.sync.async_status()
    accounts = runtime.integrations.accounts()
    connected = sum(1 for account in accounts if account.status == "connected")
    return DashboardExtras(
        fires=done + due,
        automations=len(states),
        sync=status if str(status.state) != "off" else None,
        connected=connected,
        need_attention=sum(1 for a in accounts if a.status not in ("connected", "pending")),
    )
