"""What holds a run's processes together so that all of them can be ended.

- POSIX: the run starts in a session (and process group) of its own, which
  ``killpg`` and the session id reach (``runner/process_tree.py``); there is
  nothing to hold here.
- Windows: the run starts suspended, goes into a Job Object of its own
  (``job_object.py``) and only then runs, so every process it ever starts
  is born inside the job: no race between starting and assigning. Ending
  the run ends the job; closing the job (at the end of the run, or by the
  system when the agent dies) ends whatever is left. It also starts in a
  process group of its own, so a Ctrl+C meant for the agent's console is
  not also sent to the run.

psutil's process-by-process ending stays the fallback on every system: when
the job cannot be made (a job the agent runs in forbids nesting, on old
Windows) the run goes on without one.

The choice is made once, in :func:`choose_containment`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any, Protocol

import psutil

from atom_desktop.platform import job_object
from atom_desktop.platform.job_object import JobApi, JobObject

logger = logging.getLogger(__name__)

# winbase.h process creation flags.
CREATE_SUSPENDED = 0x0000_0004
CREATE_NEW_PROCESS_GROUP = 0x0000_0200
CREATE_BREAKAWAY_FROM_JOB = 0x0100_0000
CREATE_NO_WINDOW = 0x0800_0000
# Suspended until it is in its job; no console window of its own (the app
# may have no console, and a console program would open one per run).
WINDOWS_RUN_FLAGS = CREATE_SUSPENDED | CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW


class Container(Protocol):
    """What holds one run's processes."""

    #: Whether it holds every process of the run, however it detached (a job does).
    whole: bool

    def end(self) -> bool:
        """End every process it holds, now; False where it holds nothing (POSIX) or could not."""
        ...

    def members(self) -> set[int]:
        """The pids it holds now (empty where it cannot tell)."""
        ...

    def close(self) -> None:
        """Let go of the run (idempotent); on Windows whatever is left ends."""
        ...


class Containment(Protocol):
    """How runs are started and held on this system."""

    def spawn_options(self) -> dict[str, Any]:
        """Keyword arguments for ``asyncio.create_subprocess_exec`` (``subprocess.Popen``)."""
        ...

    def contain(self, pid: int) -> Container:
        """Hold the run just started as ``pid``; raises OSError if it cannot be let run."""
        ...


class NoContainer:
    """Nothing held: the run's session and psutil do the work."""

    whole = False

    def end(self) -> bool:
        """Nothing to end here."""
        return False

    def members(self) -> set[int]:
        """Nothing known here."""
        return set()

    def close(self) -> None:
        """Nothing to let go."""


class SessionContainment:
    """POSIX: a session and process group of the run's own (``start_new_session``)."""

    def spawn_options(self) -> dict[str, Any]:
        """Start the run as the leader of a new session."""
        return {"start_new_session": True}

    def contain(self, pid: int) -> Container:
        """The session is the container; nothing more to do."""
        return NoContainer()


class JobContainer:
    """A run held in a Windows Job Object."""

    whole = True

    def __init__(self, job: JobObject) -> None:
        self._job = job

    def end(self) -> bool:
        """``TerminateJobObject``: every process of the run, however it detached."""
        return self._job.terminate()

    def members(self) -> set[int]:
        """The processes in the job now."""
        return set(self._job.process_ids())

    def close(self) -> None:
        """Close the job; kill-on-close ends whatever is left."""
        self._job.close()


def resume_process(pid: int) -> None:
    """Let a process started suspended run (psutil: ``NtResumeProcess`` on Windows)."""
    try:
        psutil.Process(pid).resume()
    except psutil.Error as exc:
        raise OSError(f"could not resume process {pid}: {exc}") from exc


class JobContainment:
    """Windows: each run in a Job Object of its own, entered before its first instruction."""

    def __init__(
        self,
        api: Callable[[], JobApi] = job_object.load_job_api,
        resume: Callable[[int], None] = resume_process,
    ) -> None:
        self._api = api
        self._resume = resume

    def spawn_options(self) -> dict[str, Any]:
        """Start suspended, in a process group of its own, without a console window.

        Never ``CREATE_BREAKAWAY_FROM_JOB``: the run must stay in every job
        the agent is in, and in its own.
        """
        return {"creationflags": WINDOWS_RUN_FLAGS}

    def contain(self, pid: int) -> Container:
        """Put the suspended ``pid`` in a new job, then let it run.

        If no job can be made or entered, the run still starts, held by
        nothing but psutil (logged). If it cannot be resumed, OSError: the
        caller ends it.
        """
        container: Container
        try:
            job = JobObject(self._api())
        except OSError as exc:
            logger.warning("No job object for process %d (%s); ended by psutil alone", pid, exc)
            container = NoContainer()
        else:
            try:
                job.assign(pid)
            except OSError as exc:
                job.close()
                logger.warning(
                    "Process %d could not enter its job (%s); ended by psutil alone", pid, exc
                )
                container = NoContainer()
            else:
                container = JobContainer(job)
        try:
            self._resume(pid)
        except OSError:
            container.close()
            raise
        return container


def choose_containment(platform: str = sys.platform) -> Containment:
    """Job Objects on Windows, sessions everywhere else."""
    if platform == "win32":
        return JobContainment()
    return SessionContainment()
