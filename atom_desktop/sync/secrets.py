"""What of an automation may leave the device: its definition, never its secrets.

An automation's spec can hold secrets in three places: the environment of a
shell step (the documented way to hand a command a token), the headers of
an HTTP step (``Authorization``, API keys, cookies), and text that has the
shape of a secret anywhere (a password in a URL, ``token=...``, a bearer
token, a JWT: the patterns of :mod:`atom_desktop.core.redaction`). The push
replaces each with ``***``. Every environment value is masked, not only
those with telling names: the environment is where a secret goes by design.

A pulled spec then has ``***`` where the writer had a secret. Where this
device's own value masks to exactly that ``***``, its own value is kept
(:func:`with_local_secrets`): renaming an automation on one device does not
wipe the token another device holds for it. A device that never had the
secret sees ``***`` and must be given it there.
"""

from __future__ import annotations

import re
from typing import Any, cast

from atom_desktop.core.redaction import MASK, Redactor

#: Names (of headers, of members of a JSON body) whose values are taken for secrets.
_SECRET_NAME = re.compile(
    r"(?i)token|secret|key|auth|passw|pwd|session|cookie|signature|credential|private"
)
_STEP_LISTS = ("steps", "on_failure")


def _mask_all(value: Any) -> Any:
    """``value`` with every text and number in it masked (it sits under a secret's name)."""
    if isinstance(value, list):
        return [_mask_all(v) for v in value]
    if isinstance(value, dict):
        return {k: _mask_all(v) for k, v in value.items()}
    if isinstance(value, bool) or value is None:
        return value
    return MASK


def _mask_text(value: Any, redactor: Redactor) -> Any:
    """Every string inside ``value`` with secret-shaped text masked.

    In objects (an HTTP step's JSON body, say) a member whose name says it
    holds a secret is masked whole: the redactor's patterns see only text,
    and ``{"password": "x"}`` has the name and the value apart.
    """
    if isinstance(value, str):
        return redactor.redact(value)
    if isinstance(value, list):
        return [_mask_text(v, redactor) for v in value]
    if isinstance(value, dict):
        return {
            k: _mask_all(v) if _SECRET_NAME.search(k) else _mask_text(v, redactor)
            for k, v in value.items()
        }
    return value


def _public_step(step: Any, redactor: Redactor) -> Any:
    if not isinstance(step, dict):
        return _mask_text(step, redactor)
    public = {k: _mask_text(v, redactor) for k, v in step.items() if k not in ("env", "headers")}
    env = step.get("env")
    if isinstance(env, dict):
        public["env"] = dict.fromkeys(env, MASK)
    headers = step.get("headers")
    if isinstance(headers, dict):
        public["headers"] = {
            name: MASK if _SECRET_NAME.search(name) else _mask_text(value, redactor)
            for name, value in headers.items()
        }
    return public


def public_spec(spec: dict[str, Any], redactor: Redactor | None = None) -> dict[str, Any]:
    """``spec`` as it may be sent: secrets replaced by ``***``, everything else as it is."""
    masker = redactor or Redactor()
    public = {k: _mask_text(v, masker) for k, v in spec.items() if k not in _STEP_LISTS}
    for key in _STEP_LISTS:
        steps = spec.get(key)
        if isinstance(steps, list):
            public[key] = [_public_step(step, masker) for step in steps]
        elif key in spec:
            public[key] = _mask_text(steps, masker)
    return public


def public_automation(payload: dict[str, Any], redactor: Redactor | None = None) -> dict[str, Any]:
    """An automation's outbox payload (name, enabled, spec) as it may be sent."""
    masker = redactor or Redactor()
    public = {k: _mask_text(v, masker) for k, v in payload.items() if k != "spec"}
    spec = payload.get("spec")
    public["spec"] = public_spec(spec, masker) if isinstance(spec, dict) else {}
    return public


def _keep_own(remote: Any, own: Any, own_public: Any) -> Any:
    """``remote``, with our own value wherever remote is exactly our value masked."""
    if isinstance(remote, str):
        return own if isinstance(own, str) and remote == own_public and MASK in remote else remote
    if isinstance(remote, dict) and isinstance(own, dict) and isinstance(own_public, dict):
        return {k: _keep_own(v, own.get(k), own_public.get(k)) for k, v in remote.items()}
    if isinstance(remote, list) and isinstance(own, list) and isinstance(own_public, list):
        return [
            _keep_own(v, own[i], own_public[i]) if i < len(own) and i < len(own_public) else v
            for i, v in enumerate(remote)
        ]
    return remote


def with_local_secrets(
    remote: dict[str, Any], local: dict[str, Any] | None, redactor: Redactor | None = None
) -> dict[str, Any]:
    """A pulled automation payload with this device's own secrets put back where they fit."""
    if local is None:
        return remote
    return cast(dict[str, Any], _keep_own(remote, local, public_automation(local, redactor)))
