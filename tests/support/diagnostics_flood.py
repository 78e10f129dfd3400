"""The desktop app on a real display while a real run floods its output; one page in view.

Run as a program (``python -m tests.support.diagnostics_flood --data DIR --page NAME``)
on the display in ``DISPLAY``: it starts the desktop app on a real agent
(key file, no keyring), shows the window with the page ``NAME``, starts a
command through the runner that writes output as fast as it can for
``--seconds``, and watches the Qt loop with a 10 ms timer
(:class:`~tests.support.qt_watchdog.QtLoopWatchdog`) from the first output
byte until the run has ended. Then it stops the agent and prints one JSON
line: the timer's gaps and the Qt thread's own share of them (milliseconds),
and what the Diagnostics page's plots held before and after the flood.

The Diagnostics page test (tests/gui/test_diagnostics_page.py) and the
benchmark (bench/diagnostics.py) both run it, each in a process of its own
under Xvfb: the test process' Qt runs offscreen and cannot switch.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path

import keyring.backends.fail
from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from atom_desktop.config.paths import AppPaths
from atom_desktop.config.profile import Profile
from atom_desktop.config.settings import Settings
from atom_desktop.core.events import Event, RunChanged
from atom_desktop.core.redaction import Redactor
from atom_desktop.core.statuses import RUN_FINISHED
from atom_desktop.gui import jobs
from atom_desktop.gui.app import DesktopApp, share_the_interpreter_with_the_window
from atom_desktop.gui.diagnostics_samples import Series
from atom_desktop.gui.main_window import PAGES
from atom_desktop.gui.pages.diagnostics import DiagnosticsPage
from atom_desktop.store.runs import RunRecord
from tests.gui.conftest import linux_autostart
from tests.support.qt_watchdog import QtLoopWatchdog

WAIT_S = 60.0
#: A line as a build prints it, with colour; the flood writes it in blocks.
LINE = "compiling module \033[32mok\033[0m  src/atom/things.py: 1234 lines\n"


def flood_command(seconds: float) -> str:
    """A shell line that writes output as fast as the pipe takes it for ``seconds``."""
    program = (
        "import sys, time\n"
        f"block = {LINE!r}.encode() * 800\n"
        "write = sys.stdout.buffer.write\n"
        f"end = time.monotonic() + {seconds}\n"
        "while time.monotonic() < end:\n"
        "    write(block)\n"
    )
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(program)}"


def wait(ms: int) -> None:
    """Run the Qt loop for ``ms`` milliseconds."""
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def until(condition: Callable[[], bool], what: str, seconds: float = WAIT_S) -> None:
    """Run the Qt loop until ``condition`` holds; an error after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        wait(20)


def percentile(values: list[float], share: float) -> float:
    """The value below which ``share`` of ``values`` lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="a folder for the profile")
    parser.add_argument("--page", choices=PAGES, default="Diagnostics")
    parser.add_argument("--seconds", type=float, default=6.0, help="how long the run floods")
    args = parser.parse_args()

    app = QApplication([sys.argv[0]])
    app.setQuitOnLastWindowClosed(False)
    share_the_interpreter_with_the_window()  # as run_desktop does
    paths = AppPaths.resolve(data_dir=args.data / "data", config_dir=args.data / "config")
    paths.ensure()
    settings = Settings(data_dir=paths.data_dir, config_dir=paths.config_dir, port=0)
    desktop = DesktopApp(
        paths.config_dir,
        linux_autostart(args.data),
        keyring_backend=keyring.backends.fail.Keyring(),
    )
    desktop.preferences.notifications = False
    desktop.start(lambda: Profile(settings, paths, Redactor()))
    until(lambda: desktop.host.is_running, "the agent")
    window = desktop.window
    window.resize(1180, 720)
    until(lambda: not window.pages_pending, "the pages")
    page = window.page("Diagnostics")
    assert isinstance(page, DiagnosticsPage)
    window.show_page(PAGES.index(args.page))
    if args.page == "Diagnostics":
        until(lambda: bool(page.plots), "the plots")
    # A few samples before the flood, so the plots have a history to extend.
    history = page.sampler.history
    until(lambda: len(history) >= 3, "three samples")

    ended: list[str] = []
    started: list[RunRecord] = []

    def on_event(event: Event) -> None:
        payload = event.payload
        if isinstance(payload, RunChanged) and payload.status in RUN_FINISHED:
            ended.append(payload.status)

    desktop.host.agent_event.connect(on_event)
    runtime = desktop.host.runtime
    assert runtime is not None
    output_before = sum(runtime.runner.output_bytes.values())
    plotted: list[float] = []
    page.plotted.connect(lambda: plotted.append(time.monotonic()))
    points_before = page.plots[Series.OUTPUT].point_count() if page.plots else 0
    samples_before = len(history)
    desktop.host.call(lambda rt: jobs.start_shell(rt, flood_command(args.seconds)), started.append)
    until(lambda: bool(started), "the run to start")
    until(lambda: sum(runtime.runner.output_bytes.values()) > output_before, "the first output")
    watchdog = QtLoopWatchdog()
    watchdog.start()
    flood_started = time.monotonic()
    until(lambda: bool(ended), "the run to end", seconds=args.seconds + WAIT_S)
    watchdog.stop()
    flood_s = time.monotonic() - flood_started
    # The sample that covers the flood's last second.
    samples_at_end = len(history)
    until(lambda: len(history) > samples_at_end, "one more sample")
    new = len(history) - samples_before
    outputs = list(history.values[Series.OUTPUT])[-new:]
    runs = list(history.values[Series.RUNS])[-new:]
    result = {
        "page": args.page,
        "status": ended[0],
        "flood_s": flood_s,
        "output_bytes": sum(runtime.runner.output_bytes.values()) - output_before,
        "ticks": len(watchdog.gaps),
        "gap_p50_ms": percentile(watchdog.gaps, 0.5) * 1000,
        "gap_p99_ms": percentile(watchdog.gaps, 0.99) * 1000,
        "gap_max_ms": max(watchdog.gaps) * 1000,
        "stall_p99_ms": percentile(watchdog.stalls, 0.99) * 1000,
        "stall_max_ms": max(watchdog.stalls) * 1000,
        "samples_during": new,
        "max_output_per_s": max(outputs, default=0.0),
        "max_running": max(runs, default=0.0),
        "output_points_before": points_before,
        "output_points_after": page.plots[Series.OUTPUT].point_count() if page.plots else 0,
        "redraws_during": sum(1 for at in plotted if at >= flood_started),
    }
    desktop.host.request_stop()
    until(lambda: not desktop.host.thread_alive, "the agent to stop")
    desktop.host.stop()
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
