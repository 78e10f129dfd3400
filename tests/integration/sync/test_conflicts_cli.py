"""``atom-desktop sync conflicts`` against a running agent with a conflict in its inbox."""

from __future__ import annotations

import json
import os
from pathlib import Path

from atom_desktop.config.settings import Settings
from tests.integration.api.conftest import live_agent
from tests.integration.api.test_sync_conflicts import Remote
from tests.support.agent_process import agent_env, run_cli


def test_conflicts_lists_open_ones_and_with_all_the_resolved_ones(tmp_path: Path) -> None:
    data, config = tmp_path / "data", tmp_path / "config"
    settings = Settings(data_dir=data, config_dir=config, port=0)
    with live_agent(settings) as agent, agent.client() as client:
        env = {**agent_env(dict(os.environ), data, config), "ATOM_PORT": str(agent.port)}
        assert run_cli(env, "sync", "conflicts").stdout == "No open conflicts.\n"
        task = client.post("/api/v1/tasks", json={"title": "base"}).json()
        client.patch(f"/api/v1/tasks/{task['id']}", json={"title": "mine"})
        Remote(agent).apply("task", task["id"], {**task, "title": "theirs"})

        human = run_cli(env, "sync", "conflicts")
        assert human.returncode == 0, human.stderr
        header, _, row = human.stdout.splitlines()
        assert header.split() == [
            "ID",
            "WHAT",
            "ROW",
            "KEPT",
            "NOW",
            "HERE",
            "DETECTED",
            "RESOLVED",
        ]
        assert row.split()[:5] == ["1", "task", task["id"], "mine", "theirs"]
        assert row.endswith("open")
        listed = json.loads(run_cli(env, "sync", "conflicts", "--json").stdout)
        assert [item["entity_id"] for item in listed["items"]] == [task["id"]]

        client.post("/api/v1/sync/conflicts/1/dismiss").raise_for_status()
        assert run_cli(env, "sync", "conflicts").stdout == "No open conflicts.\n"
        every = json.loads(run_cli(env, "sync", "conflicts", "--all", "--json").stdout)
        assert every["items"][0]["resolved_at"] is not None
        assert "open" not in run_cli(env, "sync", "conflicts", "--all").stdout.splitlines()[-1]
