"""Request and response bodies of the API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from atom_desktop.core.statuses import RunStatus
from atom_desktop.store.task_types import Task

Scope = Literal["read", "run", "automate", "admin"]
#: The largest id SQLite (and the event bus's readers) can hold: a signed 64-bit integer.
MAX_ID = 2**63 - 1


class ErrorDetail(BaseModel):
    """What went wrong."""

    code: str
    message: str


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


TokenName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[\w .-]+$"),
]


class TokenCreate(BaseModel):
    """A new named token."""

    model_config = ConfigDict(extra="forbid")

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
    """One audited request."""

    id: int
    at: datetime
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


class RunInput(BaseModel):
    """Bytes for a run's stdin: ``text`` (UTF-8) or ``base64``; ``close`` ends the input."""

    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, Field(max_length=1_000_000)] | None = None
    base64: Annotated[str, Field(max_length=1_400_000)] | None = None
    close: bool = False
