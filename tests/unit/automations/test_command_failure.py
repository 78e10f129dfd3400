"""The sentence a failed shell step leaves in an automation's history."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from atom_desktop.automations.steps import command_failure
from atom_desktop.core.statuses import RunStatus
from atom_desktop.store.runs import RunRecord

ENDED = RunRecord(
    id="r1",
    source="automation",
    requester="automation:nightly",
    argv=None,
    shell="make",
    cwd="/tmp",
    env_names=[],
    status=RunStatus.FAILED,
    exit_code=None,
    signal=None,
    error=None,
    timeout_s=None,
    idle_timeout_s=None,
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
    started_at=None,
    ended_at=None,
    stdout_bytes=0,
    stderr_bytes=0,
    dropped_bytes=0,
    last_seq=0,
    peak_rss=None,
    cpu_s=None,
)


@pytest.mark.parametrize(
    ("changes", "sentence"),
    [
        ({"exit_code": 4}, "The command failed with exit code 4."),
        ({"signal": 9}, "The command was ended by signal 9."),
        (
            {"error": "could not start 'mkae': No such file or directory"},
            "The command failed: could not start 'mkae': No such file or directory.",
        ),
        ({}, "The command failed."),
        ({"status": "cancelled", "signal": 15}, "The command was cancelled."),
        (
            {"status": "timed_out", "signal": 15, "timeout_s": 1.0},
            "The command timed out after 1 s and was stopped.",
        ),
        (
            {"status": "timed_out", "signal": 15, "idle_timeout_s": 2.5},
            "The command printed nothing for 2.5 s and was stopped.",
        ),
        (
            {"status": "timed_out", "timeout_s": 9.0, "idle_timeout_s": 2.0},
            "The command timed out and was stopped.",
        ),
        (
            {"status": "interrupted"},
            "The command was interrupted: the agent stopped while it ran.",
        ),
    ],
)
def test_each_ending_reads_as_a_sentence(changes: dict[str, object], sentence: str) -> None:
    assert command_failure(replace(ENDED, **changes)) == sentence  # type: ignore[arg-type]
