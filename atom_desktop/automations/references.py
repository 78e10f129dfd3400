"""``${...}`` references in http, notify and task steps, filled in from the run so far.

``${trigger.kind}``, ``${trigger.time}``, ``${trigger.paths}`` (one per line),
``${trigger.payload}`` (JSON) or ``${trigger.payload.KEY}``,
``${steps.NAME.FIELD}`` (status, exit_code, stdout, http_status, body,
task_id, run_id), ``${automation.id}``, ``${automation.name}``, ``${run.id}``.
Shell lines are never filled in: their data arrives as arguments and
environment variables, so a file name cannot become a command.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from atom_desktop.automations.errors import StepError

_REFERENCE = re.compile(r"\$\{([A-Za-z0-9_.-]+)\}")


def resolve(name: str, scope: Mapping[str, Any]) -> str:
    """The text of reference ``name`` (a dotted path into ``scope``)."""
    value: Any = scope
    for part in name.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        else:
            raise StepError(
                f"${{{name}}} refers to nothing: {part!r} is unknown here. Known at this "
                f"point: {', '.join(sorted(value)) if isinstance(value, Mapping) else 'none'}."
            )
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n".join(value)
    return json.dumps(value)


def fill(text: str, scope: Mapping[str, Any], escape: Callable[[str], str] = str) -> str:
    """``text`` with every ``${...}`` replaced (each value passed through ``escape``)."""
    return _REFERENCE.sub(lambda m: escape(resolve(m.group(1), scope)), text)


def fill_json(value: Any, scope: Mapping[str, Any]) -> Any:
    """Fill references in every string inside a JSON value."""
    if isinstance(value, str):
        return fill(value, scope)
    if isinstance(value, list):
        return [fill_json(v, scope) for v in value]
    if isinstance(value, dict):
        return {k: fill_json(v, scope) for k, v in value.items()}
    return value
