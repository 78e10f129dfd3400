"""The window paints before the agent's stack is imported.

The store, the API and sync load on the agent's thread after the first paint
(bench/startup.py measures the difference: importing SQLAlchemy, psycopg and
the sync service before the paint once made it 2.4 times slower). A module
the window needs only for a type annotation must import it under
``TYPE_CHECKING``; this test names the import that broke that.
"""

from __future__ import annotations

import subprocess
import sys

#: Top-level packages only the agent needs; none may load before the window.
AGENT_STACK = (
    "alembic",
    "apscheduler",
    "authlib",
    "cryptography",
    "fastapi",
    "httpx",
    "keyring",
    "prometheus_client",
    "psycopg",
    "pydantic",
    "pydantic_settings",
    "sqlalchemy",
    "sqlcipher3",
    "starlette",
    "uvicorn",
    "watchdog",
)


def test_the_window_code_imports_none_of_the_agents_stack() -> None:
    code = (
        "import sys; import atom_desktop.cli, atom_desktop.gui.app; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {AGENT_STACK!r}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", "imported before the window paints: " + done.stdout.strip()


def test_the_window_code_leaves_the_events_for_the_first_event() -> None:
    """core.events defines some twenty dataclasses (7 ms to import): the window's
    handlers import it when the first event arrives, after the paint."""
    code = (
        "import sys; import atom_desktop.cli, atom_desktop.gui.app; "
        "print('atom_desktop.core.events' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
