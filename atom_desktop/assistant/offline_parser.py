"""Requests in plain English read by rules, for when no AI provider is set up or reachable.

It understands a few forms (:data:`UNDERSTOOD`) and refuses everything else
plainly, saying what it did not understand; it never guesses a command from
a description. "please", "can you ...", a trailing full stop and "and" or ","
between a schedule and its command are allowed. Times and dates are read as
:mod:`~atom_desktop.assistant.time_words` says, schedules and folders as
:mod:`~atom_desktop.assistant.trigger_words` says, and commands as
:mod:`~atom_desktop.assistant.command_words` says.

"remind me to T at TIME" becomes a one-off automation (a date trigger) whose
one step is a notification saying T: a task with a due date would not tell
the person anything at that time. "add a task T DATE" with a day but no time
is due at 23:59 that day.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from atom_desktop.assistant.command_words import read_command, unquote
from atom_desktop.assistant.outcome import ParseResult, Refusal
from atom_desktop.assistant.plan import (
    REQUEST_MAX,
    CreateAutomationStep,
    CreateTaskStep,
    Plan,
    PlanStep,
)
from atom_desktop.assistant.time_words import (
    END_OF_DAY,
    NotAPhraseError,
    PhraseError,
    When,
    later,
    moment_of,
    read_when,
)
from atom_desktop.assistant.trigger_words import read_file_trigger, read_schedule
from atom_desktop.automations.model import AutomationSpec, NotifyStep, ShellStep
from atom_desktop.automations.triggers import (
    CronSchedule,
    DateSchedule,
    FileTrigger,
    IntervalSchedule,
    zone_names,
)
from atom_desktop.core.ids import IdFactory

UNDERSTOOD = (
    "run COMMAND (or execute COMMAND); quote the command to keep every character",
    "every weekday at 9 run COMMAND (every day, weekend, monday ... sunday; at 9am, 9:30, 17:00)",
    "every 15 minutes run COMMAND (every hour, hourly, every 2 hours)",
    "when a file in ~/FOLDER changes run COMMAND (or when ~/FOLDER changes run COMMAND)",
    "add a task TITLE [due tomorrow, next Friday, in 3 days, Dec 10, 2026-12-10 [at 17:00]]",
    "remind me to THING at 5pm [tomorrow, on Friday, Dec 10] (or in 20 minutes)",
)
NAME_MAX = 120
_ELLIPSIS = "\u2026"
_POLITE_START = re.compile(
    r"^(?:(?:please|pls|kindly)\b[ ,]*|(?:can|could|would|will) you\b(?: please\b)?[ ,]*)+",
    re.IGNORECASE,
)
_POLITE_END = re.compile(r"[ ,]+(?:please|thanks|thank you)[.!?]*$", re.IGNORECASE)
_RUN = re.compile(r"(?:run|execute)\b", re.IGNORECASE)
# Between a schedule and its command: "every day at 9 run X", "..., run X",
# "... and run X", "... then run X".
_RUN_JOINT = re.compile(r"(?:,\s*|\s+)(?:(?:and\s+then|and|then)\s+)?(?:run|execute)\b\s*", re.I)
_SCHEDULE_TAIL = re.compile(r"\s(?=(?:every|each|hourly|daily|when|whenever)\b)", re.IGNORECASE)
_TASK = re.compile(
    r"(?:add|create|make|new)\s+(?:(?:a|an)\s+)?(?:new\s+)?(?:task|todo|to-do|to do)\b"
    r"[:,]?\s*(?:(?:to|called|named|titled)\s+)?",
    re.IGNORECASE,
)
_TASK_LIST = re.compile(
    r"add\s+(?P<title>.+?)\s+to\s+(?:my\s+)?(?:tasks|task list|todo list|to-do list|todos|list)",
    re.IGNORECASE,
)
_REMIND = re.compile(r"remind\s+me\b\s*", re.IGNORECASE)
_ABOUT = re.compile(r"(?:to|about|that|of)\s+", re.IGNORECASE)
#: First words of questions and of requests to look something up.
QUESTION_WORDS = frozenset(
    {
        "what", "what's", "whats", "why", "how", "which", "who", "whose", "where", "when",
        "did", "does", "do", "is", "are", "was", "were", "has", "have", "had", "will",
        "should", "can", "could", "would", "show", "list", "tell", "find", "search",
        "check", "give",
    }
)  # fmt: skip
_PREFIX_WORDS = 12
_TITLE_WORDS = 8


def parse(
    text: str, now: datetime, tz: ZoneInfo, *, new_id: Callable[[], str] | None = None
) -> ParseResult:
    """``text`` as a plan, or a refusal saying what was not understood.

    ``now`` (aware) is the moment of the request and ``tz`` the person's time
    zone, in which times of day and schedules are read. Never raises for any
    text.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    if tz.key not in zone_names():
        raise ValueError(f"{tz.key!r} is not an IANA time zone this machine knows")
    try:
        steps = _read(text, now.astimezone(tz), tz)
        return Plan(
            id=(new_id or IdFactory().new)(),
            request=text,
            steps=steps,
            created_at=now,
        )
    except PhraseError as exc:
        return Refusal(str(exc), UNDERSTOOD)
    except ValidationError as exc:
        return Refusal(_validation_message(exc), UNDERSTOOD)


def _read(text: str, now: datetime, zone: ZoneInfo) -> list[PlanStep]:
    said = text.strip()
    if not said:
        raise PhraseError("There is nothing to do: the request is empty.")
    if len(said) > REQUEST_MAX:
        raise PhraseError(f"The request is longer than {REQUEST_MAX} characters.")
    if "\x00" in said:
        raise PhraseError("The request contains a NUL character.")
    if "\n" in said or "\r" in said:
        raise PhraseError(
            "The request has several lines; the offline parser reads one request on one "
            "line (join commands with && to run several)."
        )
    asked = said.endswith("?")
    polite = _POLITE_START.match(said)
    said = _POLITE_END.sub("", said[polite.end() :] if polite else said).strip()
    if polite and said.endswith("?"):
        said = said.rstrip("?").rstrip()  # "can you run make?" asks for make
    first = said.split()[0].lower() if said.split() else ""
    if not first:
        raise PhraseError("There is nothing to do: the request says only 'please'.")
    if _RUN.fullmatch(first.removesuffix(":")):
        return [_run(said[len(first) :], zone)]
    if re.match(r"(?:every|each|hourly|daily|when|whenever)$", first):
        step = _scheduled(said, zone)
        if step is not None:
            return [step]
    if _TASK.match(said) or _TASK_LIST.fullmatch(_end_of_sentence(said)):
        return [_task(said, now, zone)]
    if _REMIND.match(said):
        return [_reminder(said, now, zone)]
    if asked or first in QUESTION_WORDS:
        raise PhraseError(
            "That reads as a question or a request to look something up; the offline parser "
            "only turns instructions into plans. Answering questions needs an AI provider."
        )
    hint = (
        " Several steps in one request are not guessed: write the command itself, "
        "e.g. run git pull && pytest."
        if re.search(r"\b(?:and|then)\b", said, re.IGNORECASE)
        else ""
    )
    raise PhraseError(f"I don't know how to {first!r} without an AI provider.{hint}")


def _end_of_sentence(text: str) -> str:
    """``text`` without the full stop or exclamation marks that end it."""
    return text.rstrip().rstrip(".!").rstrip()


# -- run now, or on a trigger ------------------------------------------------------------


def _run(rest: str, zone: ZoneInfo) -> PlanStep:
    """ "run X", "run X every weekday at 9", "run X when ~/in changes"."""
    body = rest.strip()
    # Inside a quoted command nothing is a schedule: look after its closing quote.
    start = 0
    if body[:1] and body[0] in "'\"`":
        closing = body.find(body[0], 1)
        start = closing + 1 if closing > 0 else 0
    first_error: PhraseError | None = None
    for tail in _SCHEDULE_TAIL.finditer(body, start):
        try:
            trigger = _trigger(body[tail.end() :], zone)
        except PhraseError as exc:
            first_error = first_error or exc
            continue
        if trigger is not None:
            return _automation(body[: tail.start()], body[tail.end() :], trigger)
    if first_error is not None:
        raise PhraseError(
            f"{first_error} (quote the command if those words belong to it)"
        ) from None
    return ShellStep(type="shell", shell=read_command(body))


def _scheduled(said: str, zone: ZoneInfo) -> PlanStep | None:
    """ "every weekday at 9 run X", "when ~/inbox changes, run X"; None for a question."""
    first_error: PhraseError | None = None
    for joint in _RUN_JOINT.finditer(said):
        head = said[: joint.start()]
        try:
            trigger = _trigger(head, zone)
        except PhraseError as exc:
            first_error = first_error or exc
            continue
        if trigger is not None:
            return _automation(said[joint.end() :], head, trigger)
    # No "run" after a schedule that reads: say what came instead.
    parts = said.split()
    for count in range(min(len(parts), _PREFIX_WORDS), 0, -1):
        head = " ".join(parts[:count])
        try:
            trigger = _trigger(head.rstrip(","), zone)
        except PhraseError:
            continue
        if trigger is not None:
            rest = " ".join(parts[count:]).lstrip(", ")
            if not rest:
                raise PhraseError(f"{head!r} says when, but not what to run: add run COMMAND")
            raise PhraseError(
                f"After {head!r} I expected run COMMAND, not {rest!r}; the offline parser does "
                f"not guess commands from a description: write e.g. {head} run git pull && pytest"
            )
    if first_error is not None:
        raise first_error
    if said.endswith("?"):
        return None
    raise PhraseError(
        f"I did not understand when to run in {said!r}; write e.g. every weekday at 9 run "
        "COMMAND, every 15 minutes run COMMAND or when a file in ~/FOLDER changes run COMMAND"
    )


def _trigger(text: str, zone: ZoneInfo) -> CronSchedule | IntervalSchedule | FileTrigger | None:
    phrase = _end_of_sentence(text).rstrip(",").strip()
    return read_schedule(phrase, zone.key) or read_file_trigger(phrase)


def _automation(
    command_text: str, when_text: str, trigger: CronSchedule | IntervalSchedule | FileTrigger
) -> PlanStep:
    command = read_command(command_text)
    when = _end_of_sentence(when_text).rstrip(",").strip()
    spec = AutomationSpec(
        name=_shorten(f"{when[:1].upper()}{when[1:]}: {command}", NAME_MAX),
        triggers=[trigger],
        steps=[ShellStep(type="shell", shell=command)],
    )
    return CreateAutomationStep(type="automation", automation=spec)


# -- tasks and reminders ---------------------------------------------------------------


def _task(said: str, now: datetime, zone: ZoneInfo) -> PlanStep:
    """ "add a task to renew the certificate next Friday", "add milk to my list"."""
    listed = _TASK_LIST.fullmatch(_end_of_sentence(said))
    rest = listed["title"] if listed else said[_TASK.match(said).end() :]  # type: ignore[union-attr]
    title, when = _title_and_when(rest, now)
    if not title:
        raise PhraseError("The task has no title: say what it is, e.g. add a task renew the cert")
    due = moment_of(when, now, zone, default=END_OF_DAY) if when else None
    if due is not None and not later(due, now):
        raise PhraseError(f"The due date {due:%a %d %b %Y %H:%M} has passed; name a later one")
    return CreateTaskStep(type="task_create", title=title, due_at=due)


def _reminder(said: str, now: datetime, zone: ZoneInfo) -> PlanStep:
    """ "remind me to T at 5pm", "remind me tomorrow at 9 to T", "remind me in 20 minutes to T"."""
    rest = said[_REMIND.match(said).end() :]  # type: ignore[union-attr]
    about = _ABOUT.match(rest)
    when: When | None = None
    if about:
        thing, when = _title_and_when(rest[about.end() :], now)
    else:
        thing = ""
        for joint in re.finditer(r"\s+(?:to|about|that)\s+", rest, re.IGNORECASE):
            try:
                when = read_when(rest[: joint.start()], now)
            except NotAPhraseError:
                continue
            thing = _end_of_sentence(rest[joint.end() :])
            break
    if not thing:
        raise PhraseError("Say what to be reminded of: remind me to THING at 5pm")
    if when is None:
        raise PhraseError(
            f"Say when to remind you of {thing!r}: e.g. at 5pm, tomorrow at 9 or in 20 minutes"
        )
    moment = moment_of(when, now, zone, default=None)
    if not later(moment, now):
        raise PhraseError(f"{moment:%a %d %b %Y %H:%M} has passed; name a later time")
    spec = AutomationSpec(
        name=_shorten(f"Reminder: {thing}", NAME_MAX),
        triggers=[DateSchedule(type="date", at=moment, timezone=zone.key)],
        steps=[NotifyStep(type="notify", title="Reminder", message=thing)],
    )
    return CreateAutomationStep(type="automation", automation=spec)


def _title_and_when(text: str, now: datetime) -> tuple[str, When | None]:
    """A title and the time phrase at its end, if any ("renew the cert next Friday")."""
    said = _end_of_sentence(text)
    whole, quoted = unquote(said)
    if quoted:
        return whole.strip(), None
    if said[:1] in ("'", '"', "`") and (closing := said.find(said[0], 1)) > 0:
        # A quoted title, then the time: nothing inside the quotes is a date.
        rest = said[closing + 1 :].strip()
        return said[1:closing].strip(), read_when(rest, now) if rest else None
    parts = said.split()
    # The longest tail that reads as a time decides; one that is recognised
    # but wrong ("at 25") is refused rather than kept in the title.
    for count in range(min(len(parts), _TITLE_WORDS), 0, -1):
        try:
            when = read_when(" ".join(parts[-count:]), now)
        except NotAPhraseError:
            continue
        return " ".join(parts[:-count]).rstrip(","), when
    return said.strip(), None


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + _ELLIPSIS


def _validation_message(exc: ValidationError) -> str:
    """The first problem, where and what (never the input: it could hold a secret)."""
    first = exc.errors(include_input=False, include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"The plan would not be valid ({where}: {first['msg']})."
