"""Ending a run's processes: the order in which they are signalled."""

from __future__ import annotations

import signal
import subprocess
import time

import psutil

from atom_desktop.platform.process_control import Ending
from atom_desktop.runner import process_tree


def _tree(shell: subprocess.Popen[bytes]) -> set[process_tree.Identity]:
    root = psutil.Process(shell.pid)
    deadline = time.monotonic() + 10
    while not root.children() and time.monotonic() < deadline:
        time.sleep(0.01)
    procs = [root, *root.children(recursive=True)]
    return {ident for p in procs if (ident := process_tree.identity(p)) is not None}


def test_parents_come_before_the_processes_they_started() -> None:
    # "; :" keeps the shell from replacing itself with sleep.
    shell = subprocess.Popen(["sh", "-c", "sleep 30; :"])
    idents: set[process_tree.Identity] = set()
    try:
        idents = _tree(shell)
        assert len(idents) == 2
        assert process_tree.parents_first(idents)[0][0] == shell.pid
        process_tree.signal_all(idents, Ending.TERMINATE, None)
        # Signalled first, the shell ends by the signal rather than exiting
        # with 143 after seeing its child killed.
        assert shell.wait(timeout=10) == -signal.SIGTERM
    finally:
        shell.kill()
        shell.wait()
        for ident in idents:
            if (proc := process_tree.alive(ident)) is not None:
                proc.kill()
