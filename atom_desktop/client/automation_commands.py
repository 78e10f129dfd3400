"""``atom-desktop automations ...``: list, show, add, run, enable, disable, history, missed."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from atom_desktop.client.agent_client import AgentClient
from atom_desktop.client.commands import emit, table
from atom_desktop.core.errors import AtomError
from atom_desktop.core.statuses import AUTOMATION_RUN_ENDED, AutomationRunStatus

WAIT_POLL_S = 0.2


def automations(  # noqa: PLR0912 - one branch per action, read top to bottom
    client: AgentClient, action: str, args: Any, *, as_json: bool, out: TextIO = sys.stdout
) -> int:
    """Carry out one ``automations`` action; the exit code."""
    if action == "list":
        data = client.request("GET", "/automations")
        if not emit(data, as_json, out):
            rows = [
                (
                    a["id"],
                    "on" if a["enabled"] else "off",
                    a["next_fire_at"] or "",
                    (a["last_run"] or {}).get("status", ""),
                    a["name"],
                )
                for a in data["items"]
            ]
            table(rows, ("id", "state", "next run", "last result", "name"), out)
    elif action == "show":
        data = client.request("GET", f"/automations/{args.automation_id}")
        if not emit(data, as_json, out):
            out.write(json.dumps(data, indent=2) + "\n")
    elif action == "add":
        spec = _read_spec(args.file)
        data = client.request("POST", "/automations", json=spec)
        if not emit(data, as_json, out):
            out.write(f"{data['id']}\n")
    elif action in ("enable", "disable"):
        data = client.request("POST", f"/automations/{args.automation_id}/{action}")
        if not emit(data, as_json, out):
            out.write(f"{action}d: {data['name']}\n")
    elif action == "run":
        body = {"payload": _payload(args.payload)} if args.payload else {}
        run = client.request("POST", f"/automations/{args.automation_id}/trigger", json=body)
        if args.wait:
            run = _wait(client, args.automation_id, run["id"])
        if not emit(run, as_json, out):
            out.write(f"{run['id']} {run['status']}\n")
            for step in run["steps"]:
                # A failed step says why (the same words as in its history).
                why = f" ({step['error']})" if step.get("error") else ""
                out.write(f"  {step.get('name') or step['index']}: {step['status']}{why}\n")
        return 0 if not args.wait or run["status"] == AutomationRunStatus.SUCCEEDED else 1
    elif action == "missed":
        data = client.request(
            "GET", f"/automations/{args.automation_id}/missed", params={"limit": args.limit}
        )
        if not emit(data, as_json, out):
            missed = [(m["scheduled_at"], m["reason"], m["action"]) for m in data["items"]]
            table(missed, ("scheduled", "reason", "action"), out)
    else:
        data = client.request(
            "GET", f"/automations/{args.automation_id}/runs", params={"limit": args.limit}
        )
        if not emit(data, as_json, out):
            rows = [
                (r["id"], r["trigger_kind"], r["status"], r["created_at"], r["error"] or "")
                for r in data["items"]
            ]
            table(rows, ("id", "trigger", "status", "at", "error"), out)
    return 0


def _payload(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise AtomError(f"--payload is not valid JSON: {exc.msg} at column {exc.colno}.") from None


def _read_spec(file: str) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
        spec = json.loads(text)
    except OSError as exc:
        raise AtomError(f"Cannot read {file}: {exc.strerror}.") from None
    except json.JSONDecodeError as exc:
        raise AtomError(
            f"{file} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        ) from None
    if not isinstance(spec, dict):
        raise AtomError(f"{file} must hold one JSON object (an automation).")
    return spec


def _wait(client: AgentClient, automation_id: str, run_id: str) -> dict[str, Any]:
    while True:
        run: dict[str, Any] = client.request("GET", f"/automations/{automation_id}/runs/{run_id}")
        if run["status"] in AUTOMATION_RUN_ENDED:
            return run
        time.sleep(WAIT_POLL_S)
