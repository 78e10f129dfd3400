"""``atom-desktop serve`` stops cleanly on a signal through the portable handlers (as on Windows).

Windows' event loop has no signal handlers of its own, so there the agent
listens with ``signal.signal``. The program here is the real ``serve``,
with that backend chosen instead of the loop's, and gets real signals.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.support.agent_process import agent_env

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="sends POSIX signals")

# ``serve`` as ``atom-desktop`` runs it, with the Windows choice of stop signal handling.
_SERVE_PORTABLE = textwrap.dedent(
    """
    import sys

    from atom_desktop.platform import stop_signals

    stop_signals.choose_backend = lambda platform=sys.platform: stop_signals.PortableStopSignals()

    from atom_desktop.cli import main

    sys.exit(main(["serve"]))
    """
)


def _wait_for(path: Path, needle: str, proc: subprocess.Popen[bytes], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_text(errors="replace")
        if needle in text:
            return text
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"{needle!r} did not appear; output:\n{path.read_text(errors='replace')}")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_stops_with_exit_0_through_the_portable_handlers(
    tmp_path: Path, sig: signal.Signals
) -> None:
    env = agent_env(
        dict(os.environ),
        tmp_path / "data",
        tmp_path / "config",
        {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"},
    )
    log = tmp_path / "agent.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", _SERVE_PORTABLE],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        _wait_for(log, "agent running", proc, timeout=60)
        port = int(json.loads((tmp_path / "data" / "agent.lock").read_text())["port"])
        proc.send_signal(sig)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = log.read_text(errors="replace")
    assert code == 0, output
    assert f"Received {sig.name}; stopping" in output
    assert "Agent stopped" in output
    # Nothing listens on its port any more.
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
