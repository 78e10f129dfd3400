"""The CLI client against a real agent process, and what the agent logs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.agent_process import AgentProcess, agent_env
from tests.support.agent_process import run_cli as cli
from tests.support.ports import free_port

pytestmark = pytest.mark.e2e


def test_cli_against_a_running_agent(running: tuple[AgentProcess, dict[str, str]]) -> None:
    agent, env = running
    status = cli(env, "status")
    assert status.returncode == 0, status.stderr
    assert "running" in status.stdout
    assert "OS keyring (keyring.backends.SecretService.Keyring)" in status.stdout

    added = cli(
        env, "tasks", "add", "Prepare the quarterly report", "--tag", "work", "--priority", "2"
    )
    assert added.returncode == 0, added.stderr
    task_id = added.stdout.strip()
    assert cli(env, "tasks", "add", "Water the plants").returncode == 0

    listing = cli(env, "tasks", "list")
    assert "Prepare the quarterly report" in listing.stdout
    assert "Water the plants" in listing.stdout
    assert listing.stdout.splitlines()[0].split() == ["id", "status", "prio", "due", "title"]

    found = json.loads(cli(env, "tasks", "search", "quarter", "--json").stdout)
    assert [t["id"] for t in found["items"]] == [task_id]

    assert cli(env, "tasks", "done", task_id).returncode == 0
    done = json.loads(cli(env, "tasks", "list", "--status", "done", "--json").stdout)
    assert [t["id"] for t in done["items"]] == [task_id]

    created = cli(env, "token", "create", "reporting", "--scope", "read")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("atom_")
    tokens = json.loads(cli(env, "token", "list", "--json").stdout)
    named = next(t for t in tokens if t["name"] == "reporting")
    assert secret not in json.dumps(tokens)
    # The new token works for reading, then stops working once revoked.
    limited = {**env, "ATOM_API_TOKEN": secret}
    assert cli(limited, "status").returncode == 0
    refused = cli(limited, "tasks", "add", "not allowed")
    assert refused.returncode == 1
    assert "lacks the 'automate' scope" in refused.stderr
    assert cli(env, "token", "revoke", named["id"]).returncode == 0
    assert cli(limited, "status").returncode == 1

    owner = cli(env, "token", "show").stdout.strip()
    assert owner.startswith("atom_")
    assert agent.stop() == 0

    # After the whole session, no token appears in any log file or output.
    logs = "".join(p.read_text() for p in (Path(env["ATOM_DATA_DIR"]) / "logs").iterdir())
    assert "DEBUG" in logs
    for token in (owner, secret):
        assert token not in logs
        assert token not in agent.output


def test_cli_says_plainly_when_no_agent_runs(tmp_path: Path) -> None:
    env = agent_env(dict(os.environ), tmp_path / "data", tmp_path / "config")
    env.pop("ATOM_PORT")
    env["ATOM_API_TOKEN"] = "atom_" + "z" * 43
    env["ATOM_PORT"] = str(free_port())
    result = cli(env, "status")
    assert result.returncode == 1
    assert "No ATOM Desktop agent answers at http://127.0.0.1:" in result.stderr
    assert "atom-desktop serve" in result.stderr
    assert env["ATOM_API_TOKEN"] not in result.stderr


def test_docs_work_offline_from_the_package(running: tuple[AgentProcess, dict[str, str]]) -> None:
    _agent, env = running
    port = json.loads((Path(env["ATOM_DATA_DIR"]) / "agent.lock").read_text())["port"]
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        page = client.get("/docs")
        assert page.status_code == 200
        assert "/docs/assets/swagger-ui-bundle.js" in page.text
        assert "cdn" not in page.text.lower()
        assert client.get("/docs/assets/swagger-ui-bundle.js").status_code == 200
        doc = client.get("/api/v1/openapi.json").json()
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "/api/v1/tasks" in doc["paths"]
    health = doc["paths"]["/api/v1/health"]["get"]
    assert health["x-atom-scope"] == "public"
    assert health["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Health"
    }
    # Every documented error has the one error shape, and the document has it.
    error_ref = {"$ref": "#/components/schemas/ErrorBody"}
    for methods in doc["paths"].values():
        for operation in methods.values():
            for code, response in operation["responses"].items():
                if code.startswith(("4", "5")):
                    assert response["content"]["application/json"]["schema"] == error_ref
    schemas = doc["components"]["schemas"]
    assert schemas["ErrorBody"]["properties"]["error"] == {
        "$ref": "#/components/schemas/ErrorDetail"
    }
    assert set(schemas["ErrorDetail"]["required"]) == {"code", "message"}


def test_cli_run_streams_bytes_exactly_and_exits_like_the_child(
    running: tuple[AgentProcess, dict[str, str]],
) -> None:
    _agent, env = running
    code = (
        "import sys; sys.stdout.buffer.write(b'\\xff\\xfe out'); sys.stdout.flush();"
        "sys.stderr.buffer.write(b'err \\xc3'); sys.stderr.flush(); sys.exit(3)"
    )
    result = subprocess.run(
        [sys.executable, "-m", "atom_desktop", "run", "--", sys.executable, "-c", code],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 3
    assert result.stdout == b"\xff\xfe out"
    assert result.stderr == b"err \xc3"
    signalled = cli(env, "run", "--shell", "kill -TERM $$")
    assert signalled.returncode == 128 + 15
    listing = cli(env, "runs", "list", "--json")
    runs = json.loads(listing.stdout)["items"]
    assert runs[0]["status"] == "failed"
    logs = subprocess.run(
        [sys.executable, "-m", "atom_desktop", "runs", "logs", runs[1]["id"]],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert logs.stdout == b"\xff\xfe out"


def test_cli_run_ctrl_c_cancels_the_run(running: tuple[AgentProcess, dict[str, str]]) -> None:
    _agent, env = running
    proc = subprocess.Popen(
        [sys.executable, "-m", "atom_desktop", "run", "--shell", "echo started; sleep 300"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"started\n"  # the run is going
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 128 + 15
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    runs = json.loads(cli(env, "runs", "list", "--json").stdout)["items"]
    assert runs[0]["status"] == "cancelled"
