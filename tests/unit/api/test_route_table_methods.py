"""The methods a path is served with, for a 405's Allow header."""

from __future__ import annotations

from atom_desktop.api.security import PUBLIC, RouteTable


def test_every_method_of_every_route_of_a_path_and_no_websocket() -> None:
    routes = RouteTable()
    routes.add("/api/v1/tasks", ("GET",), "read")
    routes.add("/api/v1/tasks", ("POST",), "automate")
    routes.add("/api/v1/tasks/{task_id}", ("PATCH",), "automate")
    routes.add("/api/v1/runs/{run_id}/ws", ("WEBSOCKET",), "run")
    routes.add_prefix("/docs/assets", PUBLIC)
    assert routes.methods_at("/api/v1/tasks") == ["GET", "POST"]
    assert routes.methods_at("/api/v1/tasks/t1") == ["PATCH"]
    assert routes.methods_at("/api/v1/runs/r1/ws") == []
    assert routes.methods_at("/docs/assets/a.css") == ["GET", "HEAD"]
    assert routes.methods_at("/api/v1/nothing") == []
