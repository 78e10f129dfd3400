"""Streaming benchmark: a child's output read raw against through our API, same run.

    (a) raw: the child's stdout read directly with a read1(65536) loop;
    (b) SSE: the same command started through the agent, read from
        GET /api/v1/runs/{id}/stream;
    (c) WebSocket: the same, read from /api/v1/runs/{id}/ws;
    (d) store: the same bytes, as 64 KiB chunks, written straight into an
        encrypted store with the runner's repository and no API at all.

(b) and (c) run twice: on an agent whose stored-output cap is raised so every
byte is kept (a viewer that falls behind a flood catches up from the store,
so (d) is their ceiling), and on an agent with the default cap (16 MiB),
where a viewer that falls behind gets the middle of the flood as a "dropped"
range: there the bytes delivered and their share of the flood are reported.

Measures throughput (payload bytes/s), per-line latency of a child printing a
timestamp every 5 ms (p50/p99), and /api/v1/health latency idle, during a
flood (both at the default cap, as a person runs the agent) and, for
reference, with the agent idle while one busy process per core saturates
the machine: what the operating system's scheduling alone costs. The agents run
in their own processes (bench/api_server.py).

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
import psutil
from websockets.sync.client import connect as ws_connect
from websockets.typing import Subprotocol

from atom_desktop.core.ids import IdFactory
from atom_desktop.core.output import Chunk
from atom_desktop.runner.output import CHUNK_BYTES, now
from atom_desktop.store.database import Database
from atom_desktop.store.runs import RunRepository
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
    def __init__(self, work: Path, output_cap_mib: int | None = None) -> None:
        self.port = free_port()
        root = Path(tempfile.mkdtemp(dir=work))
        env = {**os.environ, "ATOM_LOG_LEVEL": "WARNING"}
        env.pop("ATOM_RUN_OUTPUT_CAP_MIB", None)
        if output_cap_mib is not None:
            env["ATOM_RUN_OUTPUT_CAP_MIB"] = str(output_cap_mib)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.api_server", "agent", str(self.port), str(root)],
            env=env,
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


def api_throughput(agent: Agent, size: int, via: str) -> tuple[float, float]:
    """Payload bytes/s the viewer received up to the exit event, and their share of the flood."""
    start = time.perf_counter()
    run_id = agent.start({"shell": flood_command(size)})
    got = sse_read(agent, run_id) if via == "sse" else ws_read(agent, run_id)
    elapsed = time.perf_counter() - start
    return got / elapsed, got / size


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


# One CPU-bound process per core for a few seconds.
BUSY = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end: pass\n"


def health_on_a_busy_machine(agent: Agent, seconds: float) -> float:
    """/health p99 of the idle agent while other processes keep every core busy.

    A reference for the flood measurement: what the operating system's
    scheduling costs on a saturated machine before the agent does any work.
    """
    code = BUSY.format(seconds=seconds + 1)
    hogs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(os.cpu_count() or 1)]
    try:
        # Measure once every one of them is burning CPU, not while they start.
        for hog in hogs:
            process = psutil.Process(hog.pid)
            while sum(process.cpu_times()[:2]) < 0.05:
                time.sleep(0.01)
        return health_p99(agent, seconds)
    finally:
        for hog in hogs:
            hog.wait(30)


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


def ratio(values: list[float], raws: list[float]) -> float:
    """Median of the per-round ratios (each round's raw read is its own baseline)."""
    return statistics.median(v / r for v, r in zip(values, raws, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    size = args.mib * 1024 * 1024
    raws: list[float] = []
    store: list[float] = []
    # (cap, path) -> per round (bytes/s received, share of the flood received)
    through: dict[tuple[str, str], list[tuple[float, float]]] = {}
    lat: dict[str, list[float]] = {"raw": [], "sse": []}
    health: dict[str, list[float]] = {"idle": [], "flood": [], "busy": []}
    with tempfile.TemporaryDirectory(prefix="atom-bench-stream-") as tmp:
        keep_all = Agent(Path(tmp), output_cap_mib=4096)
        default = Agent(Path(tmp))
        try:
            for round_ in range(args.rounds):
                raws.append(raw_throughput(size))
                for cap, agent in (("all", keep_all), ("default", default)):
                    for via in ("sse", "ws"):
                        through.setdefault((cap, via), []).append(api_throughput(agent, size, via))
                store.append(store_throughput(size, Path(tmp)))
                lat["raw"] += raw_latencies()
                lat["sse"] += api_latencies(default)
                health["idle"].append(health_p99(default, 3))
                health["flood"].append(health_during_flood(default, 4 * size))
                health["busy"].append(health_on_a_busy_machine(default, 3))
                print(f"round {round_ + 1}/{args.rounds} done", flush=True)
        finally:
            keep_all.close()
            default.close()

    mib = 1024 * 1024
    print()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; {args.mib} MiB per flood, "
        f"median of {args.rounds} rounds"
    )
    print()
    print("| path | MiB/s | vs raw | share of the flood received | target |")
    print("|---|---:|---:|---:|---|")
    print(f"| raw read1(65536) | {statistics.median(raws) / mib:,.0f} | 1.00x | 100% | |")
    for cap, label in (("all", "every byte kept"), ("default", "default 16 MiB cap")):
        for via in ("sse", "ws"):
            rates = [rate for rate, _ in through[cap, via]]
            share = min(share for _, share in through[cap, via])
            value = ratio(rates, raws)
            # Only a complete delivery counts: bytes dropped cost no time.
            verdict = "met" if value >= 0.3 and share == 1 else "MISSED"
            print(
                f"| {via.upper()}, {label} | {statistics.median(rates) / mib:,.0f} | "
                f"{value:.2f}x | {share:.0%} (least) | >= 0.3x of every byte: {verdict} |"
            )
    print(
        f"| encrypted store alone (the ceiling of every byte kept) | "
        f"{statistics.median(store) / mib:,.0f} | {ratio(store, raws):.2f}x | | |"
    )
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
    busy = statistics.median(health["busy"])
    rounds = zip(health["idle"], health["flood"], health["busy"], strict=True)
    print(
        f"/health p99 idle {idle:.2f} ms, during a flood {flood:.2f} ms = {flood / idle:.1f}x "
        f"(target <= 3x: {'met' if flood <= 3 * idle else 'MISSED'}); "
        f"agent idle with every core busy: {busy:.2f} ms = {busy / idle:.1f}x"
    )
    per_round = ", ".join(f"{i:.2f}/{f:.2f}/{b:.2f}" for i, f, b in rounds)
    print(f"idle/flood/busy per round (ms): {per_round}")


if __name__ == "__main__":
    main()
