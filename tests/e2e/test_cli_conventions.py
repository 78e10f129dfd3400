"""The command line as a person uses it, against a real agent process.

A reader that goes away (``| head``) ends a command quietly; ``run`` starts
in the caller's directory, says when a timeout stopped it, and cancels its
run on SIGINT, SIGTERM and SIGHUP, even when SIGINT was ignored at launch;
``runs show`` prints ``-`` for what a run does not have.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from atom_desktop.core.statuses import RUN_ACTIVE, RunStatus
from tests.support.agent_process import AgentProcess
from tests.support.agent_process import run_cli as cli

pytestmark = pytest.mark.e2e

CLI = [sys.executable, "-m", "atom_desktop"]
SIGPIPE_EXIT = 128 + 13


def cli_json(env: dict[str, str], *args: str) -> Any:
    done = cli(env, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def cli_in(directory: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI started in ``directory``, to the end."""
    return subprocess.run(
        [*CLI, *args],
        env=env,
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def into_a_closed_pipe(env: dict[str, str], *args: str) -> tuple[int, str]:
    """Run the CLI with stdout a pipe whose reader has gone; its exit code and stderr."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        done = subprocess.run(
            [*CLI, *args],
            env=env,
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(writer)
    return done.returncode, done.stderr


def ended_status(env: dict[str, str], run_id: str) -> str:
    """The run's status once it is no longer running (cancelling takes a moment)."""
    deadline = time.monotonic() + 30
    while True:
        status = str(cli_json(env, "runs", "show", run_id)["status"])
        if status not in RUN_ACTIVE or time.monotonic() > deadline:
            return status
        time.sleep(0.1)


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Client processes a test starts; any still running at the end are killed."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def start_following(
    env: dict[str, str], started: list[subprocess.Popen[bytes]], argv: list[str]
) -> subprocess.Popen[bytes]:
    """``argv`` (the CLI running ``echo started; sleep 300``), once its run has started."""
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    started.append(proc)
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"started\n"  # the run is going
    return proc


LONG_RUN = ["run", "--shell", "echo started; sleep 300"]


# -- 6: a reader that goes away ---------------------------------------------------------


def test_a_reader_that_goes_away_ends_the_command_quietly(
    running: tuple[AgentProcess, dict[str, str]],
) -> None:
    _, env = running
    for title in ("one", "two", "three"):
        assert cli(env, "tasks", "add", title).returncode == 0
    assert cli(env, "run", "--", "true").returncode == 0
    for args in (("runs", "list"), ("tasks", "list"), ("tasks", "list", "--json")):
        code, stderr = into_a_closed_pipe(env, *args)
        assert (code, stderr) == (SIGPIPE_EXIT, ""), args
    # A run whose output nobody reads any more is cancelled, as a pipeline's writer stops.
    code, stderr = into_a_closed_pipe(env, *LONG_RUN)
    assert (code, stderr) == (SIGPIPE_EXIT, "")
    latest = cli_json(env, "runs", "list")["items"][0]
    assert latest["shell"] == LONG_RUN[-1]
    assert ended_status(env, latest["id"]) == RunStatus.CANCELLED


# -- 9, 10: where a run starts, and how it ended -------------------------------------------


def test_run_starts_where_the_caller_is_and_says_why_it_stopped(
    running: tuple[AgentProcess, dict[str, str]], tmp_path: Path
) -> None:
    _, env = running
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    here = cli_in(docs, env, "run", "--", "pwd")
    assert here.returncode == 0, here.stderr
    assert Path(here.stdout.strip()).resolve() == docs.resolve()
    relative = cli_in(docs, env, "run", "--cwd", "sub", "--", "pwd")
    assert relative.returncode == 0, relative.stderr
    assert Path(relative.stdout.strip()).resolve() == (docs / "sub").resolve()

    timed_out = cli(env, "run", "--timeout", "1", "--", "sleep", "30")
    assert timed_out.returncode == 128 + signal.SIGTERM
    assert "atom-desktop: the run timed out after 1 s and was stopped." in timed_out.stderr

    run_id = cli_json(env, "runs", "list")["items"][0]["id"]
    shown = cli(env, "runs", "show", run_id).stdout
    assert "None" not in shown
    assert shown.count(" -\n") >= 2  # no shell, no exit code, no error
    assert f"{'status':15} timed_out\n" in shown
    assert f"{'argv':15} sleep 30\n" in shown


# -- 11: signals to the run client --------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_cancel_the_run(
    running: tuple[AgentProcess, dict[str, str]],
    started: list[subprocess.Popen[bytes]],
    sig: signal.Signals,
) -> None:
    _, env = running
    proc = start_following(env, started, [*CLI, *LONG_RUN])
    run_id = cli_json(env, "runs", "list")["items"][0]["id"]
    proc.send_signal(sig)
    assert proc.wait(30) == 128 + sig
    assert ended_status(env, run_id) == RunStatus.CANCELLED


def test_ctrl_c_cancels_even_when_sigint_was_ignored_at_launch(
    running: tuple[AgentProcess, dict[str, str]],
    started: list[subprocess.Popen[bytes]],
) -> None:
    _, env = running
    # A shell script's `cmd &` starts cmd with SIGINT ignored, and exec keeps it so.
    ignoring = (
        "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
        "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
    )
    proc = start_following(
        env, started, [sys.executable, "-c", ignoring, "-m", "atom_desktop", *LONG_RUN]
    )
    run_id = cli_json(env, "runs", "list")["items"][0]["id"]
    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 128 + signal.SIGTERM  # the child's end: cancelled with SIGTERM
    assert ended_status(env, run_id) == RunStatus.CANCELLED
