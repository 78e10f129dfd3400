"""A step's digest: stable across a round trip through its stored body, and changed by any edit."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from atom_desktop.assistant.step_digest import parse_step, step_body, step_digest

STEPS: list[dict[str, Any]] = [
    {"type": "shell", "shell": "make test", "cwd": "/srv", "env": {"A": "1"}},
    {"type": "http", "method": "POST", "url": "https://example.org/x", "json": {"a": [1, 2]}},
    {"type": "notify", "title": "Done", "message": "All good"},
    {"type": "task_create", "title": "Renew", "due_at": "2026-12-11T09:00:00+01:00"},
    {"type": "task_update", "task_id": "t1", "changes": {"priority": 3}},
    {"type": "task_update", "task_id": "t1", "changes": {"due_at": None}},
    {
        "type": "automation",
        "automation": {
            "name": "nightly",
            "triggers": [{"type": "cron", "expression": "0 9 * * 1-5", "timezone": "UTC"}],
            "steps": [{"type": "shell", "shell": "git pull && make test"}],
        },
    },
]


@pytest.mark.parametrize("body", STEPS, ids=[s["type"] for s in STEPS])
def test_a_step_read_back_from_its_body_is_the_same_step(body: dict[str, Any]) -> None:
    step = parse_step(body)
    again = parse_step(step_body(step))
    assert again == step
    assert step_digest(again) == step_digest(step)
    assert len(step_digest(step)) == 64


def test_a_task_change_keeps_only_the_fields_it_names() -> None:
    stored = step_body(parse_step(STEPS[4]))
    assert stored["changes"] == {"priority": 3}
    cleared = step_body(parse_step(STEPS[5]))
    assert cleared["changes"] == {"due_at": None}  # null clears; it is kept


@pytest.mark.parametrize(
    "changed",
    [
        {"type": "shell", "shell": "make test ", "cwd": "/srv", "env": {"A": "1"}},
        {"type": "shell", "shell": "make test", "cwd": "/srv", "env": {"A": "2"}},
        {"type": "shell", "shell": "make test", "cwd": "/", "env": {"A": "1"}},
    ],
)
def test_any_change_changes_the_digest(changed: dict[str, Any]) -> None:
    assert step_digest(parse_step(changed)) != step_digest(parse_step(STEPS[0]))


def test_a_body_that_is_no_step_is_refused() -> None:
    with pytest.raises(ValidationError):
        parse_step({"type": "shell"})
    with pytest.raises(ValidationError):
        parse_step({"type": "format_disk"})
