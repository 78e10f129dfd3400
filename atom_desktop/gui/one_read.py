"""One read of a page's data at a time.

Pages read their data on the agent's thread and show it when it arrives.
Events can ask for a read while one is on its way; reading again at once would
overlap the two, and dropping the request would show stale data. So a read
asked for meanwhile is made once, after the one on its way has ended.
"""

from __future__ import annotations

from collections.abc import Callable


class OneRead:
    """Starts ``read`` unless one is on its way; then once more after it (see :meth:`done`)."""

    def __init__(self, read: Callable[[], object]) -> None:
        self._read = read
        self.running = False
        self._again = False

    def request(self) -> None:
        """Read now, or once the read on its way has ended."""
        if self.running:
            self._again = True
            return
        self.running = True
        self._read()

    def done(self) -> None:
        """The read on its way has ended (shown or failed): start the one asked for meanwhile."""
        self.running = False
        if self._again:
            self._again = False
            self.request()
