"""GET /api/v1/runs/{id}/output through the real agent: exact bytes, bounded memory."""

from __future__ import annotations

import hashlib
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import psutil
import pytest

from atom_desktop.config.settings import Settings
from atom_desktop.store.runs import RunRepository
from tests.integration.api.conftest import LiveAgent, live_agent

MIB = 1024 * 1024
LINE = 4096  # the pattern's line: its number, dots, a newline


def pattern_code(mib: int) -> str:
    """A child that prints ``mib`` MiB of numbered lines, and a few lines on stderr."""
    return textwrap.dedent(f"""
        import sys
        out, err = sys.stdout.buffer, sys.stderr.buffer
        for i in range({mib * MIB // LINE}):
            out.write(b"%08d" % i + b"." * {LINE - 9} + b"\\n")
            if i % 8192 == 0:
                err.write(b"err %d\\n" % i)
    """)


def pattern_digest(mib: int) -> str:
    digest = hashlib.sha256()
    for i in range(mib * MIB // LINE):
        digest.update(b"%08d" % i + b"." * (LINE - 9) + b"\n")
    return digest.hexdigest()


def start(client: httpx.Client, **body: Any) -> str:
    response = client.post("/api/v1/runs", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def wait_done(client: httpx.Client, run_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = client.get(f"/api/v1/runs/{run_id}").json()
        if record["status"] not in ("queued", "running"):
            return dict(record)
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not end in {timeout} s")


def downloaded_when(
    client: httpx.Client, run_id: str, stream: str, wanted: bytes, timeout: float = 30
) -> httpx.Response:
    """Download ``stream`` until it is ``wanted`` (the child prints it at its own pace)."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"/api/v1/runs/{run_id}/output", params={"stream": stream})
        assert response.status_code == 200
        if response.content == wanted:
            return response
        assert wanted.startswith(response.content), response.content
        assert time.monotonic() < deadline, f"{stream} was {response.content!r}, not {wanted!r}"
        time.sleep(0.05)


class PeakRss:
    """The most this process's RSS rose above where it was at the start, sampled in a thread."""

    def __init__(self) -> None:
        self._me = psutil.Process()
        self.start = self.peak = self._me.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="rss-sampler")

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, self._me.memory_info().rss)

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.start) / MIB

    @contextmanager
    def sampling(self) -> Iterator[PeakRss]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()
            self.peak = max(self.peak, self._me.memory_info().rss)


@pytest.mark.slow
def test_a_large_output_downloads_exactly_in_bounded_memory(settings: Settings) -> None:
    # The agent runs in this process, so this process's RSS is the agent's
    # (plus a client that never holds more than one read of the body).
    mib = 256
    large = settings.model_copy(update={"run_output_cap_mib": 1024})
    with live_agent(large) as agent, agent.client() as client:
        run_id = start(client, argv=[sys.executable, "-c", pattern_code(mib)])
        record = wait_done(client, run_id)
        assert record["status"] == "succeeded", record
        assert record["stdout_bytes"] == mib * MIB
        assert record["dropped_bytes"] == 0
        digest = hashlib.sha256()
        received = 0
        with (
            PeakRss().sampling() as rss,
            client.stream("GET", f"/api/v1/runs/{run_id}/output", timeout=120) as response,
        ):
            assert response.status_code == 200
            assert response.headers["content-type"] == "application/octet-stream"
            assert response.headers["content-length"] == str(mib * MIB)
            # The security layer's headers reach a streamed answer too.
            assert response.headers["x-content-type-options"] == "nosniff"
            for piece in response.iter_raw():
                received += len(piece)
                digest.update(piece)
        assert received == mib * MIB
        assert digest.hexdigest() == pattern_digest(mib)
        assert rss.growth_mib < 64, f"RSS grew by {rss.growth_mib:.0f} MiB serving {mib} MiB"

        stderr = client.get(f"/api/v1/runs/{run_id}/output", params={"stream": "stderr"})
        assert stderr.content == b"".join(
            b"err %d\n" % i for i in range(0, mib * MIB // LINE, 8192)
        )
        assert stderr.headers["content-length"] == str(len(stderr.content))

        # A client that goes away half way costs the agent nothing lasting.
        with client.stream("GET", f"/api/v1/runs/{run_id}/output", timeout=120) as response:
            taken = 0
            for piece in response.iter_raw():
                taken += len(piece)
                if taken > 8 * MIB:
                    break
        assert client.get("/api/v1/health").status_code == 200
        again = client.get(f"/api/v1/runs/{run_id}/output", params={"stream": "stderr"})
        assert again.content == stderr.content


def test_output_of_an_unknown_run_is_404_and_an_empty_stream_is_empty(agent: LiveAgent) -> None:
    with agent.client() as client:
        missing = client.get("/api/v1/runs/0190f5a0-0000-7000-8000-000000000000/output")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"
        run_id = start(client, argv=["echo", "only stdout"])
        wait_done(client, run_id)
        empty = client.get(f"/api/v1/runs/{run_id}/output", params={"stream": "stderr"})
        assert empty.status_code == 200
        assert empty.content == b""
        assert empty.headers["content-length"] == "0"
        bad = client.get(f"/api/v1/runs/{run_id}/output", params={"stream": "both"})
        assert bad.status_code == 422


def test_a_running_run_gives_what_it_printed_so_far_stored_or_not(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The store takes nothing, so the run's output exists only in the runner's memory.
    def failing_save(repo: RunRepository, *args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(RunRepository, "save_output", failing_save)
    code = """
        import sys
        sys.stdout.write("to stdout\\n"); sys.stdout.flush()
        sys.stderr.write("to stderr\\n"); sys.stderr.flush()
        sys.stdin.read()
    """
    with live_agent(settings) as agent, agent.client() as client:
        run_id = start(client, argv=[sys.executable, "-c", textwrap.dedent(code)])
        for stream, printed in (("stdout", b"to stdout\n"), ("stderr", b"to stderr\n")):
            response = downloaded_when(client, run_id, stream, printed)
            assert response.headers["content-type"] == "application/octet-stream"
            assert "content-length" not in response.headers  # the run is still going
        assert agent.runtime.runner.is_active(run_id)
        assert agent.runtime.store.runs.output(run_id, "stdout") == b""  # nothing stored
        assert client.post(f"/api/v1/runs/{run_id}/cancel").status_code == 202
        assert wait_done(client, run_id, timeout=30)["status"] == "cancelled"
