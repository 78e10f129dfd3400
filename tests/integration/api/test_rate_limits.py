"""Rate limits through a real agent: 429s, Retry-After, per-token buckets, the audit log."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from atom_desktop.config.paths import AppPaths
from atom_desktop.config.settings import Settings
from tests.integration.api.conftest import LiveAgent, live_agent

#: Small buckets, so a burst is a handful of requests; slow refills, so none
#: comes back while a burst is sent.
SMALL: dict[str, Any] = {
    "rate_token_per_s": 0.5,
    "rate_token_burst": 4,
    "rate_anonymous_per_s": 0.5,
    "rate_anonymous_burst": 3,
    "rate_token_creations_per_min": 6,
    "rate_token_creations_burst": 2,
}


@pytest.fixture
def limited(paths: AppPaths) -> Iterator[LiveAgent]:
    """An agent with :data:`SMALL` limits (the owner token's stay the defaults)."""
    settings = Settings(data_dir=paths.data_dir, config_dir=paths.config_dir, port=0, **SMALL)
    with live_agent(settings) as live:
        yield live


def burst(client: httpx.Client, count: int, path: str = "/api/v1/tasks") -> list[httpx.Response]:
    return [client.get(path) for _ in range(count)]


def rate_limit_entries(agent: LiveAgent) -> list[Any]:
    return [e for e in agent.runtime.audit.page(500) if e.action.startswith("rate_limited")]


def test_a_burst_past_the_limit_gets_429_and_retry_after_honoured_succeeds(
    limited: LiveAgent,
) -> None:
    token = limited.make_token("read")
    with limited.client(token) as client:
        answers = burst(client, 5)
        assert [a.status_code for a in answers] == [200, 200, 200, 200, 429]
        refused = answers[-1]
        error = refused.json()["error"]
        assert error["code"] == "too_many_requests"
        assert "at most 4 at once" in error["message"]
        wait = int(refused.headers["retry-after"])
        # Half a request a second, and the bucket is empty: two seconds.
        assert wait == 2
        assert refused.headers["ratelimit-limit"] == "4"
        assert refused.headers["ratelimit-remaining"] == "0"
        assert refused.headers["ratelimit-reset"] == str(wait)
        # The same security headers as every answer.
        assert refused.headers["x-content-type-options"] == "nosniff"
        time.sleep(wait)  # the wait the server asked for
        assert client.get("/api/v1/tasks").status_code == 200


def test_limits_are_per_token(limited: LiveAgent) -> None:
    first, second = limited.make_token("read", name="a"), limited.make_token("read", name="b")
    with limited.client(first) as a, limited.client(second) as b, limited.client() as owner:
        assert burst(a, 5)[-1].status_code == 429
        assert a.get("/api/v1/tasks").status_code == 429
        # Another token's bucket, and the owner's, are untouched.
        assert [r.status_code for r in burst(b, 4)] == [200] * 4
        assert owner.get("/api/v1/tasks").status_code == 200


def test_requests_without_a_token_share_one_bucket(limited: LiveAgent) -> None:
    """/health and the OAuth callback take from the same bucket; a refusal takes nothing."""
    with httpx.Client(base_url=limited.base_url) as anonymous:
        assert [r.status_code for r in burst(anonymous, 3, "/api/v1/health")] == [200] * 3
        assert anonymous.get("/api/v1/health").status_code == 429
        assert anonymous.get("/oauth/callback").status_code == 429
        # Refused by the checks, and told why: not a 429.
        guessing = anonymous.get("/api/v1/tasks", headers={"Authorization": "Bearer atom_x"})
        assert guessing.status_code == 403
        assert anonymous.get("/api/v1/tasks").status_code == 401
    with limited.client() as owner:
        assert owner.get("/api/v1/tasks").status_code == 200


def test_token_creation_has_its_own_tighter_bucket(limited: LiveAgent) -> None:
    admin = limited.make_token("admin")
    with limited.client(admin) as client:
        made = [
            client.post("/api/v1/tokens", json={"name": f"t{i}", "scopes": ["read"]})
            for i in range(3)
        ]
        assert [r.status_code for r in made] == [201, 201, 429]
        assert "token creations" in made[-1].json()["error"]["message"]
        # Other requests of the same token still pass.
        assert client.get("/api/v1/tokens").status_code == 200


def test_the_websocket_handshake_is_limited(limited: LiveAgent) -> None:
    token = limited.make_token("read", "run")  # what a run's WebSocket needs
    with limited.client(token) as client:
        assert burst(client, 5)[-1].status_code == 429
    url = limited.base_url.replace("http://", "ws://") + "/api/v1/runs/none/ws"
    with pytest.raises(InvalidStatus) as refused:
        ws_connect(url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=10)
    assert refused.value.response.status_code == 429
    assert refused.value.response.headers["Retry-After"] == "2"


def test_the_audit_log_gets_one_entry_per_burst(limited: LiveAgent) -> None:
    token = limited.make_token("read", name="flooder")
    with limited.client(token) as client:
        answers = burst(client, 12)
        assert [a.status_code for a in answers].count(429) == 8
        entries = rate_limit_entries(limited)
        assert len(entries) == 1
        entry = entries[0]
        assert (entry.token_name, entry.action, entry.status, entry.result) == (
            "flooder",
            "rate_limited requests",
            429,
            "refused",
        )
        assert entry.target == "GET /api/v1/tasks"
        # Once the burst is over (a request passed), the next one is a new burst.
        time.sleep(int(answers[-1].headers["retry-after"]))
        assert client.get("/api/v1/tasks").status_code == 200
        assert [a.status_code for a in burst(client, 5)].count(429) == 5
    assert len(rate_limit_entries(limited)) == 2


def test_the_owner_token_default_never_limits_the_windows_own_use(agent: LiveAgent) -> None:
    """The window's steady use, many times over: a burst past every other default
    bucket (named tokens 200, no token 500) and more, all answered."""
    with agent.client() as owner:
        statuses = {owner.get("/api/v1/tasks").status_code for _ in range(1200)}
    assert statuses == {200}
    with agent.client() as owner:
        page = owner.get("/api/v1/audit", params={"limit": 500}).json()["items"]
    assert not [e for e in page if e["action"].startswith("rate_limited")]
