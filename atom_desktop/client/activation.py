"""A second launch of the desktop app: find the first and ask it to show itself."""

from __future__ import annotations

from atom_desktop.client.agent_client import AgentClient, ApiError, NoAgentError
from atom_desktop.client.discovery import agent_url, owner_token
from atom_desktop.config.paths import AppPaths
from atom_desktop.config.settings import Settings
from atom_desktop.core.errors import AtomError
from atom_desktop.core.redaction import Redactor
from atom_desktop.platform.instance_lock import LOCK_FILE_NAME, read_info

# A live agent answers in milliseconds; a busy one gets a little longer before
# the lock is taken for stale (a refused connection says so at once).
TIMEOUT_S = 2.0


def activate_running_instance(settings: Settings, paths: AppPaths, redactor: Redactor) -> bool:
    """Ask a running agent of this profile to raise its window.

    Returns False when no agent of this profile is running (start one), True
    when the running one was asked. Raises AtomError when one runs but cannot
    show a window (it is headless) or refuses.
    """
    if read_info(paths.data_dir / LOCK_FILE_NAME) is None:
        return False
    token = owner_token(settings, paths, redactor)
    try:
        with AgentClient(
            agent_url(settings, paths), token.secret if token else None, timeout=TIMEOUT_S
        ) as client:
            client.request("POST", "/app/activate", json={})
    except NoAgentError:
        return False  # a stale lock file: the new instance takes over
    except ApiError as exc:
        if exc.status == 409:
            raise AtomError(
                "ATOM Desktop is already running headless ('atom-desktop serve') on this "
                "data directory.",
                hint="Stop it first, or use its API and the command line.",
            ) from None
        # Anything else answering there is not our agent (a stale lock file
        # whose port was reused): start normally; the lock decides for real.
        return False
    return True
