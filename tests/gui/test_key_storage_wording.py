"""One answer to "where is my key", in the same words on Home, Settings, ``status`` and ``/health``.

The agent here has no OS keyring, so its key is in a file; every place that
tells the person so must say the same thing (a banner that said "because the
OS keyring is available" next to a page that said "no usable OS keyring" is
what this guards against).
"""

from __future__ import annotations

import httpx
from pytestqt.qtbot import QtBot

from atom_desktop.gui.app import DesktopApp
from atom_desktop.gui.main_window import PAGES
from atom_desktop.gui.pages.settings import SettingsPage

WAIT_MS = 15_000


def test_home_settings_status_and_health_say_the_same(qtbot: QtBot, desktop: DesktopApp) -> None:
    runtime = desktop.host.runtime
    assert runtime is not None
    key = runtime.store.key
    assert key is not None and key.storage == "file" and key.warning is not None
    words = key.describe()
    assert words.startswith(f"key file {key.key_file}, not in an OS keyring: ")

    home = desktop.window.home
    qtbot.waitUntil(lambda: home.key_label.text() == words, timeout=WAIT_MS)
    assert home.key_warning.text().endswith(key.warning)

    desktop.window.show_page(PAGES.index("Settings"))
    settings = desktop.window.settings_page
    assert isinstance(settings, SettingsPage)
    qtbot.waitUntil(lambda: settings.key_storage.text() == words, timeout=WAIT_MS)
    assert settings.keyring_backend.text() == "— (the key is not in an OS keyring)"

    _, secret = runtime.tokens.create("status reader", ["read"])
    base = f"http://127.0.0.1:{runtime.api_port}/api/v1"
    status = httpx.get(
        f"{base}/status", headers={"Authorization": f"Bearer {secret}"}, timeout=10
    ).json()
    assert (status["key_storage"], status["key_warning"]) == (words, key.warning)
    health = httpx.get(f"{base}/health", timeout=10).json()
    assert health["key_where"] == key.summary()
    assert words.replace(f" {key.key_file}", "") == key.summary()
