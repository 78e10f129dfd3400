"""Every route x every method x every attack is refused before any handler runs."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.integration.api.conftest import LiveAgent

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
PUBLIC = {("/api/v1/health", "GET"), ("/api/v1/openapi.json", "GET"), ("/docs", "GET")}


@dataclass(frozen=True)
class Target:
    path: str
    method: str
    scope: str  # what the route needs: public, read, automate, admin


@pytest.fixture
def targets(agent: LiveAgent) -> list[Target]:
    """Every documented route with every method, path parameters filled in."""
    with agent.client() as client:
        task_id = client.post("/api/v1/tasks", json={"title": "matrix"}).json()["id"]
        token_id = client.post(
            "/api/v1/tokens", json={"name": "matrix", "scopes": ["read"]}
        ).json()["id"]
        doc = client.get("/api/v1/openapi.json").json()
    scopes: dict[tuple[str, str], str] = {}
    for template, operations in doc["paths"].items():
        path = template.replace("{task_id}", task_id).replace("{token_id}", token_id)
        for method, operation in operations.items():
            scopes[(path, method.upper())] = operation.get("x-atom-scope", "admin")
    scopes.update(dict.fromkeys(PUBLIC, "public"))
    paths = sorted({path for path, _ in scopes} | {"/api/v1/no-such-route"})
    # Methods a path does not define still need a token ("read") to be told so.
    return [Target(p, m, scopes.get((p, m), "read")) for p in paths for m in METHODS]


@pytest.fixture
def tokens(agent: LiveAgent) -> dict[str, str]:
    return {
        "read": agent.make_token("read", name="matrix-read"),
        "run": agent.make_token("run", name="matrix-run"),
    }


def under_scoped(target: Target, tokens: dict[str, str]) -> str:
    """A token that lacks what ``target`` needs."""
    return tokens["run"] if target.scope == "read" else tokens["read"]


ATTACKS = {
    # name: (applies to public routes?, expected status)
    "no token": (False, 401),
    "wrong token": (False, 403),
    "under-scoped token": (False, 403),
    "Host evil.example": (True, 400),
    "Host localhost.evil.example": (True, 400),
    "empty Host": (True, 400),
    "Origin http://evil.example": (True, 403),
    "text/plain body": (True, 415),
    "form body": (True, 415),
}


def attack_request(
    name: str, target: Target, agent: LiveAgent, tokens: dict[str, str]
) -> httpx.Request:
    headers = {"Authorization": f"Bearer {agent.owner_token}", "Content-Type": "application/json"}
    body: bytes | None = b"{}" if target.method in ("POST", "PUT", "PATCH") else None
    if name == "no token":
        del headers["Authorization"]
    elif name == "wrong token":
        headers["Authorization"] = "Bearer atom_" + "x" * 43
    elif name == "under-scoped token":
        headers["Authorization"] = f"Bearer {under_scoped(target, tokens)}"
    elif name.startswith("Host "):
        headers["Host"] = name.removeprefix("Host ")
    elif name == "empty Host":
        headers["Host"] = ""
    elif name.startswith("Origin "):
        headers["Origin"] = name.removeprefix("Origin ")
    elif name == "text/plain body":
        headers["Content-Type"] = "text/plain"
        body = b'{"title": "sneaky"}'
    elif name == "form body":
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        body = b"title=sneaky"
    return httpx.Request(target.method, agent.base_url + target.path, headers=headers, content=body)


def test_every_attack_on_every_route_is_refused_before_any_handler(
    agent: LiveAgent, targets: list[Target], tokens: dict[str, str]
) -> None:
    checked = 0
    with httpx.Client(timeout=10) as client:
        for attack, (applies_to_public, status) in ATTACKS.items():
            for target in targets:
                if target.scope == "public" and not applies_to_public:
                    continue
                before = agent.handlers.calls
                response = client.send(attack_request(attack, target, agent, tokens))
                assert response.status_code == status, (attack, target, response.text)
                assert response.json()["error"]["code"]
                assert_security_headers(response)
                assert agent.handlers.calls == before, f"a handler ran: {attack} {target}"
                checked += 1
    assert checked >= 300


def raw_request(port: int, lines: list[str]) -> bytes:
    """Send a hand-written request (headers httpx will not send) and read the reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _raw_targets(targets: list[Target]) -> Iterator[Target]:
    return (t for t in targets if t.method in ("GET", "DELETE"))


def test_no_host_header_http10_is_refused(agent: LiveAgent, targets: list[Target]) -> None:
    for target in _raw_targets(targets):
        before = agent.handlers.calls
        reply = raw_request(
            agent.port,
            [
                f"{target.method} {target.path} HTTP/1.0",
                f"Authorization: Bearer {agent.owner_token}",
            ],
        )
        assert reply.split(b"\r\n")[0].split()[1] == b"400", (target, reply[:200])
        assert agent.handlers.calls == before


def test_two_host_headers_are_refused(agent: LiveAgent, targets: list[Target]) -> None:
    host = f"127.0.0.1:{agent.port}"
    for target in _raw_targets(targets):
        before = agent.handlers.calls
        reply = raw_request(
            agent.port,
            [
                f"{target.method} {target.path} HTTP/1.1",
                f"Host: {host}",
                "Host: evil.example",
                f"Authorization: Bearer {agent.owner_token}",
                "Connection: close",
            ],
        )
        assert reply.split(b"\r\n")[0].split()[1] == b"400", (target, reply[:200])
        assert agent.handlers.calls == before


SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "cross-origin-resource-policy": "same-origin",
    "cache-control": "no-store",
}
# Only for the docs page and its assets: a page a person opens.
DOCS_HEADERS = {"x-frame-options": "DENY", "referrer-policy": "no-referrer"}


def assert_security_headers(response: httpx.Response, *, page: bool = False) -> None:
    expected = SECURITY_HEADERS | DOCS_HEADERS if page else SECURITY_HEADERS
    for name, value in expected.items():
        assert response.headers.get_list(name) == [value], (name, response.request.url)
    csp = response.headers.get_list("content-security-policy")
    assert len(csp) == 1 and "frame-ancestors 'none'" in csp[0], response.request.url
    assert "access-control-allow-origin" not in response.headers


def test_allowed_requests_succeed(agent: LiveAgent, tokens: dict[str, str]) -> None:
    read = {"Authorization": f"Bearer {tokens['read']}"}
    with agent.client() as owner, httpx.Client(base_url=agent.base_url) as anon:
        before = agent.handlers.calls
        health = anon.get("/api/v1/health")
        assert health.status_code == 200
        assert agent.handlers.calls == before + 1  # answered by its handler
        assert_security_headers(health)
        assert_security_headers(anon.get("/api/v1/openapi.json"))
        for page in ("/docs", "/docs/assets/swagger-ui.css"):
            assert_security_headers(anon.get(page), page=True)
        assert anon.get("/api/v1/openapi.json").status_code == 200
        assert anon.get("/docs").status_code == 200
        assert anon.get("/docs/assets/swagger-ui-bundle.js").status_code == 200
        assert anon.get("/api/v1/status", headers=read).status_code == 200
        created = owner.post("/api/v1/tasks", json={"title": "allowed"})
        assert created.status_code == 201
        task_id = created.json()["id"]
        assert anon.get(f"/api/v1/tasks/{task_id}", headers=read).status_code == 200
        assert anon.get("/api/v1/tasks", headers=read, params={"q": "allowed"}).json()["items"]
        assert (
            owner.patch(f"/api/v1/tasks/{task_id}", json={"status": "done"}).json()["status"]
            == "done"
        )
        assert owner.delete(f"/api/v1/tasks/{task_id}").status_code == 204
        assert owner.get("/api/v1/tokens").status_code == 200
        assert owner.get("/api/v1/audit").status_code == 200
        # An allowed browser origin with a JSON body passes too.
        assert agent.handlers.calls > before
