"""The Sync page and the tray's sync line, against a real agent, store and PostgreSQL.

Qt runs offscreen; the agent runs on its own thread as in the app. The
server is the sync tests' real PostgreSQL (one per session, a database per
test); the password goes to a real Secret Service. Conflicts are filed the
way the sync engine files them: another device's newer version applied over
a change made here and not pushed yet.
"""

from __future__ import annotations

import asyncio
import logging
import re
import tomllib
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from keyring.backends import SecretService
from pytestqt.qtbot import QtBot

from atom_desktop.automations.model import AutomationSpec
from atom_desktop.config.paths import AppPaths
from atom_desktop.core.events import Event, SyncStatusChanged
from atom_desktop.core.hlc import pack
from atom_desktop.gui.app import DesktopApp
from atom_desktop.gui.pages.sync import SyncPage
from atom_desktop.gui.tray import Tray
from atom_desktop.runtime import Runtime
from atom_desktop.secrets.profile import keyring_service
from atom_desktop.store.replica import RemoteRow, SyncReplica
from atom_desktop.store.task_types import TaskCreate, TaskUpdate
from atom_desktop.sync.connection_settings import SYNC_PASSWORD_ENTRY
from atom_desktop.sync.secrets import with_local_secrets
from tests.gui.conftest import WAIT_MS
from tests.integration.sync.conftest import (  # noqa: F401 - fixtures used by name
    database,
    make_device,
    postgres_server,
    synced,
)
from tests.support.ports import free_port
from tests.support.sync_server import DeviceFactory, SyncDatabase

OTHER = "00000000-0000-4000-8000-0000000000dd"
#: Far ahead of any local stamp: the other device's version always wins.
FUTURE_MS = 4_000_000_000_000


def sync_page(qtbot: QtBot, app: DesktopApp) -> SyncPage:
    """The Sync page, shown, once it has read the agent's status."""
    app.window.show_sync()
    page = app.window.sync_page
    qtbot.waitUntil(lambda: page.status is not None, timeout=WAIT_MS)
    return page


def _url(db: SyncDatabase, role: str, port: int | None = None) -> str:
    return f"postgresql://{role}@127.0.0.1:{port or db.server.port}/{db.name}"


def _config(paths: AppPaths) -> dict[str, object]:
    path = paths.config_file
    return tomllib.loads(path.read_text()) if path.exists() else {}


def test_the_page_connects_through_the_form_and_shows_up_to_date(
    qtbot: QtBot,
    keyring_desktop: DesktopApp,
    synced: SyncDatabase,  # noqa: F811 - the fixture
    make_device: DeviceFactory,  # noqa: F811 - the fixture
    paths: AppPaths,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    app = keyring_desktop
    device = make_device("window", "acme")
    page = sync_page(qtbot, app)
    assert page.state_label.text() == "Off"
    assert not page.sync_now_button.isEnabled()
    assert page.server_label.text() == "none"
    assert app.tray.sync_action.text() == "Sync: off"
    form = page.connection
    assert not form.disconnect_button.isEnabled()

    form.url.setText(_url(synced, device.role))
    form.password.setText(device.password)
    assert form.password.echoMode() == form.password.EchoMode.Password
    form.connect_button.click()
    qtbot.waitUntil(lambda: page.state_label.text() == "Up to date", timeout=WAIT_MS)
    assert "Saved; sync is on." in form.result.text()
    assert f"as {device.role}, tenant 'acme'" in form.result.text()
    assert form.password.text() == ""
    # The state comes with the event at once; the server with the read that follows it.
    qtbot.waitUntil(lambda: page.server_label.text() == _url(synced, device.role), timeout=WAIT_MS)
    assert page.sync_now_button.isEnabled()
    qtbot.waitUntil(
        lambda: app.tray.sync_action.text() == "Sync: up to date · 0 pending", timeout=WAIT_MS
    )

    # The address went to the config file, the password to the keyring only.
    assert _config(paths)["sync_url"] == _url(synced, device.role)
    assert device.password not in paths.config_file.read_text()
    service = keyring_service(paths.data_dir.resolve())
    assert SecretService.Keyring().get_password(service, SYNC_PASSWORD_ENTRY) == device.password
    qtbot.waitUntil(form.disconnect_button.isEnabled, timeout=WAIT_MS)
    assert "leave empty to keep it" in form.password.placeholderText()

    # A task made now is pushed; Sync now returns to up to date with nothing waiting.
    made: list[object] = []
    app.host.call(
        lambda rt: asyncio.to_thread(rt.store.tasks.create, TaskCreate(title="from the window")),
        made.append,
    )
    page.sync_now_button.click()
    qtbot.waitUntil(
        lambda: bool(made and _server_titles(synced)) and page.pending_label.text() == "nothing",
        timeout=WAIT_MS,
    )
    assert _server_titles(synced) == ["from the window"]

    form.disconnect_server(confirm=False)
    qtbot.waitUntil(lambda: page.state_label.text() == "Off", timeout=WAIT_MS)
    assert "sync_url" not in _config(paths)
    assert SecretService.Keyring().get_password(service, SYNC_PASSWORD_ENTRY) is None
    assert not page.sync_now_button.isEnabled()
    assert device.password not in caplog.text


def _server_titles(db: SyncDatabase) -> list[str]:
    with db.connect_admin() as conn:
        rows = conn.execute("SELECT data->>'title' FROM atom_sync.tasks").fetchall()
    return [row[0] for row in rows]


def test_a_failed_test_names_the_failure_and_connect_saves_nothing(
    qtbot: QtBot,
    desktop: DesktopApp,
    synced: SyncDatabase,  # noqa: F811 - the fixture
    make_device: DeviceFactory,  # noqa: F811 - the fixture
    paths: AppPaths,
) -> None:
    device = make_device("typo", "acme")
    page = sync_page(qtbot, desktop)
    form = page.connection

    def outcome(action: Callable[[], None], url: str, password: str) -> str:
        form.result.clear()
        form.url.setText(url)
        form.password.setText(password)
        action()
        qtbot.waitUntil(
            lambda: form.test_button.isEnabled() and bool(form.result.text()), timeout=WAIT_MS
        )
        return form.result.text()

    wrong = outcome(form.test, _url(synced, device.role), "not-the-password")
    assert wrong.startswith("Authentication: ")
    assert "not-the-password" not in wrong
    refused = outcome(form.test, _url(synced, device.role, free_port()), device.password)
    assert refused.startswith("Refused: ")
    right = outcome(form.test, _url(synced, device.role), device.password)
    assert f"as {device.role}, tenant 'acme'" in right

    failed = outcome(form.connect_server, _url(synced, device.role), "not-the-password")
    assert failed.startswith("Authentication: ")
    assert _config(paths) == {}
    assert page.state_label.text() == "Off"


async def _lost_edit(runtime: Runtime, title: str, change: int) -> str:
    """A task edited here (``title``) while another device's newer edit came in."""
    tasks = runtime.store.tasks
    task = await asyncio.to_thread(tasks.create, TaskCreate(title=f"{title}, before"))
    await asyncio.to_thread(tasks.update, task.id, TaskUpdate(title=title))
    theirs = RemoteRow(
        "task",
        task.id,
        {**task.to_json(), "title": f"{title}, theirs"},
        pack(FUTURE_MS + 1000 * change, 0),
        OTHER,
        False,
        change,
    )
    replica = SyncReplica(runtime.store.database)
    await asyncio.to_thread(replica.apply, [theirs], change, with_local_secrets)
    return task.id


def test_conflicts_are_listed_restored_and_dismissed(
    qtbot: QtBot, desktop: DesktopApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_ids: list[str] = []

    async def two_lost_edits(runtime: Runtime) -> list[str]:
        return [
            await _lost_edit(runtime, "Plan the trip", 1),
            await _lost_edit(runtime, "Pay the rent", 2),
        ]

    desktop.host.call(two_lost_edits, task_ids.extend)
    qtbot.waitUntil(lambda: len(task_ids) == 2, timeout=WAIT_MS)
    page = sync_page(qtbot, desktop)
    page.refresh()  # a read begun before the conflicts were filed may have counted fewer
    qtbot.waitUntil(
        lambda: len(page.listed_conflicts()) == 2 and page.conflicts_label.text() == "2",
        timeout=WAIT_MS,
    )
    # Sync is off, so no sync.status event comes: the tray follows the page's reads.
    qtbot.waitUntil(lambda: desktop.tray.sync_action.text() == "Sync: off · 2 conflicts")
    newest = page.conflicts.topLevelItem(0)
    assert newest is not None
    assert [newest.text(i) for i in (0, 1, 4)] == ["Task", "Pay the rent", "Pay the rent, theirs"]
    # Relative; so far off it is a date. The exact time is in the tooltip.
    assert re.fullmatch(rf"device {OTHER[:8]}, \d+ \w+ 2096", newest.text(3)), newest.text(3)
    assert newest.toolTip(3).startswith(f"The version of device {OTHER}, 2096-")
    rent, trip = page.listed_conflicts()

    restore, _ = page.conflict_buttons(trip)
    assert restore.isEnabled()
    restore.click()
    qtbot.waitUntil(lambda: page.listed_conflicts() == [rent], timeout=WAIT_MS)
    titles: list[str] = []
    desktop.host.call(
        lambda rt: asyncio.to_thread(rt.store.tasks.get, task_ids[0]),
        lambda task: titles.append(task.title),
    )
    qtbot.waitUntil(lambda: titles == ["Plan the trip"], timeout=WAIT_MS)

    _, dismiss = page.conflict_buttons(rent)
    dismiss.click()
    qtbot.waitUntil(lambda: page.listed_conflicts() == [], timeout=WAIT_MS)
    assert page.conflicts_label.text() == "none"
    qtbot.waitUntil(lambda: desktop.tray.sync_action.text() == "Sync: off")
    desktop.host.call(
        lambda rt: asyncio.to_thread(rt.store.tasks.get, task_ids[1]),
        lambda task: titles.append(task.title),
    )
    qtbot.waitUntil(lambda: titles[-1] == "Pay the rent, theirs", timeout=WAIT_MS)

    # ATOM_SYNC_URL decides the server: the form says so and cannot change it.
    monkeypatch.setenv("ATOM_SYNC_URL", "postgresql://env-role@db.example:5432/atom")
    page.connection.load()
    qtbot.waitUntil(lambda: page.connection.from_environment, timeout=WAIT_MS)
    assert "ATOM_SYNC_URL is set in the environment" in page.connection.note.text()
    assert page.connection.url.text() == "postgresql://env-role@db.example:5432/atom"
    assert page.connection.url.isReadOnly()
    assert not page.connection.connect_button.isEnabled()
    assert not page.connection.disconnect_button.isEnabled()


def _event(payload: SyncStatusChanged, number: int) -> Event:
    return Event(number, datetime.now(UTC), payload)


def test_the_tray_line_follows_the_sync_state(qtbot: QtBot) -> None:
    tray = Tray()
    tray.agent_ready = True
    tray.update()
    assert tray.sync_action.text() == "Sync: off"
    assert tray.icon.toolTip() == "ATOM Desktop: idle"

    tray.on_event(_event(SyncStatusChanged("up_to_date", 0, 0, None), 1))
    assert tray.sync_action.text() == "Sync: up to date · 0 pending"
    assert tray.icon.toolTip() == "ATOM Desktop: idle"

    down = "The server at postgresql://r@h/db refused the connection."
    tray.on_event(_event(SyncStatusChanged("offline", 3, 0, down), 2))
    assert tray.sync_action.text() == "Sync: offline (3 pending)"
    assert tray.icon.toolTip() == "ATOM Desktop: idle · sync offline (3 pending)"
    assert tray.sync_action.toolTip() == down

    tray.on_event(_event(SyncStatusChanged("error", 1, 2, "authentication failed"), 3))
    assert tray.sync_action.text() == "Sync: error (1 pending) · 2 conflicts"
    assert "sync error" in tray.icon.toolTip()

    tray.on_event(_event(SyncStatusChanged("syncing", 1, 1, None), 4))
    assert tray.sync_action.text() == "Sync: syncing · 1 pending · 1 conflict"
    assert "sync" not in tray.icon.toolTip()
    opened: list[bool] = []
    tray.open_requested.connect(lambda: opened.append(True))
    tray.sync_action.trigger()
    assert opened == [True]


async def _lost_automation_edit(runtime: Runtime) -> str:
    """An automation renamed here while another device's newer rename came in."""
    spec = AutomationSpec.model_validate(
        {"name": "backup", "approval": "ask", "steps": [{"type": "shell", "shell": "true"}]}
    )
    automations = runtime.automations
    made = await automations.async_create(spec)
    mine = spec.model_copy(update={"name": "backup (mine)"})
    await automations.async_replace(made.record.id, mine)
    theirs = spec.model_dump(mode="json") | {"name": "backup (theirs)"}
    row = RemoteRow(
        "automation",
        made.record.id,
        {"name": theirs["name"], "enabled": True, "spec": theirs},
        pack(FUTURE_MS, 0),
        OTHER,
        False,
        1,
    )
    replica = SyncReplica(runtime.store.database)
    await asyncio.to_thread(replica.apply, [row], 1, with_local_secrets)
    return made.record.id


def test_an_automation_conflict_is_restored_from_the_page(
    qtbot: QtBot, desktop: DesktopApp
) -> None:
    ids: list[str] = []
    desktop.host.call(_lost_automation_edit, ids.append)
    qtbot.waitUntil(lambda: len(ids) == 1, timeout=WAIT_MS)
    page = sync_page(qtbot, desktop)
    page.refresh()
    qtbot.waitUntil(lambda: len(page.listed_conflicts()) == 1, timeout=WAIT_MS)
    (conflict,) = page.listed_conflicts()
    restore, _ = page.conflict_buttons(conflict)
    assert restore.isEnabled(), restore.toolTip()

    restore.click()
    qtbot.waitUntil(lambda: page.listed_conflicts() == [], timeout=WAIT_MS)
    names: list[str] = []
    desktop.host.call(
        lambda rt: rt.automations.async_get(ids[0]), lambda state: names.append(state.record.name)
    )
    qtbot.waitUntil(lambda: names == ["backup (mine)"], timeout=WAIT_MS)
