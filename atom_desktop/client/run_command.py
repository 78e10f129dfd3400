"""``atom-desktop run``: a command on the agent, its output here, byte for byte.

stdout goes to stdout and stderr to stderr exactly as the child wrote them;
Ctrl-C cancels the run (its whole process tree) and the command still exits
the way the child did: its exit code, or 128 + the signal that ended it.
"""

from __future__ import annotations

import base64
import json
import sys
from typing import Any, BinaryIO

import httpx

from atom_desktop.client.agent_client import AgentClient, ApiError, NoAgentError


def exit_code_of(exit_event: dict[str, Any]) -> int:
    """The shell convention: the exit code, or 128 + signal."""
    if exit_event.get("signal"):
        return 128 + int(exit_event["signal"])
    if exit_event.get("exit_code") is not None:
        return int(exit_event["exit_code"])
    return 127 if exit_event.get("status") == "failed" else 1


def run(
    client: AgentClient,
    body: dict[str, Any],
    *,
    stdout: BinaryIO | None = None,
    stderr: BinaryIO | None = None,
) -> int:
    """Start the run, stream it, return the exit code to exit with."""
    out = stdout or sys.stdout.buffer
    err = stderr or sys.stderr.buffer
    record = client.request("POST", "/runs", json=body)
    run_id = record["id"]
    last = 0
    cancelled = False
    drops = 0
    while True:
        try:
            exit_event, last = _stream(client, run_id, last, out, err)
        except KeyboardInterrupt:
            if not cancelled:
                cancelled = True
                try:
                    client.request("POST", f"/runs/{run_id}/cancel")
                except ApiError as exc:
                    if exc.status != 409:  # already ended: just read the rest
                        raise
            continue
        except httpx.HTTPError as exc:
            drops += 1  # the connection dropped: resume after the last chunk
            if drops > 5:
                raise NoAgentError(f"Lost the agent while following run {run_id}: {exc}.") from None
            continue
        if exit_event is not None:
            if exit_event.get("status") == "failed" and exit_event.get("exit_code") is None:
                detail = client.request("GET", f"/runs/{run_id}")
                err.write(f"atom-desktop: {detail.get('error') or 'the run failed'}\n".encode())
                err.flush()
            return exit_code_of(exit_event)


def _stream(
    client: AgentClient, run_id: str, last: int, out: BinaryIO, err: BinaryIO
) -> tuple[dict[str, Any] | None, int]:
    path = f"/api/v1/runs/{run_id}/stream"
    headers = {"Last-Event-ID": str(last)}
    with client.http.stream(
        "GET", path, params={"encoding": "base64"}, headers=headers, timeout=None
    ) as response:
        if response.is_error:
            response.read()
            raise ApiError(response.status_code, "stream", response.text)
        kind = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = json.loads(line.removeprefix("data: "))
                if kind == "output":
                    target = out if data["stream"] == "stdout" else err
                    target.write(base64.b64decode(data["data"]))
                    target.flush()
                    last = int(data["seq"])
                elif kind == "exit":
                    return data, last
    return None, last
