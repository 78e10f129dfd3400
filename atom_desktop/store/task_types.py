"""Task values: what callers give (validated) and what they get back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)
from pydantic.json_schema import SkipJsonSchema

from atom_desktop.core.formats import NO_NUL, NOT_BLANK, check_text, whole_number

TaskStatus = Literal["todo", "doing", "done", "cancelled"]
TaskOrder = Literal["created", "updated"]


def _line(value: str) -> str:
    """A title or tag: no NUL, not blank, and without the spaces around it."""
    return check_text(value, blank=False).strip()


# Lengths and patterns apply to the text as sent, as the schema says; then
# the spaces around it are dropped.
Title = Annotated[
    str,
    StringConstraints(min_length=1, max_length=500),
    Field(json_schema_extra={"pattern": NOT_BLANK}, description="Spaces around it are removed."),
    AfterValidator(_line),
]
Tag = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    Field(json_schema_extra={"pattern": NOT_BLANK}),
    AfterValidator(_line),
]
Notes = Annotated[
    str,
    StringConstraints(max_length=100_000),
    Field(json_schema_extra={"pattern": NO_NUL}),
    AfterValidator(check_text),
]
Source = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z0-9_.-]+$")]
ExternalId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=255),
    Field(json_schema_extra={"pattern": NO_NUL}),
    AfterValidator(check_text),
]
# The constraints first: on the int itself, so the schema shows them.
Priority = Annotated[
    int,
    Field(ge=0, le=3, description="0 none, 1 low, 2 medium, 3 high"),
    BeforeValidator(whole_number),
]
Tags = Annotated[list[Tag], Field(max_length=50)]


def _unique_tags(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(tags))


def _no_default(schema: dict[str, Any]) -> None:
    # The field may be left out but not set to null: its schema shows no null default.
    schema.pop("default", None)


class TaskCreate(BaseModel):
    """The fields of a new task."""

    model_config = ConfigDict(extra="forbid")

    title: Title
    notes: Notes = ""
    status: TaskStatus = "todo"
    priority: Priority = 0
    due_at: AwareDatetime | None = None
    tags: Tags = []
    source: Source = "local"
    external_id: ExternalId | None = None

    @field_validator("tags")
    @classmethod
    def _dedupe(cls, tags: list[str]) -> list[str]:
        return _unique_tags(tags)


def _may_be_left_out() -> Any:
    """A change's field that may be left out but not set to null."""
    return Field(default=None, json_schema_extra=_no_default)


class TaskUpdate(BaseModel):
    """A partial change; only the fields that were given are applied."""

    model_config = ConfigDict(extra="forbid")

    # ``SkipJsonSchema[None]``: None stands for "not given" inside the agent,
    # and the schema says (as the validator below does) that null is no value.
    title: Title | SkipJsonSchema[None] = _may_be_left_out()
    notes: Notes | SkipJsonSchema[None] = _may_be_left_out()
    status: TaskStatus | SkipJsonSchema[None] = _may_be_left_out()
    priority: Priority | SkipJsonSchema[None] = _may_be_left_out()
    due_at: AwareDatetime | None = Field(default=None, description="null clears the due date.")
    tags: Tags | SkipJsonSchema[None] = _may_be_left_out()

    @field_validator("title", "notes", "status", "priority", "tags")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("may be left out but not set to null")
        if isinstance(value, list):
            return _unique_tags(value)
        return value


@dataclass(frozen=True, slots=True)
class Task:
    """A stored task."""

    id: str
    title: str
    notes: str
    status: str
    priority: int
    due_at: datetime | None
    tags: tuple[str, ...]
    source: str
    external_id: str | None
    created_at: datetime
    updated_at: datetime

    def values(self) -> dict[str, Any]:
        """The fields as a dict, tags as a list (``asdict`` deep-copies: too slow in bulk)."""
        data = {name: getattr(self, name) for name in self.__slots__}
        data["tags"] = list(self.tags)
        return data

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (ISO-8601 times, list of tags)."""
        data = self.values()
        for key in ("due_at", "created_at", "updated_at"):
            value = data[key]
            data[key] = value.isoformat() if value is not None else None
        return data


@dataclass(frozen=True, slots=True)
class TaskFilter:
    """Conditions a listed task must meet; None means "any"."""

    statuses: tuple[TaskStatus, ...] | None = None
    tag: str | None = None
    min_priority: int | None = None
    due_before: datetime | None = None
    due_after: datetime | None = None
    source: str | None = None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class TaskPage:
    """One page of a listing; pass ``next_cursor`` back for the next page."""

    items: list[Task]
    next_cursor: str | None
