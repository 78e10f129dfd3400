"""A plan: the steps proposed for one request, shown to a person before any of them runs.

A step is one of the things the agent already knows how to do, in the
vocabulary automations use: a shell line, an HTTP request (``auth`` naming an
integration), a notification, a task to create or change, or an automation to
create. The shell, http and notify steps *are* the automation steps, and an
automation step carries an :class:`AutomationSpec` that is checked the way the
automation service checks one (cron expressions that can fire, watched folders
that are absolute), so what a person approves is exactly what will be run or
stored. Each step's ``type`` is its kind (:class:`StepKind`), the name a
per-kind approval policy uses.

:class:`ProposedPlan` is what a provider's structured output fills in (its
JSON schema is :meth:`ProposedPlan.model_json_schema`); :class:`Plan` adds what
the agent knows about it: its id, the request and when it was made.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal, assert_never

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    Field,
    Strict,
    model_validator,
)

from atom_desktop.automations.globs import check_globs
from atom_desktop.automations.model import (
    AutomationSpec,
    HttpStep,
    NotifyStep,
    ShellStep,
    Step,
    TaskStep,
)
from atom_desktop.automations.triggers import (
    CronSchedule,
    DateSchedule,
    FileTrigger,
    IntervalSchedule,
    TriggerError,
    build_trigger,
)
from atom_desktop.core.formats import NOT_BLANK, WITH_OFFSET, check_timestamp_text
from atom_desktop.runner.request import STRICT
from atom_desktop.store.task_types import Notes, Priority, Tags, TaskCreate, TaskUpdate, Title

#: The most steps one plan may propose.
MAX_STEPS = 20
REQUEST_MAX = 10_000


class StepKind(StrEnum):
    """The kinds of step: the ``type`` of each, and what an approval policy is set per."""

    SHELL = "shell"
    HTTP = "http"
    NOTIFY = "notify"
    TASK_CREATE = "task_create"
    TASK_UPDATE = "task_update"
    AUTOMATION = "automation"


def _with_offset(value: object) -> object:
    return check_timestamp_text(value, offset=True)


#: A date-time with its offset, as JSON text (the API's task bodies take the
#: same): numbers and dates without a time are refused, not read as Unix times.
Timestamp = Annotated[
    AwareDatetime,
    Strict(False),
    BeforeValidator(_with_offset),
    Field(json_schema_extra={"pattern": WITH_OFFSET}),
]
TaskId = Annotated[
    str, Field(min_length=1, max_length=200, json_schema_extra={"pattern": NOT_BLANK})
]


class CreateTaskStep(BaseModel):
    """Create a task (in the store's terms: :class:`TaskCreate`)."""

    model_config = STRICT

    type: Literal["task_create"]
    title: Title
    notes: Notes = ""
    priority: Priority = 0
    due_at: Timestamp | None = None
    tags: Tags = []

    def task(self) -> TaskCreate:
        """The task to store."""
        return TaskCreate(
            title=self.title,
            notes=self.notes,
            priority=self.priority,
            due_at=self.due_at,
            tags=self.tags,
        )


class TaskChanges(TaskUpdate):
    """The fields to change; those left out stay as they are, ``due_at: null`` clears it."""

    model_config = STRICT

    due_at: Timestamp | None = Field(default=None, description="null clears the due date.")

    @model_validator(mode="after")
    def _changes_something(self) -> TaskChanges:
        if not self.model_fields_set:
            raise ValueError("name at least one field to change")
        return self


class UpdateTaskStep(BaseModel):
    """Change a task by id."""

    model_config = STRICT

    type: Literal["task_update"]
    task_id: TaskId
    changes: TaskChanges

    def update(self) -> TaskUpdate:
        """The change as the store takes it (only the fields that were given)."""
        return TaskUpdate.model_validate(self.changes.model_dump(exclude_unset=True))


class CreateAutomationStep(BaseModel):
    """Create an automation: exactly what the automation service stores and schedules."""

    model_config = STRICT

    type: Literal["automation"]
    automation: AutomationSpec

    @model_validator(mode="after")
    def _triggers_work(self) -> CreateAutomationStep:
        # What the automation service checks before it stores a spec: each
        # schedule must build (a cron that can fire, a known zone) and each
        # watched folder must be absolute.
        for index, trigger in enumerate(self.automation.triggers):
            try:
                if isinstance(trigger, FileTrigger):
                    check_globs(trigger)
                else:
                    build_trigger(trigger)
            except TriggerError as exc:
                raise ValueError(f"automation.triggers[{index}].{exc.message}") from None
        return self


PlanStep = Annotated[
    ShellStep | HttpStep | NotifyStep | CreateTaskStep | UpdateTaskStep | CreateAutomationStep,
    Field(discriminator="type"),
]
Steps = Annotated[list[PlanStep], Field(max_length=MAX_STEPS)]
#: The longest reply a plan may carry.
REPLY_MAX = 8_000
Reply = Annotated[
    str,
    Field(
        max_length=REPLY_MAX,
        description="What to tell the person: the answer to a question, or a word about "
        "the steps. Empty when the steps say it all.",
    ),
]


class _StepsOrReply(BaseModel):
    """At least one step, or a reply (a question answered needs no step)."""

    model_config = STRICT

    reply: Reply = ""
    steps: Steps = []

    @model_validator(mode="after")
    def _something(self) -> _StepsOrReply:
        if not self.steps and not self.reply.strip():
            raise ValueError("give at least one step, or a reply")
        return self


class ProposedPlan(_StepsOrReply):
    """The steps proposed for a request, in order: what a provider's structured output fills in."""


class Plan(_StepsOrReply):
    """A proposed plan as the agent keeps it: nothing in it runs until a person approves."""

    id: Annotated[str, Field(min_length=1, max_length=64)]
    request: Annotated[str, Field(min_length=1, max_length=REQUEST_MAX)]
    created_at: Timestamp


def kind(step: PlanStep) -> StepKind:
    """The kind of ``step``, for the approval policy."""
    return StepKind(step.type)


def commands(step: PlanStep) -> tuple[str, ...]:
    """Every shell line and URL ``step`` would use, exactly as written (nothing shortened)."""
    match step:
        case ShellStep():
            return (step.shell,)
        case HttpStep():
            return (step.url,)
        case CreateAutomationStep():
            spec = step.automation
            return tuple(c for s in [*spec.steps, *spec.on_failure] for c in _step_commands(s))
        case NotifyStep() | CreateTaskStep() | UpdateTaskStep():
            return ()
        case _:
            assert_never(step)


def describe(step: PlanStep) -> str:
    """What ``step`` does, in words, with its commands verbatim on lines of their own."""
    match step:
        case ShellStep() | HttpStep() | NotifyStep():
            return _describe_step(step)
        case CreateTaskStep():
            due = f", due {_when(step.due_at)}" if step.due_at is not None else ""
            return f"Add the task {step.title!r}{due}."
        case UpdateTaskStep():
            changed = ", ".join(
                f"{name} to {value!r}"
                for name, value in step.changes.model_dump(exclude_unset=True).items()
            )
            return f"Change the task {step.task_id}: {changed}."
        case CreateAutomationStep():
            spec = step.automation
            lines = [f"Create the automation {spec.name!r}, which runs {describe_triggers(spec)}:"]
            lines.extend(f"{i}. {_describe_step(s)}" for i, s in enumerate(spec.steps, start=1))
            if any(isinstance(s, ShellStep) for s in [*spec.steps, *spec.on_failure]):
                # Approving the plan's step approves the automation: say what
                # that means for each of its later runs.
                lines.append(_SHELL_APPROVAL[spec.approval])
            return "\n".join(lines)
        case _:
            assert_never(step)


_SHELL_APPROVAL = {
    "auto": "Its shell commands will run each time without asking you (approval: auto).",
    "ask": "Its shell commands will wait for your approval each time (approval: ask).",
    "deny": "Its shell commands will be refused (approval: deny).",
}


def _step_commands(step: Step) -> tuple[str, ...]:
    if isinstance(step, ShellStep):
        return (step.shell,)
    if isinstance(step, HttpStep):
        return (step.url,)
    return ()


def _describe_step(step: Step) -> str:
    match step:
        case ShellStep():
            where = f" (in {step.cwd})" if step.cwd else ""
            return f"Run this shell command{where}:\n{step.shell}"
        case HttpStep():
            auth = f" as integration {step.auth}" if step.auth else ""
            return f"Send an HTTP {step.method} request{auth} to:\n{step.url}"
        case NotifyStep():
            message = f": {step.message}" if step.message else ""
            return f"Show the notification {step.title!r}{message}"
        case TaskStep():
            target = "Create a task" if step.action == "create" else f"Update task {step.task_id}"
            return f"{target} with {json.dumps(step.fields, default=str)}"
        case _:
            assert_never(step)


def describe_triggers(spec: AutomationSpec) -> str:
    """When an automation runs, in words."""
    if not spec.triggers:
        return "only when started by hand"
    return " and ".join(_trigger(t) for t in spec.triggers)


def _trigger(trigger: CronSchedule | IntervalSchedule | DateSchedule | FileTrigger) -> str:
    match trigger:
        case CronSchedule():
            return f"on the cron schedule {trigger.expression!r} ({trigger.timezone} time)"
        case IntervalSchedule():
            return f"every {_seconds(trigger.seconds)}"
        case DateSchedule():
            return f"once, at {_when(trigger.at)} ({trigger.timezone} time)"
        case FileTrigger():
            kinds = "/".join(trigger.events)
            return f"when files are {kinds} in {', '.join(trigger.paths)}"
        case _:
            assert_never(trigger)


def _seconds(seconds: float) -> str:
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds:g} seconds"


def _when(moment: datetime) -> str:
    # "Fri 11 Dec 2026 09:00 (+01:00)": the weekday and the date, so a reading of
    # "next Friday" can be checked at a glance.
    offset = moment.strftime("%z")
    offset = f"{offset[:3]}:{offset[3:]}" if offset else "local"
    return f"{moment:%a %d %b %Y %H:%M} ({offset})"
