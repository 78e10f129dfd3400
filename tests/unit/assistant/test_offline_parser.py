"""The offline parser: each phrasing gives exactly the plan it should, or a plain refusal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atom_desktop.assistant.offline_parser import UNDERSTOOD, parse
from atom_desktop.assistant.outcome import ParseResult, Refusal
from atom_desktop.assistant.plan import (
    CreateAutomationStep,
    CreateTaskStep,
    Plan,
    ProposedPlan,
    StepKind,
    describe,
    kind,
)
from atom_desktop.automations.model import AutomationSpec, NotifyStep, ShellStep, spec_json
from atom_desktop.automations.service import check_spec
from atom_desktop.automations.triggers import (
    CronSchedule,
    DateSchedule,
    FileTrigger,
    IntervalSchedule,
    build_trigger,
    next_fire_times,
)

# A Monday; 14:00 in Berlin (+01:00).
NOW = datetime(2026, 12, 7, 13, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
ALL_EVENTS = ("created", "modified", "deleted", "moved")


@dataclass(frozen=True)
class Shell:
    """Run ``command`` now."""

    command: str


@dataclass(frozen=True)
class Cron:
    """An automation running ``command`` on the cron ``expression`` (Berlin time)."""

    expression: str
    command: str


@dataclass(frozen=True)
class Every:
    """An automation running ``command`` every ``seconds``."""

    seconds: float
    command: str


@dataclass(frozen=True)
class Watch:
    """An automation running ``command`` when files change in ``folder``."""

    folder: str
    command: str
    events: tuple[str, ...] = ALL_EVENTS


@dataclass(frozen=True)
class Task:
    """A new task; ``due`` as RFC 3339 text, or None."""

    title: str
    due: str | None = None


@dataclass(frozen=True)
class Remind:
    """A one-off automation notifying ``thing`` at ``at`` (RFC 3339 text)."""

    thing: str
    at: str


@dataclass(frozen=True)
class Refused:
    """A refusal whose reason holds each of ``words`` (any letter case)."""

    words: tuple[str, ...]


def refused(*words: str) -> Refused:
    return Refused(words)


Expected = Shell | Cron | Every | Watch | Task | Remind | Refused

TABLE: list[tuple[str, Expected]] = [
    # -- run now: the command verbatim --
    ("run ls -la", Shell("ls -la")),
    ("Run ls -la", Shell("ls -la")),
    ("RUN make", Shell("make")),
    ("execute ./deploy.sh --dry-run", Shell("./deploy.sh --dry-run")),
    ("Run: make lint", Shell("make lint")),
    ("please run make.", Shell("make")),
    ("Please run make test, thanks", Shell("make test")),
    ("can you run make?", Shell("make")),
    ("could you please run npm test", Shell("npm test")),
    ('run "git pull && pytest"', Shell("git pull && pytest")),
    ("run 'echo hi!'", Shell("echo hi!")),
    ("run `make all`", Shell("make all")),
    ("run git pull && pytest", Shell("git pull && pytest")),
    ("run ls .", Shell("ls .")),
    ("run cd .. && ls", Shell("cd .. && ls")),
    ("run echo Hello World", Shell("echo Hello World")),
    ("  run   echo  two  spaces  ", Shell("echo  two  spaces")),
    ('run "echo every day at 9"', Shell("echo every day at 9")),
    ('run "the-tool --all"', Shell("the-tool --all")),
    # -- on a cron schedule, in the person's time zone --
    ("every weekday at 9 run git pull && pytest", Cron("0 9 * * mon-fri", "git pull && pytest")),
    ("every weekday at 9am run backup.sh", Cron("0 9 * * mon-fri", "backup.sh")),
    ("Every day at 9:30 run backup.sh", Cron("30 9 * * *", "backup.sh")),
    ("every day at 17:00, run backup.sh", Cron("0 17 * * *", "backup.sh")),
    ("daily at 6pm run backup.sh", Cron("0 18 * * *", "backup.sh")),
    ("every monday at 8 run ./weekly.sh", Cron("0 8 * * mon", "./weekly.sh")),
    ("every Sunday at noon run ./weekly.sh", Cron("0 12 * * sun", "./weekly.sh")),
    ("every monday and thursday at 7:15 run ./x", Cron("15 7 * * mon,thu", "./x")),
    ("every weekend at 10am run ./x", Cron("0 10 * * sat,sun", "./x")),
    ("every friday at midnight run ./x", Cron("0 0 * * fri", "./x")),
    ("every weekday at 9 and run make", Cron("0 9 * * mon-fri", "make")),
    ("every day at 9 then run make", Cron("0 9 * * *", "make")),
    ("please, every weekday at 9:45 pm run make.", Cron("45 21 * * mon-fri", "make")),
    ("run backup.sh every weekday at 9", Cron("0 9 * * mon-fri", "backup.sh")),
    ("every day at 9 run npm run build", Cron("0 9 * * *", "npm run build")),
    # -- on an interval --
    ("every 15 minutes run ./sync.sh", Every(900, "./sync.sh")),
    ("every 5 mins run ./x", Every(300, "./x")),
    ("every 2 hours run ./x", Every(7200, "./x")),
    ("every minute run ./x", Every(60, "./x")),
    ("every hour run ./x", Every(3600, "./x")),
    ("hourly run ./x", Every(3600, "./x")),
    ("every five minutes run ./x", Every(300, "./x")),
    ("every half hour run ./x", Every(1800, "./x")),
    ("run ./sync.sh every 10 minutes", Every(600, "./sync.sh")),
    # -- on file changes: absolute folders or ~, kept as written --
    ("when a file in ~/inbox changes run ./process.sh", Watch("~/inbox", "./process.sh")),
    ("when ~/src changes run make", Watch("~/src", "make")),
    (
        "whenever a file is created in /tmp/drop run ./ingest.sh",
        Watch("/tmp/drop", "./ingest.sh", ("created",)),
    ),
    (
        'when a file in "~/My Documents" changes, run ./index.sh',
        Watch("~/My Documents", "./index.sh"),
    ),
    ("run make when ~/src changes", Watch("~/src", "make")),
    ("when files under /srv/data/ change run ./reindex", Watch("/srv/data", "./reindex")),
    # -- tasks; a day without a time is due at 23:59 --
    (
        "add a task to renew the certificate next Friday",
        Task("renew the certificate", "2026-12-11T23:59:00+01:00"),
    ),
    ("add task buy milk", Task("buy milk")),
    ("Add a task: call the bank tomorrow", Task("call the bank", "2026-12-08T23:59:00+01:00")),
    ("add task pay rent due Dec 10", Task("pay rent", "2026-12-10T23:59:00+01:00")),
    (
        "create a task renew passport due 2026-12-10",
        Task("renew passport", "2026-12-10T23:59:00+01:00"),
    ),
    ("new task: water plants in 3 days", Task("water plants", "2026-12-10T23:59:00+01:00")),
    ("add a todo send invoice on Friday", Task("send invoice", "2026-12-11T23:59:00+01:00")),
    (
        "add task review PR due tomorrow at 5pm",
        Task("review PR", "2026-12-08T17:00:00+01:00"),
    ),
    ("add task standup notes today", Task("standup notes", "2026-12-07T23:59:00+01:00")),
    # Dec 5 has passed this year: next year's.
    ("add task book flights due December 5", Task("book flights", "2027-12-05T23:59:00+01:00")),
    # A weekday is never today: Monday is the next one.
    ("add a task renew cert on Monday", Task("renew cert", "2026-12-14T23:59:00+01:00")),
    ("add task 'meet on Friday' due Monday", Task("meet on Friday", "2026-12-14T23:59:00+01:00")),
    ("add buy milk to my list", Task("buy milk")),
    # 09:00 has passed today: tomorrow's.
    ("add task call mum at 9", Task("call mum", "2026-12-08T09:00:00+01:00")),
    ("add task read the next chapter", Task("read the next chapter")),
    ("add task plan birthday", Task("plan birthday")),
    ("add task pass by the shop", Task("pass by the shop")),
    (
        "add task finish the report by Friday",
        Task("finish the report", "2026-12-11T23:59:00+01:00"),
    ),
    ("add task meet at the office", Task("meet at the office")),
    # -- reminders: a one-off automation with a notification --
    ("remind me to call Bob at 5pm", Remind("call Bob", "2026-12-07T17:00:00+01:00")),
    ("remind me to stretch in 20 minutes", Remind("stretch", "2026-12-07T14:20:00+01:00")),
    ("remind me in 20 minutes to stretch", Remind("stretch", "2026-12-07T14:20:00+01:00")),
    (
        "remind me tomorrow at 9 to water the plants",
        Remind("water the plants", "2026-12-08T09:00:00+01:00"),
    ),
    ("remind me to pay rent on Dec 24 at 18:00", Remind("pay rent", "2026-12-24T18:00:00+01:00")),
    (
        "remind me about the meeting at 13:30 on Friday",
        Remind("the meeting", "2026-12-11T13:30:00+01:00"),
    ),
    ("remind me to call Bob at 9", Remind("call Bob", "2026-12-08T09:00:00+01:00")),
    ("Remind me to call Bob at 9 p.m.", Remind("call Bob", "2026-12-07T21:00:00+01:00")),
    (
        "remind me to check the oven in an hour",
        Remind("check the oven", "2026-12-07T15:00:00+01:00"),
    ),
    ("remind me to renew in 2 days", Remind("renew", "2026-12-09T14:00:00+01:00")),
    # -- refusals: empty, questions, unknown verbs --
    ("", refused("empty")),
    ("   ", refused("empty")),
    ("please", refused("nothing to do")),
    ("what failed last night?", refused("question", "AI provider")),
    ("did the backup run?", refused("question")),
    ("show me the last runs", refused("look something up")),
    ("when did the backup last run?", refused("question")),
    ("pull the repo and run the tests", refused("'pull'", "git pull && pytest")),
    ("deploy to production", refused("'deploy'", "AI provider")),
    ("run make\nrun test", refused("several lines")),
    # -- commands that are empty, descriptions, or several --
    ("run", refused("command is empty")),
    ('run ""', refused("command is empty")),
    ("execute   ", refused("command is empty")),
    ("run the tests", refused("describes something", "run pytest")),
    ("can you run the tests?", refused("describes something")),
    ("run git pull and run pytest", refused("several commands", "git pull && pytest")),
    ("run backup.sh at 9", refused("looks like a time", "quote")),
    ("run backup.sh tomorrow", refused("looks like a time")),
    # -- schedules that cannot be read --
    ("every 0 minutes run backup", refused("not a schedule")),
    ("every weekday at 25 run backup", refused("'25'", "0 to 23")),
    ("every day at 9:75 run ./x", refused("00 to 59")),
    ("every 1.5 hours run ./x", refused("whole number")),
    ("every 2 days run ./x", refused("every N minutes or hours")),
    ("every blursday at 9 run ./x", refused("'blursday'")),
    ("every weekday run backup", refused("needs a time of day")),
    ("run backup every blursday", refused("'blursday'", "quote the command")),
    ("every weekday at 9 pull the repo and run the tests", refused("expected run COMMAND")),
    ("every day at 9", refused("not what to run")),
    ("every 700 days run ./x", refused("every N minutes or hours")),
    ("every 9000 hours run ./x", refused("too long")),
    ("when a file in downloads changes run ./x", refused("relative")),
    ("when src changes run make", refused("relative")),
    # -- dates that cannot be read --
    ("add task X due next blursday", refused("'blursday' is not a day of the week")),
    ("add a task", refused("no title")),
    ("add a task tomorrow", refused("no title")),
    ("add task pay rent due 12/10", refused("day-first or month-first", "2026-12-10")),
    ("add task pay rent due Feb 30", refused("not a date in the calendar")),
    ("add task pay rent due next week", refused("does not name a day")),
    ("add task pay rent due someday", refused("did not understand the date")),
    ("add task standup today at 9", refused("has passed")),
    ("add task meet at 25", refused("'25'")),
    ("remind me to stretch at 25", refused("'25'", "0 to 23")),
    ("remind me to renew in 6000 weeks", refused("more than 100 years away")),
    ("every 99999999999 minutes run ./x", refused("too large a number")),
    ("remind me to call Bob at 13pm", refused("1 to 12")),
    ("remind me to call Bob tomorrow", refused("not a time")),
    ("remind me to call Bob", refused("say when")),
    ("remind me at 5pm", refused("what to be reminded of")),
]


def check(result: ParseResult, expected: Expected) -> None:
    """``result`` is the plan (or refusal) ``expected`` describes, and nothing else."""
    if isinstance(expected, Refused):
        assert isinstance(result, Refusal), f"expected a refusal, got {result!r}"
        for word in expected.words:
            assert word.lower() in result.reason.lower(), (word, result.reason)
        assert result.understood == UNDERSTOOD
        return
    assert isinstance(result, Plan), f"expected a plan, got the refusal {result!r}"
    [step] = result.steps
    match expected:
        case Shell(command):
            assert step == ShellStep(type="shell", shell=command)
        case Task(title, due):
            assert isinstance(step, CreateTaskStep)
            assert (step.title, step.due_at) == (title, _moment(due))
            assert step.model_dump(exclude={"title", "due_at", "type"}) == {
                "notes": "",
                "priority": 0,
                "tags": [],
            }
        case Cron() | Every() | Watch() | Remind():
            assert isinstance(step, CreateAutomationStep)
            spec = step.automation
            [trigger] = spec.triggers
            assert trigger == _trigger(expected)
            [action] = spec.steps
            if isinstance(expected, Remind):
                assert action == NotifyStep(type="notify", title="Reminder", message=expected.thing)
                assert spec.name == f"Reminder: {expected.thing}"
            else:
                assert action == ShellStep(type="shell", shell=expected.command)
                assert spec.name.endswith(f": {expected.command}")
            # The rest is the automation service's defaults.
            assert spec.model_dump(exclude={"name", "triggers", "steps"}) == AutomationSpec(
                name="x", steps=[action]
            ).model_dump(exclude={"name", "triggers", "steps"})


def _moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _trigger(expected: Cron | Every | Watch | Remind) -> object:
    match expected:
        case Cron(expression):
            return CronSchedule(type="cron", expression=expression, timezone="Europe/Berlin")
        case Every(seconds):
            return IntervalSchedule(type="interval", seconds=seconds, timezone="Europe/Berlin")
        case Watch(folder, _, events):
            return FileTrigger(type="file", paths=[folder], events=list(events))  # type: ignore[arg-type]
        case Remind(_, at):
            return DateSchedule(
                type="date", at=datetime.fromisoformat(at), timezone="Europe/Berlin"
            )


def test_the_table_is_large_and_has_refusals() -> None:
    assert len(TABLE) >= 60
    assert sum(isinstance(e, Refused) for _, e in TABLE) >= 20
    assert len({text for text, _ in TABLE}) == len(TABLE)


@pytest.mark.parametrize(("text", "expected"), TABLE, ids=[repr(t) for t, _ in TABLE])
def test_phrasing(text: str, expected: Expected) -> None:
    check(parse(text, NOW, BERLIN), expected)


PLANS = [(t, e) for t, e in TABLE if not isinstance(e, Refused)]


@pytest.mark.parametrize(("text", "expected"), PLANS, ids=[repr(t) for t, _ in PLANS])
def test_every_plan_is_what_the_services_take(text: str, expected: Expected) -> None:
    """Valid against the published schema, stored and read back unchanged, and armable."""
    plan = parse(text, NOW, BERLIN)
    assert isinstance(plan, Plan)
    assert plan.request == text
    assert plan.created_at == NOW
    data = plan.model_dump(mode="json", by_alias=True)
    schema = jsonschema_rs.validator_for(Plan.model_json_schema())
    assert schema.is_valid(data), list(schema.iter_errors(data))
    assert Plan.model_validate_json(plan.model_dump_json(by_alias=True)) == plan
    proposed = ProposedPlan.model_validate({"steps": data["steps"]})
    assert proposed.steps == plan.steps
    for step in plan.steps:
        assert kind(step) in StepKind
        assert describe(step)
        if isinstance(step, CreateAutomationStep):
            # What the automation service checks, and what it stores and reads back.
            check_spec(step.automation)
            stored = AutomationSpec.model_validate(spec_json(step.automation))
            assert stored == step.automation


def test_ids_come_from_the_given_factory() -> None:
    plan = parse("run make", NOW, BERLIN, new_id=lambda: "plan-1")
    assert isinstance(plan, Plan)
    assert plan.id == "plan-1"
    other = parse("run make", NOW, BERLIN)
    assert isinstance(other, Plan)
    assert other.id != plan.id


def test_a_refusal_lists_what_is_understood() -> None:
    refusal = parse("what failed last night?", NOW, BERLIN)
    assert isinstance(refusal, Refusal)
    message = refusal.message()
    assert message.startswith(refusal.reason)
    for form in UNDERSTOOD:
        assert f"- {form}" in message


def test_the_shown_plan_has_the_command_verbatim() -> None:
    plan = parse("every weekday at 9 run git pull && pytest -k 'not slow'", NOW, BERLIN)
    assert isinstance(plan, Plan)
    text = describe(plan.steps[0])
    assert "git pull && pytest -k 'not slow'" in text.splitlines()
    assert "0 9 * * mon-fri" in text
    assert "Europe/Berlin" in text


def test_a_reading_of_next_friday_is_shown_with_its_date() -> None:
    plan = parse("add a task to renew the certificate next Friday", NOW, BERLIN)
    assert isinstance(plan, Plan)
    assert "Fri 11 Dec 2026 23:59" in describe(plan.steps[0])


# -- clock changes -------------------------------------------------------------------------


def _reminder_at(text: str, now: datetime, zone: ZoneInfo) -> datetime:
    plan = parse(text, now, zone)
    assert isinstance(plan, Plan), plan
    [step] = plan.steps
    assert isinstance(step, CreateAutomationStep)
    [trigger] = step.automation.triggers
    assert isinstance(trigger, DateSchedule)
    assert trigger.timezone == zone.key
    return trigger.at


def test_tomorrow_at_9_across_the_spring_change_in_berlin() -> None:
    # Saturday 28 March 2026, 10:00 CET; the clocks go forward that night.
    now = datetime(2026, 3, 28, 10, 0, tzinfo=BERLIN)
    at = _reminder_at("remind me to water the plants tomorrow at 9", now, BERLIN)
    assert at.astimezone(BERLIN).replace(tzinfo=None) == datetime(2026, 3, 29, 9, 0)
    assert at.astimezone(UTC) == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)  # CEST, +02:00
    assert at.astimezone(UTC) - now.astimezone(UTC) == timedelta(hours=22)
    # The service's own trigger fires at that moment.
    [step] = parse("remind me to water the plants tomorrow at 9", now, BERLIN).steps  # type: ignore[union-attr]
    assert isinstance(step, CreateAutomationStep)
    fire = next_fire_times(build_trigger(step.automation.triggers[0]), now, 1)  # type: ignore[arg-type]
    assert fire == [datetime(2026, 3, 29, 7, 0, tzinfo=UTC)]


def test_a_task_due_tomorrow_at_9_across_the_autumn_change_in_new_york() -> None:
    # Saturday 31 October 2026, noon EDT; the clocks go back that night.
    now = datetime(2026, 10, 31, 12, 0, tzinfo=NEW_YORK)
    plan = parse("add task call the bank due tomorrow at 9", now, NEW_YORK)
    assert isinstance(plan, Plan)
    [step] = plan.steps
    assert isinstance(step, CreateTaskStep)
    assert step.due_at is not None
    assert step.due_at.astimezone(UTC) == datetime(2026, 11, 1, 14, 0, tzinfo=UTC)  # EST, -05:00
    assert step.due_at.astimezone(UTC) - now.astimezone(UTC) == timedelta(hours=22)


def test_in_one_day_is_a_calendar_day_and_in_24_hours_is_exact() -> None:
    now = datetime(2026, 3, 28, 10, 0, tzinfo=BERLIN)
    day = _reminder_at("remind me to stretch in 1 day", now, BERLIN)
    hours = _reminder_at("remind me to stretch in 24 hours", now, BERLIN)
    assert day.astimezone(BERLIN).replace(tzinfo=None) == datetime(2026, 3, 29, 10, 0)
    assert hours.astimezone(UTC) - now.astimezone(UTC) == timedelta(hours=24)
    assert hours.astimezone(BERLIN).replace(tzinfo=None) == datetime(2026, 3, 29, 11, 0)


def test_in_20_minutes_over_the_skipped_hour_is_20_minutes() -> None:
    now = datetime(2026, 3, 29, 1, 50, tzinfo=BERLIN)  # ten minutes before 02:00 CET
    at = _reminder_at("remind me to stretch in 20 minutes", now, BERLIN)
    assert at.astimezone(UTC) - now.astimezone(UTC) == timedelta(minutes=20)
    assert at.astimezone(BERLIN).replace(tzinfo=None) == datetime(2026, 3, 29, 3, 10)


def test_a_time_the_clocks_skip_is_refused() -> None:
    now = datetime(2026, 3, 28, 10, 0, tzinfo=BERLIN)
    refusal = parse("remind me to stretch tomorrow at 2:30", now, BERLIN)
    assert isinstance(refusal, Refusal)
    assert "does not exist in Europe/Berlin" in refusal.reason
    assert "clocks go forward" in refusal.reason


def test_a_time_that_happens_twice_is_the_first() -> None:
    now = datetime(2026, 10, 24, 12, 0, tzinfo=BERLIN)
    at = _reminder_at("remind me to stretch tomorrow at 2:30", now, BERLIN)
    assert at.astimezone(UTC) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # still +02:00


def test_a_daily_cron_keeps_its_wall_clock_time_across_the_change() -> None:
    plan = parse("every day at 9 run ./backup.sh", NOW, BERLIN)
    assert isinstance(plan, Plan)
    [step] = plan.steps
    assert isinstance(step, CreateAutomationStep)
    trigger = build_trigger(step.automation.triggers[0])  # type: ignore[arg-type]
    fires = next_fire_times(trigger, datetime(2026, 3, 27, 12, 0, tzinfo=UTC), 3)
    # Saturday 28 March at 09:00 CET, then Sunday and Monday at 09:00 CEST.
    assert [f.astimezone(UTC).hour for f in fires] == [8, 7, 7]
    assert {f.astimezone(BERLIN).hour for f in fires} == {9}


def test_schedules_use_the_given_time_zone() -> None:
    plan = parse("every weekday at 9 run make", NOW, NEW_YORK)
    assert isinstance(plan, Plan)
    [step] = plan.steps
    assert isinstance(step, CreateAutomationStep)
    assert step.automation.triggers == [
        CronSchedule(type="cron", expression="0 9 * * mon-fri", timezone="America/New_York")
    ]


@pytest.mark.parametrize("zone", ["America/New_York", "Pacific/Kiritimati"])
@pytest.mark.parametrize(
    "text",
    [
        "add task x due 9999-12-31",
        "add task x due Dec 31, 9999",
        "add task x in 999999999 days",
        "remind me to x in 99999999999999 minutes",
        "remind me to x on 9000-01-01 at 9",
        "every " + "9" * 5000 + " minutes run ./x",
    ],
    ids=["iso-9999", "dec-31-9999", "in-many-days", "in-many-minutes", "year-9000", "huge-count"],
)
def test_dates_beyond_a_century_are_refused_in_every_zone(text: str, zone: str) -> None:
    # Near the year 9999 a zone west of UTC would overflow the date; past 8999
    # the stored RFC 3339 text would not read back.
    result = parse(text, NOW, ZoneInfo(zone))
    assert isinstance(result, Refusal)
    assert "100 years" in result.reason or "too large" in result.reason


# -- never raises ----------------------------------------------------------------------------

_VOCABULARY = [
    "run", "execute", "every", "each", "weekday", "day", "monday", "at", "9", "9am", "25",
    "17:00", "minutes", "hours", "0", "1.5", "when", "a", "file", "in", "~/x", "/tmp", "src",
    "changes", "add", "task", "to", "due", "next", "friday", "blursday", "tomorrow", "today",
    "remind", "me", "in", "20", "Dec", "10", "12/10", "2026-02-30", "please", "and", "then",
    ",", "?", ".", '"', "'", "`", "&&", "noon", "midnight", "hourly", "daily", "on", "of",
    "99999999999", "9999-12-31", "weeks", "days", "2:30",
]  # fmt: skip


def _always_answers(text: str) -> None:
    result = parse(text, NOW, BERLIN)
    assert isinstance(result, Plan | Refusal)
    if isinstance(result, Refusal):
        assert result.reason
    else:
        assert result.steps


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_a_plan_or_a_refusal(text: str) -> None:
    _always_answers(text)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_VOCABULARY), max_size=14).map(" ".join))
def test_any_mix_of_grammar_words_gives_a_plan_or_a_refusal(text: str) -> None:
    _always_answers(text)
