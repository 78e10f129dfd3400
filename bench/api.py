"""API benchmark: our /health and /tasks against a bare Starlette app, same run.

Load comes from wrk (a C load generator, ``apt-get install wrk``) on loopback,
so the generator does not compete for Python's interpreter lock. Each of 6
rounds starts two new processes: a bare Starlette hello-world, and the real
agent. The agent's process serves the same agent on three more ports, each
through a second app (a twin) whose security middleware is left out
("unchecked"), swapped for a layer that adds the same response headers but
checks nothing ("headers"), or kept ("checked"), all in the benchmark's
process only. The layer's costs are measured twin against twin, inside one
process, because two processes of the same server can differ by 10% for
their whole life; the agent's own app against the "checked" twin (the same
code) shows what error is left. It measures:

    GET /api/v1/health        on all five
    GET /api/v1/tasks (100)   on the checked and the unchecked twin

at concurrency 1, 16 and 64, reporting req/s, p50/p99 latency and the server
process's CPU time per request (medians over all slices), and the ratios the
targets are about, each the median over slices of two servers measured back
to back.

    .venv/bin/python -m bench.api [--seconds 2] [--slices 2] [--rounds 6]
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
from pathlib import Path

import httpx
import psutil

CONCURRENCY = (1, 16, 64)
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
TWINS = {"unchecked": "none", "headers": "headers", "checked": "checks"}


class Server:
    """One server process of the comparison, with the modes it serves and their endpoints."""

    def __init__(self, kind: str, work: Path) -> None:
        port = free_port()
        args = [sys.executable, "-m", "bench.api_server"]
        root = Path(tempfile.mkdtemp(dir=work))
        base = f"http://127.0.0.1:{port}"
        #: mode -> endpoint -> (url, token)
        self.modes: dict[str, dict[str, tuple[str, str | None]]] = {}
        if kind == "bare":
            args += ["bare", str(port)]
            self.modes["bare"] = {"health": (f"{base}/api/v1/health", None)}
        else:
            args += ["agent", str(port), str(root)]
            self.modes["agent"] = {"health": (f"{base}/api/v1/health", None)}
            for mode, layer in TWINS.items():
                twin_port = free_port()
                args += ["--twin", f"{layer}={twin_port}"]
                url = f"http://127.0.0.1:{twin_port}/api/v1/health"
                self.modes[mode] = {"health": (url, None)}
        env = {**os.environ, "ATOM_LOG_LEVEL": "WARNING"}
        self.proc = subprocess.Popen(
            [*pinned(SERVER_CPU), *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for endpoints in self.modes.values():
            wait_healthy(endpoints["health"][0], self.proc)
        if kind == "agent":
            token = next((root / "config" / "tokens").iterdir()).read_text().strip()
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as c:
                for i in range(100):
                    c.post(
                        "/api/v1/tasks", json={"title": f"task {i}", "tags": ["bench"]}
                    ).raise_for_status()
            for mode in ("checked", "unchecked"):
                health_url = self.modes[mode]["health"][0]
                url = health_url.replace("/health", "/tasks?limit=100")
                self.modes[mode]["tasks"] = (url, token)

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


def measure(servers: list[Server], seconds: float, slices: int, samples: Samples) -> None:
    """Load each mode in turn, in short alternating slices, so noise hits all alike.

    Each slice also reads the server process's CPU time, so the cost of a
    request is known apart from the machine's other load (the modes one
    process serves are loaded one at a time, so its CPU time is theirs).
    """
    targets = [(server, mode) for server in servers for mode in server.modes]
    for endpoint in ("health", "tasks"):
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
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench/api.py needs wrk: apt-get install wrk")
    samples: Samples = {mode: {} for mode in ("bare", "agent", *TWINS)}
    with tempfile.TemporaryDirectory(prefix="atom-bench-api-") as tmp:
        for round_ in range(args.rounds):
            # New processes every round: two processes of the same server can
            # differ by 10% for their whole life (memory layout, hash seeds),
            # which touches the comparison with the bare app.
            servers: list[Server] = []
            try:
                for kind in ("bare", "agent"):
                    servers.append(Server(kind, Path(tmp)))
                measure(servers, args.seconds, args.slices, samples)
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
        ("checked", "tasks"),
        ("unchecked", "tasks"),
    ):
        for c in CONCURRENCY:
            print(
                f"| {mode} | {endpoint} | {c} | {med(mode, endpoint, c, 'rps'):,.0f} | "
                f"{med(mode, endpoint, c, 'p50'):.2f} | {med(mode, endpoint, c, 'p99'):.2f} | "
                f"{med(mode, endpoint, c, 'cpu_us'):,.0f} |"
            )
    print()
    summary = {}
    for c in CONCURRENCY:
        ratio = paired(samples, "agent", "bare", "health", c, "rps")
        cost_h = 1 - paired(samples, "checked", "unchecked", "health", c, "rps")
        cost_t = 1 - paired(samples, "checked", "unchecked", "tasks", c, "rps")
        cpu_h = paired(samples, "checked", "unchecked", "health", c, "cpu_us") - 1
        cpu_t = paired(samples, "checked", "unchecked", "tasks", c, "cpu_us") - 1
        # The same layer, its response headers kept and its checks switched off.
        cost_c = 1 - paired(samples, "checked", "headers", "health", c, "rps")
        cpu_c = paired(samples, "checked", "headers", "health", c, "cpu_us") - 1
        # The same code on both sides: what the method itself shows as a cost.
        error = 1 - paired(samples, "agent", "checked", "health", c, "rps")
        summary[c] = {
            "ratio": ratio,
            "cost_health": cost_h,
            "cost_tasks": cost_t,
            "cost_health_checks_alone": cost_c,
            "control": error,
        }
        print(
            f"concurrency {c}: /health ours/bare {ratio:.2f}x (target >= 0.6); security cost "
            f"in req/s /health {cost_h:+.1%}, /tasks {cost_t:+.1%} (target <= 10%); "
            f"in server CPU per request /health {cpu_h:+.1%}, /tasks {cpu_t:+.1%}; "
            f"/health, the checks alone (headers kept): {cost_c:+.1%} in req/s, "
            f"{cpu_c:+.1%} in server CPU; control (the agent's own app against "
            f"its checked twin) {error:+.1%}"
        )
    p99 = med("agent", "health", 16, "p99")
    print(f"/health p99 at concurrency 16: {p99:.2f} ms (target < 5 ms)")
    print(json.dumps({"summary": {str(k): v for k, v in summary.items()}, "p99_c16_ms": p99}))


if __name__ == "__main__":
    main()
