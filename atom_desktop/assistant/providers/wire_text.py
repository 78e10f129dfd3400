"""Reading providers' JSON bodies and quoting their messages safely."""

from __future__ import annotations

import json
from typing import Any


def json_object(text: str | bytes) -> dict[str, Any] | None:
    """``text`` as a JSON object, or None when it is not one."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def quoted(text: str, key: str | None, limit: int = 300) -> str:
    """A provider's error message fit to repeat: one line, cut short, the key masked.

    Some servers repeat the key they were sent in a 401's message; it must not
    reach an exception, a log line or the screen.
    """
    if key:
        text = text.replace(key, "***")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
