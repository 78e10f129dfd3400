"""A service's long-lived task that ends with an error: reported, and told.

Most of the agent's loops catch what they did not expect and go on (sync,
the integrations' housekeeping). A task that cannot (the runner's process
watch, the API server) simply ends, and asyncio would say so only when the
task is collected, if ever. :func:`watch_service_task` logs it at once (so
it becomes an error report, diagnostics/edges.py) and publishes
:class:`~atom_desktop.core.events.ServiceStopped`, which becomes an alert.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from atom_desktop.core.events import EventBus, ServiceStopped

logger = logging.getLogger(__name__)


def watch_service_task(task: asyncio.Task[Any], service: str, bus: EventBus) -> None:
    """Report and announce ``task``'s end if it ends with an exception (not a cancel)."""

    def done(ended: asyncio.Task[Any]) -> None:
        if ended.cancelled():
            return
        exc = ended.exception()
        if exc is None:
            return
        logger.error(
            "The %s stopped with an error",
            service,
            exc_info=exc,
            extra={"report_where": f"service: {service} ({ended.get_name()})"},
        )
        # The exception's text may hold anything: the event names only its type.
        bus.publish(ServiceStopped(service=service, error=type(exc).__name__))

    task.add_done_callback(done)
