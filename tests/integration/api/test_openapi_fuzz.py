"""Property-based testing of the live agent against its own OpenAPI document.

schemathesis' engine (what ``schemathesis run`` drives) runs every phase on
every operation - the schema's examples, its boundaries (coverage, undeclared
methods included), random valid and invalid requests, then stateful
sequences that feed one operation's answer to the next through the links in
the document - with every check: no server error, answers as documented,
every schema-valid request accepted, every schema-invalid one refused, 405
with ``Allow`` for a method a path does not have, and the rest. Any finding
fails the test, but for the rules the document states in words (:data:`RULES_IN_WORDS`).

Two statuses are read as the API means them: 400 is a request the document
allows that names something the agent cannot use (a cursor it never handed
out, a working directory that is not there) - the document describes
shapes, not the state of the machine; 413 is a body over the size limit,
refused as any invalid one is.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.engine import Status, StopReason, events, from_schema
from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER

from tests.support.agent_process import agent_env, run_cli

#: Per operation and phase: enough to meet each field's edges, few enough for a
#: few minutes in all on a small, busy machine (about 2.5 with two cores).
EXAMPLES_PER_OPERATION = 6
STATEFUL_STEPS = 6
#: What the document says in words, not in a schema: each (path, check title, a
#: regex the answer's "field: message" must match; empty for any answer) with
#: where the document says it. A schema-valid request refused for such a rule is
#: what the document promises; anything else fails the test.
_AUTOMATION_PATHS = (
    "/api/v1/automations",
    "/api/v1/automations/{automation_id}",
    # A plan's step may be an automation to create, with the same triggers.
    "/api/v1/assistant/plans/{plan_id}/steps/{index}",
    "/api/v1/automations/preview",
)
RULES_IN_WORDS = (
    # A cron expression of the published shape whose values do not exist (day
    # 0, month 13, 31 February, a range that runs backwards): the pattern
    # gives the shape only; the expression's description says these are 422.
    *((path, "Schema-valid request rejected", r"(^|\.)expression: ") for path in _AUTOMATION_PATHS),
    # A glob whose character range runs backwards ([z-a]): no regular
    # expression can say that a range's ends are in order; the glob's
    # description says it is 422 (the mistake it almost always is).
    *(
        (
            path,
            "Schema-valid request rejected",
            r"\.(include|exclude)\[[0-9]+\]: .* backwards range",
        )
        for path in _AUTOMATION_PATHS[:3]
    ),
)


def fuzz_config(token: str, seed: int) -> schemathesis.Config:
    """Every phase and every check, authenticated with the owner token."""
    return schemathesis.Config.from_dict(
        {
            "headers": {"Authorization": f"Bearer {token}"},
            "seed": seed,
            "workers": 1,
            "generation": {"max-examples": EXAMPLES_PER_OPERATION},
            "phases": {"stateful": {"max-steps": STATEFUL_STEPS}},
            "request-timeout": 30,
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "3xx", 400, 401, 403, 404, 409, 429, "5xx"]
                },
                "negative_data_rejection": {
                    "expected-statuses": [
                        400,
                        401,
                        403,
                        404,
                        405,
                        406,
                        409,
                        413,
                        415,
                        422,
                        428,
                        429,
                        "5xx",
                    ]
                },
            },
        }
    )


def known_gap(operation: str, title: str, answer: str) -> bool:
    """Whether a finding is one of :data:`RULES_IN_WORDS`."""
    path = operation.split(" ", 1)[-1]
    for gap_path, gap_title, mark in RULES_IN_WORDS:
        if (path, title) != (gap_path, gap_title):
            continue
        if not mark:
            return True
        try:
            error = json.loads(answer)["error"]
            # A request the schema refuses says "field: message" in its message.
            said = f"{error['field']}: {error['message']}" if "field" in error else error["message"]
        except (ValueError, KeyError, TypeError):
            continue
        if re.search(mark, said, re.DOTALL):
            return True
    return False


def watched_under(folder: str) -> Callable[..., None]:
    """A hook that moves the folders file triggers watch under ``folder``, and
    spaces out intervals shorter than an hour.

    Generated paths are /, /usr, ~ and the like, watched with their
    subfolders: each automation would walk and keep a whole system tree (the
    agent does as it is asked, tens of thousands of watches and gigabytes
    within minutes). Only paths the document allows are moved, and they stay
    allowed: absolute, no longer than the limit, nothing else of them changed;
    a path the document refuses is sent as generated.
    """
    room = 4096 - len(folder)

    def moved(path: object) -> object:
        if not isinstance(path, str) or len(path) > room:
            return path
        if path.startswith("/"):
            return folder + path
        if path == "~" or path.startswith("~/"):
            return folder + path[1:]
        return path

    def slowed(seconds: float) -> float:
        # Every tenth of a second a run: the agent would spend the test
        # running automation steps (the firing has tests of its own).
        if isinstance(seconds, bool):  # not a number to the document
            return seconds
        return 3600.0 if 0.1 <= seconds < 3600 else seconds

    def visit(value: object) -> None:
        if isinstance(value, dict):
            if value.get("type") == "file" and isinstance(value.get("paths"), list):
                value["paths"] = [moved(p) for p in value["paths"]]
            seconds = value.get("seconds")
            if value.get("type") == "interval" and isinstance(seconds, int | float):
                value["seconds"] = slowed(seconds)
            for item in value.values():
                visit(item)
        elif isinstance(value, list):
            for item in value:
                visit(item)

    def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
        visit(case.body)

    return before_call


def findings(stream: Any) -> tuple[list[str], set[str], StopReason | None]:
    """Every failed check and engine error of a run (known gaps aside), the phases
    run, and why it stopped."""
    found: list[str] = []
    phases: set[str] = set()
    stopped: StopReason | None = None
    for event in stream:
        if isinstance(event, events.ScenarioFinished):
            phases.add(str(event.phase))
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    if check.status == Status.FAILURE and check.failure_info is not None:
                        failure = check.failure_info.failure
                        response = event.recorder.find_response(case_id=case_id)
                        text = response.text if response else ""
                        if known_gap(failure.operation or "", failure.title, text):
                            continue
                        answer = f"-> {response.status_code} {text[:500]}" if response else ""
                        found.append(
                            f"{failure.operation}: {failure.title}\n{failure.message}\n"
                            f"{check.failure_info.code_sample}\n{answer}"
                        )
        elif isinstance(event, events.NonFatalError):
            found.append(f"{event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            found.append(f"fatal: {event.exception!r}")
        elif isinstance(event, events.EngineFinished):
            stopped = event.stop_reason
    return found, phases, stopped


@dataclass(frozen=True)
class ServedAgent:
    """An agent started as ``atom-desktop serve``, its output in a file."""

    base_url: str
    owner_token: str
    process: subprocess.Popen[bytes]
    log: Path


@contextmanager
def served_agent(tmp_path: Path) -> Iterator[ServedAgent]:
    """``atom-desktop serve`` in a profile of its own: in its own process, the
    agent has a core of its own while the engine generates requests in this one
    (on a shared one they took turns, and the run took twice as long)."""
    env = agent_env(
        dict(os.environ),
        tmp_path / "data",
        tmp_path / "config",
        {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"},
    )
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "atom_desktop", "serve"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        lock = tmp_path / "data" / "agent.lock"
        deadline = time.monotonic() + 60
        while "agent running" not in log.read_text(errors="replace"):
            assert process.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.05)
        port = int(json.loads(lock.read_text())["port"])
        shown = run_cli(env, "token", "show")
        assert shown.returncode == 0, shown.stderr
        yield ServedAgent(f"http://127.0.0.1:{port}", shown.stdout.strip(), process, log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise


# Some thirty operations through five phases: a few minutes on a small, busy machine.
@pytest.mark.timeout(600)
def test_the_agent_does_what_its_openapi_document_says(tmp_path: Path) -> None:
    seed = secrets.randbelow(2**32)
    with served_agent(tmp_path) as agent:
        document = schemathesis.openapi.from_url(
            f"{agent.base_url}/api/v1/openapi.json", config=fuzz_config(agent.owner_token, seed)
        )
        # The event stream never ends by design; the SSE and WebSocket tests cover it.
        schema = document.exclude(path="/api/v1/events")
        # Short, so that few generated paths are too long to move.
        watched = tempfile.mkdtemp(prefix="w")
        # before_call exists only process-wide: registered for this run alone.
        hook = GLOBAL_HOOK_DISPATCHER.register_hook_with_name(watched_under(watched), "before_call")
        try:
            found, phases, stopped = findings(from_schema(schema).execute())
        finally:
            GLOBAL_HOOK_DISPATCHER.unregister(hook)
            shutil.rmtree(watched)
    assert agent.process.returncode == 0, agent.log.read_text(errors="replace")[-5000:]
    # Unique findings: one bug is often met in several phases.
    unique = sorted(set(found))
    assert not unique, f"seed {seed}: {len(unique)} finding(s)\n\n" + "\n\n".join(unique)
    assert stopped == StopReason.COMPLETED
    assert {"examples", "coverage", "fuzzing", "stateful"} <= phases, phases
    # Nothing the agent did under all that failed inside it.
    logged = agent.log.read_text(errors="replace")
    failures = [line for line in logged.splitlines() if " ERROR " in line or "Traceback" in line]
    assert failures == [], "\n".join(failures[:20])
