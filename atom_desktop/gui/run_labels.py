"""How a run is named in lists, menus and tab titles."""

from __future__ import annotations

from typing import TYPE_CHECKING

from atom_desktop.core.statuses import RUN_ACTIVE

# Types only: the store (SQLAlchemy) loads on the agent thread, not before the window.
if TYPE_CHECKING:
    from atom_desktop.store.runs import RunRecord


MAX_COMMAND = 60


def run_command_text(record: RunRecord) -> str:
    """The command as a person would type it."""
    return record.shell if record.shell is not None else " ".join(record.argv or [])


def short_command(text: str, limit: int = MAX_COMMAND) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def run_summary(record: RunRecord) -> str:
    """``status (exit code) · command`` in one line: the outcome first, it matters most."""
    status = str(record.status)
    if record.exit_code is not None and record.status not in RUN_ACTIVE:
        status += f" (exit {record.exit_code})"
    elif record.signal is not None:
        status += f" (signal {record.signal})"
    return f"{status} · {short_command(run_command_text(record))}"
