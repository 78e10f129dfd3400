"""A plan step's digest: what an approval names, so it covers exactly what was shown.

The digest is SHA-256 over the step's canonical JSON (keys sorted, no
spaces, the fields that were given), computed from the step as parsed. The agent
recomputes it from the stored step right before the step runs and the store
lets the step start only when it equals the approved digest: a step edited
after its approval, or changed in the database, does not run on the old
approval.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import TypeAdapter

from atom_desktop.assistant.plan import PlanStep

_STEP = TypeAdapter[PlanStep](PlanStep)


def step_body(step: PlanStep) -> dict[str, Any]:
    """The step as stored and sent: JSON values, only the fields that were given.

    Fields left out stay left out: a task change names only what it changes
    (writing the others out as null would clear them), and a step read back
    from its body is the same step with the same digest.
    """
    body: dict[str, Any] = _STEP.dump_python(step, mode="json", exclude_unset=True)
    return body


def step_digest(step: PlanStep) -> str:
    """The hex SHA-256 of ``step``'s canonical JSON."""
    text = json.dumps(step_body(step), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_step(body: object) -> PlanStep:
    """A step from its JSON value (ValidationError when it is not a valid step)."""
    return _STEP.validate_python(body)


def parse_step_json(text: str | bytes) -> PlanStep:
    """A step from JSON text (ValidationError when it is not a valid step)."""
    return _STEP.validate_json(text)
