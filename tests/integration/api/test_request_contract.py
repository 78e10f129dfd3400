"""Request bodies: the agent takes what its OpenAPI document allows, and only that.

Each case below is a request a client tool (schemathesis, a generated client)
was seen to get wrong: the document said one thing and the agent did
another. The document's side is read from the live agent's own document, so
a test fails if either half changes alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.api.conftest import LiveAgent

SHELL_STEP = {"type": "shell", "shell": "true"}
AUTOMATION = {"name": "contract", "steps": [SHELL_STEP]}


def document(client: httpx.Client) -> dict[str, Any]:
    """The agent's OpenAPI document."""
    return dict(client.get("/api/v1/openapi.json").json())


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """``schema``, or what its ``$ref`` names."""
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def request_schema(doc: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    """The JSON body schema of an operation."""
    body = doc["paths"][path][method]["requestBody"]["content"]["application/json"]
    return resolve(doc, body["schema"])


def types_of(doc: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    """The JSON types a (possibly ``anyOf``) schema allows."""
    schema = resolve(doc, schema)
    if "anyOf" in schema:
        return set().union(*(types_of(doc, s) for s in schema["anyOf"]))
    kind = schema.get("type")
    return {kind} if isinstance(kind, str) else set(kind or ())


def post_raw(client: httpx.Client, path: str, text: str) -> httpx.Response:
    """POST ``text`` as JSON as it is (httpx would refuse to write NaN)."""
    return client.post(path, content=text, headers={"Content-Type": "application/json"})


@pytest.fixture
def client(agent: LiveAgent) -> Iterator[httpx.Client]:
    """A client with the owner token."""
    with agent.client() as client:
        yield client


def test_a_change_to_a_task_says_in_the_document_that_null_is_no_status(
    client: httpx.Client,
) -> None:
    task = client.post("/api/v1/tasks", json={"title": "t"}).json()
    schema = request_schema(document(client), "/api/v1/tasks/{task_id}", "patch")
    for field in ("title", "notes", "status", "priority", "tags"):
        assert "null" not in types_of(document(client), schema["properties"][field]), field
        response = client.patch(f"/api/v1/tasks/{task['id']}", json={field: None})
        assert response.status_code == 422, (field, response.text)
    # due_at may be null, and is in the document: it clears the due date.
    assert "null" in types_of(document(client), schema["properties"]["due_at"])
    set_due = client.patch(f"/api/v1/tasks/{task['id']}", json={"due_at": "2030-01-02T03:04:05Z"})
    assert set_due.status_code == 200 and set_due.json()["due_at"] is not None
    cleared = client.patch(f"/api/v1/tasks/{task['id']}", json={"due_at": None})
    assert cleared.status_code == 200 and cleared.json()["due_at"] is None


def test_a_run_is_one_of_argv_or_shell_in_the_document_and_in_the_agent(
    client: httpx.Client,
) -> None:
    doc = document(client)
    body = request_schema(doc, "/api/v1/runs", "post")
    shapes = [resolve(doc, s) for s in body["oneOf"]]
    assert sorted(tuple(s["required"]) for s in shapes) == [("argv",), ("shell",)]
    # 'args' is an automation step's, not published for runs.
    assert all("args" not in s["properties"] for s in shapes)
    for bad in ({}, {"argv": ["true"], "shell": "true"}, {"cwd": "/tmp"}):
        response = client.post("/api/v1/runs", json=bad)
        assert response.status_code == 422, (bad, response.text)
        assert "exactly one of 'argv'" in response.json()["error"]["message"]
    args = client.post("/api/v1/runs", json={"shell": 'echo "$@"', "args": ["x"]})
    assert args.status_code == 422
    assert "automation steps" in args.json()["error"]["message"]
    for good in ({"argv": ["true"]}, {"shell": "true"}):
        assert client.post("/api/v1/runs", json=good).status_code == 201, good


@pytest.mark.parametrize(
    "tag", ["\u00a0", " ", "\u2003\t", "\u3000"], ids=["nbsp", "space", "em-tab", "ideographic"]
)
def test_a_blank_tag_is_refused_by_the_published_pattern_and_by_the_agent(
    client: httpx.Client, tag: str
) -> None:
    tags = request_schema(document(client), "/api/v1/tasks", "post")["properties"]["tags"]
    item = tags["items"]
    assert len(tag) >= item["minLength"]
    assert re.search(item["pattern"], tag) is None
    response = client.post("/api/v1/tasks", json={"title": "t", "tags": [tag]})
    assert response.status_code == 422, response.text
    # A tag the pattern takes is stored without the spaces around it.
    stored = client.post("/api/v1/tasks", json={"title": "t", "tags": [f"{tag}home{tag}"]})
    assert stored.status_code == 201 and stored.json()["tags"] == ["home"]


def test_step_environment_names_are_published_and_checked_alike(client: httpx.Client) -> None:
    doc = document(client)
    schemas = doc["components"]["schemas"]
    names = schemas["ShellStep"]["properties"]["env"]["propertyNames"]
    for name, ok in (("PATH_2", True), ("_x", True), ("2X", False), ("A-B", False), ("", False)):
        published = re.search(names["pattern"], name) is not None
        assert published is ok, name
        spec = {**AUTOMATION, "steps": [{**SHELL_STEP, "env": {name: "v"}}]}
        response = client.post("/api/v1/automations", json=spec)
        assert response.status_code == (201 if ok else 422), (name, response.text)
    # ATOM_* are the agent's own: refused, and the document says so.
    assert re.search(names["not"]["pattern"], "atom_token")
    spec = {**AUTOMATION, "steps": [{**SHELL_STEP, "env": {"Atom_Token": "v"}}]}
    assert client.post("/api/v1/automations", json=spec).status_code == 422


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/api/v1/automations",
            {**AUTOMATION, "steps": [{**SHELL_STEP, "continue_on_failure": 0}]},
        ),
        ("/api/v1/automations", {**AUTOMATION, "notify": {"failure": 0}}),
        ("/api/v1/automations", {**AUTOMATION, "enabled": "true"}),
        ("/api/v1/automations", {**AUTOMATION, "timeout_s": "60"}),
        ("/api/v1/runs", {"argv": ["true"], "timeout_s": True}),
        ("/api/v1/runs", {"argv": ["true"], "idle_timeout_s": False}),
        ("/api/v1/runs", {"argv": ["true"], "pty": "yes"}),
        ("/api/v1/runs", {"argv": ["true"], "pty": 1}),
        ("/api/v1/tasks", {"title": "t", "priority": "2"}),
        ("/api/v1/tasks", {"title": "t", "priority": True}),
        ("/api/v1/tasks", {"title": "t", "due_at": 1_900_000_000}),
        ("/api/v1/tasks", {"title": "t", "due_at": "2030-01-02"}),
        ("/api/v1/runs/some-run/input", {"text": "x", "close": 1}),
    ],
    ids=lambda value: value if isinstance(value, str) else json.dumps(value)[-40:],
)
def test_a_value_of_another_json_type_is_refused_not_converted(
    client: httpx.Client, path: str, body: dict[str, Any]
) -> None:
    response = client.post(path, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_input"


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_a_number_that_is_not_finite_is_refused_saying_so(
    client: httpx.Client, number: str
) -> None:
    for path, body in (
        ("/api/v1/runs", f'{{"argv": ["true"], "timeout_s": {number}}}'),
        ("/api/v1/automations", json.dumps(AUTOMATION)[:-1] + f', "timeout_s": {number}}}'),
    ):
        response = post_raw(client, path, body)
        assert response.status_code == 422, (path, response.text)
        message = response.json()["error"]["message"]
        assert "finite number" in message, message
        assert "604800" not in message


def test_a_nul_is_refused_in_task_text_as_in_runs(client: httpx.Client) -> None:
    for body in (
        {"title": "a\x00b"},
        {"title": "t", "notes": "a\x00b"},
        {"title": "t", "tags": ["a\x00b"]},
        {"title": "t", "external_id": "a\x00b"},
    ):
        response = client.post("/api/v1/tasks", json=body)
        assert response.status_code == 422, (body, response.text)
        assert "NUL" in response.json()["error"]["message"]
    task = client.post("/api/v1/tasks", json={"title": "t"}).json()
    changed = client.patch(f"/api/v1/tasks/{task['id']}", json={"title": "a\x00b"})
    assert changed.status_code == 422
    assert client.get(f"/api/v1/tasks/{task['id']}").json()["title"] == "t"
    assert client.post("/api/v1/runs", json={"argv": ["echo", "a\x00b"]}).status_code == 422


def test_what_a_pattern_cannot_say_the_document_says_in_words(client: httpx.Client) -> None:
    # The OpenAPI test accepts a 422 for a schema-valid cron or glob only for
    # these rules: they must stay in the document.
    schemas = document(client)["components"]["schemas"]
    expression = schemas["CronSchedule"]["properties"]["expression"]
    assert "31 February" in expression["description"]
    assert "422" in expression["description"]
    trigger = next(s for name, s in schemas.items() if name.startswith("FileTrigger"))
    globs = trigger["properties"]["include"]["items"]
    assert "[z-a]" in globs["description"] and "422" in globs["description"]
    bad = {"type": "file", "paths": ["/tmp"], "include": ["[z-a]"]}
    response = client.post("/api/v1/automations", json={**AUTOMATION, "triggers": [bad]})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "triggers[0].include[0]"
