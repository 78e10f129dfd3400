"""API benchmark: our /health and /tasks against a bare Starlette app, same run.

Load comes from wrk (a C load generator, ``apt-get install wrk``) on loopback,
so the generator does not compete for Python's interpreter lock. Each of 6
rounds starts two new processes: the real agent, and a bare Starlette app.
The agent's process serves the same agent on three more ports, each
through a second app (a twin) whose security middleware is left out
("unchecked"), swapped for a layer that adds the same response headers but
checks nothing ("headers"), or kept ("checked"), all in the benchmark's
process only. The layer's costs are measured twin against twin, inside one
process, because two processes of the same server can differ by 10% for
their whole life; the agent's own app against the "checked" twin (the same
code) shows what error is left. The bare app answers a hello-world
/health, and /tasks from the agent's own database file (the agent is given
its key in ATOM_ENCRYPTION_KEY): one query and ``json.dumps``, the same
JSON as the agent's, checked once per round; it reads in a worker thread,
as the agent does, and once more on the event loop for reference
("bare, in loop"). It measures:

    GET /api/v1/health        on the bare app, the agent and its three twins
    GET /api/v1/tasks (100)   on the agent, its checked and unchecked twins,
                              and the bare app's baseline (both ways)

at concurrency 1, 16 and 64, reporting req/s, p50/p99 latency and the server
process's CPU time per request (medians over all slices), and the ratios the
targets are about, each the median over slices of two servers measured back
to back.

    .venv/bin/python -m bench.api [--seconds 2] [--slices 2] [--rounds 6]
                                  [--endpoints health,tasks]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

CONCURRENCY = (1, 16, 64)
ENDPOINTS = ("health", "tasks")
TASKS = 100
LOAD_CPU, SERVER_CPU = 0, 1
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(cpu: int) -> list[str]:
    """``taskset`` to run a command (and all its threads) on one CPU, if there are two.

    The servers share one CPU and wrk gets the other: left to the scheduler,
    a server that lands on wrk's CPU for a while runs up to a third slower,
    which is more than the differences measured here.
    """
    if (os.cpu_count() or 1) < 2 or shutil.which("taskset") is None:
        return []
    return ["taskset", "-c", str(cpu)]


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code in (200, 401):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"server at {url} did not come up")


def wrk(url: str, connections: int, seconds: float, token: str | None) -> dict[str, float]:
    """Run wrk; return req/s, p50 and p99 in milliseconds, and the request count."""
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if token:
        cmd[1:1] = ["-H", f"Authorization: Bearer {token}"]
    cmd = [*pinned(LOAD_CPU), *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw errors:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    count = float(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    pcts = {}
    for pct in ("50", "99"):
        value, unit = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        pcts[pct] = float(value) * UNITS[unit]
    return {"rps": rps, "p50": pcts["50"], "p99": pcts["99"], "requests": count}


#: The agent's process serves these too, each through a second app over the
#: same agent with its security middleware swapped (bench/api_server.py).
TWINS = {"unchecked": "none", "headers": "headers", "checked": "checks", "no ops": "no-ops"}


class Server:
    """One server process of the comparison, with the modes it serves and their endpoints.

    The agent comes first, with its database key given in ATOM_ENCRYPTION_KEY
    and 100 tasks made through its API; the bare app is then started on the
    agent's database file (``tasks_db``) with the same key.
    """

    def __init__(self, kind: str, work: Path, key_hex: str, tasks_db: Path | None = None) -> None:
        port = free_port()
        args = [sys.executable, "-m", "bench.api_server"]
        self.root = Path(tempfile.mkdtemp(dir=work))
        base = f"http://127.0.0.1:{port}"
        #: mode -> endpoint -> (url, token)
        self.modes: dict[str, dict[str, tuple[str, str | None]]] = {}
        health_urls = [f"{base}/api/v1/health"]
        if kind == "bare":
            args += ["bare", str(port)]
            self.modes["bare"] = {"health": (health_urls[0], None)}
            if tasks_db is not None:
                args += ["--tasks-db", str(tasks_db)]
                self.modes["bare"]["tasks"] = (f"{base}/tasks?limit={TASKS}", None)
                self.modes["bare, in loop"] = {
                    "tasks": (f"{base}/tasks-in-loop?limit={TASKS}", None)
                }
        else:
            args += ["agent", str(port), str(self.root)]
            self.modes["agent"] = {"health": (health_urls[0], None)}
            for mode, layer in TWINS.items():
                twin_port = free_port()
                args += ["--twin", f"{layer}={twin_port}"]
                url = f"http://127.0.0.1:{twin_port}/api/v1/health"
                health_urls.append(url)
                self.modes[mode] = {"health": (url, None)}
        env = {**os.environ, "ATOM_LOG_LEVEL": "WARNING", "ATOM_ENCRYPTION_KEY": key_hex}
        # Kept for the error message of a server that fails to start.
        with (self.root / "stderr.log").open("wb") as stderr:
            self.proc = subprocess.Popen(
                [*pinned(SERVER_CPU), *args],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        for url in health_urls:
            try:
                wait_healthy(url, self.proc)
            except RuntimeError as exc:
                self.close()
                tail = (self.root / "stderr.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{kind}: {exc}; its stderr ends:\n{tail}") from None
        if kind == "agent":
            token = next((self.root / "config" / "tokens").iterdir()).read_text().strip()
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as c:
                for i in range(TASKS):
                    c.post(
                        "/api/v1/tasks", json={"title": f"task {i}", "tags": ["bench"]}
                    ).raise_for_status()
            for mode in ("agent", "checked", "unchecked"):
                health_url = self.modes[mode]["health"][0]
                url = health_url.replace("/health", f"/tasks?limit={TASKS}")
                self.modes[mode]["tasks"] = (url, token)

    @property
    def database(self) -> Path:
        """The agent's database file."""
        return self.root / "data" / "atom.db"

    def tasks_json(self, mode: str) -> Any:
        """The answer of ``mode``'s /tasks, parsed, its times made comparable."""
        url, token = self.modes[mode]["tasks"]
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = httpx.get(url, headers=headers, timeout=10)
        response.raise_for_status()
        page = response.json()
        for item in page["items"]:
            for key in ("due_at", "created_at", "updated_at"):
                if item[key] is not None:
                    # A time on a whole second is written without ".000000"
                    # by the agent and with it by the baseline: the same time.
                    item[key] = datetime.fromisoformat(item[key])
        return page

    def cpu_s(self) -> float:
        """CPU seconds the server process has used (user + system)."""
        times = psutil.Process(self.proc.pid).cpu_times()
        return float(times.user + times.system)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


Sample = dict[str, float]
#: mode -> endpoint -> concurrency -> one sample per slice, in slice order
Samples = dict[str, dict[str, dict[int, list[Sample]]]]


def measure(
    servers: list[Server],
    seconds: float,
    slices: int,
    samples: Samples,
    endpoints: tuple[str, ...] = ENDPOINTS,
) -> None:
    """Load each mode in turn, in short alternating slices, so noise hits all alike.

    Each slice also reads the server process's CPU time, so the cost of a
    request is known apart from the machine's other load (the modes one
    process serves are loaded one at a time, so its CPU time is theirs).
    """
    targets = [(server, mode) for server in servers for mode in server.modes]
    for endpoint in endpoints:
        for c in CONCURRENCY:
            for i in range(slices):
                order = targets if i % 2 == 0 else list(reversed(targets))
                for server, mode in order:
                    if endpoint not in server.modes[mode]:
                        continue
                    url, token = server.modes[mode][endpoint]
                    before = server.cpu_s()
                    sample = wrk(url, c, seconds, token)
                    sample["cpu_us"] = (server.cpu_s() - before) / sample["requests"] * 1e6
                    samples[mode].setdefault(endpoint, {}).setdefault(c, []).append(sample)


def paired(samples: Samples, a: str, b: str, endpoint: str, c: int, key: str) -> float:
    """Median over slices of ``a``'s figure over ``b``'s, each pair from the same slice."""
    return statistics.median(
        x[key] / y[key]
        for x, y in zip(samples[a][endpoint][c], samples[b][endpoint][c], strict=True)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=int, default=2, help="length of one slice")
    parser.add_argument("--slices", type=int, default=2, help="slices per server per round")
    parser.add_argument("--rounds", type=int, default=6, help="each with new server processes")
    parser.add_argument(
        "--endpoints",
        type=lambda text: tuple(text.split(",")),
        default=ENDPOINTS,
        help="comma-separated, of: health, tasks",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench/api.py needs wrk: apt-get install wrk")
    if not args.endpoints or not set(args.endpoints) <= set(ENDPOINTS):
        sys.exit(f"--endpoints: a comma-separated list of {', '.join(ENDPOINTS)}")
    samples: Samples = {mode: {} for mode in ("bare", "bare, in loop", "agent", *TWINS)}
    with tempfile.TemporaryDirectory(prefix="atom-bench-api-") as tmp:
        for round_ in range(args.rounds):
            # New processes every round: two processes of the same server can
            # differ by 10% for their whole life (memory layout, hash seeds),
            # which touches the comparison with the bare app.
            servers: list[Server] = []
            try:
                key_hex = os.urandom(32).hex()
                agent = Server("agent", Path(tmp), key_hex)
                servers.append(agent)
                bare = Server("bare", Path(tmp), key_hex, tasks_db=agent.database)
                servers.append(bare)
                if "tasks" in args.endpoints:
                    # The baseline must do the agent's work: the same answer.
                    for mode in ("bare", "bare, in loop"):
                        if bare.tasks_json(mode) != agent.tasks_json("agent"):
                            raise RuntimeError(f"{mode}'s /tasks differs from the agent's")
                measure(servers, args.seconds, args.slices, samples, args.endpoints)
            finally:
                for server in servers:
                    server.close()
            print(f"round {round_ + 1}/{args.rounds} done", flush=True)

    def med(mode: str, endpoint: str, c: int, key: str) -> float:
        return statistics.median(sample[key] for sample in samples[mode][endpoint][c])

    print()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; wrk -t1, {args.rounds} rounds of "
        f"{args.slices} slices of {args.seconds} s per server and point, medians over slices"
    )
    print()
    print("| server | endpoint | conc. | req/s | p50 ms | p99 ms | server CPU us/req |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for mode, endpoint in (
        ("bare", "health"),
        ("agent", "health"),
        ("checked", "health"),
        ("headers", "health"),
        ("unchecked", "health"),
        ("no ops", "health"),
        ("bare", "tasks"),
        ("bare, in loop", "tasks"),
        ("agent", "tasks"),
        ("checked", "tasks"),
        ("unchecked", "tasks"),
    ):
        if endpoint not in args.endpoints:
            continue
        for c in CONCURRENCY:
            print(
                f"| {mode} | {endpoint} | {c} | {med(mode, endpoint, c, 'rps'):,.0f} | "
                f"{med(mode, endpoint, c, 'p50'):.2f} | {med(mode, endpoint, c, 'p99'):.2f} | "
                f"{med(mode, endpoint, c, 'cpu_us'):,.0f} |"
            )
    print()
    summary: dict[int, dict[str, float]] = {}
    for c in CONCURRENCY:
        summary[c] = {}
        if "health" in args.endpoints:
            ratio = paired(samples, "agent", "bare", "health", c, "rps")
            cost_h = 1 - paired(samples, "checked", "unchecked", "health", c, "rps")
            cpu_h = paired(samples, "checked", "unchecked", "health", c, "cpu_us") - 1
            # The same layer, its response headers kept and its checks switched off.
            cost_c = 1 - paired(samples, "checked", "headers", "health", c, "rps")
            cpu_c = paired(samples, "checked", "headers", "health", c, "cpu_us") - 1
            # The rate limiter and the request metrics, both on against both off.
            cost_o = 1 - paired(samples, "checked", "no ops", "health", c, "rps")
            cpu_o = paired(samples, "checked", "no ops", "health", c, "cpu_us") - 1
            # The same code on both sides: what the method itself shows as a cost.
            error = 1 - paired(samples, "agent", "checked", "health", c, "rps")
            summary[c] |= {
                "ratio": ratio,
                "cost_health": cost_h,
                "cost_health_checks_alone": cost_c,
                "cost_health_ops": cost_o,
                "control": error,
            }
            print(
                f"concurrency {c}: /health ours/bare {ratio:.2f}x (target >= 0.6); security "
                f"cost in req/s /health {cost_h:+.1%} (target <= 10%), in server CPU per "
                f"request {cpu_h:+.1%}; the checks alone (headers kept): {cost_c:+.1%} in "
                f"req/s, {cpu_c:+.1%} in server CPU; rate limiter and metrics (target <= 5%): "
                f"{cost_o:+.1%} in req/s, {cpu_o:+.1%} in server CPU; control (the agent's "
                f"own app against its checked twin) {error:+.1%}"
            )
        if "tasks" in args.endpoints:
            tasks = paired(samples, "agent", "bare", "tasks", c, "rps")
            # Server CPU per request, the baseline's over the agent's: the
            # share of the baseline's throughput the agent would reach on a
            # CPU of its own.
            tasks_cpu = 1 / paired(samples, "agent", "bare", "tasks", c, "cpu_us")
            in_loop = paired(samples, "agent", "bare, in loop", "tasks", c, "rps")
            cost_t = 1 - paired(samples, "checked", "unchecked", "tasks", c, "rps")
            cpu_t = paired(samples, "checked", "unchecked", "tasks", c, "cpu_us") - 1
            summary[c] |= {
                "tasks_ratio": tasks,
                "tasks_cpu_ratio": tasks_cpu,
                "tasks_ratio_in_loop": in_loop,
                "cost_tasks": cost_t,
            }
            print(
                f"concurrency {c}: /tasks ours/bare {tasks:.2f}x in req/s, {tasks_cpu:.2f}x "
                f"by server CPU per request (target >= 0.5); against the baseline reading "
                f"on its event loop {in_loop:.2f}x; security cost in req/s {cost_t:+.1%}, "
                f"in server CPU per request {cpu_t:+.1%}"
            )
    result: dict[str, Any] = {"summary": {str(k): v for k, v in summary.items()}}
    if "health" in args.endpoints:
        p99 = med("agent", "health", 16, "p99")
        print(f"/health p99 at concurrency 16: {p99:.2f} ms (target < 5 ms)")
        result["p99_c16_ms"] = p99
    print(json.dumps(result))


if __name__ == "__main__":
    main()
