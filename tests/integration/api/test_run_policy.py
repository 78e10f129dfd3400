"""The command policy through a real agent's API: it refuses what a command runs, not its text."""

from __future__ import annotations

from typing import Any

from tests.integration.api.conftest import LiveAgent
from tests.integration.api.test_runs import output, start, wait_done


def test_a_run_is_refused_for_the_command_it_runs_not_for_text_it_prints(
    agent: LiveAgent,
) -> None:
    with agent.client(agent.make_token("run", "read")) as client:
        before = client.get("/api/v1/runs").json()["items"]
        refused: list[tuple[dict[str, Any], str, str]] = [
            ({"shell": "sudo rm -rf /"}, "rm-root", "(in the command `sudo rm -rf /`)"),
            ({"shell": "true && bash -c 'rm -fr ~'"}, "rm-root", "every file in your home"),
            ({"argv": ["/bin/rm", "-r", "-f", "/"]}, "rm-root", "every file on the machine"),
            ({"shell": "echo $(dd if=/dev/zero of=/dev/sda)"}, "raw-disk-write", "/dev/sda"),
        ]
        for body, rule, words in refused:
            response = client.post("/api/v1/runs", json=body)
            assert response.status_code == 403, (body, response.text)
            error = response.json()["error"]
            assert error["code"] == "command_denied" and error["rule"] == rule, error
            assert error["message"].startswith(f"Refused by rule {rule}: "), error
            assert words in error["message"], error
        assert client.get("/api/v1/runs").json()["items"] == before  # nothing was run

        for body in ({"shell": "echo rm -rf /"}, {"argv": ["echo", "rm", "-rf", "/"]}):
            run = wait_done(client, start(client, **body)["id"])
            assert run["status"] == "succeeded" and run["exit_code"] == 0, run
            assert output(client, run["id"]) == b"rm -rf /\n"
