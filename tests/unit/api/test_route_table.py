from __future__ import annotations

from atom_desktop.api.security import PUBLIC, SEEN_PATHS, RouteTable


def http(method: str, path: str) -> dict[str, object]:
    return {"type": "http", "method": method, "path": path}


def table() -> RouteTable:
    routes = RouteTable()
    routes.add("/api/v1/health", ("GET",), PUBLIC)
    routes.add("/api/v1/tasks", ("GET",), "read")
    routes.add("/api/v1/tasks", ("POST",), "write")
    routes.add("/api/v1/tasks/{task_id}", ("GET",), "read")
    routes.add("/api/v1/tasks/{task_id}", ("DELETE",), "write")
    routes.add_prefix("/docs/assets", PUBLIC)
    return routes


def test_scope_and_template_by_method_and_path() -> None:
    routes = table()
    assert routes.lookup(http("GET", "/api/v1/health")) == (PUBLIC, "/api/v1/health")
    assert routes.lookup(http("HEAD", "/api/v1/health")) == (PUBLIC, "/api/v1/health")
    assert routes.lookup(http("POST", "/api/v1/tasks")) == ("write", "/api/v1/tasks")
    assert routes.lookup(http("DELETE", "/api/v1/tasks/t1")) == (
        "write",
        "/api/v1/tasks/{task_id}",
    )
    assert routes.lookup(http("GET", "/docs/assets/a.js")) == (PUBLIC, "/docs/assets/*")
    # Unknown paths and methods need a token to be told they do not exist.
    assert routes.lookup(http("PUT", "/api/v1/tasks")) == ("read", "/api/v1/tasks")
    assert routes.lookup(http("GET", "/api/v1/nothing")) == ("read", "/api/v1/nothing")


def test_answers_stay_right_for_more_paths_than_are_remembered() -> None:
    routes = table()
    for round_ in range(2):
        for i in range(SEEN_PATHS + 500):
            found = routes.lookup(http("DELETE", f"/api/v1/tasks/t{i}"))
            assert found == ("write", "/api/v1/tasks/{task_id}"), (round_, i)
    assert len(routes._seen) <= SEEN_PATHS  # memory stays bounded
    assert routes.lookup(http("GET", "/api/v1/tasks/t1/extra")) == (
        "read",
        "/api/v1/tasks/t1/extra",
    )


def test_a_route_added_later_is_seen_by_paths_looked_up_before() -> None:
    routes = table()
    assert routes.lookup(http("GET", "/api/v1/later")) == ("read", "/api/v1/later")
    routes.add("/api/v1/later", ("GET",), "admin")
    assert routes.lookup(http("GET", "/api/v1/later")) == ("admin", "/api/v1/later")
