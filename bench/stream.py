"""Streaming benchmark: a child's output read raw against through our API, same run.

    (a) raw: the child's stdout read directly with a read1(65536) loop;
    (b) SSE: the same command started through the agent, read from
        GET /api/v1/runs/{id}/stream;
    (c) WebSocket: the same, read from /api/v1/runs/{id}/ws;
    (d) store: the same bytes, as 64 KiB chunks, written straight into an
        encrypted store with the runner's repository and no API at all;
    (e) output download: a run's stored output (1 GiB by default) read
        with GET /api/v1/runs/{id}/output, against the same bytes read
        straight from the store: MiB/s and the agent's RSS growth.

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

For (e) an agent whose cap is above the output stores it from a real run
(a flood of --download-mib MiB); each round then downloads it over loopback
while the agent's RSS is sampled, reads it straight from the database file in
this process with one query on a raw SQLCipher connection (the baseline), and
with the repository's pages the route itself reads (what the API adds over
those is the HTTP path alone).

    .venv/bin/python -m bench.stream [--mib 256] [--rounds 3] [--download-mib 1024]
        [--parts stream,download]
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from pathlib import Path

import httpx
import psutil
from websockets.sync.client import connect as ws_connect
from websockets.typing import Subprotocol

from atom_desktop.core.ids import IdFactory
from atom_desktop.core.output import Chunk
from atom_desktop.runner.output import CHUNK_BYTES, now
from atom_desktop.store.database import Database
from atom_desktop.store.engine import build_engine, connect
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
    def __init__(
        self, work: Path, output_cap_mib: int | None = None, key: bytes | None = None
    ) -> None:
        self.port = free_port()
        self.root = root = Path(tempfile.mkdtemp(dir=work))
        env = {**os.environ, "ATOM_LOG_LEVEL": "WARNING"}
        env.pop("ATOM_RUN_OUTPUT_CAP_MIB", None)
        env.pop("ATOM_ENCRYPTION_KEY", None)
        if output_cap_mib is not None:
            env["ATOM_RUN_OUTPUT_CAP_MIB"] = str(output_cap_mib)
        if key is not None:
            # Given, so this process can open the agent's database too.
            env["ATOM_ENCRYPTION_KEY"] = key.hex()
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


class PeakRss:
    """The most a process's RSS rose above where it was at the start, sampled in a thread."""

    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self.start = self.peak = self._process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample)

    def _sample(self) -> None:
        # /proc/PID/statm read every 5 ms: a page of output takes longer to
        # pass through the agent than that, so a peak is not missed.
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)

    @property
    def growth(self) -> int:
        return self.peak - self.start


def stored_run(agent: Agent, size: int) -> str:
    """A finished run whose stdout of ``size`` bytes is stored whole."""
    run_id = agent.start({"shell": flood_command(size)})
    while (record := agent.client.get(f"/api/v1/runs/{run_id}").json())["status"] in (
        "queued",
        "running",
    ):
        time.sleep(0.2)
    assert record["status"] == "succeeded", record
    assert record["stdout_bytes"] == size and record["dropped_bytes"] == 0, record
    return run_id


@dataclasses.dataclass
class Reading:
    """One read of a run's whole stdout: how fast, and the CPU it took."""

    rate: float  # bytes/s
    cpu: float  # CPU seconds of the reader (for GET: the agent process)
    client_cpu: float = 0.0  # GET: CPU seconds of the client's thread
    first_byte: float = 0.0  # GET: seconds to the first byte of the body
    growth: int = 0  # GET: the agent's peak RSS growth, bytes


def download(agent: Agent, run_id: str, size: int) -> Reading:
    """GET /runs/{id}/output to the last byte, the agent's RSS sampled meanwhile."""
    got = 0
    first = 0.0
    process = psutil.Process(agent.proc.pid)
    agent_cpu = sum(process.cpu_times()[:2])
    client_cpu = time.thread_time()
    with PeakRss(agent.proc.pid) as rss:
        start = time.perf_counter()
        with agent.client.stream("GET", f"/api/v1/runs/{run_id}/output") as response:
            response.raise_for_status()
            assert response.headers["content-length"] == str(size)
            for piece in response.iter_raw():
                if not got:
                    first = time.perf_counter() - start
                got += len(piece)
        elapsed = time.perf_counter() - start
    assert got == size
    return Reading(
        size / elapsed,
        sum(process.cpu_times()[:2]) - agent_cpu,
        client_cpu=time.thread_time() - client_cpu,
        first_byte=first,
        growth=rss.growth,
    )


def store_read(path: Path, key: bytes, run_id: str, size: int) -> Reading:
    """The run's stdout read in one query on a raw SQLCipher connection."""
    conn = connect(path, key)
    try:
        got = 0
        cpu = time.thread_time()
        start = time.perf_counter()
        cursor = conn.execute(
            "SELECT data FROM run_chunks WHERE run_id = ? AND stream = 'stdout' ORDER BY seq",
            (run_id,),
        )
        while rows := cursor.fetchmany(16):
            for (data,) in rows:
                got += len(data)
        elapsed = time.perf_counter() - start
        cpu = time.thread_time() - cpu
    finally:
        conn.close()
    assert got == size
    return Reading(size / elapsed, cpu)


def paged_read(path: Path, key: bytes, run_id: str, size: int) -> Reading:
    """The run's stdout read with the repository's pages, as the route reads it."""
    # The agent's database is open in the agent: no second migration or
    # integrity check (Database.open), only engines over it.
    opener = partial(connect, path, key)
    db = Database(path, build_engine(opener, writer=True), build_engine(opener, writer=False))
    try:
        got = 0
        cpu = time.thread_time()
        start = time.perf_counter()
        for page in RunRepository(db).stream_pages(run_id, "stdout"):
            got += sum(len(chunk.data) for chunk in page)
        elapsed = time.perf_counter() - start
        cpu = time.thread_time() - cpu
    finally:
        db.close()
    assert got == size
    return Reading(size / elapsed, cpu)


@dataclasses.dataclass
class Downloads:
    """Every reading of the download part, and each one's baseline."""

    readings: dict[str, list[Reading]]  # store, paged, http
    # Per round, for paged and http: the mean rate of the two store reads
    # just before and just after it (bytes/s).
    baselines: dict[str, list[float]]


def measure_download(work: Path, size: int, rounds: int) -> Downloads:
    """Rounds of GET and paged reads, each between two store reads (its baseline)."""
    key = os.urandom(32)
    agent = Agent(work, output_cap_mib=max(4096, 2 * size // 2**20), key=key)
    try:
        start = time.perf_counter()
        run_id = stored_run(agent, size)
        print(f"{size / 2**20:,.0f} MiB stored in {time.perf_counter() - start:.1f} s", flush=True)
        path = agent.root / "data" / "atom.db"
        ways = {
            "store": partial(store_read, path, key),
            "paged": partial(paged_read, path, key),
            "http": partial(download, agent),
        }
        found = Downloads({name: [] for name in ways}, {"paged": [], "http": []})
        store = found.readings["store"]
        store.append(ways["store"](run_id, size))
        # On a shared machine the load changes from one read to the next: a
        # store read right before and right after each measured read makes
        # its baseline, so drift hits both sides of a ratio alike.
        for round_ in range(rounds):
            for name in ("http", "paged") if round_ % 2 == 0 else ("paged", "http"):
                found.readings[name].append(ways[name](run_id, size))
                store.append(ways["store"](run_id, size))
                found.baselines[name].append((store[-2].rate + store[-1].rate) / 2)
            print(f"download round {round_ + 1}/{rounds} done", flush=True)
        return found
    finally:
        agent.close()


def print_download(found: Downloads, mib: int) -> None:
    megabyte = 1024 * 1024
    gib = mib / 1024
    readings = found.readings
    rates = {name: [reading.rate for reading in rows] for name, rows in readings.items()}
    http = readings["http"]
    worst = max(reading.growth for reading in http) / megabyte
    value = ratio(rates["http"], found.baselines["http"])
    verdict = "met" if value >= 0.5 and worst < 64 else "MISSED"
    rows = (
        ("store, one query, raw connection (the baseline)", "store", ""),
        ("store, the route's pages (RunRepository.stream_pages)", "paged", ""),
        (
            "GET /runs/{id}/output",
            "http",
            f"{worst:.1f} MiB (worst round) | >= 0.5x, < 64 MiB: {verdict}",
        ),
    )
    print()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; output download, {mib} MiB stored, "
        f"{len(http)} rounds, medians (ratios: of each read to the store reads around it)"
    )
    print()
    print("| path | MiB/s | vs store read | CPU s per GiB | agent RSS growth | target |")
    print("|---|---:|---:|---:|---:|---|")
    for label, name, rest in rows:
        rate = statistics.median(rates[name]) / megabyte
        cpu = statistics.median(reading.cpu for reading in readings[name]) / gib
        value = ratio(rates[name], found.baselines[name]) if name in found.baselines else 1.0
        print(f"| {label} | {rate:,.0f} | {value:.2f}x | {cpu:.2f} | {rest or '|'} |")
    print()
    for label, name in (("store", "store"), ("pages", "paged"), ("GET", "http")):
        per_round = ", ".join(
            f"{reading.rate / megabyte:,.0f} ({reading.cpu / gib:.2f})"
            for reading in readings[name]
        )
        print(f"{label} MiB/s (CPU s per GiB), in order: {per_round}")
    for label, name in (("pages", "paged"), ("GET", "http")):
        pairs = zip(rates[name], found.baselines[name], strict=True)
        print(f"{label} / store per round: {', '.join(f'{r / b:.2f}x' for r, b in pairs)}")
    growths = ", ".join(f"{reading.growth / megabyte:.1f}" for reading in http)
    print(f"agent RSS growth per round (MiB): {growths}")
    client = ", ".join(f"{reading.client_cpu / gib:.2f}" for reading in http)
    print(f"GET client's CPU s per GiB per round: {client}")
    first = ", ".join(f"{reading.first_byte * 1000:.0f}" for reading in http)
    print(f"GET first byte (ms) per round: {first}")


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


def ratio(values: list[float], raws: list[float]) -> float:
    """Median of the per-round ratios (each round's raw read is its own baseline)."""
    return statistics.median(v / r for v, r in zip(values, raws, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--download-mib", type=int, default=1024)
    parser.add_argument(
        "--parts",
        type=lambda text: set(text.split(",")),
        default={"stream", "download"},
        help="stream (a-d), download (e), or both: stream,download",
    )
    args = parser.parse_args()
    if "stream" in args.parts:
        streaming(args)
    if "download" in args.parts:
        with tempfile.TemporaryDirectory(prefix="atom-bench-download-") as tmp:
            found = measure_download(Path(tmp), args.download_mib * 1024 * 1024, args.rounds)
        print_download(found, args.download_mib)


def streaming(args: argparse.Namespace) -> None:
    """Parts (a) to (d): measure, then print."""
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
