"""A real Secret Service (gnome-keyring) on a private D-Bus session bus.

Both daemons run as our children in a throwaway HOME, so the tests never touch
the user's real keyring, and both are stopped (and waited for) afterwards.

``login_keyring=False`` gives a first login's state: no default collection,
so the first real read makes gnome-keyring ask for a new keyring's password.
With ``prompter_display`` the bus starts the real prompter (gcr-prompter, GTK)
on that X display when a prompt is due, and :func:`answer_prompt` types into
it as a person would; without it, every prompt is dismissed at once (nothing
provides the prompter).
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

import psutil
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
  {service_dir}
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

    def has_default_collection(self) -> bool:
        """Whether a default keyring exists (looked up without creating one)."""
        import secretstorage  # noqa: PLC0415

        conn = secretstorage.dbus_init()
        try:
            secretstorage.collection.get_collection_by_alias(conn, "default")
        except secretstorage.exceptions.ItemNotFoundException:
            return False
        finally:
            conn.close()
        return True

    def stored(self, service: str, entry: str) -> str | None:
        """A secret as the keyring holds it (read without any prompt: it must be unlocked)."""
        import secretstorage  # noqa: PLC0415

        conn = secretstorage.dbus_init()
        try:
            collection = secretstorage.collection.get_collection_by_alias(conn, "default")
            assert not collection.is_locked()
            for item in collection.search_items({"service": service, "username": entry}):
                return item.get_secret().decode()
        finally:
            conn.close()
        return None


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


def _wait_until_answering(deadline: float) -> None:
    """Wait until gnome-keyring answers on the bus (it has no default collection)."""
    import secretstorage  # noqa: PLC0415

    last = "not asked yet"
    while time.monotonic() < deadline:
        try:
            conn = secretstorage.dbus_init()
        except secretstorage.exceptions.SecretServiceNotAvailableException as exc:
            last = str(exc)
        else:
            try:
                # Lists without creating anything; fails until the daemon owns its name.
                list(secretstorage.get_all_collections(conn))
                try:
                    secretstorage.collection.get_collection_by_alias(conn, "default")
                except secretstorage.exceptions.ItemNotFoundException:
                    return
                raise RuntimeError("a default collection exists in a fresh keyring home")
            except secretstorage.exceptions.SecretStorageException as exc:
                last = f"{type(exc).__name__}: {exc}"
            finally:
                conn.close()
        time.sleep(0.05)
    raise RuntimeError(f"gnome-keyring did not come up on the session bus: {last}")


PROMPTER = "/usr/libexec/gcr-prompter"
# Started by the bus when gnome-keyring first needs a prompt, as on a desktop:
# gcr-prompter quits after a few seconds without one, so it cannot be started
# ahead of time.
PROMPTER_SERVICE = f"""[D-BUS Service]
Name=org.gnome.keyring.SystemPrompter
Exec={PROMPTER}
"""


def answer_prompt(display: str, password: str | None, timeout: float = 30) -> None:
    """Answer gnome-keyring's prompt on ``display``: a new keyring's password
    (typed twice), or Cancel when ``password`` is None."""
    env = {**os.environ, "DISPLAY": display}
    deadline = time.monotonic() + timeout
    while True:
        found = subprocess.run(
            ["xdotool", "search", "--onlyvisible", "--class", "gcr-prompter"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        ).stdout.split()
        if found:
            break
        if time.monotonic() > deadline:
            raise AssertionError("no keyring prompt appeared")
        time.sleep(0.05)
    # The prompt grabs the keyboard, so typed keys reach it without a window manager.
    keys = ["key", "Escape"] if password is None else []
    if password is not None:
        keys = ["type", password, "key", "Tab", "type", password, "key", "Return"]
    while keys:
        verb, arg, *keys = keys
        subprocess.run(["xdotool", verb, arg], env=env, check=True, timeout=10)


@contextmanager
def running_secret_service(
    home: Path, *, login_keyring: bool = True, prompter_display: str | None = None
) -> Iterator[SecretServiceSession]:
    """Start dbus-daemon and gnome-keyring-daemon (and the prompter); stop them on exit."""
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
    service_dir = ""
    bus_env = env
    if prompter_display is not None:
        if not Path(PROMPTER).exists():
            raise RuntimeError(f"{PROMPTER} is missing; ./scripts/test installs gcr")
        services = home / "dbus-services"
        services.mkdir(exist_ok=True)
        (services / "org.gnome.keyring.SystemPrompter.service").write_text(PROMPTER_SERVICE)
        service_dir = f"<servicedir>{services}</servicedir>"
        # What the bus starts inherits its environment: the prompter's display.
        bus_env = {**env, "DISPLAY": prompter_display, "NO_AT_BRIDGE": "1"}
    config.write_text(BUS_CONFIG.format(runtime_dir=runtime_dir, service_dir=service_dir))
    bus = subprocess.Popen(
        ["dbus-daemon", f"--config-file={config}", "--nofork", "--nopidfile", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=bus_env,
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
    unlock = ["--unlock"] if login_keyring else []
    daemon = subprocess.Popen(
        ["gnome-keyring-daemon", "--foreground", *unlock, "--components=secrets"],
        stdin=subprocess.PIPE,
        stdout=daemon_log,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    daemon_log.close()
    assert daemon.stdin is not None
    if login_keyring:
        daemon.stdin.write(PASSWORD)
    daemon.stdin.close()
    saved = {k: os.environ.get(k) for k in ("DBUS_SESSION_BUS_ADDRESS", "XDG_DATA_HOME")}
    os.environ["DBUS_SESSION_BUS_ADDRESS"] = address
    os.environ["XDG_DATA_HOME"] = env["XDG_DATA_HOME"]
    try:
        try:
            if login_keyring:
                _wait_until_serving(time.monotonic() + 20)
            else:
                _wait_until_answering(time.monotonic() + 20)
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
        # A prompter the bus started is the bus's child: stopped first, and waited for.
        started_by_bus = psutil.Process(bus.pid).children() if bus.poll() is None else []
        for child in started_by_bus:
            child.terminate()
        psutil.wait_procs(started_by_bus, timeout=10)
        for proc in (daemon, bus):
            stop_process(proc)
        if bus.stdout is not None:
            bus.stdout.close()
        shutil.rmtree(runtime_dir, ignore_errors=True)
