"""Diagnostics page benchmark: the Qt loop's stalls during a flood, with the page in view or not.

The whole desktop app on a real agent runs on an Xvfb display (this script
starts one, with a tray host), one fresh process per measurement
(tests/support/diagnostics_flood.py). A run started through the agent's
runner writes output as fast as the pipe takes it for --seconds while the
window shows either Home (the Diagnostics page is built and samples once a
second, but draws nothing) or the Diagnostics page (five live plots redrawn
every second). A 10 ms timer on the Qt thread records the gaps between its
ticks from the first output byte to the run's end, as bench/console.py
does; the target is bench/console.py's: p99 <= 16 ms, one frame at 60 Hz.
The gaps are wall-clock; "own" is the share of each gap the Qt thread can
answer for (tests/support/qt_watchdog.py): time the OS kept it off a CPU is
not counted.

The two cases alternate, their order swapping every round; figures are
medians of the rounds.

    .venv/bin/python -m bench.diagnostics [--rounds 3] [--seconds 20]

Needs Xvfb and trayer (./scripts/test installs them).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import pyqtgraph
import PySide6

from tests.support.x_display import XDisplay, running_display

CASES = ("Home", "Diagnostics")
STALL_P99_MS = 16


def measure(display: XDisplay, page: str, seconds: float, work: Path) -> dict[str, float]:
    """One fresh app on ``display`` with ``page`` in view during a flood of ``seconds``."""
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"} | display.env()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.support.diagnostics_flood",
            *("--data", str(work)),
            *("--page", page),
            *("--seconds", str(seconds)),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds + 300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the app failed ({done.returncode}): {done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20.0, help="how long each run floods")
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {case: [] for case in CASES}
    with tempfile.TemporaryDirectory(prefix="bench-diagnostics-") as tmp, running_display() as x:
        for round_ in range(args.rounds):
            order = CASES if round_ % 2 == 0 else tuple(reversed(CASES))
            for case in order:
                work = Path(tmp) / f"{case}-{round_}"
                results[case].append(measure(x, case, args.seconds, work))
            print(f"round {round_ + 1}/{args.rounds} done", flush=True)

    print()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, PySide6 {PySide6.__version__}, pyqtgraph "
        f"{pyqtgraph.__version__}; a run flooding its output for {args.seconds:.0f} s, "
        f"window 1180x720 on Xvfb, median of {args.rounds} rounds"
    )
    print()
    print(
        "| page in view | output MB/s | gap p50 ms | gap p99 ms | gap max ms "
        "| own p99 ms | own max ms | plot redraws | target |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for case in CASES:
        runs = results[case]

        def median(key: str, runs: list[dict[str, float]] = runs) -> float:
            return statistics.median(float(r[key]) for r in runs)

        rate = statistics.median(float(r["output_bytes"]) / float(r["flood_s"]) for r in runs)
        p99 = median("gap_p99_ms")
        met = "met" if p99 <= STALL_P99_MS else "**missed**"
        print(
            f"| {case} | {rate / 1e6:.0f} | {median('gap_p50_ms'):.1f} | {p99:.1f} "
            f"| {median('gap_max_ms'):.1f} | {median('stall_p99_ms'):.1f} "
            f"| {median('stall_max_ms'):.1f} | {median('redraws_during'):.0f} "
            f"| p99 <= {STALL_P99_MS} ms: {met} |"
        )
    print()
    for case in CASES:
        runs = results[case]
        print(
            f"{case}: gap p99 per run {[round(float(r['gap_p99_ms']), 1) for r in runs]} ms, "
            f"max {[round(float(r['gap_max_ms']), 1) for r in runs]} ms; own p99 "
            f"{[round(float(r['stall_p99_ms']), 1) for r in runs]} ms; "
            f"output {[round(float(r['output_bytes']) / 1e6) for r in runs]} MB"
        )


if __name__ == "__main__":
    main()
