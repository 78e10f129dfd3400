"""``atom-desktop sync status``, ``now``, ``conflicts``: the agent's sync, from a terminal."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from atom_desktop.client.agent_client import AgentClient
from atom_desktop.client.commands import emit, local_time, shown, table

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


def sync_conflicts(
    client: AgentClient,
    *,
    include_resolved: bool,
    limit: int,
    as_json: bool,
    out: TextIO = sys.stdout,
) -> None:
    """``atom-desktop sync conflicts [--all] [--limit N] [--json]``: the conflict inbox."""
    params: dict[str, Any] = {"limit": limit}
    if include_resolved:
        params["include_resolved"] = "true"
    data = client.request("GET", "/sync/conflicts", params=params)
    if emit(data, as_json, out):
        return
    if not data["items"]:
        out.write("No conflicts." if include_resolved else "No open conflicts.")
        out.write("\n")
        return
    rows = [
        (
            item["id"],
            item["entity"],
            item["entity_id"],
            _kept(item),
            _now(item["current"]),
            local_time(item["detected_at"]),
            local_time(item["resolved_at"]) or "open",
        )
        for item in data["items"]
    ]
    table(rows, ("ID", "WHAT", "ROW", "KEPT", "NOW HERE", "DETECTED", "RESOLVED"), out)
    if data["next_before"] is not None:
        out.write(f"There are older ones: raise --limit (now {limit}, at most 500).\n")


def _kept(item: dict[str, Any]) -> str:
    if item["reason"] == "rejected":
        return f"refused here: {item['why']}"
    if item["deleted"]:
        return "(deleted)"
    content = item["content"] or {}
    return str(content.get("title") or content.get("name") or "-")


def _now(current: dict[str, Any]) -> str:
    return str(current["title"]) if current["exists"] else "(deleted)"
