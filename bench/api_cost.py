"""What the API's security layer costs a request, counted in instructions.

bench/api.py measures req/s, as the targets are stated; on a shared machine
its 2-second slices swing by 20% and more, and the security layer's cost on
``/health`` is smaller than that. This counts instead: one process runs the
real agent and, on its loop, uvicorn's own HTTP protocol (httptools) over an
in-memory transport, fed keep-alive ``GET /api/v1/health`` requests, through
the agent's app with its security middleware as it ships ("checks"),
swapped for a layer that only adds the same response headers ("headers"),
or left out ("none"), or as it ships without the operations layers (no
rate limiter, no request metrics: "no-ops"); the apps are
bench/api_server.py's twins.

valgrind's cachegrind counts the instructions of the whole process. Each
variant runs twice, with two request counts; the difference over the count
difference is what one request takes, start-up excluded. Counts repeat
within about 1.5% from run to run (the agent's own threads run beside the
requests); the timings of bench/api.py swing by 20%.

What it leaves out: the kernel's work for the socket (reads, writes, epoll),
which the no-socket transport does not do, and the time an instruction
takes, which caches and the machine decide. So it gives the layer's share
of the server's own work, not of req/s.

    apt-get install valgrind
    .venv/bin/python -m bench.api_cost [--requests 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.api_server import BENCH_LIMITS, LAYERS, twin_app

PORT = 8084
REQUEST = b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % PORT
#: Requests of the shorter run: enough for every cache and lazy import to fill.
WARM = 500


class MemoryTransport(asyncio.Transport):
    """A transport that keeps what the protocol writes; no socket behind it."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written.append(bytes(data))

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        peers = {"sockname": ("127.0.0.1", PORT), "peername": ("127.0.0.1", 50000)}
        return peers.get(name, default)

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def serve_requests(app: Any, count: int) -> None:
    """Feed ``count`` keep-alive requests to uvicorn's protocol, each answered in full."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol  # noqa: PLC0415
    from uvicorn.server import ServerState  # noqa: PLC0415

    from atom_desktop.api.uvicorn_config import uvicorn_config  # noqa: PLC0415

    config = uvicorn_config(app)
    config.load()
    protocol = HttpToolsProtocol(config=config, server_state=ServerState(), app_state={})
    transport = MemoryTransport()
    protocol.connection_made(transport)
    for _ in range(count):
        protocol.data_received(REQUEST)  # the app runs as a task of the loop
        # One turn of the loop per look, as a server's loop turns once per
        # request; an Event would add a future and a wake-up to what is counted.
        # Every answer here ends with its JSON body.
        while not (transport.written and transport.written[-1].endswith(b"}")):  # noqa: ASYNC110
            await asyncio.sleep(0)
        answer = b"".join(transport.written)
        transport.written.clear()
        if not answer.startswith(b"HTTP/1.1 200 "):
            raise RuntimeError(f"unexpected answer: {answer[:200]!r}")


def child(layer: str, count: int) -> None:
    """Start the agent, then serve ``count`` requests through a ``layer`` twin of its app."""
    os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    os.environ["ATOM_LOG_LEVEL"] = "WARNING"
    from atom_desktop.agent_thread import AgentThread  # noqa: PLC0415
    from atom_desktop.config.settings import Settings  # noqa: PLC0415
    from atom_desktop.runtime import Runtime  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="atom-bench-cost-") as tmp:
        root = Path(tmp)
        settings = Settings(
            data_dir=root / "data", config_dir=root / "config", port=0, **BENCH_LIMITS
        )
        runtime = Runtime(settings)
        host = AgentThread(lambda: runtime)
        host.start_and_wait()
        try:
            asyncio.run(serve_requests(twin_app(runtime, layer, PORT), count))
        finally:
            host.stop()


def instructions(layer: str, count: int) -> int:
    """Instructions the whole child process executes (valgrind's cachegrind)."""
    cmd = [
        "valgrind",
        "--tool=cachegrind",
        "--cache-sim=no",
        "--cachegrind-out-file=/dev/null",
        sys.executable,
        "-m",
        "bench.api_cost",
        "--child",
        layer,
        str(count),
    ]
    # A fixed hash seed: dict and set layouts, and so the count, repeat.
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"{layer} x {count} failed:\n{done.stderr[-3000:]}")
    return int(found.group(1).replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="beyond the warm-up run's")
    parser.add_argument("--child", nargs=2, metavar=("LAYER", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    if shutil.which("valgrind") is None:
        sys.exit("bench/api_cost.py needs valgrind: apt-get install valgrind")
    runs = [(layer, n) for layer in LAYERS for n in (WARM, WARM + args.requests)]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        counts = dict(zip(runs, pool.map(lambda run: instructions(*run), runs), strict=True))
    per = {
        layer: (counts[(layer, WARM + args.requests)] - counts[(layer, WARM)]) / args.requests
        for layer in LAYERS
    }
    print(f"instructions per GET /api/v1/health ({args.requests} requests past {WARM}):")
    for layer in LAYERS:
        print(f"  {layer:8s} {per[layer]:>9,.0f}")
    whole = 1 - per["none"] / per["checks"]
    checks = 1 - per["headers"] / per["checks"]
    headers = per["headers"] / per["none"] - 1
    ops = 1 - per["no-ops"] / per["checks"]
    print(
        f"the rate limiter and the request metrics together: {ops:.1%} of a request's "
        "instructions (target: at most 5%)"
    )
    print(
        f"the whole layer: {whole:.1%} of a request's instructions "
        f"(req/s lost at the same cost per instruction); the checks alone, headers kept: "
        f"{checks:.1%}; the headers and their wrapper add {headers:.1%} to a request without them"
    )


if __name__ == "__main__":
    main()
