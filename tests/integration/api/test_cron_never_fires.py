"""A cron that never fires is refused by a real agent's API, in a preview and in an automation."""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from typing import Any

from tests.integration.api.conftest import LiveAgent

NEVER = "0 0 31 2,4,6,9,11 *"
SPEC: dict[str, Any] = {
    "name": "monthly",
    "triggers": [{"type": "cron", "expression": "0 9 1 * *", "timezone": "Europe/Berlin"}],
    "steps": [{"type": "notify", "title": "first of the month"}],
}


def refused(response: Any, field: str) -> str:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field, error
    message = str(error["message"])
    assert "never fires" in message and "no day 31" in message, message
    return message


def test_preview_refuses_a_cron_that_never_fires_and_shows_a_leap_day(agent: LiveAgent) -> None:
    with agent.client(agent.make_token("automate")) as client:
        response = client.post(
            "/api/v1/automations/preview",
            json={"trigger": {"type": "cron", "expression": NEVER}, "count": 50},
        )
        message = refused(response, "trigger.expression")
        assert "February, April, June, September and November" in message

        leap = client.post(
            "/api/v1/automations/preview",
            json={"trigger": {"type": "cron", "expression": "0 0 29 2 *"}, "count": 3},
        )
        assert leap.status_code == 200, leap.text
        times = [datetime.fromisoformat(t) for t in leap.json()["times"]]
        assert len(times) == 3 and all((t.month, t.day) == (2, 29) for t in times)
        assert [b.year - a.year for a, b in pairwise(times)] == [4, 4]


def test_creating_or_replacing_an_automation_with_a_cron_that_never_fires_is_refused(
    agent: LiveAgent,
) -> None:
    never = {"type": "cron", "expression": NEVER}
    with agent.client() as client:
        response = client.post(
            "/api/v1/automations", json={**SPEC, "triggers": [*SPEC["triggers"], never]}
        )
        refused(response, "triggers[1].expression")
        assert client.get("/api/v1/automations").json()["items"] == []

        made = client.post("/api/v1/automations", json=SPEC)
        assert made.status_code == 201, made.text
        assert made.json()["next_fire_at"] is not None
        automation_id = made.json()["id"]
        response = client.put(
            f"/api/v1/automations/{automation_id}", json={**SPEC, "triggers": [never]}
        )
        refused(response, "triggers[0].expression")
        # The automation keeps its schedule.
        kept = client.get(f"/api/v1/automations/{automation_id}").json()
        assert kept["spec"]["triggers"] == made.json()["spec"]["triggers"]
        assert kept["next_fire_at"] == made.json()["next_fire_at"]
