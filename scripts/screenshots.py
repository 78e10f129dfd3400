"""Screenshots of the desktop app for the README, taken the way a person sees it.

Starts a virtual X display with a real tray host (trayer) and a private
Secret Service, runs the app on it with a throw-away profile, fills it with
demo data (tasks, a few runs with coloured output, a token, automations with
a run history and a pending approval), then captures every page, the
automation editor and the open tray menu into docs/screenshots/. The Sync
page is shown off, after a failed connection test, and connected to a
throw-away PostgreSQL with a conflict in its inbox. The Integrations page is
shown with an account signed in to a throw-away OpenID Connect provider on
loopback and a Telegram key that could not be checked (no internet needed).
The Assistant page is shown with a conversation answered by the fake
OpenAI-compatible server (tests/support; no model runs) and its plan's first
step approved and run, and Settings → Assistant after a Test against it.
The Diagnostics page is taken last, after a minute of API requests and runs
writing output in bursts, with an error report in its list.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--only assistant]

Needs what ./scripts/test installs (Xvfb, trayer, gnome-keyring, imagemagick,
PostgreSQL, node with oidc-provider).
"""

from __future__ import annotations

import argparse
import functools
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtGui import QColor, QPalette

from tests.support.oidc_provider import OidcProvider, running_oidc_provider
from tests.support.postgres import PostgresServer, running_postgres
from tests.support.secret_service import running_secret_service
from tests.support.x_display import running_display

#: The demo sync server's database, tenant and the device's role.
SYNC_DATABASE = "atom"
SYNC_TENANT = "acme"
SYNC_ROLE = "laptop_anna"
#: The other device whose newer edit wins the demo conflict.
OTHER_DEVICE = "5f3c9a2e-7b41-4d0e-9c2a-1e8f6d3b0a77"

DEMO_COMMANDS = [
    "printf '\\033[1;32m✔ build ok\\033[0m  (12 files)\\n'; "
    "printf 'warning: 2 deprecations\\n' >&2",
    "for i in 1 2 3; do printf '\\033[36mstep %s\\033[0m done\\n' $i; done; "
    "printf '\\033[31merror: disk almost full\\033[0m\\n' >&2; exit 1",
    "ls -la /usr/share | head -25",
]


def demo_automations(inbox: Path) -> list[dict[str, Any]]:
    """Three automations: one that works, one that fails, one that waits for approval."""
    return [
        {
            "name": "Back up notes",
            "description": "Copies ~/notes to the backup disk every weekday evening",
            "triggers": [
                {"type": "cron", "expression": "0 18 * * 1-5", "timezone": "Europe/Berlin"}
            ],
            "steps": [
                {"type": "shell", "name": "sync", "shell": "printf 'sent 42 files (1.3 MB)\\n'"},
                {"type": "notify", "title": "Notes backed up", "message": "${steps.sync.stdout}"},
            ],
            "notify": {"success": False, "failure": True},
        },
        {
            "name": "File new invoices",
            "triggers": [
                {"type": "file", "paths": [str(inbox)], "include": ["*.pdf"]},
            ],
            "steps": [{"type": "shell", "shell": "ls /srv/invoices/2025"}],
        },
        {
            "name": "Rotate logs",
            "triggers": [{"type": "interval", "seconds": 6 * 3600}],
            "approval": "ask",
            "steps": [
                {"type": "shell", "shell": "logrotate --state ~/.logrotate ~/logrotate.conf"}
            ],
        },
    ]


def dark_palette() -> QPalette:
    """The colours a desktop in dark mode hands to Qt."""
    palette = QPalette()
    for role, colour in (
        (QPalette.ColorRole.Window, "#2b2b2b"),
        (QPalette.ColorRole.WindowText, "#e6e6e6"),
        (QPalette.ColorRole.Base, "#1e1e1e"),
        (QPalette.ColorRole.AlternateBase, "#262626"),
        (QPalette.ColorRole.Text, "#e6e6e6"),
        (QPalette.ColorRole.Button, "#353535"),
        (QPalette.ColorRole.ButtonText, "#e6e6e6"),
        (QPalette.ColorRole.Highlight, "#2f65ca"),
        (QPalette.ColorRole.HighlightedText, "#ffffff"),
        (QPalette.ColorRole.PlaceholderText, "#8c8c8c"),
        (QPalette.ColorRole.ToolTipBase, "#353535"),
        (QPalette.ColorRole.ToolTipText, "#e6e6e6"),
    ):
        palette.setColor(role, QColor(colour))
    return palette


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument(
        "--dark", action="store_true", help="a dark palette, as a desktop in dark mode gives"
    )
    parser.add_argument(
        "--only",
        choices=["assistant"],
        help="take only these pages' screenshots (no PostgreSQL or OpenID provider needed)",
    )
    args = parser.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="atom-shots-") as tmp:
        root = Path(tmp)
        if args.only == "assistant":
            with (
                running_secret_service(root / "keyring") as keyring_session,
                running_display() as x,
            ):
                os.environ.update(x.env())
                os.environ.pop("QT_QPA_PLATFORM", None)
                return capture_only_assistant(
                    root, out, keyring_session.backend(), x.name, args.dark
                )
        with (
            running_secret_service(root / "keyring") as keyring_session,
            running_display() as x,
            running_postgres() as postgres,
            running_oidc_provider(root / "oidc") as oidc,
        ):
            os.environ.update(x.env())
            os.environ.pop("QT_QPA_PLATFORM", None)
            sync_password = demo_sync_server(postgres)
            return capture(
                root,
                out,
                keyring_session.backend(),
                x.name,
                dark=args.dark,
                sync=(postgres.tcp_url(SYNC_ROLE, SYNC_DATABASE), sync_password),
                oidc=oidc,
            )


def demo_sync_server(postgres: PostgresServer) -> str:
    """A sync server with its schema and a device's role; returns the role's password."""
    import psycopg  # noqa: PLC0415

    from atom_desktop.sync.server.connection import parse_address  # noqa: PLC0415
    from atom_desktop.sync.server.migrator import init_server  # noqa: PLC0415
    from atom_desktop.sync.server.users import add_user  # noqa: PLC0415

    with psycopg.connect(postgres.admin_url(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {SYNC_DATABASE}")
    admin = parse_address(postgres.admin_url(SYNC_DATABASE))
    init_server(admin)
    password = os.urandom(12).hex()
    add_user(admin, tenant=SYNC_TENANT, role=SYNC_ROLE, password=password)
    return password


async def demo_conflict(runtime: Any) -> None:
    """A task edited here while another device's newer edit of it came in (a lost change)."""
    import asyncio  # noqa: PLC0415

    from atom_desktop.core.hlc import pack  # noqa: PLC0415
    from atom_desktop.store.replica import RemoteRow, SyncReplica  # noqa: PLC0415
    from atom_desktop.store.task_types import TaskCreate, TaskUpdate  # noqa: PLC0415
    from atom_desktop.sync.secrets import with_local_secrets  # noqa: PLC0415

    tasks = runtime.store.tasks
    task = await asyncio.to_thread(tasks.create, TaskCreate(title="Book the venue", priority=1))
    edit = TaskUpdate(title="Book the venue for 40 people", priority=2)
    await asyncio.to_thread(tasks.update, task.id, edit)
    later_ms = int(datetime.now(UTC).timestamp() * 1000) + 4 * 60_000
    theirs = {**task.to_json(), "title": "Book the venue (cancelled)"}
    row = RemoteRow("task", task.id, theirs, pack(later_ms, 0), OTHER_DEVICE, False, 0)
    # Cursor 0: the pull cursor only moves forward, so the real pull later starts at 0.
    await asyncio.to_thread(SyncReplica(runtime.store.database).apply, [row], 0, with_local_secrets)


class Camera:
    """Waits on the Qt loop (the agent and the window work meanwhile) and takes screenshots."""

    def __init__(self, display: str, out: Path) -> None:
        self.display = display
        self.out = out

    def wait(self, ms: int) -> None:
        """Let the Qt loop run for ``ms`` milliseconds."""
        from PySide6.QtCore import QEventLoop, QTimer  # noqa: PLC0415 - as the captures do

        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    def until(self, condition: Callable[[], bool], what: str, seconds: float = 30) -> None:
        """Let the Qt loop run until ``condition`` holds (RuntimeError naming ``what`` if not)."""
        for _ in range(int(seconds * 20)):
            if condition():
                return
            self.wait(50)
        raise RuntimeError(f"timed out waiting for {what}")

    def shot(self, name: str) -> None:
        """The whole display, once the window has settled, as ``name``.png."""
        self.wait(400)
        subprocess.run(
            ["import", "-display", self.display, "-window", "root", str(self.out / f"{name}.png")],
            check=True,
        )
        print(f"wrote {self.out / name}.png")


def capture(
    root: Path,
    out: Path,
    backend: object,
    display: str,
    *,
    dark: bool,
    sync: tuple[str, str],
    oidc: OidcProvider,
) -> int:
    from PySide6.QtCore import QPoint  # noqa: PLC0415
    from PySide6.QtWidgets import QApplication  # noqa: PLC0415

    from atom_desktop.automations.model import AutomationSpec  # noqa: PLC0415
    from atom_desktop.config.paths import AppPaths  # noqa: PLC0415
    from atom_desktop.config.profile import Profile  # noqa: PLC0415
    from atom_desktop.config.settings import Settings  # noqa: PLC0415
    from atom_desktop.core.redaction import Redactor  # noqa: PLC0415
    from atom_desktop.gui import jobs  # noqa: PLC0415
    from atom_desktop.gui.app import DesktopApp  # noqa: PLC0415
    from atom_desktop.platform.autostart import autostart_for_this_system  # noqa: PLC0415
    from atom_desktop.store.task_types import TaskCreate  # noqa: PLC0415

    app = QApplication([sys.argv[0]])
    app.setQuitOnLastWindowClosed(False)
    if dark:
        app.setStyle("Fusion")
        app.setPalette(dark_palette())
    paths = AppPaths.resolve(data_dir=root / "data", config_dir=root / "config")
    paths.ensure()
    with socket.socket() as probe:  # a free port, shown on the pages like a real one
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(data_dir=paths.data_dir, config_dir=paths.config_dir, port=port)
    desktop = DesktopApp(
        paths.config_dir,
        autostart_for_this_system(["atom-desktop", "--background"]),
        keyring_backend=backend,  # type: ignore[arg-type]
    )
    profile = Profile(settings, paths, Redactor())

    camera = Camera(display, out)
    wait, until, shot = camera.wait, camera.until, camera.shot

    # One notification is shown on purpose (on Home); the demo runs stay quiet.
    desktop.preferences.notifications = False
    desktop.start(lambda: profile)
    until(lambda: desktop.host.is_running, "the agent")
    window = desktop.window
    window.resize(1180, 720)
    window.move(40, 50)
    # A new profile's Home: every card says what will appear and how.
    window.home.refresh()
    shot("home-new")
    due = datetime.now(UTC) + timedelta(days=2)
    for task in (
        TaskCreate(title="Rotate the backup keys", priority=3, due_at=due, tags=["ops"]),
        TaskCreate(title="Review the sync conflicts report", priority=2, tags=["sync"]),
        TaskCreate(title="Write release notes for 0.2", tags=["docs", "release"]),
        TaskCreate(title="Clean up ~/Downloads", status="doing"),
    ):
        desktop.host.call(functools.partial(jobs.create_task, data=task))
    desktop.host.call(lambda rt: jobs.create_token(rt, "backup-script", ["read", "run"]))
    for command in DEMO_COMMANDS:
        desktop.host.call(functools.partial(jobs.start_shell, line=command))
    wait(1500)
    window.home.refresh()
    window.activateWindow()  # in front, so the notification shows in the window
    until(window.isActiveWindow, "the window in front")
    desktop.tray.notify("Run failed (exit 1)", "for i in 1 2 3; do printf …", failed=True)
    shot("home")
    desktop.tray.icon.hide()  # hides the notification bubble with it
    window.toasts.hide()  # and the window's own, shown while it is in front
    desktop.tray.icon.show()
    window.show_page(1)
    window.tasks.refresh()
    shot("tasks")
    for i, record_text in enumerate(["ls -la", "step", "build ok"]):
        item = next(
            window.console.history.item(j)
            for j in range(window.console.history.count())
            if record_text in window.console.history.item(j).toolTip()
        )
        window.console.open_run(item.data(256), window.console.history.command_of(item))
        del i
    window.show_page(2)
    wait(800)
    shot("console")
    window.show_page(3)
    window.activity.refresh()
    shot("activity")
    window.show_page(4)
    shot("settings")
    capture_sync(desktop, sync, until, shot)
    capture_integrations(desktop, oidc, until, shot)
    automation_ids: list[str] = []
    inbox = root / "Invoices"
    inbox.mkdir()
    specs = demo_automations(inbox)
    for spec in specs:
        model = AutomationSpec.model_validate(spec)
        desktop.host.call(
            functools.partial(jobs.create_automation, spec=model),
            lambda state: automation_ids.append(state.record.id),
        )
    until(lambda: len(automation_ids) == len(specs), "the demo automations")
    for automation_id in automation_ids:
        desktop.host.call(functools.partial(jobs.trigger_automation, automation_id=automation_id))
    page = window.automations
    until(lambda: page.approvals.table.topLevelItemCount() == 1, "the demo approval")
    window.show_page(5)
    page.refresh()
    until(lambda: page.table.topLevelItemCount() == len(specs), "the automation list")
    page.select(automation_ids[0])
    until(lambda: page.steps_tree.topLevelItemCount() == 2, "the demo run's steps")
    shot("automations")
    editor = page.edit_selected()
    assert editor is not None
    editor.move(160, 90)
    editor.tabs.setCurrentWidget(editor.triggers)
    shot("automation-editor")
    editor.tabs.setCurrentWidget(editor.steps)
    shot("automation-editor-steps")
    editor.reject()
    page.show_approvals()
    shot("approvals")
    desktop.tray.menu.popup(QPoint(1000, 40))
    shot("tray-menu")
    desktop.tray.menu.hide()
    capture_assistant(desktop, until, shot)
    # Last: its runs would otherwise show on the pages above.
    capture_diagnostics(desktop, until, wait, shot)
    desktop.host.request_stop()
    until(lambda: not desktop.host.thread_alive, "the agent to stop")
    desktop.host.stop()
    return 0


def capture_only_assistant(root: Path, out: Path, backend: object, display: str, dark: bool) -> int:
    """The Assistant page and Settings → Assistant alone, on a fresh profile."""
    from PySide6.QtWidgets import QApplication  # noqa: PLC0415

    from atom_desktop.config.paths import AppPaths  # noqa: PLC0415
    from atom_desktop.config.profile import Profile  # noqa: PLC0415
    from atom_desktop.config.settings import Settings  # noqa: PLC0415
    from atom_desktop.core.redaction import Redactor  # noqa: PLC0415
    from atom_desktop.gui.app import DesktopApp  # noqa: PLC0415
    from atom_desktop.platform.autostart import autostart_for_this_system  # noqa: PLC0415

    app = QApplication([sys.argv[0]])
    app.setQuitOnLastWindowClosed(False)
    if dark:
        app.setStyle("Fusion")
        app.setPalette(dark_palette())
    paths = AppPaths.resolve(data_dir=root / "data", config_dir=root / "config")
    paths.ensure()
    settings = Settings(data_dir=paths.data_dir, config_dir=paths.config_dir, port=0)
    desktop = DesktopApp(
        paths.config_dir,
        autostart_for_this_system(["atom-desktop", "--background"]),
        keyring_backend=backend,  # type: ignore[arg-type]
    )

    camera = Camera(display, out)
    until, shot = camera.until, camera.shot

    desktop.preferences.notifications = False
    desktop.start(lambda: Profile(settings, paths, Redactor()))
    until(lambda: desktop.host.is_running, "the agent")
    window = desktop.window
    window.resize(1180, 720)
    window.move(40, 50)
    capture_assistant(desktop, until, shot)
    desktop.host.request_stop()
    until(lambda: not desktop.host.thread_alive, "the agent to stop")
    desktop.host.stop()
    return 0


def capture_assistant(
    desktop: Any,
    until: Callable[[Callable[[], bool], str], None],
    shot: Callable[[str], None],
) -> None:
    """The Assistant page with a plan whose first step ran, then Settings → Assistant.

    The provider is the fake OpenAI-compatible server of the tests: it answers
    from a script (no model runs), in the real wire format.
    """
    import json  # noqa: PLC0415

    from atom_desktop.gui import jobs  # noqa: PLC0415
    from atom_desktop.gui.main_window import PAGES  # noqa: PLC0415
    from tests.support import fake_openai_server as fake  # noqa: PLC0415

    window = desktop.window
    window.show_page(PAGES.index("Assistant"))
    shot("assistant-new")
    with fake.fake_openai_server(None) as server:
        base_url = server.base_url + "/v1"
        values = {
            "assistant_provider": "openai_compatible",
            "assistant_base_url": base_url,
            "assistant_model": fake.MODEL,
        }
        applied: list[None] = []
        desktop.host.call(lambda rt: jobs.assistant_configure(rt, values), applied.append)
        until(lambda: bool(applied), "the provider to be set")
        plan = {
            "reply": "I will check how full the disk is, then note the clean-up as a task. "
            "Nothing runs until you approve it.",
            "steps": [
                {"type": "shell", "shell": "df -h / | tail -n 1"},
                {"type": "task_create", "title": "Free up disk space", "priority": 2},
            ],
        }
        text = json.dumps(plan)
        server.add(fake.stream([text[i : i + 12] for i in range(0, len(text), 12)]))
        window.show_page(PAGES.index("Assistant"))
        page = window.assistant
        page.input.setText("how full is my disk? and remind me to clean it up")
        page.send()
        until(lambda: not page.asking and len(page.cards) == 1, "the plan")
        card = next(iter(page.cards.values()))
        plan_id = card.plan_id
        card.rows[0].approve.click()
        until(
            lambda: str(page.cards[plan_id].view.steps[0].record.status) == "succeeded",
            "the first step to run",
        )
        page.focus_input()
        shot("assistant")

        window.show_assistant_settings()
        box = window.settings_page.assistant
        box.provider.setCurrentIndex(box.provider.findData("openai_compatible"))
        box.base_url.setText(base_url)
        box.model.setCurrentText(fake.MODEL)
        box.share_tasks.setChecked(True)
        box.auto["notify"].setChecked(True)
        server.add(fake.stream(["ready"]))
        box.test()
        until(lambda: "ready" in box.test_result.text(), "the provider test")
        window.settings_page.content_scroll.ensureWidgetVisible(box)
        shot("settings-assistant")


def capture_diagnostics(
    desktop: Any,
    until: Callable[[Callable[[], bool], str], None],
    wait: Callable[[int], None],
    shot: Callable[[str], None],
) -> None:
    """The Diagnostics page after a minute of work: API requests, runs writing output in
    bursts, and an error report (a failure of the demo's backup, reported as the agent
    reports one)."""
    import shlex  # noqa: PLC0415

    from atom_desktop.gui import jobs  # noqa: PLC0415
    from atom_desktop.gui.main_window import PAGES  # noqa: PLC0415

    runtime = desktop.host.runtime
    health = f"http://127.0.0.1:{runtime.api_port}/api/v1/health"
    traffic = (
        "import time, urllib.request\n"
        "for n in range(400):\n"
        f"    urllib.request.urlopen({health!r}).read()\n"
        "    time.sleep(0.05 if (n // 100) % 2 else 0.2)\n"
    )
    commands = [
        f"{shlex.quote(sys.executable)} -c {shlex.quote(traffic)}",
        "for i in $(seq 1 12); do head -c $((i * 4000000)) /dev/zero; sleep 2; done",
        "sleep 20; for i in 1 2 3; do head -c 50000000 /dev/zero; sleep 4; done",
    ]
    for command in commands:
        desktop.host.call(functools.partial(jobs.start_shell, line=command))
    try:
        raise OSError(28, "No space left on device", "/media/backup/notes")
    except OSError as exc:
        runtime.error_reports.record("automation 'Back up notes', step sync", exc)
    window = desktop.window
    window.show_page(PAGES.index("Diagnostics"))
    page = window.diagnostics
    until(lambda: bool(page.plots), "the plots")
    wait(50_000)
    page.refresh()
    until(lambda: bool(page.listed_reports()), "the report to be listed")
    page.reports.setCurrentItem(page.reports.topLevelItem(0))
    shot("diagnostics")


def capture_sync(
    desktop: Any,
    sync: tuple[str, str],
    until: Callable[[Callable[[], bool], str], None],
    shot: Callable[[str], None],
) -> None:
    """The Sync page: off, after a failed test (a wrong password), then connected."""
    url, password = sync
    window = desktop.window
    window.show_sync()
    page = window.sync_page
    until(lambda: page.status is not None, "the sync status")
    shot("sync-off")
    form = page.connection
    form.url.setText(url)
    form.password.setText("not-the-password")
    form.test()
    until(lambda: form.result.text().startswith("Authentication"), "the failed test")
    shot("sync-test-failed")
    done: list[None] = []
    desktop.host.call(demo_conflict, done.append)
    until(lambda: bool(done), "the demo conflict")
    form.password.setText(password)
    form.connect_server()
    until(lambda: page.state_label.text() == "Up to date", "sync to be up to date")
    page.refresh()
    until(lambda: len(page.listed_conflicts()) == 1, "the conflict to be listed")
    shot("sync")


def capture_integrations(
    desktop: Any,
    oidc: OidcProvider,
    until: Callable[[Callable[[], bool], str], None],
    shot: Callable[[str], None],
) -> None:
    """The Integrations page: an OpenID Connect account signed in, a Telegram key, the catalogue.

    Both are added through the page's own dialogs; the browser is played by
    the provider's login helper (there is no browser on the virtual display).
    """
    import httpx  # noqa: PLC0415

    window = desktop.window
    window.show_integrations()
    page = window.integrations_page
    until(lambda: page.loaded and bool(page.providers), "the catalogue")
    opened: list[str] = []

    def browser(url: Any) -> bool:
        opened.append(url.toString())
        return True

    page.open_url = browser
    page.connect_provider("oidc")
    dialog = page.dialog
    dialog.parameters["issuer"].setText(oidc.issuer)
    dialog.client_id.setText(oidc.client_id)
    dialog.move(260, 200)
    shot("integrations-connect")
    dialog.submit()
    until(lambda: bool(opened), "the sign-in address")
    with httpx.Client(timeout=30) as client:
        client.get(oidc.login(opened[0])).raise_for_status()
    until(
        lambda: [a.status for a in page.accounts.values()] == ["connected"],
        "the account to be connected",
    )
    page.add_key("telegram")
    page.dialog.secrets["token"].setText("123456789:a-demo-token-for-the-screenshot")
    page.dialog.submit()
    until(lambda: len(page.accounts) == 2 and page.dialog is None, "the Telegram key")
    page.notice.hide()
    shot("integrations")


if __name__ == "__main__":
    raise SystemExit(main())
