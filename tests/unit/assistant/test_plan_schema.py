"""The plan schema sent to providers: smaller and plainer, never stricter than the models."""

from __future__ import annotations

import json
from typing import Any

import jsonschema_rs

from atom_desktop.assistant.plan import ProposedPlan
from atom_desktop.assistant.plan_schema import LONG_ENUM, plan_schema
from tests.unit.assistant.test_plan import EVERY_KIND


def _walk(node: object) -> list[dict[str, Any]]:
    if isinstance(node, list):
        return [found for item in node for found in _walk(item)]
    if not isinstance(node, dict):
        return []
    return [node, *(found for value in node.values() for found in _walk(value))]


def test_the_schema_is_under_a_third_of_the_models_and_valid() -> None:
    schema = plan_schema()
    assert jsonschema_rs.meta.is_valid(schema)
    assert len(json.dumps(schema)) < len(json.dumps(ProposedPlan.model_json_schema())) / 3


def test_no_part_constrained_generators_take_badly_is_left() -> None:
    nodes = _walk(plan_schema())
    for node in nodes:
        properties = node.get("properties", {})
        keywords = set(node) - {"properties", "$defs"}
        assert not keywords & {"oneOf", "discriminator", "not", "propertyNames", "pattern"}, node
        assert len(node.get("enum", ())) <= LONG_ENUM
        assert isinstance(properties, dict)
    # Fields named like keywords are kept: a task's title is a field, not a schema title.
    task = plan_schema()["$defs"]["CreateTaskStep"]
    assert "title" in task["properties"]
    assert "title" in task["required"]


def test_every_plan_the_models_take_the_schema_takes() -> None:
    document = {"steps": EVERY_KIND}
    validator = jsonschema_rs.validator_for(plan_schema())
    assert validator.is_valid(document), [e.message for e in validator.iter_errors(document)]
    ProposedPlan.model_validate_json(json.dumps(document))
