"""``atom-desktop integrations ...`` against a real agent and a real OpenID Connect provider.

The agent runs as ``serve`` on a real keyring, with the provider's native
client as its generic ``oidc`` client (in its config file). The test plays
the person: it reads the address the command prints, signs in at the
provider's own pages, and opens the provider's redirect as a browser does,
while the command waits for the outcome. The agent's way to the internet is
a proxy that refuses every connection, so a service on the internet is
"unreachable" here whatever network the machine has.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.agent_process import AgentProcess, agent_env, run_cli
from tests.support.oidc_provider import OidcProvider, running_oidc_provider
from tests.support.ports import free_port
from tests.support.secret_service import SecretServiceSession

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.keyring]

CLI = [sys.executable, "-m", "atom_desktop", "integrations"]
#: A bot token in Telegram's shape; it never reaches Telegram (the internet is closed).
BOT_TOKEN = "7301949906:AAHk2vY1QvVqv3m0cXbBqR1m-DoNotUse-e2e"


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[OidcProvider]:
    """A fresh OpenID Connect provider (node, on loopback)."""
    with running_oidc_provider(tmp_path / "oidc") as running:
        yield running


@pytest.fixture
def client_env(
    secret_service: SecretServiceSession, tmp_path: Path, provider: OidcProvider
) -> Iterator[dict[str, str]]:
    """``serve`` knowing the provider's client; the environment a client command runs in."""
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "config.toml").write_text(
        f'[integrations.oidc]\nclient_id = "{provider.client_id}"\n', encoding="utf-8"
    )
    # Nothing listens at the proxy's port: every https request of the agent is refused.
    offline = {"HTTPS_PROXY": f"http://127.0.0.1:{free_port()}"}
    env = agent_env(secret_service.env, tmp_path / "data", config_dir, offline)
    agent = AgentProcess(["serve"], env)
    try:
        agent.wait_for("agent running")
        # The CLI finds the port in the lock file, as a person's shell would.
        yield {k: v for k, v in env.items() if k not in ("ATOM_PORT", "HTTPS_PROXY")}
    finally:
        agent.kill()


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[str]]]:
    """Commands a test starts in the background; any still running at the end are killed."""
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def start(
    env: dict[str, str], started: list[subprocess.Popen[str]], *args: str
) -> subprocess.Popen[str]:
    """``atom-desktop integrations ARGS`` in the background, stdin closed, output piped."""
    proc = subprocess.Popen(
        [*CLI, *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    started.append(proc)
    return proc


def read_until(proc: subprocess.Popen[str], starts: str) -> tuple[str, str]:
    """Lines of the command's stdout up to the first that starts with ``starts``: (it, all)."""
    assert proc.stdout is not None
    seen = ""
    while True:
        line = proc.stdout.readline()
        if not line:
            _, err = proc.communicate(timeout=30)
            raise AssertionError(f"no line starting {starts!r}; stdout:\n{seen}\nstderr:\n{err}")
        seen += line
        if line.strip().startswith(starts):
            return line.strip(), seen


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    """Wait for the command's end: its exit code, the rest of stdout, stderr."""
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def as_browser(callback_url: str) -> httpx.Response:
    """Open the provider's redirect to the agent, as the browser would (no API token)."""
    assert callback_url.startswith("http://127.0.0.1:"), callback_url
    assert "/oauth/callback?" in callback_url
    with httpx.Client(timeout=30) as browser:
        return browser.get(callback_url)


def cli(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``atom-desktop integrations ARGS`` to the end."""
    return run_cli(env, "integrations", *args, stdin=stdin)


def accounts(env: dict[str, str]) -> list[dict[str, Any]]:
    """``integrations list --json``."""
    done = cli(env, "list", "--json")
    assert done.returncode == 0, done.stderr
    listed: list[dict[str, Any]] = json.loads(done.stdout)
    return listed


def command_line(pid: int) -> list[bytes]:
    """The arguments of process ``pid`` as every user of the computer can read them."""
    deadline = time.monotonic() + 30
    while True:
        # Empty between fork and exec: the program's own arguments come after.
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if b"atom_desktop" in argv or time.monotonic() > deadline:
            return argv
        time.sleep(0.01)


def table_row(text: str, first_cell: str) -> list[str]:
    """The cells (split on runs of two spaces or more) of the row starting ``first_cell``."""
    for line in text.splitlines():
        if line.startswith(f"{first_cell} "):
            return [cell.strip() for cell in line.split("  ") if cell.strip()]
    raise AssertionError(f"no row {first_cell!r} in:\n{text}")


def test_providers_show_how_each_connects(client_env: dict[str, str]) -> None:
    done = cli(client_env, "providers")

    assert done.returncode == 0, done.stderr
    header = done.stdout.splitlines()[0].split()
    assert header[:3] == ["id", "name", "category"]
    # The generic provider's client is set in the config file; GitHub's is not.
    assert table_row(done.stdout, "oidc") == [
        "oidc",
        "OpenID Connect",
        "identity",
        "oauth2 + device",
        "set",
        "issuer",
    ]
    assert table_row(done.stdout, "github")[3:5] == ["oauth2 + device", "not set"]
    assert table_row(done.stdout, "telegram")[3:5] == ["bot_token", "-"]

    messaging = cli(client_env, "providers", "--category", "messaging", "--json")
    assert messaging.returncode == 0, messaging.stderr
    listed = json.loads(messaging.stdout)
    assert {p["category"] for p in listed} == {"messaging"}
    assert "telegram" in {p["id"] for p in listed}


def test_connect_check_refresh_reconnect_and_disconnect(
    client_env: dict[str, str], provider: OidcProvider, started: list[subprocess.Popen[str]]
) -> None:
    proc = start(
        client_env, started, "connect", "oidc", "--issuer", provider.issuer, "--no-browser"
    )
    url, shown = read_until(proc, provider.authorization_endpoint)
    assert "To connect OpenID Connect, open this address in a browser" in shown
    assert proc.poll() is None  # waiting for the sign-in

    answer = as_browser(provider.login(url))

    assert answer.status_code == 200, answer.text
    code, out, err = finish(proc)
    assert code == 0, err
    assert "Connected to OpenID Connect as alice.\n" in out
    assert "Opened it" not in shown + out  # --no-browser: only the address

    listed = cli(client_env, "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0].split() == [
        "id", "provider", "account", "status", "last", "check", "last", "error",
    ]  # fmt: skip
    [account] = accounts(client_env)
    row = table_row(listed.stdout, account["id"])
    assert row[1:4] == ["oidc", "alice", "connected"]
    assert row[4] != "never"  # the first check ran when the sign-in completed
    assert row[5] == "-"

    checked = cli(client_env, "check", account["id"])
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout == "Check passed: OpenID Connect accepts the account as alice.\n"

    refreshed = cli(client_env, "refresh", account["id"])
    assert refreshed.returncode == 0, refreshed.stderr
    assert refreshed.stdout.startswith("Refreshed the OpenID Connect tokens; ")

    again = start(client_env, started, "reconnect", account["id"], "--no-browser")
    url, _ = read_until(again, provider.authorization_endpoint)
    assert as_browser(provider.login(url)).status_code == 200
    code, out, err = finish(again)
    assert code == 0, err
    assert "Connected to OpenID Connect as alice.\n" in out

    # Not on a terminal, disconnect asks for --yes and changes nothing without it.
    unconfirmed = cli(client_env, "disconnect", account["id"])
    assert unconfirmed.returncode == 2
    assert "Add --yes to confirm it. Nothing was changed." in unconfirmed.stderr
    assert [a["id"] for a in accounts(client_env)] == [account["id"]]

    gone = cli(client_env, "disconnect", account["id"], "--yes")
    assert gone.returncode == 0, gone.stderr
    assert gone.stdout == "Revoked at OpenID Connect and removed.\n"
    assert accounts(client_env) == []
    assert "No integrations yet." in cli(client_env, "list").stdout


def test_connect_with_a_device_code(
    client_env: dict[str, str], provider: OidcProvider, started: list[subprocess.Popen[str]]
) -> None:
    proc = start(client_env, started, "connect", "oidc", "--issuer", provider.issuer, "--device")
    line, _ = read_until(proc, "Open ")
    words = line.split()
    assert words[0] == "Open"
    assert words[1].startswith(provider.issuer)
    assert words[2:4] == ["and", "enter"]

    provider.approve_device(words[4])

    code, out, err = finish(proc)
    assert code == 0, err
    assert "Connected to OpenID Connect as alice.\n" in out
    [account] = accounts(client_env)
    assert (account["status"], account["account"]) == ("connected", "alice")


def test_a_sign_in_refused_at_the_provider_fails_the_command(
    client_env: dict[str, str], provider: OidcProvider, started: list[subprocess.Popen[str]]
) -> None:
    proc = start(
        client_env, started, "connect", "oidc", "--issuer", provider.issuer, "--no-browser"
    )
    url, _ = read_until(proc, provider.authorization_endpoint)

    assert as_browser(provider.deny(url)).status_code == 400

    code, _, err = finish(proc)
    assert code == 1
    assert "Not connected to OpenID Connect: OpenID Connect did not grant access" in err
    [account] = accounts(client_env)
    assert account["status"] == "error"


def test_add_key_reads_the_token_from_stdin_and_says_it_was_not_checked(
    client_env: dict[str, str],
) -> None:
    proc = subprocess.Popen(
        [*CLI, "add-key", "telegram"],
        env=client_env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # What every user of the computer can read of the running command.
        argv = command_line(proc.pid)
        out, err = proc.communicate(f"{BOT_TOKEN}\n", timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert b"add-key" in argv
    assert not [arg for arg in argv if BOT_TOKEN.encode() in arg]
    assert proc.returncode == 0, err
    [account] = accounts(client_env)
    assert out.startswith(f"Kept the Telegram bot token: {account['id']}. It was not checked yet: ")
    assert "Could not reach Telegram" in out
    assert f"atom-desktop integrations check {account['id']}" in out
    assert BOT_TOKEN not in out + err

    listed = cli(client_env, "list")
    row = table_row(listed.stdout, account["id"])
    assert row[1:5] == ["telegram", "-", "connected", "never"]
    assert row[5].startswith("Not checked yet: Could not reach Telegram")
    assert BOT_TOKEN not in listed.stdout + json.dumps(accounts(client_env))

    checked = cli(client_env, "check", account["id"])
    assert checked.returncode == 1
    assert checked.stderr.startswith("Check failed (connected): Could not reach Telegram")

    removed = cli(client_env, "disconnect", account["id"], "--yes")
    assert (removed.returncode, removed.stdout) == (0, "Removed from this device.\n")


def test_set_client_keeps_the_secret_off_the_command_line(
    client_env: dict[str, str], started: list[subprocess.Popen[str]]
) -> None:
    done = cli(
        client_env,
        "set-client",
        "github",
        "--client-id",
        "Iv1.e2e-client",
        "--client-secret-stdin",
        stdin="e2e-client-secret\n",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "Set the client id of GitHub (kept in the config file and its secret in the OS keyring).\n"
    )
    assert table_row(cli(client_env, "providers").stdout, "github")[4] == "set"

    begun = cli(client_env, "connect", "github", "--no-wait", "--json")
    assert begun.returncode == 0, begun.stderr
    sign_in = json.loads(begun.stdout)
    assert sign_in["authorize_url"].startswith("https://github.com/login/oauth/authorize?")
    assert "client_id=Iv1.e2e-client" in sign_in["authorize_url"]
    assert "e2e-client-secret" not in begun.stdout + begun.stderr
    [account] = accounts(client_env)
    assert (account["id"], account["status"]) == (sign_in["id"], "pending")


def test_clear_errors(client_env: dict[str, str], tmp_path: Path) -> None:
    # The agent's message and its hint: what to register, and where to set it.
    no_client = cli(client_env, "connect", "github", "--no-browser", "--no-wait")
    assert no_client.returncode == 1
    assert "No OAuth client id is set for GitHub." in no_client.stderr
    assert '[integrations.github] client_id = "..."' in no_client.stderr

    unknown = cli(client_env, "connect", "nosuchservice")
    assert unknown.returncode == 1
    assert "There is no integration provider 'nosuchservice'." in unknown.stderr
    assert "atom-desktop integrations providers" in unknown.stderr

    no_issuer = cli(client_env, "connect", "oidc", "--no-wait")
    assert no_issuer.returncode == 2
    assert "OpenID Connect needs issuer." in no_issuer.stderr
    assert "--issuer URL" in no_issuer.stderr

    with_a_key = cli(client_env, "connect", "telegram")
    assert with_a_key.returncode == 1
    assert "atom-desktop integrations add-key telegram" in with_a_key.stderr

    empty = cli(client_env, "add-key", "telegram", stdin="")
    assert empty.returncode == 1
    assert "No bot token was given: stdin was empty." in empty.stderr
    assert accounts(client_env) == []

    bad_param = cli(client_env, "add-key", "twilio", "--param", "account_sid")
    assert bad_param.returncode == 2
    assert "takes NAME=VALUE" in bad_param.stderr

    # No agent at all: the discovery's own error.
    nobody = agent_env(
        {k: v for k, v in client_env.items() if not k.startswith("ATOM_")},
        tmp_path / "other-data",
        tmp_path / "other-config",
        {"ATOM_PORT": str(free_port())},
    )
    absent = cli(nobody, "list")
    assert absent.returncode == 1
    assert "No ATOM Desktop agent answers at" in absent.stderr
