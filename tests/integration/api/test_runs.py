"""Runs through the real agent: real subprocesses, real server, stored output."""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect
from websockets.typing import Origin, Subprotocol

from atom_desktop import runtime as runtime_module
from atom_desktop.agent_thread import AgentThread
from atom_desktop.config.settings import Settings
from atom_desktop.core.events import RunnerPaused
from atom_desktop.core.ids import IdFactory
from atom_desktop.platform import terminal
from atom_desktop.runner import service as runner_service
from atom_desktop.runtime import Runtime
from atom_desktop.store.runs import RunRepository
from tests.integration.api.conftest import LiveAgent, live_agent

PY = sys.executable
# Every run starts under its own supervisor interpreter (about 70 ms), so a
# thousand runs took well over a minute of the suite; a zombie left per run,
# or per few runs, shows just as well in three hundred.
SHORT_RUNS = 300


def start(client: httpx.Client, **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/runs", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def wait_done(client: httpx.Client, run_id: str, timeout: float = 60) -> dict[str, Any]:
    """Poll the run's record until it has ended (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = client.get(f"/api/v1/runs/{run_id}").json()
        if record["status"] not in ("queued", "running"):
            return dict(record)
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not end in {timeout} s")


def output(client: httpx.Client, run_id: str, stream: str = "stdout") -> bytes:
    response = client.get(f"/api/v1/runs/{run_id}/output", params={"stream": stream})
    assert response.headers["content-type"] == "application/octet-stream"
    return response.content


def events(
    client: httpx.Client, run_id: str, headers: dict[str, str] | None = None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """The run's SSE events as (event, data) pairs."""
    with client.stream(
        "GET", f"/api/v1/runs/{run_id}/stream", headers=headers or {}, timeout=60
    ) as response:
        assert response.status_code == 200
        kind = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                yield kind, json.loads(line.removeprefix("data: "))


def wait_for_prompt(client: httpx.Client, run_id: str, prompt: str) -> None:
    """Read the run's output until it ends with ``prompt``.

    Type only once the prompt shows, as a person would: a terminal program
    may discard what was typed before it was ready.
    """
    shown_so_far = ""
    for kind, data in events(client, run_id):
        if kind == "output":
            shown_so_far += data["text"]
            if shown_so_far.endswith(prompt):
                return
    raise AssertionError(f"the run ended without showing {prompt!r}: {shown_so_far!r}")


def printed_digest(command: str) -> tuple[str, int]:
    """SHA-256 and size of what ``command`` prints when run directly."""
    printed = subprocess.run(command.split(), capture_output=True, check=True).stdout
    return hashlib.sha256(printed).hexdigest(), len(printed)


def stored_digest(client: httpx.Client, run_id: str) -> str:
    """SHA-256 of the run's stored stdout, streamed (floods are hundreds of MiB)."""
    stored = hashlib.sha256()
    with client.stream("GET", f"/api/v1/runs/{run_id}/output?stream=stdout") as response:
        for piece in response.iter_bytes():
            stored.update(piece)
    return stored.hexdigest()


def py(code: str) -> list[str]:
    return [PY, "-c", textwrap.dedent(code)]


def test_output_read_in_threads_as_on_windows_is_the_same(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Windows's loop cannot watch a pipe, so there each output is read in a
    # thread; forced here, a flood and a quiet run must store exactly what
    # their commands print.
    monkeypatch.setattr(
        runtime_module,
        "RunnerSettings",
        partial(runner_service.RunnerSettings, threaded_output=True),
    )
    flood = "seq 1 2000000"  # about 15 MiB: under the cap, so all of it is kept
    expected, size = printed_digest(flood)
    go = tmp_path / "go"
    quiet = f"""
        import pathlib, sys, time
        print("waiting", flush=True)
        sys.stderr.write("on stderr\\n"); sys.stderr.flush()
        deadline = time.monotonic() + 30
        while not pathlib.Path({str(go)!r}).exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        print("done")
    """
    with live_agent(settings) as agent, agent.client() as client:
        quiet_id = start(client, argv=py(quiet))["id"]
        deadline = time.monotonic() + 30
        names: list[str] = []
        # Both outputs of the waiting run are read by threads of their own.
        while len(names) < 2:
            assert time.monotonic() < deadline, f"no reader threads: {names}"
            names = [t.name for t in threading.enumerate() if t.name.startswith("atom-output-")]
            time.sleep(0.02)
        assert {name.rsplit("-", 1)[0] for name in names} == {
            "atom-output-stdout",
            "atom-output-stderr",
        }
        go.touch()
        quiet_run = wait_done(client, quiet_id)
        flood_run = wait_done(client, start(client, shell=flood)["id"])
        assert quiet_run["status"] == flood_run["status"] == "succeeded"
        assert output(client, quiet_id) == b"waiting\ndone\n"
        assert output(client, quiet_id, "stderr") == b"on stderr\n"
        assert flood_run["stdout_bytes"] == size
        assert flood_run["dropped_bytes"] == 0
        assert stored_digest(client, flood_run["id"]) == expected


def test_output_is_byte_exact_and_each_stream_in_order(agent: LiveAgent) -> None:
    emoji = "\N{GRINNING FACE}".encode()
    code = f"""
        import sys, time
        out, err = sys.stdout.buffer, sys.stderr.buffer
        out.write(b"\\xff\\xfe"); out.flush(); time.sleep(0.05)
        out.write({emoji[:2]!r}); out.flush(); time.sleep(0.05)
        out.write({emoji[2:]!r}); out.flush()
        for i in range(300):
            err.write(b"e%d\\n" % i); err.flush()
        out.write(b"x" * (10 * 1024 * 1024)); out.flush()
        out.write(b"no newline at the end")
    """
    with agent.client() as client:
        run = wait_done(client, start(client, argv=py(code))["id"])
        assert run["status"] == "succeeded"
        stdout = output(client, run["id"])
        assert stdout == b"\xff\xfe" + emoji + b"x" * (10 * 1024 * 1024) + b"no newline at the end"
        assert output(client, run["id"], "stderr") == b"".join(b"e%d\n" % i for i in range(300))
        assert run["stdout_bytes"] == len(stdout)
        # The live view decodes incrementally: the split emoji arrives whole.
        texts = [
            d["text"]
            for k, d in events(client, run["id"])
            if k == "output" and d["stream"] == "stdout"
        ]
        joined = "".join(texts)
        assert joined.startswith("\ufffd\ufffd\N{GRINNING FACE}x")
        assert joined.endswith("no newline at the end")


def test_partial_line_arrives_while_the_child_still_runs(agent: LiveAgent) -> None:
    code = """
        import sys
        sys.stdout.write("waiting for you"); sys.stdout.flush()
        line = sys.stdin.readline()
        sys.stdout.write(" got " + line)
    """
    with agent.client() as client:
        run_id = start(client, argv=py(code))["id"]
        seen = ""
        for kind, data in events(client, run_id):
            if kind == "output":
                seen += data["text"]
                if seen == "waiting for you":
                    # Still running: answer on stdin, which the child waits for.
                    assert client.get(f"/api/v1/runs/{run_id}").json()["status"] == "running"
                    response = client.post(
                        f"/api/v1/runs/{run_id}/input", json={"text": "hi\n", "close": True}
                    )
                    assert response.status_code == 204
            elif kind == "exit":
                assert data["status"] == "succeeded"
                assert data["exit_code"] == 0
                break
        assert seen == "waiting for you got hi\n"


def _wait_for_process(cmdline: str, timeout: float = 10) -> psutil.Process:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in psutil.process_iter(["cmdline"]):
            if " ".join(proc.info["cmdline"] or []) == cmdline:
                return proc
        time.sleep(0.02)
    raise AssertionError(f"{cmdline!r} did not start")


def _no_sleepers_left(marker: str, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [
            p
            for p in psutil.process_iter(["cmdline", "status"])
            if marker in " ".join(p.info["cmdline"] or [])
            and p.info["status"] != psutil.STATUS_ZOMBIE
        ]
        if not alive:
            return True
        time.sleep(0.05)
    return False


def test_cancel_ends_detached_and_double_forked_descendants(
    agent: LiveAgent, tmp_path: Path
) -> None:
    daemon = tmp_path / "daemon.py"
    daemon.write_text(
        textwrap.dedent("""
        import os, sys, time
        if os.fork() > 0:
            sys.exit(0)
        os.setsid()
        if os.fork() > 0:
            os._exit(0)
        time.sleep(300)
    """)
    )
    # Unique durations and marker: nothing else on the machine matches them.
    tag = str(os.getpid() % 1000)
    sleeps = [f"sleep 30{i}.{tag}" for i in range(1, 5)]
    marker = f"atom-test-daemon-{tmp_path.name}"
    with agent.client() as client:
        tree = start(client, shell=f"{sleeps[0]} & setsid {sleeps[1]} & ({sleeps[2]} &) ; wait")[
            "id"
        ]
        forked = start(client, shell=f"{PY} {daemon} {marker}; {sleeps[3]}")["id"]
        for cmdline in sleeps:
            _wait_for_process(cmdline)
        for run_id in (tree, forked):
            assert client.post(f"/api/v1/runs/{run_id}/cancel").status_code == 202
        assert wait_done(client, tree)["status"] == "cancelled"
        assert wait_done(client, forked)["status"] == "cancelled"
    for needle in (*sleeps, marker):
        assert _no_sleepers_left(needle), f"{needle} survived the cancel"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_many_short_runs_leave_no_zombies(agent: LiveAgent) -> None:
    with agent.client() as client:
        ids = [start(client, shell="true & exit 0")["id"] for _ in range(SHORT_RUNS)]
        for run_id in ids:
            record = wait_done(client, run_id)
            assert record["status"] == "succeeded", record
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        zombies = [
            p
            for p in psutil.Process().children(recursive=True)
            if p.status() == psutil.STATUS_ZOMBIE
        ]
        if not zombies:
            break
        time.sleep(0.05)
    assert zombies == []


def test_wall_and_idle_timeouts(agent: LiveAgent) -> None:
    with agent.client() as client:
        wall = start(client, argv=["sleep", "30"], timeout_s=0.5)["id"]
        idle = start(client, shell="echo started; sleep 30", idle_timeout_s=0.5)["id"]
        for run_id in (wall, idle):
            record = wait_done(client, run_id, timeout=15)
            assert record["status"] == "timed_out"
            assert record["signal"] == 15
        assert output(client, idle) == b"started\n"


def test_runs_beyond_the_limit_wait_in_a_queue(settings: Settings) -> None:
    with (
        live_agent(settings.model_copy(update={"max_concurrent_runs": 1})) as agent,
        agent.client() as client,
    ):
        first = start(client, argv=py("import sys; sys.stdin.read()"))["id"]
        second = start(client, argv=["echo", "second"])["id"]
        assert client.get(f"/api/v1/runs/{second}").json()["status"] == "queued"
        client.post(f"/api/v1/runs/{first}/input", json={"close": True})
        assert wait_done(client, first)["status"] == "succeeded"
        assert wait_done(client, second)["status"] == "succeeded"
        assert output(client, second) == b"second\n"


def test_a_paused_runner_holds_queued_runs_until_resumed(agent: LiveAgent) -> None:
    paused: list[bool] = []
    agent.runtime.bus.subscribe(
        lambda e: paused.append(e.payload.paused) if isinstance(e.payload, RunnerPaused) else None
    )
    runner = agent.runtime.runner
    with agent.client() as client:
        agent.host.call(runner.async_pause()).result(10)
        held = start(client, argv=["echo", "held"])["id"]
        dropped = start(client, argv=["echo", "never"])["id"]
        assert client.get(f"/api/v1/runs/{held}").json()["status"] == "queued"
        # A queued run can still be cancelled while the runner is paused.
        assert client.post(f"/api/v1/runs/{dropped}/cancel").status_code == 202
        assert wait_done(client, dropped)["status"] == "cancelled"
        assert client.get(f"/api/v1/runs/{held}").json()["status"] == "queued"
        agent.host.call(runner.async_resume()).result(10)
        assert wait_done(client, held)["status"] == "succeeded"
        assert output(client, held) == b"held\n"
    assert paused == [True, False]


def test_pause_and_cancel_reach_runs_waiting_for_a_slot(settings: Settings) -> None:
    with (
        live_agent(settings.model_copy(update={"max_concurrent_runs": 1})) as agent,
        agent.client() as client,
    ):
        runner = agent.runtime.runner
        first = start(client, argv=py("import sys; sys.stdin.read()"))["id"]
        waiting = start(client, argv=["echo", "waited"])["id"]
        doomed = start(client, argv=["echo", "never"])["id"]
        # The slot is taken (the first run waits for its stdin): cancelling a
        # run queued behind it ends that run now, not when the slot frees up.
        assert client.post(f"/api/v1/runs/{doomed}/cancel").status_code == 202
        assert wait_done(client, doomed, timeout=10)["status"] == "cancelled"
        # Paused, a run already waiting for the slot does not take it when it frees.
        agent.host.call(runner.async_pause()).result(10)
        client.post(f"/api/v1/runs/{first}/input", json={"close": True})
        assert wait_done(client, first)["status"] == "succeeded"
        while runner.is_active(first):
            time.sleep(0.01)
        assert client.get(f"/api/v1/runs/{waiting}").json()["status"] == "queued"
        agent.host.call(runner.async_resume()).result(10)
        assert wait_done(client, waiting)["status"] == "succeeded"


def test_child_environment_has_no_secrets_and_no_extra_fds(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = os.urandom(32).hex()
    token = "atom_" + "t" * 43
    monkeypatch.setenv("ATOM_ENCRYPTION_KEY", key)
    monkeypatch.setenv("ATOM_API_TOKEN", token)
    monkeypatch.setenv("INNOCENT_LOOKING", token)
    with live_agent(
        Settings(data_dir=settings.data_dir, config_dir=settings.config_dir, port=0)
    ) as agent:
        assert agent.owner_token == token
        with agent.client() as client:
            env_run = wait_done(client, start(client, argv=["env"], env={"MINE": "1"})["id"])
            fd_run = start(client, argv=["sleep", "30.5"])["id"]
            child = _wait_for_process("sleep 30.5")
            # Looked at from outside, so the looking opens no descriptor in the child.
            assert sorted(p.name for p in Path(f"/proc/{child.pid}/fd").iterdir()) == [
                "0",
                "1",
                "2",
            ]
            client.post(f"/api/v1/runs/{fd_run}/cancel")
            assert wait_done(client, fd_run)["status"] == "cancelled"
            env_out = output(client, env_run["id"])
            assert key.encode() not in env_out
            assert token.encode() not in env_out
            names = {line.split(b"=", 1)[0] for line in env_out.splitlines()}
            # Only the run's own id, which marks its descendants, is passed on.
            assert {n for n in names if n.startswith(b"ATOM_")} == {b"ATOM_RUN_ID"}
            assert b"MINE=1\n" in env_out


def test_resume_after_disconnect_loses_and_duplicates_nothing(agent: LiveAgent) -> None:
    code = """
        import sys, time
        for i in range(40):
            sys.stdout.write("line %03d " % i + "y" * 3000 + "\\n"); sys.stdout.flush()
            time.sleep(0.01)
    """
    with agent.client() as client:
        run_id = start(client, argv=py(code))["id"]
        first: list[dict[str, Any]] = []
        for kind, data in events(client, run_id):
            if kind == "output":
                first.append(data)
                if len(first) == 5:
                    break  # disconnect mid-run
        last = first[-1]["seq"]
        rest: list[dict[str, Any]] = []
        exit_seen: dict[str, Any] = {}
        for kind, data in events(client, run_id, headers={"Last-Event-ID": str(last)}):
            if kind == "output":
                rest.append(data)
            elif kind == "exit":
                exit_seen = data
                break
        seqs = [d["seq"] for d in first + rest]
        assert seqs == list(range(1, len(seqs) + 1))
        assert exit_seen["last_seq"] == seqs[-1]
        text = "".join(d["text"] for d in first + rest)
        assert text.encode() == output(client, run_id)


def test_output_over_the_cap_keeps_head_and_tail(settings: Settings) -> None:
    capped = settings.model_copy(update={"run_output_cap_mib": 1})
    code = """
        import sys
        for i in range(4096):
            sys.stdout.write("%06d" % i + "z" * 1017 + "\\n")
    """
    with live_agent(capped) as agent, agent.client() as client:
        run = wait_done(client, start(client, argv=py(code))["id"])
        stored = output(client, run["id"])
        assert run["stdout_bytes"] == 4096 * 1024
        assert run["dropped_bytes"] > 0
        assert len(stored) + run["dropped_bytes"] == run["stdout_bytes"]
        assert stored.startswith(b"000000")
        assert stored.endswith(b"004095" + b"z" * 1017 + b"\n")
        kinds = [k for k, _ in events(client, run["id"])]
        assert "dropped" in kinds
        assert kinds[-1] == "exit"


def test_bad_requests_are_refused_clearly(agent: LiveAgent) -> None:
    with agent.client() as client:
        both = client.post("/api/v1/runs", json={"argv": ["true"], "shell": "true"})
        assert both.status_code == 422
        missing_cwd = client.post("/api/v1/runs", json={"argv": ["true"], "cwd": "/no/such/dir"})
        assert missing_cwd.status_code == 400
        assert "does not exist" in missing_cwd.json()["error"]["message"]
        agent_env = client.post(
            "/api/v1/runs", json={"argv": ["true"], "env": {"ATOM_API_TOKEN": "x"}}
        )
        assert agent_env.status_code == 422
        missing_program = wait_done(client, start(client, argv=["/no/such/program"])["id"])
        assert missing_program["status"] == "failed"
        assert "could not start" in missing_program["error"]
        done = wait_done(client, start(client, argv=["true"])["id"])
        assert client.post(f"/api/v1/runs/{done['id']}/cancel").status_code == 409
        assert client.delete(f"/api/v1/runs/{done['id']}").status_code == 204
        assert client.get(f"/api/v1/runs/{done['id']}").status_code == 404


def test_denied_command_is_refused_named_and_audited(settings: Settings) -> None:
    strict = settings.model_copy(update={"deny_commands": (r"\bshutdown\b",)})
    with live_agent(strict) as agent, agent.client() as client:
        before = client.get("/api/v1/runs").json()["items"]
        for body, rule in (
            ({"shell": "rm -rf /"}, "rm-root"),
            ({"argv": ["mkfs.ext4", "/dev/sdz"]}, "mkfs"),
            ({"shell": "sudo shutdown -h now"}, r"settings:\bshutdown\b"),
        ):
            response = client.post("/api/v1/runs", json=body)
            assert response.status_code == 403
            error = response.json()["error"]
            assert error["code"] == "command_denied"
            assert error["rule"] == rule
        assert client.get("/api/v1/runs").json()["items"] == before  # nothing was run
        audit = client.get("/api/v1/audit").json()["items"]
        refused = [e for e in audit if e["action"] == "POST /api/v1/runs" and e["status"] == 403]
        assert len(refused) == 3
        assert all(e["token_name"] == "owner" and e["result"] == "refused" for e in refused)


def test_runs_a_crash_left_running_become_interrupted(settings: Settings) -> None:
    # What a crash leaves behind: records still queued or running.
    runtime = Runtime(settings)
    host = AgentThread(lambda: runtime)
    host.start_and_wait()
    try:
        ids = IdFactory()
        left = [
            runtime.store.runs.create(
                id=ids.new(),
                source="api",
                requester="owner",
                argv=["sleep", "9"],
                shell=None,
                cwd="/",
                env_names=[],
                timeout_s=None,
                idle_timeout_s=None,
            )
            for _ in range(2)
        ]
        runtime.store.runs.update(left[1].id, status="running")
    finally:
        # Stop without the runner seeing these rows as its own: they stay as they are.
        host.stop()
    with live_agent(settings) as agent, agent.client() as client:
        for record in left:
            assert client.get(f"/api/v1/runs/{record.id}").json()["status"] == "interrupted"


@pytest.mark.slow
def test_a_gigabyte_flood_with_a_slow_viewer_keeps_memory_bounded(agent: LiveAgent) -> None:
    me = psutil.Process()
    with agent.client() as client:
        start_rss = me.memory_info().rss
        peak = start_rss
        run_id = start(client, shell="head -c 1073741824 /dev/zero")["id"]
        received = 0
        t0 = time.monotonic()
        with client.stream("GET", f"/api/v1/runs/{run_id}/stream", timeout=120) as response:
            for raw in response.iter_raw(16384):
                received += len(raw)
                # About 1 MB/s: far slower than the child writes.
                if received > (time.monotonic() - t0) * 1_000_000:
                    time.sleep(0.01)
                peak = max(peak, me.memory_info().rss)
                if client.get(f"/api/v1/runs/{run_id}").json()["status"] != "running":
                    break
        record = wait_done(client, run_id, timeout=120)
        peak = max(peak, me.memory_info().rss)
    assert record["status"] == "succeeded"
    assert record["stdout_bytes"] == 1024**3
    cap = 16 * 1024 * 1024
    stored = 1024**3 - record["dropped_bytes"]
    # Whole chunks are kept, so the log is the cap less at most a chunk or two.
    assert cap - 2 * 65536 <= stored <= cap
    assert peak - start_rss < 64 * 1024 * 1024, f"RSS grew by {(peak - start_rss) / 2**20:.0f} MiB"


@pytest.mark.slow
def test_a_flood_under_a_large_cap_is_kept_whole_in_bounded_memory(settings: Settings) -> None:
    # The store writes slower than `seq` prints: the runner must stop reading
    # while it catches up, not hold the difference in memory.
    command = "seq 1 40000000"  # about 330 MiB
    expected, size = printed_digest(command)
    large = settings.model_copy(update={"run_output_cap_mib": 1024})
    me = psutil.Process()
    with live_agent(large) as agent, agent.client() as client:
        start_rss = peak = me.memory_info().rss
        run_id = start(client, shell=command)["id"]
        deadline = time.monotonic() + 180
        while client.get(f"/api/v1/runs/{run_id}").json()["status"] in ("queued", "running"):
            assert time.monotonic() < deadline, "the flood did not end in 180 s"
            peak = max(peak, me.memory_info().rss)
            time.sleep(0.05)
        record = wait_done(client, run_id)
        stored = stored_digest(client, run_id)
    assert record["status"] == "succeeded"
    assert record["dropped_bytes"] == 0
    assert stored == expected
    # Unsaved output (32 MiB at most), the database's page cache (64 MiB) and
    # the saved tail kept for viewers (8 MiB); without the pause it was the flood.
    grown = (peak - start_rss) / 2**20
    assert grown < 160, f"RSS grew by {grown:.0f} MiB during a {size >> 20} MiB flood"


class FailingSaves:
    """Stands in for RunRepository.save_output: raises as a full disk would, ``times`` times."""

    def __init__(self, times: float) -> None:
        self.left = times
        self.failed = 0
        self.real = RunRepository.save_output

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        def save_output(repo: RunRepository, *args: Any, **kwargs: Any) -> None:
            if self.left > 0:
                self.left -= 1
                self.failed += 1
                raise OSError(28, "No space left on device")
            self.real(repo, *args, **kwargs)

        monkeypatch.setattr(RunRepository, "save_output", save_output)


@pytest.mark.slow
def test_a_store_that_fails_for_a_while_loses_no_output(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    command = "seq 1 12000000"  # about 90 MiB: past the 32 MiB that may wait in memory
    expected, _ = printed_digest(command)
    saves = FailingSaves(times=4)
    saves.install(monkeypatch)
    large = settings.model_copy(update={"run_output_cap_mib": 1024})
    with live_agent(large) as agent, agent.client() as client:
        record = wait_done(client, start(client, shell=command)["id"], timeout=120)
        stored = stored_digest(client, record["id"])
    assert saves.failed == 4
    assert record["status"] == "succeeded", record
    assert record["dropped_bytes"] == 0
    assert stored == expected


def test_a_run_whose_output_cannot_be_stored_still_ends_when_cancelled(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    saves = FailingSaves(times=math.inf)
    saves.install(monkeypatch)
    large = settings.model_copy(update={"run_output_cap_mib": 1024})
    with live_agent(large) as agent, agent.client() as client:
        run_id = start(client, shell="seq 1 1000000000")["id"]
        deadline = time.monotonic() + 30
        # Three tries of the saver: by then `seq` has printed far more than
        # the 32 MiB the runner holds, and waits for a store that never takes it.
        while saves.failed < 3:
            assert agent.runtime.runner.is_active(run_id)
            assert time.monotonic() < deadline, "the saver never ran"
            time.sleep(0.05)
        assert client.post(f"/api/v1/runs/{run_id}/cancel").status_code == 202
        record = wait_done(client, run_id, timeout=30)
    assert record["status"] == "cancelled"
    assert "could not store its output" in record["error"]
    assert "No space left on device" in record["error"]


def test_pty_input_larger_than_the_terminal_buffer_arrives_whole(agent: LiveAgent) -> None:
    # A terminal takes a few KiB of typing at a time; the rest must wait for
    # the program to read, not be cut off. The program turns the terminal's
    # echo off first: echoes of the typing are written whenever the line
    # discipline has room, so under load they landed inside the program's
    # answer ("got" ... "END" ... " 200000").
    code = """
        import sys, termios
        attrs = termios.tcgetattr(0)
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(0, termios.TCSANOW, attrs)
        print("ready> ", end="", flush=True)
        count = 0
        for line in sys.stdin:
            if line == "END\\n":
                break
            count += len(line)
        print("got", count)
    """
    typing = ("x" * 99 + "\n") * 2000
    with agent.client() as client:
        run_id = start(client, argv=py(code), pty=True)["id"]
        wait_for_prompt(client, run_id, "ready> ")
        typed = client.post(f"/api/v1/runs/{run_id}/input", json={"text": typing + "END\n"})
        assert typed.status_code == 204, typed.text
        record = wait_done(client, run_id)
        assert record["status"] == "succeeded", record
        assert output(client, run_id) == b"ready> got 200000\r\n"


def test_websocket_streams_tagged_bytes_takes_stdin_and_cancel(agent: LiveAgent) -> None:
    with agent.client() as client:
        echo = (
            "import sys\n"
            "for line in sys.stdin: sys.stdout.write(line.upper()); sys.stdout.flush()\n"
        )
        run_id = start(client, argv=py(echo + "sys.stderr.write('bye')"))["id"]
        url = f"ws://127.0.0.1:{agent.port}/api/v1/runs/{run_id}/ws"
        protocols = [Subprotocol("bearer"), Subprotocol(agent.owner_token)]
        with ws_connect(url, subprotocols=protocols, open_timeout=10) as ws:
            ws.send(b"hello\n")
            ws.send(json.dumps({"type": "stdin", "text": "again\n"}))
            ws.send(json.dumps({"type": "close_stdin"}))
            out, err, exit_message = b"", b"", None
            while exit_message is None:
                frame = ws.recv(timeout=30)
                if isinstance(frame, bytes):
                    tag, data = frame[0], frame[9:]
                    if tag == 1:
                        out += data
                    else:
                        err += data
                else:
                    message = json.loads(frame)
                    if message["type"] == "exit":
                        exit_message = message
        assert out == b"HELLO\nAGAIN\n"
        assert err == b"bye"
        assert exit_message["status"] == "succeeded"

        sleeper = start(client, argv=["sleep", "60"])["id"]
        with ws_connect(
            f"ws://127.0.0.1:{agent.port}/api/v1/runs/{sleeper}/ws",
            additional_headers={"Authorization": f"Bearer {agent.owner_token}"},
            open_timeout=10,
        ) as ws:
            ws.send(json.dumps({"type": "cancel"}))
            while True:
                frame = ws.recv(timeout=30)
                if isinstance(frame, str) and json.loads(frame)["type"] == "exit":
                    assert json.loads(frame)["status"] == "cancelled"
                    break
    with pytest.raises(InvalidStatus) as refused:
        ws_connect(
            url, origin=Origin("http://evil.example"), subprotocols=protocols, open_timeout=10
        ).close()
    assert refused.value.response.status_code == 403


def test_pty_mode_gives_the_child_a_terminal_and_its_colours(agent: LiveAgent) -> None:
    code = """
        import os, sys
        if not sys.stdout.isatty():
            sys.exit(print("pipe"))
        print("tty", os.get_terminal_size().columns)
        if sys.stdout.isatty():
            print("\\x1b[31mred\\x1b[0m")
        print("got", input("> "))
    """
    with agent.client() as client:
        run_id = start(client, argv=py(code), pty=True)["id"]
        wait_for_prompt(client, run_id, "> ")
        typed = client.post(f"/api/v1/runs/{run_id}/input", json={"text": "typed\n"})
        assert typed.status_code == 204
        record = wait_done(client, run_id)
        assert record["status"] == "succeeded", record
        shown = output(client, run_id)
        assert shown.startswith(b"tty 120\r\n")
        assert b"\x1b[31mred\x1b[0m\r\n" in shown
        assert shown.endswith(b"> typed\r\ngot typed\r\n")  # the terminal echoes the typing
        plain = wait_done(client, start(client, argv=py(code))["id"])
        assert output(client, plain["id"]) == b"pipe\n"


def test_a_terminal_run_where_there_are_no_terminals_fails_saying_so(
    agent: LiveAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As on Windows: the run fails before anything starts, and says what to do instead.
    monkeypatch.setattr(runner_service, "open_pty", terminal.windows_open_pty)
    with agent.client() as client:
        record = wait_done(client, start(client, argv=py("print('ran')"), pty=True)["id"])
        assert record["status"] == "failed", record
        assert "no pseudo-terminals" in record["error"]
        assert output(client, record["id"]) == b""
        plain = wait_done(client, start(client, argv=py("print('ran')"))["id"])
        assert output(client, plain["id"]) == b"ran\n"
