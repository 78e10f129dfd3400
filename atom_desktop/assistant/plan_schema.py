"""The plan's JSON schema, made small and plain enough for providers to constrain output to.

:meth:`ProposedPlan.model_json_schema` is exact but large (the time-zone enum,
~600 names, appears three times) and uses parts that some constrained
generators and OpenAI's tool schemas take badly: ``oneOf`` with a
``discriminator``, ``pattern`` (look-aheads, ``\\x`` escapes), ``not``,
``propertyNames``. :func:`plan_schema` turns ``oneOf`` into ``anyOf``, long
enums into plain strings and drops those keywords and the titles. The
output is looser than the models, never stricter: the planner validates
every answer with the full pydantic models, which keep every check.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from atom_desktop.assistant.plan import ProposedPlan

#: Enums longer than this become plain strings (time zones); the prompt says which to use.
LONG_ENUM = 50
_DROPPED = frozenset({"pattern", "not", "propertyNames", "discriminator", "title"})


def plan_schema() -> dict[str, Any]:
    """The simplified JSON schema of :class:`ProposedPlan` (a copy the caller may change)."""
    return copy.deepcopy(_plan_schema())


@functools.cache
def _plan_schema() -> dict[str, Any]:
    # Made once: pydantic takes some 7 ms to write the models' schema, a
    # seventh of a request's whole budget (bench/assistant.py).
    simplified = _simplify(ProposedPlan.model_json_schema())
    assert isinstance(simplified, dict)
    return simplified


def _simplify(node: object) -> object:
    if isinstance(node, list):
        return [_simplify(item) for item in node]
    if not isinstance(node, dict):
        return node
    result: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key == "oneOf":
            result["anyOf"] = _simplify(value)
        elif key == "enum" and isinstance(value, list) and len(value) > LONG_ENUM:
            result.setdefault("type", "string")
        elif key in ("properties", "$defs"):
            # Names here are fields and definitions, not keywords: keep them all.
            result[key] = {name: _simplify(sub) for name, sub in value.items()}
        else:
            result[key] = _simplify(value)
    return result
