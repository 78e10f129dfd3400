"""Which scheduled times are due, which were missed, and what to run for them.

The store remembers up to when every scheduled time has been accounted for
(``checked_at``). When a schedule wakes up - on time, late after a sleep or a
SIGSTOP, or at start after the agent was stopped - every fire time since then
is either on time (within the grace period) or missed, and the automation's
missed-run policy decides what runs. Nothing here reads a clock: callers pass
``now``, so the rules are tested without waiting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from apscheduler.triggers.base import BaseTrigger

# More missed times than this are summed up, not listed (a minutely cron
# across a month-long stop would otherwise record 40,000 rows).
MAX_LISTED = 1000
# Counting goes on up to here (on the loop: about 20 us per cron time), then
# the figure is reported as "at least".
MAX_COUNTED = 20_000


@dataclass(frozen=True, slots=True)
class FirePlan:
    """What to do about the fire times in ``(checked_at, now]``."""

    run_for: list[datetime] = field(default_factory=list)  # one run per entry
    missed: list[datetime] = field(default_factory=list)  # late times, each recorded
    missed_action: str = "skipped"  # what happened to the missed ones: ran/coalesced/skipped
    more_missed: int = 0  # missed times beyond MAX_LISTED, counted only


def due_times(
    trigger: BaseTrigger, after: datetime, now: datetime, limit: int = MAX_LISTED + 1
) -> list[datetime]:
    """Fire times in ``(after, now]``, oldest first, at most ``limit``."""
    times: list[datetime] = []
    previous: datetime | None = None
    moment = after + timedelta(microseconds=1)
    while len(times) < limit:
        upcoming = trigger.get_next_fire_time(previous, moment)
        if upcoming is None or upcoming > now:
            break
        if upcoming > after:
            times.append(upcoming)
        previous = upcoming
        moment = upcoming + timedelta(microseconds=1)
    return times


def plan_fires(
    trigger: BaseTrigger,
    *,
    checked_at: datetime,
    now: datetime,
    grace_s: float,
    policy: str,
) -> FirePlan:
    """Apply the missed-run ``policy`` (coalesce / all / skip) to what is due."""
    due = due_times(trigger, checked_at, now)
    more = 0
    if len(due) > MAX_LISTED:
        # Count the rest without listing them, so the summary is honest.
        more = _count_beyond(trigger, due[MAX_LISTED - 1], now)
        due = due[:MAX_LISTED]
    grace = timedelta(seconds=grace_s)
    on_time = [t for t in due if now - t <= grace]
    late = [t for t in due if now - t > grace]
    if not late:
        # A wake-up that found several on-time fires (a 1 s interval and a
        # slow loop) runs once: they are the same moment to a person.
        return FirePlan(run_for=on_time[-1:])
    if policy == "all":
        return FirePlan(run_for=late + on_time, missed=late, missed_action="ran", more_missed=more)
    if policy == "coalesce":
        return FirePlan(
            run_for=[(on_time or late)[-1]],
            missed=late,
            missed_action="coalesced",
            more_missed=more,
        )
    return FirePlan(run_for=on_time[-1:], missed=late, missed_action="skipped", more_missed=more)


def _count_beyond(trigger: BaseTrigger, after: datetime, now: datetime) -> int:
    """How many more fire times until ``now``, counted up to MAX_COUNTED (a lower bound then)."""
    count = 0
    while count < MAX_COUNTED:
        batch = due_times(trigger, after, now, limit=10_000)
        count += len(batch)
        if len(batch) < 10_000:
            return count
        after = batch[-1]
    return count
