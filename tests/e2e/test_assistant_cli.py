"""``atom-desktop ask`` against a real agent process and a real keyring.

The AI provider is the fake OpenAI-compatible server (a fake, see its
module); the rest is real: ``serve`` with gnome-keyring on a private D-Bus,
the CLI as a subprocess, a terminal (a pty) for the y/n question.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from atom_desktop.assistant.planner import TOOL_NAME
from atom_desktop.assistant.providers.keys import ProviderKeys
from atom_desktop.core.redaction import Redactor
from atom_desktop.secrets.keyring_vault import KeyringVault
from atom_desktop.secrets.profile import keyring_service
from tests.support import fake_openai_server as fake
from tests.support.agent_process import AgentProcess, agent_env, run_cli
from tests.support.scripted_http_server import ScriptedServer
from tests.support.secret_service import SecretServiceSession

pytestmark = pytest.mark.e2e

KEY = "sk-e2e-0123456789abcdefghijklmnop"


def ask_at_a_terminal(env: dict[str, str], text: str, answer: str) -> tuple[int, str]:
    """``ask TEXT`` with a pty as its stdin, answering the y/n question with ``answer``."""
    controller, terminal = pty.openpty()
    try:
        os.write(controller, answer.encode() + b"\n")
        done = subprocess.run(
            [sys.executable, "-m", "atom_desktop", "ask", text],
            env=env,
            stdin=terminal,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(terminal)
        os.close(controller)
    return done.returncode, done.stdout + done.stderr


def runs_of(env: dict[str, str]) -> list[dict[str, object]]:
    done = run_cli(env, "runs", "list", "--json")
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout)["items"])


def test_ask_shows_the_plan_and_runs_it_once_the_person_says_yes(
    running: tuple[AgentProcess, dict[str, str]],
) -> None:
    _, env = running
    code, said = ask_at_a_terminal(env, "run echo hello-from-ask", "y")
    assert code == 0, said
    assert "Understood without an AI provider" in said
    assert "1. [shell, needs approval]" in said
    assert "echo hello-from-ask" in said
    assert "Run this plan? [y/N]" in said
    assert "   hello-from-ask" in said  # the step's output
    assert "The plan ran to its end." in said
    (run,) = runs_of(env)
    assert run["source"] == "ai"


def test_ask_declined_runs_nothing(running: tuple[AgentProcess, dict[str, str]]) -> None:
    _, env = running
    code, said = ask_at_a_terminal(env, "run echo never", "n")
    assert code == 3, said
    assert "Nothing was run" in said
    assert runs_of(env) == []


def test_ask_yes_runs_only_kinds_set_to_run_by_themselves(
    running: tuple[AgentProcess, dict[str, str]],
) -> None:
    _, env = running
    refused = run_cli(env, "ask", "--yes", "run echo not-auto")
    assert refused.returncode == 3, refused.stderr
    assert "need a person's approval" in refused.stderr
    assert runs_of(env) == []
    # Without a terminal and without --yes, nobody is asked and nothing runs.
    no_terminal = run_cli(env, "ask", "run echo no-terminal", stdin="y\n")
    assert no_terminal.returncode == 3
    assert runs_of(env) == []


@pytest.fixture
def provider() -> Iterator[ScriptedServer]:
    with fake.fake_openai_server(KEY) as server:
        yield server


def test_the_providers_key_is_in_the_keyring_and_in_no_file(
    secret_service: SecretServiceSession, tmp_path: Path, provider: ScriptedServer
) -> None:
    data_dir, config_dir = tmp_path / "data", tmp_path / "config"
    base_url = provider.base_url + "/v1"
    vault = KeyringVault(keyring_service(data_dir), secret_service.backend())
    ProviderKeys(vault, Redactor()).set("openai_compatible", base_url, KEY)
    env = agent_env(
        secret_service.env,
        data_dir,
        config_dir,
        {
            "ATOM_ASSISTANT_PROVIDER": "openai_compatible",
            "ATOM_ASSISTANT_BASE_URL": base_url,
            "ATOM_ASSISTANT_MODEL": fake.MODEL,
            "ATOM_ASSISTANT_AUTO_KINDS": "notify",
            "ATOM_LOG_LEVEL": "DEBUG",
        },
    )
    plan = json.dumps({"reply": "Telling you.", "steps": [{"type": "notify", "title": "hi"}]})
    provider.add(fake.stream(tool=TOOL_NAME, arguments=[plan[:9], plan[9:]]))
    provider.add(fake.invalid_key("sk-someone-else-entirely-0000"))
    agent = AgentProcess(["serve"], env)
    try:
        agent.wait_for("agent running")
        client_env = {k: v for k, v in env.items() if k != "ATOM_PORT"}
        done = run_cli(client_env, "ask", "--yes", "tell me hi")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Telling you." in done.stdout
        assert "1. succeeded" in done.stdout
        assert provider.received[0].headers["authorization"] == f"Bearer {KEY}"
        # A key the provider refuses is one clear message, without any key in it.
        refused = run_cli(client_env, "ask", "tell me again")
        assert refused.returncode == 1
        assert "key" in refused.stderr.lower()
        assert KEY not in refused.stderr
    finally:
        agent.stop()
    assert KEY not in agent.output
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
