"""``atom-desktop sync status`` and ``sync now``: the running agent's sync, from a terminal."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from atom_desktop.client.agent_client import AgentClient
from atom_desktop.client.commands import emit, local_time, shown

#: Seconds between status reads while ``sync now --wait`` waits.
POLL_S = 0.2
_STATES = {
    "off": "off (no server configured)",
    "syncing": "syncing",
    "up_to_date": "up to date",
    "offline": "offline (the server cannot be reached; changes wait here)",
    "error": "error",
}


def sync_status(client: AgentClient, *, as_json: bool, out: TextIO = sys.stdout) -> None:
    """``atom-desktop sync status [--json]``."""
    data = client.request("GET", "/sync/status")
    if emit(data, as_json, out):
        return
    _print_status(data, out)


def sync_now(
    client: AgentClient,
    *,
    wait: bool,
    timeout_s: float,
    as_json: bool,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """``atom-desktop sync now [--wait]``; the exit code (1 when the sync waited for failed).

    With ``wait``, returns once a sync that began after the request has
    ended: with the queue pushed and a pull that found nothing new (0), or
    with an error (1).
    """
    accepted = client.request("POST", "/sync/run")
    number = int(accepted["run"])
    if not wait:
        if not emit(accepted["status"], as_json, out):
            out.write("Sync started.\n")
        return 0
    deadline = time.monotonic() + timeout_s
    while True:
        data = client.request("GET", "/sync/status")
        if data["completed"] >= number:
            if not emit(data, as_json, out):
                _print_status(data, out)
            return 0
        if data["failed"] >= number:
            emit(data, as_json, out)
            err.write(f"Sync failed: {data['last_error'] or 'unknown error'}\n")
            return 1
        if time.monotonic() > deadline:
            emit(data, as_json, out)
            err.write(f"Sync did not end within {timeout_s:g} s (state: {data['state']}).\n")
            return 1
        time.sleep(POLL_S)


def _print_status(data: dict[str, Any], out: TextIO) -> None:
    out.write(f"sync          {_STATES.get(data['state'], data['state'])}\n")
    out.write(f"server        {shown(data['server'])}\n")
    oldest = data["oldest_pending"]
    since = f" (oldest {local_time(oldest)})" if oldest else ""
    out.write(f"pending       {data['pending']}{since}\n")
    out.write(f"last success  {local_time(data['last_success']) or '-'}\n")
    out.write(f"last error    {shown(data['last_error'])}\n")
    out.write(f"conflicts     {data['conflicts']}\n")
