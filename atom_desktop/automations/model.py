"""What an automation is: triggers, steps and the policies that govern its runs.

These models validate what a person, a file or an API client wrote; the
store keeps the validated JSON (``AutomationSpec.model_dump(mode="json")``)
and rebuilds the model from it.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from atom_desktop.automations.triggers import (
    CronSchedule,
    DateSchedule,
    FileTrigger,
    IntervalSchedule,
)
from atom_desktop.core.formats import NOT_BLANK, check_text, whole_number
from atom_desktop.runner.request import STRICT, Seconds, ShellLine, StepEnv, WorkDir
from atom_desktop.store.task_types import TaskCreate, TaskUpdate

Trigger = Annotated[
    CronSchedule | IntervalSchedule | DateSchedule | FileTrigger, Field(discriminator="type")
]
ApprovalMode = Literal["auto", "ask", "deny"]
MissedPolicy = Literal["coalesce", "all", "skip"]
OverlapPolicy = Literal["skip", "queue", "parallel"]
StepName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$")]
#: An http(s) address, or one that a ``${...}`` reference makes (checked again
#: once it is filled in): this catches typos early.
HTTP_URL = r"^(?:[Hh][Tt][Tt][Pp][Ss]?://|[^/]*\$\{)"
#: The fields a task step may set.
TASK_FIELDS = tuple(sorted(set(TaskCreate.model_fields) | set(TaskUpdate.model_fields)))


def _http_url(url: str) -> str:
    if not re.match(HTTP_URL, url):
        raise ValueError(
            "must be an http:// or https:// address (or start with a ${...} reference)"
        )
    return url


def _name(value: str) -> str:
    return check_text(value, blank=False).strip()


class _Step(BaseModel):
    model_config = STRICT

    name: StepName | None = Field(
        default=None, description="Lets later steps refer to this one's result: ${steps.NAME.x}."
    )
    continue_on_failure: bool = Field(
        default=False, description="Go on with the next step when this one fails."
    )


class ShellStep(_Step):
    """A shell line run through the runner (policy, streaming and history apply).

    Trigger data never becomes part of the line: changed paths arrive as the
    positional arguments ``"$@"``, and everything else as environment
    variables (TRIGGER_KIND, TRIGGER_TIME, TRIGGER_PATHS_FILE,
    TRIGGER_PAYLOAD, PREVIOUS_STDOUT, ...).
    """

    # The types of a run request's fields: the step becomes one.
    type: Literal["shell"]
    shell: ShellLine
    cwd: WorkDir | None = None
    env: StepEnv = {}
    timeout_s: Seconds | None = None


class HttpStep(_Step):
    """An HTTP request; ``${...}`` references in the URL, headers and body are filled in."""

    type: Literal["http"]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    url: Annotated[
        str,
        Field(min_length=1, max_length=8192, json_schema_extra={"pattern": HTTP_URL}),
        AfterValidator(_http_url),
    ]
    headers: Annotated[dict[str, Annotated[str, Field(max_length=8192)]], Field(max_length=64)] = {}
    json_body: Any = Field(default=None, alias="json")
    body: Annotated[str, Field(max_length=1_048_576)] | None = None
    timeout_s: Annotated[float, Field(gt=0, le=600)] = 30.0
    expect_status: Annotated[
        list[Annotated[int, Field(ge=100, le=599), BeforeValidator(whole_number)]],
        Field(max_length=50),
    ] = Field(default=[], description="Statuses that count as success (default: any 2xx).")
    auth: (
        Annotated[
            str,
            Field(
                min_length=1,
                max_length=36,
                pattern=r"^[A-Za-z0-9_-]+$",
                description="An integration's id: the agent adds that account's credential "
                "(refreshed when due). The token is never in the step, its result or a log.",
            ),
        ]
        | None
    ) = None

    model_config = ConfigDict(**STRICT, populate_by_name=True)


class NotifyStep(_Step):
    """A desktop notification (an event on the bus when no window is attached)."""

    type: Literal["notify"]
    title: Annotated[str, Field(min_length=1, max_length=200)]
    message: Annotated[str, Field(max_length=2000)] = ""


class TaskStep(_Step):
    """Create a task, or update one by id; ``${...}`` references are filled in."""

    type: Literal["task"]
    action: Literal["create", "update"] = "create"
    task_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    fields: dict[str, Any] = Field(
        default_factory=dict,
        description="Task fields (title, notes, status, priority, tags...).",
        json_schema_extra={"propertyNames": {"enum": [*TASK_FIELDS]}},
    )

    @field_validator("fields")
    @classmethod
    def _task_fields(cls, fields: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(fields) - set(TASK_FIELDS))
        if unknown:
            raise ValueError(f"unknown task field(s) {', '.join(unknown)}")
        return fields


Step = Annotated[ShellStep | HttpStep | NotifyStep | TaskStep, Field(discriminator="type")]


class NotifyOn(BaseModel):
    """When to tell the user that a run ended."""

    model_config = STRICT

    success: bool = False
    failure: bool = True


class AutomationSpec(BaseModel):
    """Everything a person configures about one automation."""

    model_config = STRICT

    # The length as sent, as the schema says; then the spaces around it go.
    name: Annotated[
        str,
        Field(min_length=1, max_length=120, json_schema_extra={"pattern": NOT_BLANK}),
        AfterValidator(_name),
    ]
    description: Annotated[str, Field(max_length=2000)] = ""
    enabled: bool = True
    triggers: Annotated[list[Trigger], Field(max_length=16)] = Field(
        default=[], description="Schedules and file triggers; none means manual/API only."
    )
    steps: Annotated[list[Step], Field(min_length=1, max_length=64)]
    on_failure: Annotated[list[Step], Field(max_length=16)] = Field(
        default=[], description="Steps run after a step fails (and stops the automation)."
    )
    approval: ApprovalMode = Field(
        default="auto", description="Shell steps: run (auto), wait for a person (ask), refuse."
    )
    approval_timeout_s: Annotated[float, Field(ge=1, le=7 * 24 * 3600)] = 3600.0
    missed: MissedPolicy = Field(
        default="coalesce",
        description="Scheduled times missed while the agent was stopped or asleep: run once "
        "(coalesce), run every one (all), or skip them. All are recorded; times that fall "
        "while the agent is paused are recorded and skipped.",
    )
    misfire_grace_s: Annotated[float, Field(ge=0, le=24 * 3600)] = Field(
        default=60.0, description="A fire this late still counts as on time."
    )
    overlap: OverlapPolicy = Field(
        default="skip", description="When triggered while a run is going: skip, queue, parallel."
    )
    timeout_s: Annotated[float, Field(gt=0, le=7 * 24 * 3600)] | None = 3600.0
    notify: NotifyOn = NotifyOn()

    @field_validator("steps", "on_failure")
    @classmethod
    def _unique_step_names(cls, steps: list[Any]) -> list[Any]:
        names = [s.name for s in steps if s.name is not None]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"step names must be unique: {', '.join(duplicates)}")
        return steps


def spec_json(spec: AutomationSpec) -> dict[str, Any]:
    """The spec as stored and sent: plain JSON, aliases used (``json`` for http bodies)."""
    return spec.model_dump(mode="json", by_alias=True)
