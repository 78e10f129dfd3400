"""Request and response bodies of the API."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Strict,
    StringConstraints,
    Tag,
    model_validator,
)

from atom_desktop.core.formats import WITH_OFFSET, check_timestamp_text
from atom_desktop.core.statuses import RunStatus
from atom_desktop.runner.request import STRICT, Argv, RunOptions, RunRequest, ShellLine
from atom_desktop.store.task_types import Task, TaskCreate, TaskUpdate

Scope = Literal["read", "run", "automate", "admin"]
#: The largest id SQLite (and the event bus's readers) can hold: a signed 64-bit integer.
MAX_ID = 2**63 - 1


def _with_offset(value: object) -> object:
    return check_timestamp_text(value, offset=True)


#: A date-time with its offset, as JSON text. Not strict (a strict datetime
#: takes no text from Python, which is what FastAPI hands over), so the check
#: before it refuses what the lenient parser would read: numbers as Unix
#: times, dates without a time.
Timestamp = Annotated[
    AwareDatetime,
    Strict(False),
    BeforeValidator(_with_offset),
    Field(json_schema_extra={"pattern": WITH_OFFSET}),
]


class ErrorDetail(BaseModel):
    """What went wrong."""

    code: str
    message: str
    hint: str | None = Field(default=None, description="What to do about it, when known.")


class ErrorBody(BaseModel):
    """Every error response."""

    error: ErrorDetail


class Health(BaseModel):
    """Liveness, without secrets."""

    status: Literal["ok"]
    version: str
    uptime_s: float
    key_storage: str | None
    keyring_backend: str | None
    #: Where the key is, in the words the window and ``status`` use (no paths here).
    key_where: str | None = None


class Status(BaseModel):
    """The agent's state, counts and paths."""

    state: str
    version: str
    uptime_s: float
    api: str
    key_storage: str | None
    key_warning: str | None
    tasks: int
    outbox_pending: int
    data_dir: str
    config_dir: str
    log_dir: str


class TaskPublic(BaseModel):
    """A task as the API shows it."""

    id: str
    title: str
    notes: str
    status: str
    priority: int
    due_at: datetime | None
    tags: list[str]
    source: str
    external_id: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, task: Task) -> TaskPublic:
        """From a stored task."""
        return cls(**task.values())


class TaskPage(BaseModel):
    """One page of tasks; pass ``next_cursor`` as ``cursor`` for the next."""

    items: list[TaskPublic]
    next_cursor: str | None


class TaskCreateBody(TaskCreate):
    """A new task, as the API takes it: in JSON's own types."""

    model_config = STRICT

    due_at: Timestamp | None = None


class TaskUpdateBody(TaskUpdate):
    """A change to a task, as the API takes it: in JSON's own types."""

    model_config = STRICT

    due_at: Timestamp | None = Field(default=None, description="null clears the due date.")


# Letters, digits, '_', '.', '-' and spaces; the spaces around it are dropped.
TokenName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^ *[A-Za-z0-9_.-][A-Za-z0-9_ .-]*$"),
    AfterValidator(str.strip),
]


class TokenCreate(BaseModel):
    """A new named token."""

    model_config = STRICT

    name: TokenName
    scopes: Annotated[list[Scope], Field(min_length=1)]


class TokenPublic(BaseModel):
    """A token without its secret."""

    id: str
    name: str
    kind: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenPublic):
    """A new token, with its secret: shown this once, never again."""

    token: str


class AuditEntryPublic(BaseModel):
    """One audited change: an API request (``actor`` "api", with its token's name)
    or an action in the desktop window (``actor`` "window", no token)."""

    id: int
    at: datetime
    actor: Literal["api", "window"]
    token_name: str | None
    action: str
    target: str | None
    status: int
    result: str


class AuditPage(BaseModel):
    """Newest first; pass ``next_before`` as ``before`` for older entries."""

    items: list[AuditEntryPublic]
    next_before: int | None


_ERROR_TEXT = {
    400: "Bad request (Host not allowed, bad cursor, bad Content-Length)",
    401: "No API token was sent",
    403: "Token invalid, revoked or lacking the scope; or a foreign Origin",
    404: "No such resource",
    409: "Conflicts with an existing resource",
    413: "Body too large",
    415: "Body is not application/json",
    422: "Invalid input; the message names the field",
    503: "The store is unavailable",
}
#: Documented on every route: every error has the same shape. A reference to
#: the schema (which ``create_app`` puts in the document), not ``"model":
#: ErrorBody``: FastAPI builds a validator for each model response of each
#: route, about 300 of them here, 60 ms of every start, for a document
#: nobody may ask for.
ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    code: {
        "description": text,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }
    for code, text in _ERROR_TEXT.items()
}


class RunPublic(BaseModel):
    """A run as the API shows it."""

    id: str
    source: str
    requester: str | None
    argv: list[str] | None
    shell: str | None
    cwd: str
    env_names: list[str]
    status: RunStatus
    exit_code: int | None
    signal: int | None
    error: str | None
    timeout_s: float | None
    idle_timeout_s: float | None
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    stdout_bytes: int
    stderr_bytes: int
    dropped_bytes: int
    last_seq: int
    peak_rss: int | None
    cpu_s: float | None


class RunPage(BaseModel):
    """Runs newest first; pass ``next_before`` as ``before`` for older ones."""

    items: list[RunPublic]
    next_before: str | None


class _RunBody(RunOptions):
    """What both shapes of ``POST /runs`` share."""

    @model_validator(mode="before")
    @classmethod
    def _no_args(cls, data: Any) -> Any:
        # Refused as any other unknown field is; said the way that helps.
        if isinstance(data, dict) and "args" in data:
            raise ValueError("'args' are for automation steps; put the arguments in 'argv'")
        return data

    def request(self) -> RunRequest:
        """What the runner takes."""
        return RunRequest.model_validate(self.model_dump())


class ArgvRun(_RunBody):
    """A program and its arguments, started directly (no shell reads them)."""

    argv: Argv


class ShellRun(_RunBody):
    """A line for the user's shell."""

    shell: ShellLine


def _command_kind(value: object) -> str | None:
    """Which of ``argv`` and ``shell`` a run request gives; None for both or neither."""
    if isinstance(value, ArgvRun | ShellRun):
        return "argv" if isinstance(value, ArgvRun) else "shell"
    if not isinstance(value, dict):
        return None
    given = [key for key in ("argv", "shell") if key in value]
    return given[0] if len(given) == 1 else None


#: ``POST /runs``: a command as ``argv`` or a line as ``shell``, exactly one
#: (``oneOf`` in the document, and the same choice here).
RunCreate = Annotated[
    Annotated[ArgvRun, Tag("argv")] | Annotated[ShellRun, Tag("shell")],
    Discriminator(
        _command_kind,
        custom_error_type="one_command",
        custom_error_message="give exactly one of 'argv' (a list) or 'shell' (a line)",
    ),
]

#: Standard base64, padded: what ``base64.b64decode(..., validate=True)`` reads.
BASE64 = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
_BASE64 = re.compile(BASE64)


def _base64(value: str) -> str:
    # fullmatch: the pattern's "$" ends the text, as in the document.
    if not _BASE64.fullmatch(value):
        raise ValueError("is not base64 (A-Z, a-z, 0-9, + and / in groups of four, = to pad)")
    return value


def _not_both(schema: dict[str, Any]) -> None:
    schema["not"] = {"required": ["text", "base64"]}


class RunInput(BaseModel):
    """Bytes for a run's stdin: ``text`` (UTF-8) or ``base64``, not both; ``close`` ends
    the input."""

    model_config = ConfigDict(**STRICT, json_schema_extra=_not_both)

    text: Annotated[str, Field(max_length=1_000_000)] | None = None
    base64: (
        Annotated[
            str,
            Field(max_length=1_400_000, json_schema_extra={"pattern": BASE64}),
            AfterValidator(_base64),
        ]
        | None
    ) = None
    close: bool = False

    @model_validator(mode="after")
    def _one_encoding(self) -> RunInput:
        # Given, as JSON Schema's "required" counts them: a null counts too.
        if {"text", "base64"} <= self.model_fields_set:
            raise ValueError("give 'text' or 'base64', not both")
        return self
