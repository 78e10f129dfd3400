"""Plans: a schema that structured output can target, steps checked as the services check them."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any, get_args

import jsonschema_rs
import pytest
from pydantic import ValidationError

from atom_desktop.assistant.plan import (
    CreateAutomationStep,
    CreateTaskStep,
    Plan,
    PlanStep,
    ProposedPlan,
    StepKind,
    UpdateTaskStep,
    commands,
    describe,
    kind,
)
from atom_desktop.automations.model import AutomationSpec, HttpStep, ShellStep, spec_json
from atom_desktop.automations.service import check_spec
from atom_desktop.store.task_types import TaskCreate, TaskUpdate

AUTOMATION: dict[str, Any] = {
    "type": "automation",
    "automation": {
        "name": "Tests every weekday",
        "triggers": [
            {"type": "cron", "expression": "0 9 * * mon-fri", "timezone": "Europe/Berlin"}
        ],
        "steps": [
            {"type": "shell", "shell": "git pull && pytest"},
            {"type": "http", "method": "POST", "url": "https://api.github.com/x", "auth": "gh-1"},
        ],
    },
}
EVERY_KIND: list[dict[str, Any]] = [
    {"type": "shell", "shell": "make test", "cwd": "/srv/app"},
    {
        "type": "http",
        "method": "POST",
        "url": "https://api.github.com/repos/o/r/issues",
        "auth": "gh-1",
        "json": {"title": "x"},
    },
    {"type": "notify", "title": "Done", "message": "The tests passed."},
    {
        "type": "task_create",
        "title": "Renew the certificate",
        "due_at": "2026-12-11T17:00:00+01:00",
    },
    {
        "type": "task_update",
        "task_id": "0193a6a0-0000-7000-8000-000000000001",
        "changes": {"status": "done"},
    },
    AUTOMATION,
]


def _schema_refs(node: object) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_schema_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_schema_refs(v) for v in node))
    return set()


def _cycle(defs: dict[str, Any]) -> list[str] | None:
    """A chain of definitions that refers back to itself, if any."""
    edges = {
        name: {r.removeprefix("#/$defs/") for r in _schema_refs(body)}
        for name, body in defs.items()
    }

    def visit(name: str, path: list[str]) -> list[str] | None:
        if name in path:
            return [*path, name]
        for target in sorted(edges[name]):
            if found := visit(target, [*path, name]):
                return found
        return None

    for name in sorted(defs):
        if found := visit(name, []):
            return found
    return None


@pytest.mark.parametrize("model", [ProposedPlan, Plan], ids=["ProposedPlan", "Plan"])
def test_the_schema_is_valid_self_contained_and_not_recursive(
    model: type[ProposedPlan | Plan],
) -> None:
    schema = model.model_json_schema()
    assert jsonschema_rs.meta.is_valid(schema)
    defs = schema["$defs"]
    # Every reference is local and names a definition: no document outside this one is needed.
    refs = _schema_refs(schema)
    assert refs
    assert all(r.startswith("#/$defs/") and r.removeprefix("#/$defs/") in defs for r in refs)
    # No definition refers back to itself: a generator that inlines references terminates.
    assert _cycle(defs) is None
    # The document survives JSON (no Python objects in it).
    assert json.loads(json.dumps(schema)) == schema


def test_the_steps_are_a_union_over_every_kind() -> None:
    schema = ProposedPlan.model_json_schema()
    items = schema["properties"]["steps"]["items"]
    assert items["discriminator"]["propertyName"] == "type"
    assert set(items["discriminator"]["mapping"]) == {k.value for k in StepKind}
    # The shell, http and notify steps are the automations' own.
    assert items["discriminator"]["mapping"]["shell"] == "#/$defs/ShellStep"
    assert items["discriminator"]["mapping"]["http"] == "#/$defs/HttpStep"
    union = get_args(get_args(PlanStep)[0])
    assert ShellStep in union
    assert HttpStep in union


def test_a_plan_of_every_kind_validates_against_the_schema_and_the_models() -> None:
    document = {"steps": EVERY_KIND}
    validator = jsonschema_rs.validator_for(ProposedPlan.model_json_schema())
    assert validator.is_valid(document), [e.message for e in validator.iter_errors(document)]
    plan = ProposedPlan.model_validate_json(json.dumps(document))
    assert [kind(s) for s in plan.steps] == list(StepKind)
    assert plan.model_dump(mode="json", by_alias=True, exclude_defaults=True) == document


def test_a_plan_keeps_its_request_id_and_time() -> None:
    created = datetime(2026, 12, 7, 13, 0, tzinfo=UTC)
    plan = Plan(
        id="0193a6a0-0000-7000-8000-000000000002",
        request="run make",
        steps=[ShellStep(type="shell", shell="make")],
        created_at=created,
    )
    again = Plan.model_validate_json(plan.model_dump_json())
    assert again == plan
    assert again.created_at == created


def test_a_plans_automation_is_exactly_what_the_automation_service_takes() -> None:
    step = ProposedPlan.model_validate({"steps": [AUTOMATION]}).steps[0]
    assert isinstance(step, CreateAutomationStep)
    check_spec(step.automation)
    assert AutomationSpec.model_validate(AUTOMATION["automation"]) == step.automation
    assert AutomationSpec.model_validate(spec_json(step.automation)) == step.automation


def test_task_steps_become_the_stores_values() -> None:
    plan = ProposedPlan.model_validate_json(json.dumps({"steps": EVERY_KIND}))
    create, update = plan.steps[3], plan.steps[4]
    assert isinstance(create, CreateTaskStep)
    assert create.task() == TaskCreate(
        title="Renew the certificate", due_at=datetime.fromisoformat("2026-12-11T17:00:00+01:00")
    )
    assert isinstance(update, UpdateTaskStep)
    assert update.update() == TaskUpdate(status="done")
    assert update.update().model_fields_set == {"status"}
    cleared = UpdateTaskStep.model_validate(
        {"type": "task_update", "task_id": "t1", "changes": {"due_at": None}}
    )
    assert cleared.update().model_dump(exclude_unset=True) == {"due_at": None}


def test_describe_shows_commands_verbatim_on_their_own_lines() -> None:
    plan = ProposedPlan.model_validate({"steps": EVERY_KIND})
    shell, http, notify, create, update, automation = plan.steps
    assert describe(shell).splitlines() == ["Run this shell command (in /srv/app):", "make test"]
    assert "https://api.github.com/repos/o/r/issues" in describe(http).splitlines()
    assert "integration gh-1" in describe(http)
    assert "'Done'" in describe(notify)
    assert "Fri 11 Dec 2026 17:00 (+01:00)" in describe(create)
    assert "status to 'done'" in describe(update)
    text = describe(automation)
    assert "git pull && pytest" in text.splitlines()
    assert "'0 9 * * mon-fri' (Europe/Berlin time)" in text
    assert text.splitlines()[-1] == (
        "Its shell commands will run each time without asking you (approval: auto)."
    )
    assert commands(automation) == ("git pull && pytest", "https://api.github.com/x")
    assert commands(shell) == ("make test",)
    assert commands(notify) == ()


def _refusal(step: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        ProposedPlan.model_validate_json(json.dumps({"steps": [step]}))
    return str(caught.value)


def _automation_with(**changes: Any) -> dict[str, Any]:
    spec = {**AUTOMATION["automation"], **changes}
    return {"type": "automation", "automation": spec}


@pytest.mark.parametrize(
    ("step", "words"),
    [
        (
            {"type": "teleport", "to": "mars"},
            ["does not match any of the expected tags", "task_create"],
        ),
        ({"shell": "make"}, ["Unable to extract tag using discriminator 'type'"]),
        (
            {"type": "shell", "shell": "make", "sudo": True},
            ["sudo", "Extra inputs are not permitted"],
        ),
        ({"type": "shell", "shell": ""}, ["shell", "at least 1 character"]),
        ({"type": "http", "url": "ftp://x"}, ["url", "http:// or https://"]),
        ({"type": "http", "url": "https://x", "auth": "../token"}, ["auth", "pattern"]),
        ({"type": "task_create", "title": "   "}, ["title", "blank"]),
        ({"type": "task_create", "title": "x", "due_at": "2026-12-10"}, ["due_at", "RFC 3339"]),
        ({"type": "task_create", "title": "x", "due_at": 1796000000}, ["due_at", "RFC 3339"]),
        (
            {"type": "task_create", "title": "x", "priority": 9},
            ["priority", "less than or equal to 3"],
        ),
        ({"type": "task_update", "task_id": "t1", "changes": {}}, ["at least one field"]),
        ({"type": "task_update", "task_id": "t1", "changes": {"title": None}}, ["title"]),
        (
            {"type": "task_update", "task_id": "t1", "changes": {"colour": "red"}},
            ["colour", "Extra"],
        ),
        (
            _automation_with(
                triggers=[{"type": "cron", "expression": "0 9 31 2 *", "timezone": "UTC"}]
            ),
            ["automation.triggers[0].expression", "never fires"],
        ),
        (
            _automation_with(
                triggers=[{"type": "cron", "expression": "61 9 * * *", "timezone": "UTC"}]
            ),
            ["automation.triggers[0].expression", "not a valid schedule"],
        ),
        (
            _automation_with(
                triggers=[{"type": "cron", "expression": "0 9 * * *", "timezone": "Mars/Base"}]
            ),
            ["timezone"],
        ),
        (
            _automation_with(triggers=[{"type": "file", "paths": ["~user-that-is-not/x"]}]),
            ["automation.triggers[0].paths[0]", "relative"],
        ),
        (_automation_with(steps=[]), ["steps", "at least 1 item"]),
        (
            _automation_with(steps=[{"type": "task_create", "title": "x"}]),
            ["does not match any of the expected tags"],
        ),
    ],
    ids=[
        "unknown-kind",
        "no-type",
        "extra-field",
        "empty-command",
        "not-http",
        "bad-auth",
        "blank-title",
        "due-without-time",
        "due-as-number",
        "priority",
        "no-changes",
        "null-title",
        "unknown-task-field",
        "cron-never-fires",
        "cron-bad-minute",
        "unknown-zone",
        "relative-folder",
        "automation-without-steps",
        "plan-step-in-automation",
    ],
)
def test_bad_steps_are_refused_with_a_clear_error(step: dict[str, Any], words: list[str]) -> None:
    message = _refusal(step)
    for word in words:
        assert word in message, message


def test_a_plan_has_up_to_twenty_steps_and_a_reply_when_it_has_none() -> None:
    shell = {"type": "shell", "shell": "true"}
    empties: list[dict[str, object]] = [{"steps": []}, {}, {"steps": [], "reply": "  "}]
    for empty in empties:
        with pytest.raises(ValidationError, match="at least one step, or a reply"):
            ProposedPlan.model_validate(empty)
    answered = ProposedPlan.model_validate({"reply": "Nothing failed last night."})
    assert answered.steps == []
    assert answered.reply == "Nothing failed last night."
    with pytest.raises(ValidationError, match="at most 20 items"):
        ProposedPlan.model_validate({"steps": [shell] * 21})


def test_what_a_constrained_generator_may_not_handle_is_known() -> None:
    """The parts of the schema some structured-output engines do not take (see the notes).

    None is recursive; these are listed so that a provider adapter knows what to
    simplify: look-aheads in patterns, ``not`` and ``propertyNames`` in the
    environment's names, ``oneOf`` with a discriminator, an open ``json`` body,
    and the time-zone list (some 600 names, three times).
    """
    text = json.dumps(ProposedPlan.model_json_schema())
    assert "(?!" in text
    assert '"not"' in text
    assert '"propertyNames"' in text
    assert '"oneOf"' in text
    assert len(re.findall(r'"Europe/Berlin"', text)) == 3


def test_an_automations_task_step_is_described_with_its_fields() -> None:
    step = CreateAutomationStep.model_validate(
        _automation_with(steps=[{"type": "task", "fields": {"title": "Renew the cert"}}])
    )
    assert '1. Create a task with {"title": "Renew the cert"}' in describe(step).splitlines()
    assert commands(step) == ()
