"""``atom-desktop ask "..."``: a request in plain words, its plan shown, run once approved.

The reply is printed as it streams, then the plan, each step with its
commands verbatim and whether it needs approval. A person answers y/n for
the whole plan (the steps the command policy refuses are never approved).
``--yes`` is for scripts and approves nothing: it runs the plan only when
every step is of a kind set to run by itself (``assistant_auto_kinds``), and
otherwise runs nothing and says which steps would need a person.

Exit codes: 0 the plan ran to its end (or there was nothing to run), 1 a step
failed or the assistant could not answer, 3 nothing ran because it needs
approval (declined, or ``--yes`` with steps that need it).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

import httpx

from atom_desktop.client.agent_client import AgentClient, ApiError, NoAgentError
from atom_desktop.client.sse import sse_events

#: Seconds between reads of the plan while it runs.
POLL_S = 0.2
NEEDS_APPROVAL = 3
_SETTLED = frozenset({"waiting", "done", "failed", "answered"})


def ask(
    client: AgentClient,
    text: str,
    *,
    conversation_id: str | None,
    yes: bool,
    as_json: bool,
    confirm: Callable[[str], bool] | None = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Ask, show, approve (or not) and run; the exit code (see the module's notes).

    ``confirm`` asks the person (prompt -> bool); by default it reads a line
    from the terminal.
    """
    body: dict[str, Any] = {"text": text}
    if conversation_id:
        body["conversation_id"] = conversation_id
    plan, error, done = _stream(client, body, out if not as_json else None)
    if error is not None:
        err.write(f"atom-desktop ask: {error['message']}\n")
        if error.get("hint"):
            err.write(f"{error['hint']}\n")
        return 1
    if plan is None:
        if as_json:
            out.write(json.dumps({"conversation_id": done.get("conversation_id")}) + "\n")
        return 0
    if not as_json:
        out.write(describe_plan(plan))
    refused = _start(client, plan, yes=yes, confirm=confirm or _terminal_confirm, err=err)
    if refused is not None:
        return refused
    final = _wait(client, plan["id"])
    if as_json:
        out.write(json.dumps(final, indent=2) + "\n")
    else:
        out.write(describe_results(final))
    return 0 if final["state"] == "done" else 1


def _start(
    client: AgentClient,
    plan: dict[str, Any],
    *,
    yes: bool,
    confirm: Callable[[str], bool],
    err: TextIO,
) -> int | None:
    """Approve (the person said yes) and start the plan; an exit code when nothing ran."""
    runnable = [s for s in plan["steps"] if not s["refused"]]
    needing = [s for s in runnable if s["needs_approval"]]
    if yes:
        if needing:
            numbers = ", ".join(str(s["index"] + 1) for s in needing)
            err.write(
                f"atom-desktop ask: nothing was run: step(s) {numbers} need a person's approval "
                "(--yes runs only kinds set to run by themselves, in Settings → Assistant or "
                "ATOM_ASSISTANT_AUTO_KINDS). Approve in the window, or ask without --yes.\n"
            )
            return NEEDS_APPROVAL
        client.request("POST", f"/assistant/plans/{plan['id']}/run")
        return None
    if not confirm("Run this plan? [y/N] "):
        err.write("Nothing was run. The plan is kept in the conversation.\n")
        return NEEDS_APPROVAL
    approvals = [{"index": s["index"], "digest": s["digest"]} for s in needing]
    if approvals:
        client.request("POST", f"/assistant/plans/{plan['id']}/approve", json={"steps": approvals})
    else:
        client.request("POST", f"/assistant/plans/{plan['id']}/run")
    return None


def _stream(
    client: AgentClient, body: dict[str, Any], out: TextIO | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None, dict[str, Any]]:
    """Read the answer: (the plan or None, the error or None, the ``done`` event's data)."""
    plan: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    done: dict[str, Any] = {}
    replied = False
    try:
        with client.http.stream(
            "POST", "/api/v1/assistant/messages", json=body, timeout=None
        ) as response:
            if response.is_error:
                response.read()
                _raise_error(response)
            for kind, data in sse_events(response.iter_lines()):
                if kind == "reply" and out is not None:
                    out.write(data["text"])
                    out.flush()
                    replied = True
                elif kind == "plan":
                    plan = data
                elif kind == "error":
                    error = data
                elif kind == "done":
                    done = data
    except httpx.ConnectError:
        raise NoAgentError(
            f"No ATOM Desktop agent answers at {client.base_url}.",
            hint="Start it with 'atom-desktop serve' (or the desktop app).",
        ) from None
    if replied and out is not None:
        out.write("\n")
    return plan, error, done


def _raise_error(response: httpx.Response) -> None:
    try:
        error = response.json().get("error", {})
    except ValueError:
        error = {}
    raise ApiError(
        response.status_code,
        str(error.get("code", "error")),
        str(error.get("message", "request failed")),
    )


def _terminal_confirm(prompt: str) -> bool:
    if not sys.stdin.isatty():
        # Nobody to ask: a script must say --yes (and then only auto kinds run).
        return False
    try:
        return input(prompt).strip().lower() in ("y", "yes")
    except EOFError:
        return False


def _wait(client: AgentClient, plan_id: str) -> dict[str, Any]:
    while True:
        plan: dict[str, Any] = client.request("GET", f"/assistant/plans/{plan_id}")
        if plan["state"] in _SETTLED:
            return plan
        time.sleep(POLL_S)


def describe_plan(plan: dict[str, Any]) -> str:
    """The plan as a person reads it: numbered steps, commands verbatim, what each needs."""
    lines = [f"\nPlan ({len(plan['steps'])} step{'s' if len(plan['steps']) != 1 else ''}):"]
    for step in plan["steps"]:
        number = step["index"] + 1
        if step["refused"]:
            mark = f"refused, will not run: {step['refused']}"
        elif step["needs_approval"]:
            mark = "needs approval"
        else:
            mark = "runs by itself"
        lines.append(f"{number}. [{step['kind']}, {mark}]")
        lines.extend(f"   {line}" for line in step["description"].splitlines())
    return "\n".join(lines) + "\n"


def describe_results(plan: dict[str, Any]) -> str:
    """How each step ended, with a shell step's output and a failure's reason."""
    lines = []
    for step in plan["steps"]:
        result = step["result"] or {}
        line = f"{step['index'] + 1}. {step['status']}"
        if step["run_id"]:
            line += f" (run {step['run_id']})"
        lines.append(line)
        if result.get("stdout"):
            lines.extend(f"   {out}" for out in str(result["stdout"]).splitlines())
        if result.get("error"):
            lines.append(f"   {result['error']}")
    state = {"done": "The plan ran to its end.", "failed": "The plan stopped: a step failed."}
    lines.append(state.get(plan["state"], f"The plan is {plan['state']}."))
    return "\n".join(lines) + "\n"
