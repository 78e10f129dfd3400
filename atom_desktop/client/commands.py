"""What the client subcommands do and print: tables for people, JSON for scripts."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TextIO

from atom_desktop.client.agent_client import AgentClient


def table(rows: Sequence[Sequence[object]], headers: Sequence[str], out: TextIO) -> None:
    """Print ``rows`` as aligned columns under ``headers``."""
    cells = [[str(h) for h in headers], *[["" if c is None else str(c) for c in r] for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for index, row in enumerate(cells):
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")
        if index == 0:
            out.write("  ".join("-" * w for w in widths) + "\n")


def shown(value: object) -> str:
    """A field's value as a person reads it: ``-`` for none, a list as words."""
    if value is None:
        return "-"
    if isinstance(value, list):
        return shlex.join(str(item) for item in value) if value else "-"
    return str(value)


def local_time(iso: str | None) -> str:
    """An API time (UTC, ISO 8601) as this computer's local time, to the minute."""
    if not iso:
        return ""
    return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")


def emit(data: Any, as_json: bool, out: TextIO) -> bool:
    """Print ``data`` as JSON when asked to; whether it did."""
    if as_json:
        out.write(json.dumps(data, indent=2) + "\n")
    return as_json


def status(client: AgentClient, *, as_json: bool, out: TextIO = sys.stdout) -> None:
    """``atom-desktop status``."""
    data = client.request("GET", "/status")
    if emit(data, as_json, out):
        return
    out.write(f"ATOM Desktop {data['version']}: {data['state']}, up {data['uptime_s']:.0f} s\n")
    out.write(f"API          {data['api']}\n")
    out.write(f"key storage  {data['key_storage']}\n")
    if data.get("key_warning"):
        out.write(f"warning      {data['key_warning']}\n")
    out.write(f"tasks        {data['tasks']} ({data['outbox_pending']} changes waiting to sync)\n")
    out.write(f"data         {data['data_dir']}\nconfig       {data['config_dir']}\n")
    out.write(f"logs         {data['log_dir']}\n")


def tasks_list(
    client: AgentClient,
    *,
    query: str | None,
    statuses: list[str] | None,
    limit: int,
    as_json: bool,
    out: TextIO = sys.stdout,
) -> None:
    """``atom-desktop tasks list`` and ``tasks search``."""
    params: list[tuple[str, str | int]] = [("limit", limit)]
    if query:
        params.append(("q", query))
    params += [("status", s) for s in statuses or []]
    data = client.request("GET", "/tasks", params=params)
    if emit(data, as_json, out):
        return
    rows = [
        (t["id"], t["status"], t["priority"], local_time(t["due_at"]), t["title"])
        for t in data["items"]
    ]
    table(rows, ("id", "status", "prio", "due", "title"), out)


def tasks_add(
    client: AgentClient, body: dict[str, Any], *, as_json: bool, out: TextIO = sys.stdout
) -> None:
    """``atom-desktop tasks add``."""
    task = client.request("POST", "/tasks", json=body)
    if not emit(task, as_json, out):
        out.write(f"{task['id']}\n")


def tasks_done(
    client: AgentClient, task_id: str, *, as_json: bool, out: TextIO = sys.stdout
) -> None:
    """``atom-desktop tasks done``."""
    task = client.request("PATCH", f"/tasks/{task_id}", json={"status": "done"})
    if not emit(task, as_json, out):
        out.write(f"done: {task['title']}\n")


def tokens_list(client: AgentClient, *, as_json: bool, out: TextIO = sys.stdout) -> None:
    """``atom-desktop token list``."""
    data = client.request("GET", "/tokens")
    if emit(data, as_json, out):
        return
    rows = [
        (
            t["id"],
            t["name"],
            ",".join(t["scopes"]),
            t["last_used_at"] or "never",
            "revoked" if t["revoked_at"] else "active",
        )
        for t in data
    ]
    table(rows, ("id", "name", "scopes", "last used", "state"), out)


def tokens_create(
    client: AgentClient, name: str, scopes: list[str], *, as_json: bool, out: TextIO = sys.stdout
) -> None:
    """``atom-desktop token create``: the secret is printed once."""
    data = client.request("POST", "/tokens", json={"name": name, "scopes": scopes})
    if emit(data, as_json, out):
        return
    out.write(f"{data['token']}\n")
    scopes_text = ",".join(data["scopes"])
    sys.stderr.write(f"Token {data['name']!r} ({scopes_text}) made; it is shown only this once.\n")


def tokens_revoke(
    client: AgentClient, token_id: str, *, as_json: bool, out: TextIO = sys.stdout
) -> None:
    """``atom-desktop token revoke``."""
    data = client.request("DELETE", f"/tokens/{token_id}")
    if not emit(data, as_json, out):
        out.write(f"revoked: {data['name']}\n")


def runs(
    client: AgentClient, action: str, args: Any, *, as_json: bool, out: TextIO = sys.stdout
) -> None:
    """``atom-desktop runs list|show|logs|cancel``."""
    if action == "list":
        data = client.request("GET", "/runs", params={"limit": args.limit})
        if emit(data, as_json, out):
            return
        rows = [
            (
                r["id"],
                r["status"],
                "" if r["exit_code"] is None else r["exit_code"],
                r["shell"] or " ".join(r["argv"] or []),
            )
            for r in data["items"]
        ]
        table(rows, ("id", "status", "exit", "command"), out)
    elif action == "show":
        data = client.request("GET", f"/runs/{args.run_id}")
        if not emit(data, as_json, out):
            for key, value in data.items():
                out.write(f"{key:15} {shown(value)}\n")
    elif action == "logs":
        response = client.http.get(
            f"/api/v1/runs/{args.run_id}/output", params={"stream": args.stream}
        )
        if response.is_error:
            client.request("GET", f"/runs/{args.run_id}")  # raises the API's error
        sys.stdout.buffer.write(response.content)
        sys.stdout.buffer.flush()
    else:
        data = client.request("POST", f"/runs/{args.run_id}/cancel")
        if not emit(data, as_json, out):
            out.write(f"cancelling: {data['id']}\n")
