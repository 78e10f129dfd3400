"""The Diagnostics page: live plots from the agent's own counts, health, error reports.

Against the real agent of the desktop fixture (key file, no keyring), Qt
offscreen; the flood test runs the whole app under Xvfb in a process of its
own (tests/support/diagnostics_flood.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import pytest
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from atom_desktop.gui import jobs
from atom_desktop.gui.app import DesktopApp
from atom_desktop.gui.diagnostics_data import DiagnosticsOverview
from atom_desktop.gui.diagnostics_samples import Series
from atom_desktop.gui.main_window import PAGES
from atom_desktop.gui.pages.diagnostics import HEALTH_COLUMN, DiagnosticsPage
from atom_desktop.gui.status_chip import STATUS_ROLE
from atom_desktop.runtime import Runtime
from tests.gui.a11y_walk import unnamed
from tests.gui.conftest import WAIT_MS
from tests.support.x_display import running_display

ROOT = Path(__file__).resolve().parents[2]


def diagnostics(qtbot: QtBot, desktop: DesktopApp) -> DiagnosticsPage:
    """The page, in view in the shown window, its plots made."""
    window = desktop.window
    window.show()
    qtbot.waitExposed(window)
    window.show_page(PAGES.index("Diagnostics"))
    page = window.page("Diagnostics")
    assert isinstance(page, DiagnosticsPage)
    qtbot.waitUntil(lambda: bool(page.plots), timeout=WAIT_MS)
    return page


def runtime_of(desktop: DesktopApp) -> Runtime:
    runtime = desktop.host.runtime
    assert runtime is not None
    return runtime


def health_rows(page: DiagnosticsPage) -> dict[str, tuple[str, str]]:
    """Each listed part: its health key (as the chip draws it) and what was found."""
    rows = {}
    for index in range(page.health.topLevelItemCount()):
        item = page.health.topLevelItem(index)
        assert item is not None
        rows[item.text(0)] = (str(item.data(HEALTH_COLUMN, STATUS_ROLE)), item.text(2))
    return rows


def test_each_plot_gains_a_point_a_second_from_the_agents_own_counts(
    qtbot: QtBot, desktop: DesktopApp
) -> None:
    page = diagnostics(qtbot, desktop)
    runtime = runtime_of(desktop)
    history = page.sampler.history
    plots = page.plots
    assert set(plots) == set(Series)
    qtbot.waitUntil(lambda: len(history) >= 1, timeout=WAIT_MS)
    start = len(history)
    qtbot.waitUntil(lambda: len(history) >= start + 2, timeout=WAIT_MS)

    def all_drawn() -> bool:
        return all(plot.point_count() == len(history) for plot in plots.values())

    qtbot.waitUntil(all_drawn, timeout=WAIT_MS)

    # Real requests to the real API: the requests curve rises.
    answered = runtime.api.requests_answered
    with httpx.Client(base_url=f"http://127.0.0.1:{runtime.api_port}", timeout=10) as client:
        for _ in range(25):
            assert client.get("/api/v1/health").status_code == 200
    assert runtime.api.requests_answered >= answered + 25
    qtbot.waitUntil(lambda: (history.latest(Series.REQUESTS) or 0) > 0, timeout=WAIT_MS)

    # A real run through the runner: its output is counted and plotted.
    ended: list[object] = []
    desktop.host.call(
        lambda rt: jobs.start_shell(rt, "head -c 3000000 /dev/zero; sleep 2"), ended.append
    )
    qtbot.waitUntil(lambda: max(history.values[Series.OUTPUT]) > 0, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: max(history.values[Series.RUNS]) >= 1, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: plots[Series.OUTPUT].point_count() == len(history), timeout=WAIT_MS)
    assert sum(history.values[Series.OUTPUT]) > 0
    assert history.latest(Series.RSS) == pytest.approx(
        float(psutil.Process().memory_info().rss), rel=0.5
    )
    caption = page._captions[Series.RUNS]
    assert caption.accessibleName().startswith("Running runs")


def test_hidden_the_page_keeps_sampling_but_draws_nothing(
    qtbot: QtBot, desktop: DesktopApp
) -> None:
    page = diagnostics(qtbot, desktop)
    desktop.window.show_page(PAGES.index("Home"))
    qtbot.waitUntil(lambda: not page.isVisible(), timeout=WAIT_MS)
    drawn = page.plots[Series.CPU].point_count()
    history = page.sampler.history
    before = len(history)
    redraws: list[None] = []
    page.plotted.connect(lambda: redraws.append(None))
    qtbot.waitUntil(lambda: len(history) >= before + 2, timeout=WAIT_MS)
    assert redraws == []
    assert page.plots[Series.CPU].point_count() == drawn
    # Back in view, the plots catch up with the whole history at once.
    with qtbot.waitSignal(page.plotted, timeout=WAIT_MS):
        desktop.window.show_page(PAGES.index("Diagnostics"))
    assert page.plots[Series.CPU].point_count() == len(history)


def test_health_lists_every_service_and_each_integration_account(
    qtbot: QtBot, desktop: DesktopApp
) -> None:
    page = diagnostics(qtbot, desktop)
    with qtbot.waitSignal(page.overview_loaded, timeout=WAIT_MS):
        page.refresh()
    rows = health_rows(page)
    assert list(rows) == [
        "Agent",
        "API",
        "Database",
        "Runner",
        "Automations",
        "Sync",
        "Updates",
        "Integrations",
    ]
    assert rows["Agent"][0] == "health.ok"
    runtime = runtime_of(desktop)
    assert f"http://127.0.0.1:{runtime.api_port}" in rows["API"][1]
    # No OS keyring in this test: the key sits in a file, which is worth a warning.
    assert rows["Database"][0] == "health.warning"
    assert "key file" in rows["Database"][1]
    assert rows["Sync"] == ("health.off", "no sync server set")
    assert rows["Integrations"] == ("health.off", "none connected")
    assert page.health.topLevelItem(0).text(HEALTH_COLUMN) == "OK"  # type: ignore[union-attr]

    # A paused runner and a key kept while it could not be checked (no network
    # here): each shows up, the account by its provider's name.
    desktop.host.call(lambda rt: jobs.set_paused(rt, True))
    desktop.host.call(
        lambda rt: rt.integrations.async_add_key("telegram", {"token": "123456789:diagnostics"})
    )
    qtbot.waitUntil(lambda: "Telegram" in health_rows(page), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: health_rows(page)["Runner"][0] == "health.warning", timeout=WAIT_MS)
    health, found = health_rows(page)["Telegram"]
    assert health == "health.warning"
    assert found.startswith("connected: Not checked yet")
    assert "Integrations" not in health_rows(page)
    assert unnamed(page) == []


def test_reports_are_listed_newest_first_opened_and_copied(
    qtbot: QtBot, desktop: DesktopApp
) -> None:
    page = diagnostics(qtbot, desktop)
    with qtbot.waitSignal(page.overview_loaded, timeout=WAIT_MS):
        page.refresh()
    assert page.reports_stack.showing_empty
    assert page.reports_empty.title.text() == "No error reports"
    assert not page.open_button.isEnabled()
    assert not page.copy_button.isEnabled()

    reports = runtime_of(desktop).error_reports
    # Two failures of different places (a repeat of the same one is not reported again).
    try:
        raise KeyError("first place")
    except KeyError as exc:
        first = reports.record("first place", exc)
    try:
        raise ValueError("broken at the second place")
    except ValueError as exc:
        second = reports.record("second place", exc)
    assert first is not None and second is not None
    written = [first, second]
    with qtbot.waitSignal(page.overview_loaded, timeout=WAIT_MS):
        page.refresh()
    assert isinstance(page.overview, DiagnosticsOverview)
    assert page.reports_stack.currentWidget() is page.reports
    assert [r.path for r in page.listed_reports()] == [str(p) for p in reversed(written)]
    newest = page.reports.topLevelItem(0)
    assert newest is not None
    assert newest.text(1) == "ValueError: broken at the second place"
    assert newest.toolTip(1).endswith("Where: second place")
    assert newest.text(0) == "just now"

    page.reports.setCurrentItem(newest)
    assert page.open_button.isEnabled()
    page.copy_button.click()
    copied = QGuiApplication.clipboard().text()
    assert json.loads(copied)["what"] == "ValueError: broken at the second place"
    # A selection survives the next read.
    with qtbot.waitSignal(page.overview_loaded, timeout=WAIT_MS):
        page.refresh()
    assert page.selected_report() == str(written[1])


def test_the_plotting_library_loads_only_when_the_page_is_first_shown(tmp_path: Path) -> None:
    """In a fresh process: every page built, pyqtgraph and numpy not loaded until shown."""
    script = """
import sys, time
import keyring.backends.fail
from PySide6.QtCore import QEventLoop
from PySide6.QtWidgets import QApplication
from pathlib import Path
from atom_desktop.config.paths import AppPaths
from atom_desktop.config.profile import Profile
from atom_desktop.config.settings import Settings
from atom_desktop.core.redaction import Redactor
from atom_desktop.gui.app import DesktopApp
from atom_desktop.gui.main_window import PAGES
from tests.gui.conftest import linux_autostart

app = QApplication([])
tmp = Path(sys.argv[1])
paths = AppPaths.resolve(data_dir=tmp / "data", config_dir=tmp / "config")
paths.ensure()
settings = Settings(data_dir=paths.data_dir, config_dir=paths.config_dir, port=0)
desktop = DesktopApp(paths.config_dir, linux_autostart(tmp),
                     keyring_backend=keyring.backends.fail.Keyring())
desktop.start(lambda: Profile(settings, paths, Redactor()))

def until(condition):
    deadline = time.monotonic() + 60
    while not condition():
        if time.monotonic() > deadline:
            sys.exit("timed out")
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)

until(lambda: desktop.host.is_running and not desktop.window.pages_pending)
page = desktop.window.page("Diagnostics")
until(lambda: len(page.sampler.history) >= 1)
print("built", "pyqtgraph" in sys.modules, "numpy" in sys.modules)
desktop.window.show_page(PAGES.index("Diagnostics"))
until(lambda: bool(page.plots))
print("shown", "pyqtgraph" in sys.modules, "numpy" in sys.modules)
desktop.host.request_stop()
until(lambda: not desktop.host.thread_alive)
desktop.host.stop()
"""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["built False False", "shown True True"]


@pytest.mark.slow
def test_under_xvfb_the_plots_follow_a_flood_and_the_window_never_stalls(
    tmp_path: Path,
) -> None:
    """A real run floods its output with the page in view on a real display.

    The plots gain a point a second throughout and the throughput curve
    shows the flood. The Qt loop is guarded against being held for long (the
    flood test's bound, tests/gui/test_desktop_pages.py); frame-level stalls
    are measured, not asserted: bench/diagnostics.py.
    """
    with running_display() as display:
        env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"} | display.env()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.support.diagnostics_flood",
                *("--data", str(tmp_path)),
                *("--page", "Diagnostics"),
                *("--seconds", "6"),
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == "succeeded"
    # A point a second, throughout the flood, and drawn.
    assert result["samples_during"] >= 5
    assert result["output_points_after"] >= result["output_points_before"] + 5
    assert result["redraws_during"] >= 4
    # The throughput curve shows the flood (at least a MB a second), the run is counted.
    assert result["max_output_per_s"] > 1e6
    assert result["max_running"] >= 1
    assert result["ticks"] > 20  # the loop kept ticking throughout
    # What the Qt thread can answer for, as the console's flood test bounds it.
    assert result["stall_max_ms"] < 200, result
