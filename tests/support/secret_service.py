"""A real Secret Service (gnome-keyring) on a private D-Bus session bus.

Both daemons run as our children in a throwaway HOME, so the tests never touch
the user's real keyring, and both are stopped (and waited for) afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from keyring.backends import SecretService

from tests.support.processes import stop_process

PASSWORD = "atom-test-keyring"

# A session bus without service activation: the stock session config would
# start a second, locked gnome-keyring for any client that asks before ours
# has claimed its name ("another secret service is running").
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={runtime_dir}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@dataclass
class SecretServiceSession:
    """Environment of the running session and helpers to use it."""

    env: dict[str, str]
    bus: subprocess.Popen[str]
    daemon: subprocess.Popen[str]

    def backend(self) -> SecretService.Keyring:
        """A keyring backend talking to this session's Secret Service."""
        return SecretService.Keyring()

    def lock(self) -> None:
        """Lock the default collection, as a screen lock or logout would."""
        import secretstorage  # noqa: PLC0415

        conn = secretstorage.dbus_init()
        try:
            secretstorage.get_default_collection(conn).lock()
        finally:
            conn.close()


def _wait_until_serving(deadline: float) -> None:
    """Wait until the login collection exists, is the default and is unlocked.

    Asking the keyring library too early makes it try to create a default
    collection, which needs a prompt (there is no display) and fails; so poll
    with plain lookups that never create anything.
    """
    import secretstorage  # noqa: PLC0415
    from secretstorage.exceptions import SecretServiceNotAvailableException  # noqa: PLC0415

    last = "not asked yet"
    while time.monotonic() < deadline:
        try:
            conn = secretstorage.dbus_init()
        except SecretServiceNotAvailableException as exc:
            last = str(exc)
        else:
            try:
                collection = secretstorage.collection.get_collection_by_alias(conn, "default")
                if not collection.is_locked():
                    return
                last = "the default collection is locked"
            except secretstorage.exceptions.SecretStorageException as exc:
                last = f"{type(exc).__name__}: {exc}"
            finally:
                conn.close()
        time.sleep(0.05)
    raise RuntimeError(f"gnome-keyring did not come up on the session bus: {last}")


@contextmanager
def running_secret_service(home: Path) -> Iterator[SecretServiceSession]:
    """Start dbus-daemon and gnome-keyring-daemon; stop them on exit."""
    for tool in ("dbus-daemon", "gnome-keyring-daemon"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is missing; ./scripts/test installs it")
    home.mkdir(parents=True, exist_ok=True)
    # The bus's and the keyring's sockets live here: a short path of its own,
    # as a Unix socket's path is limited to 107 bytes (a test's tmp_path under
    # a parallel worker's folder, with a long test name, is longer).
    runtime_dir = Path(tempfile.mkdtemp(prefix="atom-bus-"))
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "share"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_RUNTIME_DIR": str(runtime_dir),
    }
    env.pop("DISPLAY", None)
    config = home / "bus.conf"
    config.write_text(BUS_CONFIG.format(runtime_dir=runtime_dir))
    bus = subprocess.Popen(
        ["dbus-daemon", f"--config-file={config}", "--nofork", "--nopidfile", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    assert bus.stdout is not None
    address = bus.stdout.readline().strip()
    if not address:
        bus.kill()
        bus.wait()
        bus.stdout.close()
        shutil.rmtree(runtime_dir, ignore_errors=True)
        raise RuntimeError("dbus-daemon printed no address")
    env["DBUS_SESSION_BUS_ADDRESS"] = address
    daemon_log = (home / "gnome-keyring.log").open("w")
    daemon = subprocess.Popen(
        ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
        stdin=subprocess.PIPE,
        stdout=daemon_log,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    daemon_log.close()
    assert daemon.stdin is not None
    daemon.stdin.write(PASSWORD)
    daemon.stdin.close()
    saved = {k: os.environ.get(k) for k in ("DBUS_SESSION_BUS_ADDRESS", "XDG_DATA_HOME")}
    os.environ["DBUS_SESSION_BUS_ADDRESS"] = address
    os.environ["XDG_DATA_HOME"] = env["XDG_DATA_HOME"]
    try:
        try:
            _wait_until_serving(time.monotonic() + 20)
        except RuntimeError as exc:
            log = (home / "gnome-keyring.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{exc}\ngnome-keyring-daemon said:\n{log}") from None
        yield SecretServiceSession(env=env, bus=bus, daemon=daemon)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        for proc in (daemon, bus):
            stop_process(proc)
        if bus.stdout is not None:
            bus.stdout.close()
        shutil.rmtree(runtime_dir, ignore_errors=True)
