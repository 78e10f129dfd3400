"""Tasks: list (filters, search, pages), create, read, change, delete."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from atom_desktop.api.deps import AgentDep, scope
from atom_desktop.api.schemas import (
    ERROR_RESPONSES,
    TaskCreateBody,
    TaskPage,
    TaskPublic,
    TaskUpdateBody,
    Timestamp,
)
from atom_desktop.api.task_json import task_page_json
from atom_desktop.store.task_types import TaskFilter, TaskStatus

router = APIRouter(prefix="/tasks", tags=["tasks"], responses=ERROR_RESPONSES)


class TaskQuery(BaseModel):
    """Filters and paging of ``GET /tasks``."""

    model_config = ConfigDict(extra="forbid")

    status: list[TaskStatus] | None = None
    tag: Annotated[str | None, Field(max_length=64)] = None
    min_priority: Annotated[int | None, Field(ge=0, le=3)] = None
    due_before: Timestamp | None = None
    due_after: Timestamp | None = None
    source: Annotated[str | None, Field(max_length=64)] = None
    q: Annotated[str | None, Field(max_length=500, description="full-text search")] = None
    order: Literal["created", "updated"] = "created"
    limit: Annotated[int, Field(ge=1, le=500)] = 50
    cursor: Annotated[str | None, Field(max_length=1000)] = None


# The page is written as TaskPage's JSON by task_page_json: FastAPI passes a
# Response through, where it would validate and write the model again.
@router.get("", response_model=TaskPage, openapi_extra=scope("read"))
def list_tasks(agent: AgentDep, query: Annotated[TaskQuery, Query()]) -> Response:
    """Newest first; ``q`` searches titles and notes (every word, as prefixes)."""
    filters = TaskFilter(
        statuses=tuple(query.status) if query.status else None,
        tag=query.tag,
        min_priority=query.min_priority,
        due_before=query.due_before,
        due_after=query.due_after,
        source=query.source,
        text=query.q,
    )
    page = agent.store.tasks.page_json(
        filters, limit=query.limit, cursor=query.cursor, order=query.order
    )
    return Response(task_page_json(page), media_type="application/json")


@router.post("", status_code=201, openapi_extra=scope("automate"))
def create_task(agent: AgentDep, body: TaskCreateBody) -> TaskPublic:
    """Create a task; the response carries its ``id``."""
    return TaskPublic.of(agent.store.tasks.create(body))


@router.get("/{task_id}", openapi_extra=scope("read"))
def get_task(agent: AgentDep, task_id: str) -> TaskPublic:
    """One task."""
    return TaskPublic.of(agent.store.tasks.get(task_id))


@router.patch("/{task_id}", openapi_extra=scope("automate"))
def update_task(agent: AgentDep, task_id: str, body: TaskUpdateBody) -> TaskPublic:
    """Change the fields given; the others stay."""
    return TaskPublic.of(agent.store.tasks.update(task_id, body))


@router.delete("/{task_id}", status_code=204, openapi_extra=scope("automate"))
def delete_task(agent: AgentDep, task_id: str) -> Response:
    """Delete a task."""
    agent.store.tasks.delete(task_id)
    return Response(status_code=204)
