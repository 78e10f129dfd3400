"""The loopback OpenID Connect provider the OAuth tests use, proven with plain HTTP.

Nothing of the project is used here: if these pass, a failing OAuth test
points at our engine, not at the harness.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import psutil
import pytest

from tests.support.oidc_provider import (
    DEVICE_GRANT,
    SCRIPT,
    OidcProvider,
    running_oidc_provider,
)

SCOPE = "openid profile email offline_access"
# Any port: the client is native, so the provider ignores the loopback port.
CALLBACK = "http://127.0.0.1:53682/oauth/callback"


def _pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _authorize_url(provider: OidcProvider, challenge: str, state: str) -> str:
    params = {
        "response_type": "code",
        "client_id": provider.client_id,
        "redirect_uri": CALLBACK,
        "scope": SCOPE,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        # Without it the provider drops offline_access, and no refresh token comes.
        "prompt": "consent",
    }
    return f"{provider.authorization_endpoint}?{urlencode(params)}"


def _code_from(callback: str, state: str) -> str:
    parts = urlsplit(callback)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == CALLBACK
    query = parse_qs(parts.query)
    assert query["state"] == [state]
    return query["code"][0]


def _exchange(provider: OidcProvider, code: str, verifier: str) -> httpx.Response:
    return httpx.post(
        provider.token_endpoint,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "client_id": provider.client_id,
            "code_verifier": verifier,
        },
    )


def _sign_in(provider: OidcProvider, login: str = "alice") -> dict[str, Any]:
    verifier, challenge = _pkce_pair()
    state = secrets.token_urlsafe(16)
    code = _code_from(provider.login(_authorize_url(provider, challenge, state), login), state)
    response = _exchange(provider, code, verifier)
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def _refresh(provider: OidcProvider, refresh_token: str) -> httpx.Response:
    return httpx.post(
        provider.token_endpoint,
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": provider.client_id,
        },
    )


def _error(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    return str(response.json()["error"])


def _jwt_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def test_discovery_answers_with_the_issuer(oidc_provider: OidcProvider) -> None:
    response = httpx.get(f"{oidc_provider.issuer}/.well-known/openid-configuration")

    assert response.status_code == 200
    document = response.json()
    assert document["issuer"] == oidc_provider.issuer
    assert oidc_provider.issuer.startswith("http://127.0.0.1:")
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert DEVICE_GRANT in document["grant_types_supported"]
    for endpoint in (
        "revocation_endpoint",
        "introspection_endpoint",
        "device_authorization_endpoint",
    ):
        assert document[endpoint].startswith(f"{oidc_provider.issuer}/")


def test_the_code_flow_with_pkce_gives_access_id_and_refresh_tokens(
    oidc_provider: OidcProvider,
) -> None:
    tokens = _sign_in(oidc_provider, login="carol")

    assert tokens["token_type"].lower() == "bearer"
    assert tokens["access_token"] and tokens["refresh_token"]
    assert set(tokens["scope"].split()) == set(SCOPE.split())
    claims = _jwt_claims(tokens["id_token"])
    assert claims["iss"] == oidc_provider.issuer
    assert claims["aud"] == oidc_provider.client_id
    assert claims["sub"] == "carol"
    userinfo = httpx.get(
        oidc_provider.metadata["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert userinfo.status_code == 200, userinfo.text
    assert userinfo.json()["email"] == "carol@example.test"


def test_a_code_is_refused_with_the_wrong_verifier(oidc_provider: OidcProvider) -> None:
    _verifier, challenge = _pkce_pair()
    state = secrets.token_urlsafe(16)
    code = _code_from(oidc_provider.login(_authorize_url(oidc_provider, challenge, state)), state)

    assert _error(_exchange(oidc_provider, code, secrets.token_urlsafe(48))) == "invalid_grant"


def test_an_authorization_request_without_pkce_is_refused(oidc_provider: OidcProvider) -> None:
    url = _authorize_url(oidc_provider, "unused", "s1").replace("code_challenge=", "ignored=")

    query = parse_qs(urlsplit(oidc_provider.login(url)).query)

    assert query["error"] == ["invalid_request"]
    assert "code" not in query


def test_deny_returns_access_denied_to_the_callback(oidc_provider: OidcProvider) -> None:
    _verifier, challenge = _pkce_pair()

    callback = oidc_provider.deny(_authorize_url(oidc_provider, challenge, "s2"))

    query = parse_qs(urlsplit(callback).query)
    assert callback.startswith(f"{CALLBACK}?")
    assert query["error"] == ["access_denied"]
    assert query["state"] == ["s2"]
    assert "code" not in query


def test_a_refresh_rotates_the_token_and_the_old_one_is_refused(
    oidc_provider: OidcProvider,
) -> None:
    first = _sign_in(oidc_provider)["refresh_token"]

    response = _refresh(oidc_provider, first)
    assert response.status_code == 200, response.text
    second = response.json()["refresh_token"]
    assert second != first

    assert _error(_refresh(oidc_provider, first)) == "invalid_grant"
    # Re-use of a rotated token is taken as theft: the provider revokes the
    # whole grant, so the newest token dies with it.
    assert _error(_refresh(oidc_provider, second)) == "invalid_grant"


def test_introspection_is_active_until_the_token_is_revoked(oidc_provider: OidcProvider) -> None:
    tokens = _sign_in(oidc_provider)
    access = tokens["access_token"]

    described = oidc_provider.introspect(access)
    assert described["active"] is True
    assert described["client_id"] == oidc_provider.client_id
    assert described["sub"] == "alice"
    assert described["exp"] - described["iat"] == 3600

    revoked = httpx.post(
        oidc_provider.revocation_endpoint,
        data={
            "token": access,
            "token_type_hint": "access_token",
            "client_id": oidc_provider.client_id,
        },
    )
    assert revoked.status_code == 200, revoked.text
    assert oidc_provider.introspect(access) == {"active": False}


def test_an_access_token_is_inactive_once_its_ttl_has_passed(tmp_path: Path) -> None:
    with running_oidc_provider(tmp_path, access_token_ttl_s=2) as provider:
        access = _sign_in(provider)["access_token"]
        described = provider.introspect(access)
        assert described["active"] is True
        assert described["exp"] - described["iat"] == 2

        deadline = time.monotonic() + 10
        while provider.introspect(access)["active"]:
            assert time.monotonic() < deadline, "the token was still active 10 s after issue"
            time.sleep(0.1)
        # No tolerance: it dies when its exp says, not before.
        assert time.time() >= described["exp"]


def test_revoking_all_grants_makes_the_next_refresh_invalid_grant(
    oidc_provider: OidcProvider,
) -> None:
    tokens = _sign_in(oidc_provider)
    refreshed = _refresh(oidc_provider, tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text

    oidc_provider.revoke_all_grants()

    assert _error(_refresh(oidc_provider, refreshed.json()["refresh_token"])) == "invalid_grant"
    assert oidc_provider.introspect(refreshed.json()["access_token"]) == {"active": False}
    # A new sign-in is a new grant and works again.
    assert _refresh(oidc_provider, _sign_in(oidc_provider)["refresh_token"]).status_code == 200


def test_the_device_grant_completes_through_approve_device(oidc_provider: OidcProvider) -> None:
    started = httpx.post(
        oidc_provider.device_authorization_endpoint,
        data={"client_id": oidc_provider.client_id, "scope": SCOPE},
    )
    assert started.status_code == 200, started.text
    device = started.json()
    assert device["verification_uri"] == f"{oidc_provider.issuer}/device"
    poll = {
        "grant_type": DEVICE_GRANT,
        "device_code": device["device_code"],
        "client_id": oidc_provider.client_id,
    }
    assert _error(httpx.post(oidc_provider.token_endpoint, data=poll)) == "authorization_pending"

    oidc_provider.approve_device(device["user_code"], login="bob")

    response = httpx.post(oidc_provider.token_endpoint, data=poll)
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert _jwt_claims(tokens["id_token"])["sub"] == "bob"
    assert tokens["refresh_token"]
    assert oidc_provider.introspect(tokens["access_token"])["sub"] == "bob"


def test_approve_device_fails_loudly_on_an_unknown_code(oidc_provider: OidcProvider) -> None:
    with pytest.raises(AssertionError, match="incorrect"):
        oidc_provider.approve_device("BCDF-GHJK")


def test_the_stats_count_every_token_request_by_grant_type(oidc_provider: OidcProvider) -> None:
    assert oidc_provider.token_requests() == {}
    refresh_token = _sign_in(oidc_provider)["refresh_token"]
    assert oidc_provider.token_requests() == {"authorization_code": 1}

    for expected in (1, 2, 3):
        response = _refresh(oidc_provider, refresh_token)
        assert response.status_code == 200, response.text
        refresh_token = response.json()["refresh_token"]
        assert oidc_provider.token_requests() == {
            "authorization_code": 1,
            "refresh_token": expected,
        }

    # A refused refresh still reached the provider.
    assert _error(_refresh(oidc_provider, "not-a-token")) == "invalid_grant"
    assert oidc_provider.token_requests() == {"authorization_code": 1, "refresh_token": 4}


def test_the_admin_routes_want_the_admin_secret(oidc_provider: OidcProvider) -> None:
    assert httpx.get(f"{oidc_provider.issuer}/__test/stats").status_code == 401
    wrong = {"Authorization": "Bearer wrong"}
    assert (
        httpx.post(f"{oidc_provider.issuer}/__test/revoke-grants", headers=wrong).status_code == 401
    )


def test_no_provider_process_remains_after_the_context_exits(tmp_path: Path) -> None:
    with running_oidc_provider(tmp_path) as provider:
        process = psutil.Process(provider.pid)
        assert process.is_running()
        assert "node" in process.name()

    assert not psutil.pid_exists(provider.pid)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{provider.issuer}/.well-known/openid-configuration")


def test_the_provider_exits_by_itself_when_its_stdin_closes(tmp_path: Path) -> None:
    """What happens when a test process dies without its cleanup."""
    node = shutil.which("node")
    assert node is not None
    with subprocess.Popen(
        [node, str(SCRIPT), json.dumps({"clients": []})],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        try:
            assert json.loads(proc.stdout.readline())["ready"] is True
            proc.stdin.close()
            assert proc.wait(10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
