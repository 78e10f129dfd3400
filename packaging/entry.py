"""The built app's entry point (PyInstaller runs this file, frozen).

A build has no interpreter to start scripts with, so the one executable also
plays the run supervisor: the runner starts it with ``SUPERVISOR_FLAG`` first,
and that path imports nothing but the supervisor (standard library only), so
it starts as fast as the frozen interpreter allows.
"""

import os
import sys

# atom_desktop.runner.supervision.FROZEN_FLAG, written out: importing that
# module here would load asyncio into every run's supervisor.
SUPERVISOR_FLAG = "--run-supervisor"


def restore_library_path(environ: "os._Environ[str]") -> None:
    """Give child processes the library path the app was started with.

    The build's loader points LD_LIBRARY_PATH at the bundle's own libraries
    and keeps the original in LD_LIBRARY_PATH_ORIG. This process has loaded
    its libraries by now; left in place, the value would make every command
    the agent runs (and the browser it opens) load the bundle's libssl or Qt
    in place of the system's.
    """
    original = environ.pop("LD_LIBRARY_PATH_ORIG", None)
    if original is None:
        environ.pop("LD_LIBRARY_PATH", None)
    else:
        environ["LD_LIBRARY_PATH"] = original


if __name__ == "__main__":
    restore_library_path(os.environ)
    if len(sys.argv) > 1 and sys.argv[1] == SUPERVISOR_FLAG:
        from atom_desktop.runner import supervisor

        sys.exit(supervisor.main(sys.argv[2:]))
    from atom_desktop.cli import main

    sys.exit(main())
