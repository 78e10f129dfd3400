"""An automation's http step calls a service as a connected account.

A whole session (connect, use, refresh, use, revoke) against the real
provider, then a search for the tokens' bytes everywhere they must never be:
the profile's files, the logs, the step results and run records as the API
gives them, and the environment of a command the automation ran.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from atom_desktop.integrations.token_vault import account_entry, decode_secret
from tests.integration.api.test_automations import create, trigger_and_wait
from tests.integration.integrations.conftest import OidcAgent


def _tokens(agent: OidcAgent, account_id: str) -> dict[str, str]:
    account = agent.runtime.integrations.repo.get(account_id)
    text = agent.runtime.vault.get(account_entry(account_id, account.secret_generation))
    assert text is not None
    return decode_secret(text)


def _userinfo_automation(client: httpx.Client, agent: OidcAgent, account_id: str) -> str:
    userinfo = agent.provider.metadata["userinfo_endpoint"]
    made = create(
        client,
        {
            "name": "who am I",
            "steps": [
                {"type": "http", "name": "me", "url": userinfo, "auth": account_id},
                # What a command the automation runs can see of the agent.
                {"type": "shell", "name": "env", "shell": "env"},
            ],
        },
    )
    return str(made["id"])


def test_an_http_step_calls_the_service_as_the_account(oidc_agent: OidcAgent) -> None:
    account_id = str(oidc_agent.connected()["id"])
    with oidc_agent.client() as client:
        automation = _userinfo_automation(client, oidc_agent, account_id)
        run = trigger_and_wait(client, automation)

    assert run["status"] == "succeeded", run
    me = run["steps"][0]
    assert me["http_status"] == 200
    assert me["json"]["sub"] == "alice"


def test_an_unknown_or_revoked_account_fails_the_step_plainly(oidc_agent: OidcAgent) -> None:
    account_id = str(oidc_agent.connected()["id"])
    oidc_agent.provider.revoke_all_grants()
    with oidc_agent.client() as client:
        assert client.post(f"/api/v1/integrations/{account_id}/refresh").status_code == 409
        revoked = trigger_and_wait(client, _userinfo_automation(client, oidc_agent, account_id))
        unknown = trigger_and_wait(client, _userinfo_automation(client, oidc_agent, "nope"))

    assert revoked["status"] == "failed"
    assert "needs to be reconnected" in revoked["steps"][0]["error"]
    assert unknown["status"] == "failed"
    assert "no integration with id 'nope'" in unknown["steps"][0]["error"]


def test_a_step_that_sets_the_credential_header_itself_is_refused(oidc_agent: OidcAgent) -> None:
    account_id = str(oidc_agent.connected()["id"])
    with oidc_agent.client() as client:
        made = create(
            client,
            {
                "name": "two credentials",
                "steps": [
                    {
                        "type": "http",
                        "url": oidc_agent.provider.metadata["userinfo_endpoint"],
                        "headers": {"authorization": "Bearer mine"},
                        "auth": account_id,
                    }
                ],
            },
        )
        run = trigger_and_wait(client, made["id"])
    assert run["status"] == "failed"
    assert "remove one of the two" in run["steps"][0]["error"]


def _everything_said(client: httpx.Client) -> str:
    """Every run record and automation result the API gives, as one text."""
    said: list[Any] = []
    for automation in client.get("/api/v1/automations").json()["items"]:
        listed = client.get(f"/api/v1/automations/{automation['id']}/runs").json()["items"]
        for run in listed:
            said.append(
                client.get(f"/api/v1/automations/{automation['id']}/runs/{run['id']}").json()
            )
    for run in client.get("/api/v1/runs", params={"limit": 500}).json()["items"]:
        said.append(run)
        said.append(client.get(f"/api/v1/runs/{run['id']}/output").text)
    said.append(client.get("/api/v1/audit", params={"limit": 500}).json())
    said.append(client.get("/api/v1/integrations").json())
    return json.dumps(said)


def _files_holding(roots: set[Path], needles: set[str]) -> list[str]:
    found = []
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                found += [f"{path}: {n[:6]}..." for n in needles if n.encode() in data]
    return found


def test_after_a_whole_session_no_token_is_anywhere_but_the_keyring(
    oidc_agent: OidcAgent, caplog: pytest.LogCaptureFixture
) -> None:
    # Everything logged, at every level, before any redaction.
    caplog.set_level(logging.DEBUG)
    account_id = str(oidc_agent.connected()["id"])
    seen: set[str] = set()
    with oidc_agent.client() as client:
        automation = _userinfo_automation(client, oidc_agent, account_id)
        seen |= set(_tokens(oidc_agent, account_id).values()) - {"Bearer"}
        first = trigger_and_wait(client, automation)
        assert client.post(f"/api/v1/integrations/{account_id}/refresh").status_code == 200
        seen |= set(_tokens(oidc_agent, account_id).values()) - {"Bearer"}
        second = trigger_and_wait(client, automation)
        assert client.post(f"/api/v1/integrations/{account_id}/check").status_code == 200
        assert client.delete(f"/api/v1/integrations/{account_id}").json()["revoked"] is True
        said = _everything_said(client)

    assert first["status"] == second["status"] == "succeeded"
    assert len(seen) == 4  # two access and two refresh tokens
    env_output = first["steps"][1]["stdout"] + second["steps"][1]["stdout"]
    assert "PATH=" in env_output  # the environment was really printed
    # The capture saw the requests to the provider (httpx logs each one's URL).
    assert "HTTP Request: POST " + oidc_agent.provider.issuer in caplog.text
    for token in seen:
        assert token not in env_output
        assert token not in said
        assert token not in caplog.text
    paths = oidc_agent.runtime.paths
    assert _files_holding({paths.data_dir, paths.config_dir, paths.log_dir}, seen) == []
    # The provider agrees the grant is gone.
    for token in seen:
        assert oidc_agent.provider.introspect(token)["active"] is False
