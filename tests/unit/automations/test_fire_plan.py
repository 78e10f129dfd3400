"""Missed-run policies, decided against a clock the test controls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.triggers.base import BaseTrigger

from atom_desktop.automations.fire_plan import MAX_COUNTED, MAX_LISTED, due_times, plan_fires
from atom_desktop.automations.triggers import (
    AnyOf,
    CronSchedule,
    DateSchedule,
    IntervalSchedule,
    build_trigger,
)

START = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)


def every_minute() -> BaseTrigger:
    return build_trigger(CronSchedule(type="cron", expression="* * * * *"))


def test_due_times_are_those_after_the_check_up_to_now() -> None:
    trigger = every_minute()
    got = due_times(trigger, START, START + timedelta(minutes=3))
    assert got == [START + timedelta(minutes=m) for m in (1, 2, 3)]
    # The moment already checked is not due again.
    assert due_times(trigger, START + timedelta(minutes=3), START + timedelta(minutes=3)) == []


def test_an_on_time_fire_runs_once_and_records_nothing() -> None:
    plan = plan_fires(
        every_minute(),
        checked_at=START,
        now=START + timedelta(minutes=1, seconds=0.3),
        grace_s=5,
        policy="skip",
    )
    assert plan.run_for == [START + timedelta(minutes=1)]
    assert plan.missed == []


@pytest.mark.parametrize(
    ("policy", "runs", "action"),
    [("coalesce", 1, "coalesced"), ("all", 5, "ran"), ("skip", 0, "skipped")],
)
def test_each_policy_after_five_missed_minutes(policy: str, runs: int, action: str) -> None:
    now = START + timedelta(minutes=5, seconds=30)
    plan = plan_fires(every_minute(), checked_at=START, now=now, grace_s=10, policy=policy)
    missed = [START + timedelta(minutes=m) for m in range(1, 6)]
    assert plan.missed == missed
    assert plan.missed_action == action
    assert len(plan.run_for) == runs
    if policy == "coalesce":
        assert plan.run_for == [missed[-1]]  # the newest stands for all of them
    if policy == "all":
        assert plan.run_for == missed


def test_a_late_wake_up_with_one_on_time_fire_runs_it_under_skip() -> None:
    # Asleep from 10:00 to 10:03:00.5; 10:03 is within the grace, 10:01 and 10:02 are not.
    now = START + timedelta(minutes=3, seconds=0.5)
    plan = plan_fires(every_minute(), checked_at=START, now=now, grace_s=2, policy="skip")
    assert plan.run_for == [START + timedelta(minutes=3)]
    assert plan.missed == [START + timedelta(minutes=1), START + timedelta(minutes=2)]


def test_interval_missed_times_keep_their_phase() -> None:
    trigger = build_trigger(
        IntervalSchedule(type="interval", seconds=10, start=START + timedelta(seconds=3))
    )
    now = START + timedelta(seconds=45)
    plan = plan_fires(trigger, checked_at=START, now=now, grace_s=1, policy="all")
    assert [t.second for t in plan.missed] == [3, 13, 23, 33, 43]
    assert plan.run_for == plan.missed


def test_a_month_of_minutes_is_counted_not_listed() -> None:
    now = START + timedelta(days=30)
    plan = plan_fires(every_minute(), checked_at=START, now=now, grace_s=10, policy="skip")
    assert len(plan.missed) == MAX_LISTED
    # Counting stops at a bound (it runs on the agent's loop): a lower bound then.
    assert plan.more_missed == MAX_COUNTED
    week = plan_fires(
        every_minute(), checked_at=START, now=START + timedelta(days=7), grace_s=10, policy="skip"
    )
    assert len(week.missed) + week.more_missed == 7 * 24 * 60


def test_combined_schedules_each_keep_their_own_times() -> None:
    # APScheduler's OrTrigger would drop the 02:30 date and shift the interval.
    trigger = AnyOf(
        [
            build_trigger(CronSchedule(type="cron", expression="0 * * * *")),
            build_trigger(DateSchedule(type="date", at=START + timedelta(hours=2, minutes=30))),
            build_trigger(
                IntervalSchedule(type="interval", seconds=3600, start=START + timedelta(minutes=20))
            ),
        ]
    )
    got = due_times(trigger, START, START + timedelta(hours=4))
    assert [t.strftime("%H:%M") for t in got] == [
        "10:20",
        "11:00",
        "11:20",
        "12:00",
        "12:20",
        "12:30",
        "13:00",
        "13:20",
        "14:00",
    ]
    # A date that has passed is never due again.
    past = AnyOf([build_trigger(DateSchedule(type="date", at=START - timedelta(days=1)))])
    assert past.get_next_fire_time(None, START) is None
