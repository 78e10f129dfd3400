"""Stop signals reach the agent's loop, through the loop (POSIX) or through signal.signal (Windows).

The portable backend is the one Windows uses; it works on POSIX as well,
so here both are tried with real signals sent to a real process.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

from atom_desktop.platform import stop_signals

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="sends POSIX signals")

# Waits on a loop for a stop signal through the chosen backend, then says
# which one came and whether every handler is back as it was.
_PROGRAM = textwrap.dedent(
    """
    import asyncio
    import signal
    import sys

    from atom_desktop.platform import stop_signals

    BACKENDS = {"loop": stop_signals.LoopStopSignals, "portable": stop_signals.PortableStopSignals}


    async def main(backend):
        loop = asyncio.get_running_loop()
        got = asyncio.Event()
        seen = []
        before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

        def on_signal(sig):
            seen.append(sig.name)
            got.set()

        uninstall = BACKENDS[backend]().install(loop, on_signal)
        print("ready", flush=True)
        try:
            await asyncio.wait_for(got.wait(), 60)
        finally:
            uninstall()
        after = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        # asyncio's remove_signal_handler puts SIGINT back to Python's default,
        # not to asyncio.run's own handler that was there: only SIGTERM is compared.
        compared = (signal.SIGTERM,) if backend == "loop" else tuple(before)
        restored = all(after[sig] == before[sig] for sig in compared)
        print("stopped by", *seen, "restored" if restored else "changed", flush=True)


    asyncio.run(main(sys.argv[1]))
    """
)


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        ("linux", stop_signals.LoopStopSignals),
        ("darwin", stop_signals.LoopStopSignals),
        ("win32", stop_signals.PortableStopSignals),
    ],
    ids=["linux", "darwin", "win32"],
)
def test_the_backend_is_chosen_by_the_system(platform: str, expected: type) -> None:
    assert isinstance(stop_signals.choose_backend(platform), expected)


def test_sigint_and_sigterm_always_stop() -> None:
    assert stop_signals.stop_signal_numbers()[:2] == (signal.SIGINT, signal.SIGTERM)


def _wait_for_line(proc: subprocess.Popen[str], expected: str) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the program prints it at once, or ends
    assert line.strip() == expected, line


@pytest.mark.parametrize("backend", ["portable", "loop"], ids=["portable", "loop"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_real_signal_stops_the_loop_cleanly(backend: str, sig: signal.Signals) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _PROGRAM, backend],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_line(proc, "ready")
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert out.strip() == f"stopped by {sig.name} restored"
