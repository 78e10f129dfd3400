"""A page of tasks as the JSON of :class:`~atom_desktop.api.schemas.TaskPage`, written directly.

``GET /tasks`` answers up to 500 tasks. Built the usual way, each task became
a ``Task``, then a ``TaskPublic`` model, and FastAPI validated the page again
(in a second trip to a worker thread) before pydantic wrote it: most of the
request's cost (bench/RESULTS.md, 2026-12-06). The store hands out each task
as its JSON text instead, written by SQLite in the query
(:meth:`~atom_desktop.store.tasks.TaskRepository.page_json`), and this puts
the page around them, byte for byte as pydantic writes the model: compact
separators, non-ASCII text as UTF-8, not escaped. A test holds the two to the
same bytes for a varied set of tasks.
"""

from __future__ import annotations

import json

from atom_desktop.store.tasks import TaskJsonPage


def task_page_json(page: TaskJsonPage) -> bytes:
    """``page`` as the JSON body of a ``TaskPage`` answer."""
    # A cursor is URL-safe base64, but dumps keeps this right whatever it holds.
    cursor = json.dumps(page.next_cursor, ensure_ascii=False)
    return f'{{"items":[{",".join(page.items)}],"next_cursor":{cursor}}}'.encode()
