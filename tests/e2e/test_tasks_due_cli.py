"""``tasks add --due`` as people write dates, against a real agent process."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.agent_process import AgentProcess
from tests.support.agent_process import run_cli as cli

pytestmark = pytest.mark.e2e


def cli_json(env: dict[str, str], *args: str) -> Any:
    done = cli(env, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_due_takes_local_times_dates_and_words(
    running: tuple[AgentProcess, dict[str, str]],
) -> None:
    _, agent_env_ = running
    env = {**agent_env_, "TZ": "Europe/Paris"}

    def due_of(when: str) -> datetime:
        task = cli_json(env, "tasks", "add", f"due {when}", "--due", when)
        return datetime.fromisoformat(task["due_at"])

    # Paris is UTC+1 in December and UTC+2 in July.
    assert due_of("2026-12-10T09:00") == datetime(2026, 12, 10, 8, 0, tzinfo=UTC)
    assert due_of("2026-07-01T09:00") == datetime(2026, 7, 1, 7, 0, tzinfo=UTC)
    assert due_of("2026-12-10") == datetime(2026, 12, 10, 22, 59, tzinfo=UTC)
    assert due_of("2026-12-10T09:00-05:00") == datetime(2026, 12, 10, 14, 0, tzinfo=UTC)
    for word in ("tomorrow 09:00", "+3d"):
        assert due_of(word) > datetime.now(UTC)
    for word in ("today", "Friday", "fri 17:30", "+4h"):
        assert cli(env, "tasks", "add", word, "--due", word).returncode == 0
    # The list shows the due time as the person wrote it: local, to the minute.
    listing = cli(env, "tasks", "list").stdout
    assert "2026-12-10 09:00  due 2026-12-10T09:00" in listing
    assert "2026-12-10 23:59  due 2026-12-10\n" in listing

    refused = cli(env, "tasks", "add", "never", "--due", "someday")
    assert refused.returncode == 2
    assert "'someday' is not a date" in refused.stderr
    assert "tomorrow 09:00" in refused.stderr
