"""What the API says about paths and methods it does not serve (RFC 9110)."""

from __future__ import annotations

import re

import httpx

from tests.integration.api.conftest import LiveAgent

UNDECLARED = ("TRACE", "PUT", "PATCH", "DELETE", "POST", "GET", "OPTIONS")


def documented_methods(agent: LiveAgent) -> dict[str, set[str]]:
    """Each documented path (parameters filled in) and the methods the API serves there.

    A path the document names literally is that template's alone, whatever
    templates with parameters would match it too: ``/automations/preview``
    has POST only, though it has the shape of ``/automations/{automation_id}``.
    """
    with agent.client() as client:
        doc = client.get("/api/v1/openapi.json").json()
    templates = {
        re.compile("^" + "[^/]+".join(map(re.escape, re.split(r"\{[^}]+\}", t))) + "$"): {
            method.upper() for method in operations
        }
        for t, operations in doc["paths"].items()
    }
    paths = {re.sub(r"\{[^}]+\}", "some-id", t) for t in doc["paths"]}
    return {
        path: (
            {m.upper() for m in doc["paths"][path]}
            if path in doc["paths"]
            else {
                m for pattern, methods in templates.items() if pattern.match(path) for m in methods
            }
        )
        for path in paths
    }


def test_every_undeclared_method_is_405_with_every_method_of_the_path_in_allow(
    agent: LiveAgent,
) -> None:
    paths = documented_methods(agent)
    # Served but not in the document: the docs page and its files.
    paths["/docs"] = {"GET"}
    paths["/docs/assets/swagger-ui.css"] = {"GET", "HEAD"}
    checked = 0
    with agent.client() as client:
        for path, methods in paths.items():
            for method in UNDECLARED:
                if method in methods:
                    continue
                response = client.request(method, path, json={} if method != "GET" else None)
                assert response.status_code == 405, (method, path, response.text)
                assert response.json()["error"]["code"] == "method_not_allowed"
                allowed = {m.strip() for m in response.headers["allow"].split(",")}
                # Every method of the path, not only those of the route the router hit first.
                assert allowed == methods, (method, path)
                checked += 1
    assert checked > 100


def test_without_a_token_an_undeclared_method_is_still_401(agent: LiveAgent) -> None:
    with httpx.Client(base_url=agent.base_url, timeout=10) as anon:
        response = anon.request("TRACE", "/api/v1/tasks")
    assert response.status_code == 401
    assert "allow" not in response.headers


def test_root_and_a_guessed_openapi_path_point_to_the_docs_without_a_token(
    agent: LiveAgent,
) -> None:
    before = agent.handlers.calls
    with httpx.Client(base_url=agent.base_url, timeout=10) as anon:
        for path in ("/", "/openapi.json"):
            response = anon.get(path)
            assert response.status_code == 404, (path, response.text)
            error = response.json()["error"]
            assert error["code"] == "not_found"
            assert "/docs" in error["message"]
            assert "/api/v1/openapi.json" in error["message"]
            assert (error["docs"], error["openapi"]) == ("/docs", "/api/v1/openapi.json")
            # The Host check still applies to them.
            assert anon.get(path, headers={"Host": "evil.example"}).status_code == 400
        # Any other unknown path still needs a token to be told it does not exist.
        assert anon.get("/api/v2/tasks").status_code == 401
    assert agent.handlers.calls == before


def test_an_unknown_path_with_a_token_is_404_with_the_same_pointer(agent: LiveAgent) -> None:
    with agent.client() as client:
        response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    error = response.json()["error"]
    assert (error["docs"], error["openapi"]) == ("/docs", "/api/v1/openapi.json")
