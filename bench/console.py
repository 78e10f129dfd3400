"""Console benchmark: a flood of output into our ConsoleView against xterm, same display.

For each workload (plain lines; lines with SGR colours in four repeating
patterns: 16-colour, 256-colour and 24-bit; and ``ansi-random``, coloured
lines drawn at random from --seed, see RandomAnsi), a file of --mib MiB is
shown, launch to exit, by:

    (a) ATOM: a fresh process (``python -m bench.console --viewer FILE``)
        that opens a ConsoleView window of 120x40 cells, starts ``cat FILE``
        and reads its stdout pipe 64 KiB per QSocketNotifier callback,
        decodes it with an incremental UTF-8 decoder (errors="replace") and
        appends it, exactly as a run's output reaches the view; it exits once
        the last byte is ingested and painted. It also records the Qt loop's
        stalls: the gaps between the ticks of a 10 ms timer during the ingest
        (target: p99 <= 16 ms, one frame at 60 Hz), and the CPU time its Qt
        thread ran in each gap: on a machine shared with other work, a long
        gap in which the thread mostly did not run was not the view's.
    (b) xterm: ``xterm -geometry 120x40 -e cat FILE``.

Both run on the same Xvfb display, which this script starts (and a private
session D-Bus, so Qt's autolaunched one does not outlive the run). The runs
alternate, their order swapping every round; figures are medians of the rounds.

    .venv/bin/python -m bench.console [--mib 200] [--rounds 3] [--seed 7]

Needs Xvfb and xterm: ``apt-get install -y --no-install-recommends xvfb xterm``.
scripts/test does not install xterm: this is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import codecs
import gc
import itertools
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import PySide6
from PySide6.QtCore import QSocketNotifier, Qt, QTimer
from PySide6.QtWidgets import QApplication

from atom_desktop.gui.ansi import display_text
from atom_desktop.gui.console_view import GUTTER, ConsoleView

COLUMNS = 120
ROWS = 40
READ_BYTES = 65536
TICK_MS = 10
# One frame at 60 Hz: the Qt loop's stalls during ingest stay within it.
STALL_P99_MS = 16
WORKLOADS = ("plain", "ansi", "ansi-random")


# -- the data --------------------------------------------------------------------------------


def _plain_line(n: int) -> str:
    return f"plain output line {n:>9} with a few words of ordinary text, as a build prints\n"


def _ansi_line(n: int) -> str:
    kind = n % 4
    if kind == 0:
        return f"12:00:{n % 60:02d}.{n % 1000:03d} \x1b[32mINFO\x1b[0m worker {n % 7}: item {n}\n"
    if kind == 1:
        return (
            f"\x1b[38;5;{n % 256}m{n:>9}\x1b[0m \x1b[1;38;2;{n % 256};90;40mtruecolour\x1b[0m"
            f" and \x1b[48;5;{n % 216 + 16}m256 bg\x1b[0m\n"
        )
    if kind == 2:
        return f"\x1b[31mERROR\x1b[0m job {n} failed: \x1b[1mreason\x1b[22m: \x1b[4mhere\x1b[24m\n"
    return _plain_line(n)


class RandomAnsi:
    """Coloured lines drawn at random: a second coloured workload, built unlike ``_ansi_line``.

    ``_ansi_line`` repeats four patterns and resets after every coloured
    word. Real tools differ, so this one mixes what they do at random (from a
    fixed seed, so every run sees the same file): lines of 0 to 300 or so
    characters, 0 to 12 SGR changes each (basic, bright, 256-colour and
    24-bit colours, attributes, partial resets), state often carried from
    one line into the next, an occasional long line of several thousand
    characters, and bursts of lines with no colour at all.
    """

    _WORDS = (
        "build", "test", "ok", "warning:", "error:", "src/atom/core.py", "[1/42]", "->",
        "passed", "failed", "0.003s", "compiling", "linking", "GET", "/api/v1/runs", "200",
    )  # fmt: skip

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def _sgr(self) -> str:
        pick = self._random.randrange(12)
        n = self._random.randrange(256)
        if pick < 3:
            return f"\x1b[{30 + n % 8}m"
        if pick == 3:
            return f"\x1b[{90 + n % 8};{40 + n % 8}m"
        if pick == 4:
            return f"\x1b[38;5;{n}m"
        if pick == 5:
            return f"\x1b[48;5;{n}m"
        if pick == 6:
            return f"\x1b[38;2;{n};{255 - n};{n // 2}m"
        if pick == 7:
            return f"\x1b[{self._random.choice((1, 2, 3, 4, 7, 9))}m"
        if pick == 8:
            return f"\x1b[{self._random.choice((22, 23, 24, 27, 39, 49))}m"
        if pick == 9:
            return "\x1b[m"
        return "\x1b[0m"

    def __call__(self, n: int) -> str:
        rnd = self._random
        if rnd.random() < 0.2:
            return f"{n} " + " ".join(rnd.choices(self._WORDS, k=rnd.randrange(1, 12))) + "\n"
        words = rnd.randrange(1, 400 if rnd.random() < 0.01 else 40)
        parts = [str(n)]
        for _ in range(words):
            if rnd.random() < 0.3:
                parts.append(self._sgr())
            parts.append(rnd.choice(self._WORDS) + " ")
        if rnd.random() < 0.6:
            parts.append("\x1b[0m")
        return "".join(parts) + "\n"


def write_flood(path: Path, mib: int, line: Callable[[int], str]) -> tuple[int, str]:
    """Write about ``mib`` MiB of numbered lines; return the byte count and the last line shown."""
    target = mib * 1024 * 1024
    written = 0
    n = 0
    last = ""
    with path.open("wb") as out:
        while written < target:
            # Each line made once: a generator may draw at random.
            lines = [line(n + i) for i in range(50_000)]
            batch = "".join(lines).encode()
            out.write(batch)
            written += len(batch)
            n += 50_000
            last = lines[-1]
    return written, display_text(last.rstrip("\n"))


# -- (a) the viewer process -----------------------------------------------------------------


def viewer(path: Path) -> None:
    """Show ``cat path`` in a ConsoleView window; print stall figures as JSON; exit when done."""
    app = QApplication([sys.argv[0]])
    view = ConsoleView()
    metrics = view.fontMetrics()
    frame = 2 * view.frameWidth()
    view.resize(
        GUTTER
        + COLUMNS * metrics.horizontalAdvance("M")
        + view.verticalScrollBar().sizeHint().width()
        + frame,
        ROWS * metrics.lineSpacing() + frame,
    )
    view.setWindowTitle("bench.console")
    view.show()
    # As the app does once it has started (Runtime.async_start).
    gc.collect()
    gc.freeze()

    ticks: list[float] = []
    # The Qt thread's CPU time at each tick: a gap the thread spent mostly
    # not running was the machine's doing (other processes), not the view's.
    cpu: list[float] = []

    def tick() -> None:
        ticks.append(time.perf_counter())
        cpu.append(time.thread_time())

    watchdog = QTimer()
    watchdog.setTimerType(Qt.TimerType.PreciseTimer)
    watchdog.setInterval(TICK_MS)
    watchdog.timeout.connect(tick)

    proc = subprocess.Popen(["cat", str(path)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    notifier = QSocketNotifier(fd, QSocketNotifier.Type.Read)
    finisher = QTimer()
    finisher.setInterval(0)
    got = 0
    started = 0.0

    def read() -> None:
        nonlocal got, started
        try:
            data = os.read(fd, READ_BYTES)
        except BlockingIOError:
            return
        if not got:
            tick()
            started = ticks[0]
            watchdog.start()
        got += len(data)
        if data:
            view.append(decoder.decode(data))
        else:
            notifier.setEnabled(False)
            view.append(decoder.decode(b"", final=True))
            finisher.start()

    def finish() -> None:
        if view.backlog():
            return
        finisher.stop()
        view.flush()
        view.viewport().repaint()
        tick()
        watchdog.stop()
        app.quit()

    notifier.activated.connect(read)
    finisher.timeout.connect(finish)
    app.exec()
    proc.wait()
    gaps = sorted((b - a) * 1000 for a, b in itertools.pairwise(ticks))
    ran = sorted((b - a) * 1000 for a, b in itertools.pairwise(cpu))
    last = view.plain_text().rsplit("\n", 1)[-1]
    result = {
        "bytes": got,
        "ingest_s": ticks[-1] - started,
        "stall_p50_ms": statistics.median(gaps),
        "stall_p99_ms": gaps[min(len(gaps) - 1, int(len(gaps) * 0.99))],
        "stall_max_ms": gaps[-1],
        "stall_cpu_p99_ms": ran[min(len(ran) - 1, int(len(ran) * 0.99))],
        "lines": view.line_count(),
        # Lines the view never built because what followed them filled the
        # ring anyway (0 when ingest keeps pace with the pipe).
        "skipped_lines": view._ring.skipped_lines,
        "last_line": display_text(last),
    }
    print(json.dumps(result))


# -- the display ------------------------------------------------------------------------------


class Display:
    """A private Xvfb display and session D-Bus for the children of this benchmark."""

    def __init__(self) -> None:
        read_end, write_end = os.pipe()
        self._xvfb = subprocess.Popen(
            [
                "Xvfb",
                *("-displayfd", str(write_end)),
                *("-screen", "0", "1280x800x24"),
                *("-nolisten", "tcp"),
            ],
            pass_fds=(write_end,),
            stderr=subprocess.DEVNULL,
        )
        os.close(write_end)
        with os.fdopen(read_end) as pipe:
            number = pipe.readline().strip()
        if not number:
            raise RuntimeError("Xvfb did not start: is it installed (apt-get install xvfb)?")
        self.env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
        self.env["DISPLAY"] = f":{number}"
        self._bus: subprocess.Popen[str] | None = None
        if shutil.which("dbus-daemon"):
            self._bus = subprocess.Popen(
                ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            assert self._bus.stdout is not None
            self.env["DBUS_SESSION_BUS_ADDRESS"] = self._bus.stdout.readline().strip()

    def close(self) -> None:
        if self._bus is not None:
            self._bus.terminate()
            self._bus.wait()
        self._xvfb.terminate()
        self._xvfb.wait()


def run_atom(display: Display, path: Path) -> tuple[float, dict[str, float | int | str]]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bench.console", "--viewer", str(path)],
        env=display.env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"the viewer failed ({done.returncode}): {done.stderr[-2000:]}")
    result: dict[str, float | int | str] = json.loads(done.stdout.strip().splitlines()[-1])
    return elapsed, result


def run_xterm(display: Display, path: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        ["xterm", "-geometry", f"{COLUMNS}x{ROWS}", "-e", "cat", str(path)],
        env=display.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    return time.perf_counter() - start


def _xterm_version() -> str:
    done = subprocess.run(["xterm", "-version"], capture_output=True, text=True, check=False)
    return done.stdout.strip() or "xterm"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--mib", type=int, default=200, help="MiB of output per workload")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7, help="seed of the ansi-random workload")
    parser.add_argument("--viewer", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.viewer is not None:
        viewer(args.viewer)
        return
    for tool in ("Xvfb", "xterm", "cat"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing: apt-get install -y --no-install-recommends xvfb xterm")

    with tempfile.TemporaryDirectory(prefix="bench-console-") as work:
        files: dict[str, tuple[Path, int, str]] = {}
        makers: dict[str, Callable[[int], str]] = {
            "plain": _plain_line,
            "ansi": _ansi_line,
            "ansi-random": RandomAnsi(args.seed),
        }
        for name, line in makers.items():
            path = Path(work) / f"{name}.txt"
            size, last = write_flood(path, args.mib, line)
            files[name] = (path, size, last)
        display = Display()
        atom: dict[str, list[float]] = {name: [] for name in WORKLOADS}
        xterm: dict[str, list[float]] = {name: [] for name in WORKLOADS}
        stalls: dict[str, list[dict[str, float | int | str]]] = {name: [] for name in WORKLOADS}
        try:
            for round_ in range(args.rounds):
                for name in WORKLOADS:
                    path, size, last = files[name]
                    order = ("atom", "xterm") if round_ % 2 == 0 else ("xterm", "atom")
                    for who in order:
                        if who == "xterm":
                            xterm[name].append(run_xterm(display, path))
                            continue
                        elapsed, result = run_atom(display, path)
                        if result["bytes"] != size or result["last_line"] != last:
                            raise RuntimeError(f"the viewer showed the wrong output: {result}")
                        atom[name].append(elapsed)
                        stalls[name].append(result)
                print(f"round {round_ + 1}/{args.rounds} done", flush=True)
        finally:
            display.close()

    print()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, PySide6 {PySide6.__version__}, {_xterm_version()}; "
        f"{args.mib} MiB per workload, window {COLUMNS}x{ROWS} cells, "
        f"median of {args.rounds} rounds"
    )
    print()
    print(
        "| workload | xterm s | ATOM s | xterm MB/s | ATOM MB/s | ATOM vs xterm "
        "| stall p99 ms | stall max ms | CPU in gap p99 ms | target |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for name in WORKLOADS:
        size = files[name][1]
        ours = statistics.median(atom[name])
        theirs = statistics.median(xterm[name])
        p99 = statistics.median(float(r["stall_p99_ms"]) for r in stalls[name])
        worst = statistics.median(float(r["stall_max_ms"]) for r in stalls[name])
        ran = statistics.median(float(r["stall_cpu_p99_ms"]) for r in stalls[name])
        ratio = theirs / ours
        met = "met" if ratio >= 1.0 and p99 <= STALL_P99_MS else "**missed**"
        print(
            f"| {name} | {theirs:.1f} | {ours:.1f} | {size / theirs / 1e6:.1f} "
            f"| {size / ours / 1e6:.1f} | {ratio:.2f}x | {p99:.1f} | {worst:.1f} | {ran:.1f} "
            f"| >= 1.0x, p99 <= {STALL_P99_MS} ms: {met} |"
        )
    print()
    for name in WORKLOADS:
        ingest = statistics.median(float(r["ingest_s"]) for r in stalls[name])
        skipped = max(int(r["skipped_lines"]) for r in stalls[name])
        print(
            f"{name}: ATOM ingest alone (first byte to last painted) {ingest:.1f} s, "
            f"lines skipped unbuilt: {skipped}; "
            f"stall p99 per run {[round(float(r['stall_p99_ms']), 1) for r in stalls[name]]} ms, "
            f"max {[round(float(r['stall_max_ms']), 1) for r in stalls[name]]} ms, "
            f"CPU in gap p99 {[round(float(r['stall_cpu_p99_ms']), 1) for r in stalls[name]]} ms; "
            f"runs ATOM {[round(x, 1) for x in atom[name]]} s, "
            f"xterm {[round(x, 1) for x in xterm[name]]} s"
        )


if __name__ == "__main__":
    main()
