"""Streaming benchmark: a child's output read raw against through our API, same run.

    (a) raw: the child's stdout read directly with a read1(65536) loop;
    (b) SSE: the same command started through the agent, read from
        GET /api/v1/runs/{id}/stream;
    (c) WebSocket: the same, read from /api/v1/runs/{id}/ws;
    (d) store: the same bytes, as 64 KiB chunks, written straight into an
        encrypted store with the runner's repository and no API at all.

(b) and (c) keep every byte (the benchmark raises the stored-output cap), so
(d) is the ceiling they run into: a reader that falls behind a flood is fed
from the store.

Measures throughput (payload bytes/s), per-line latency of a child printing a
timestamp every 5 ms (p50/p99), and /api/v1/health latency idle and during a
flood. The agent runs in its own process (bench/api_server.py).

    .venv/bin/python -m bench.stream [--mib 256] [--rounds 3]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from websockets.sync.client import connect as ws_connect
from websockets.typing import Subprotocol

from atom_desktop.core.ids import IdFactory
from atom_desktop.runner.output import CHUNK_BYTES, now
from atom_desktop.store.database import Database
from atom_desktop.store.runs import Chunk, RunRepository
from bench.api import free_port, wait_healthy

TICKER = (
    "import sys, time\n"
    "for _ in range(1000):\n"
    "    sys.stdout.write('%.6f\\n' % time.time()); sys.stdout.flush(); time.sleep(0.005)\n"
)


def flood_command(size: int) -> str:
    return f"yes abcdefghijklmnopqrstuvwxyz0123456789 | head -c {size}"


def raw_throughput(size: int) -> float:
    proc = subprocess.Popen(["sh", "-c", flood_command(size)], stdout=subprocess.PIPE)
    assert isinstance(proc.stdout, io.BufferedReader)
    got = 0
    start = time.perf_counter()
    while chunk := proc.stdout.read1(65536):
        got += len(chunk)
    elapsed = time.perf_counter() - start
    proc.wait()
    assert got == size
    return size / elapsed


def raw_latencies() -> list[float]:
    proc = subprocess.Popen([sys.executable, "-c", TICKER], stdout=subprocess.PIPE)
    assert isinstance(proc.stdout, io.BufferedReader)
    lags = []
    buffer = b""
    while chunk := proc.stdout.read1(65536):
        now = time.time()
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        lags += [(now - float(line)) * 1000 for line in lines if line]
    proc.wait()
    return lags


def store_throughput(size: int, work: Path) -> float:
    """Bytes/s of output chunks written into an encrypted store, saved as the runner saves."""
    db = Database.open(Path(tempfile.mkdtemp(dir=work)) / "atom.db", os.urandom(32))
    try:
        runs = RunRepository(db)
        run_id = IdFactory().new()
        runs.create(
            id=run_id,
            source="api",
            requester=None,
            argv=["flood"],
            shell=None,
            cwd="/",
            env_names=[],
        )
        line = b"abcdefghijklmnopqrstuvwxyz0123456789\n"
        data = (line * (CHUNK_BYTES // len(line) + 1))[:CHUNK_BYTES]
        per_save = 64  # about what a flood leaves between two saves
        start = time.perf_counter()
        seq = 0
        while seq * CHUNK_BYTES < size:
            batch = [Chunk(seq + i + 1, "stdout", now(), data) for i in range(per_save)]
            runs.append_chunks(run_id, batch, last_seq=seq + per_save)
            seq += per_save
        return seq * CHUNK_BYTES / (time.perf_counter() - start)
    finally:
        db.close()


class Agent:
    def __init__(self, work: Path, output_cap_mib: int = 4096) -> None:
        self.port = free_port()
        root = Path(tempfile.mkdtemp(dir=work))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.api_server", "agent", str(self.port), str(root)],
            # Keep every byte: with the default 16 MiB cap a reader that falls
            # behind a flood gets the middle as a "dropped" range instead.
            env={
                **os.environ,
                "ATOM_LOG_LEVEL": "WARNING",
                "ATOM_RUN_OUTPUT_CAP_MIB": str(output_cap_mib),
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        wait_healthy(f"{self.base}/api/v1/health", self.proc)
        self.token = next((root / "config" / "tokens").iterdir()).read_text().strip()
        self.client = httpx.Client(
            base_url=self.base, headers={"Authorization": f"Bearer {self.token}"}, timeout=None
        )

    def start(self, body: dict[str, object]) -> str:
        response = self.client.post("/api/v1/runs", json=body)
        response.raise_for_status()
        return str(response.json()["id"])

    def close(self) -> None:
        self.client.close()
        self.proc.terminate()
        self.proc.wait(30)


def sse_read(agent: Agent, run_id: str, on_text: object = None) -> int:
    got = 0
    with agent.client.stream("GET", f"/api/v1/runs/{run_id}/stream") as response:
        kind = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: ") and kind == "output":
                text = json.loads(line[6:])["text"]
                got += len(text)
                if callable(on_text):
                    on_text(text)
            elif line.startswith("data: ") and kind == "exit":
                break
    return got


def ws_read(agent: Agent, run_id: str) -> int:
    got = 0
    url = f"ws://127.0.0.1:{agent.port}/api/v1/runs/{run_id}/ws"
    protocols = [Subprotocol("bearer"), Subprotocol(agent.token)]
    with ws_connect(url, subprotocols=protocols, max_size=None) as ws:
        while True:
            frame = ws.recv()
            if isinstance(frame, bytes):
                got += len(frame) - 9
            elif json.loads(frame).get("type") == "exit":
                return got


def api_throughput(agent: Agent, size: int, via: str) -> float:
    start = time.perf_counter()
    run_id = agent.start({"shell": flood_command(size)})
    got = sse_read(agent, run_id) if via == "sse" else ws_read(agent, run_id)
    elapsed = time.perf_counter() - start
    assert got == size, (got, size)
    return size / elapsed


def api_latencies(agent: Agent) -> list[float]:
    lags: list[float] = []
    pending = [""]

    def on_text(text: str) -> None:
        now = time.time()
        pending[0] += text
        *lines, pending[0] = pending[0].split("\n")
        lags.extend((now - float(line)) * 1000 for line in lines if line)

    run_id = agent.start({"argv": [sys.executable, "-c", TICKER]})
    sse_read(agent, run_id, on_text)
    return lags


def health_p99(agent: Agent, seconds: float) -> float:
    times = []
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=agent.base) as client:
        while time.monotonic() < deadline:
            start = time.perf_counter()
            client.get("/api/v1/health").raise_for_status()
            times.append((time.perf_counter() - start) * 1000)
    return statistics.quantiles(times, n=100)[98]


# A viewer of the flood, in a process of its own: in this one, its parsing
# would hold our interpreter lock and the health client's timings would
# include waiting for it (5 ms turns), not only the agent's answer. The token
# goes through stdin: a command line is visible to every local process.
SSE_VIEWER = (
    "import sys, httpx\n"
    "url, token = sys.argv[1], sys.stdin.readline().strip()\n"
    "headers = {'Authorization': 'Bearer ' + token}\n"
    "with httpx.stream('GET', url, headers=headers, timeout=None) as response:\n"
    "    for line in response.iter_lines():\n"
    "        if line.startswith('event: exit'):\n"
    "            break\n"
)


def health_during_flood(agent: Agent, size: int) -> float:
    run_id = agent.start({"shell": flood_command(size)})
    url = f"{agent.base}/api/v1/runs/{run_id}/stream"
    viewer = subprocess.Popen([sys.executable, "-c", SSE_VIEWER, url], stdin=subprocess.PIPE)
    assert viewer.stdin is not None
    viewer.stdin.write(f"{agent.token}\n".encode())
    viewer.stdin.close()
    try:
        return health_p99(agent, 3)
    finally:
        viewer.wait(120)


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    size = args.mib * 1024 * 1024
    results: dict[str, list[float]] = {k: [] for k in ("raw", "sse", "ws", "store")}
    lat: dict[str, list[float]] = {"raw": [], "sse": []}
    health: dict[str, list[float]] = {"idle": [], "flood": []}
    with tempfile.TemporaryDirectory(prefix="atom-bench-stream-") as tmp:
        agent = Agent(Path(tmp))
        try:
            for round_ in range(args.rounds):
                results["raw"].append(raw_throughput(size))
                results["sse"].append(api_throughput(agent, size, "sse"))
                results["ws"].append(api_throughput(agent, size, "ws"))
                results["store"].append(store_throughput(size, Path(tmp)))
                lat["raw"] += raw_latencies()
                lat["sse"] += api_latencies(agent)
                health["idle"].append(health_p99(agent, 3))
                health["flood"].append(health_during_flood(agent, 4 * size))
                print(f"round {round_ + 1}/{args.rounds} done", flush=True)
        finally:
            agent.close()

    mib = 1024 * 1024
    raw = statistics.median(results["raw"])
    print()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; {args.mib} MiB per flood, "
        f"median of {args.rounds} rounds"
    )
    print()
    print("| path | MiB/s | vs raw | target |")
    print("|---|---:|---:|---|")
    print(f"| raw read1(65536) | {raw / mib:,.0f} | 1.00x | |")
    for name in ("sse", "ws"):
        value = statistics.median(results[name])
        ratio = statistics.median(v / r for v, r in zip(results[name], results["raw"], strict=True))
        verdict = "met" if ratio >= 0.3 else "MISSED"
        print(f"| {name.upper()} | {value / mib:,.0f} | {ratio:.2f}x | >= 0.3x {verdict} |")
    store = statistics.median(results["store"])
    ratio = statistics.median(v / r for v, r in zip(results["store"], results["raw"], strict=True))
    print(f"| encrypted store alone (ceiling) | {store / mib:,.0f} | {ratio:.2f}x | |")
    raw_p50, raw_p99 = pct(lat["raw"], 50), pct(lat["raw"], 99)
    sse_p50, sse_p99 = pct(lat["sse"], 50), pct(lat["sse"], 99)
    print()
    print(
        f"line latency raw p50 {raw_p50:.2f} ms p99 {raw_p99:.2f} ms; SSE p50 {sse_p50:.2f} ms "
        f"p99 {sse_p99:.2f} ms (target p99 <= raw p99 + 5 ms: "
        f"{'met' if sse_p99 <= raw_p99 + 5 else 'MISSED'})"
    )
    idle = statistics.median(health["idle"])
    flood = statistics.median(health["flood"])
    print(
        f"/health p99 idle {idle:.2f} ms, during a flood {flood:.2f} ms = {flood / idle:.1f}x "
        f"(target <= 3x: {'met' if flood <= 3 * idle else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
