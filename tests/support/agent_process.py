"""Runs the real ``atom-desktop`` program as a subprocess and reads its output."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path


class AgentProcess:
    """``python -m atom_desktop ARGS`` with stderr read line by line as it comes.

    ``program`` starts another executable in its place (a built app).
    """

    def __init__(
        self, args: list[str], env: dict[str, str], program: list[str] | None = None
    ) -> None:
        program = program if program is not None else [sys.executable, "-m", "atom_desktop"]
        self.proc = subprocess.Popen(
            [*program, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
        )
        assert self.proc.stdout is not None
        self._out = self.proc.stdout
        os.set_blocking(self._out.fileno(), False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._out, selectors.EVENT_READ)
        self._buffer = b""
        self.output = ""

    def _read_some(self, timeout: float) -> bool:
        if not self._selector.select(timeout):
            return True
        chunk = self._out.read()
        if not chunk:
            return False
        self._buffer += chunk
        text, _, self._buffer = self._buffer.rpartition(b"\n")
        if text:
            self.output += text.decode(errors="replace") + "\n"
        return True

    def read_output(self, timeout: float) -> bool:
        """Take in what the program wrote within ``timeout``; False once its output ended."""
        return self._read_some(timeout)

    def wait_for(self, needle: str, timeout: float = 30) -> None:
        """Block until ``needle`` appears in the output; fail with the output if it does not."""
        deadline = time.monotonic() + timeout
        while needle not in self.output:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._read_some(min(remaining, 0.5)):
                if needle in self.output:
                    return
                raise AssertionError(f"{needle!r} did not appear; output so far:\n{self.output}")

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30) -> int:
        """Send ``sig``, wait for the exit, collect the rest of the output."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait(timeout)

    def wait(self, timeout: float = 30) -> int:
        """Wait for the process to end on its own; return its exit code."""
        deadline = time.monotonic() + timeout
        while self._read_some(max(0.0, min(0.5, deadline - time.monotonic()))):
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"agent did not exit; output:\n{self.output}")
        code = self.proc.wait(max(0.1, deadline - time.monotonic()))
        self.output += self._buffer.decode(errors="replace")
        self._buffer = b""
        self.close()
        return code

    def kill(self) -> None:
        """Kill the process (cleanup after a failed test)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.close()

    def close(self) -> None:
        """Release the pipe and selector."""
        self._selector.close()
        self._out.close()


def agent_env(
    base: dict[str, str], data_dir: Path, config_dir: Path, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """An environment for one agent profile, without the developer's ATOM_* settings."""
    env = {k: v for k, v in base.items() if not k.startswith("ATOM_")}
    # Port 0: the agent picks a free port and writes it into its lock file.
    env.update(ATOM_DATA_DIR=str(data_dir), ATOM_CONFIG_DIR=str(config_dir), ATOM_PORT="0")
    env.update(extra or {})
    return env


def run_cli(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m atom_desktop ARGS`` to the end, its output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "atom_desktop", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
