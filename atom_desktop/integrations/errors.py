"""What can go wrong with an integration, sorted by what the agent does next."""

from __future__ import annotations

import enum
from datetime import timedelta

from atom_desktop.core.errors import AtomError


class Failure(enum.StrEnum):
    """Why a request to a provider failed, which decides what happens next."""

    #: The grant is gone (revoked, expired, replayed): the person must reconnect.
    RECONNECT = "reconnect"
    #: Offline, a timeout, 429 or 5xx: try again later, with back-off.
    TRANSIENT = "transient"
    #: The provider refused the client or the request (bad client id, redirect,
    #: scope): a setting to fix, not a reason to retry.
    REFUSED = "refused"
    #: The person said no at the provider.
    DENIED = "denied"
    #: The provider answered something OAuth does not allow.
    PROTOCOL = "protocol"


class IntegrationError(AtomError):
    """An integration could not do what was asked; ``failure`` says what kind."""

    def __init__(
        self, message: str, *, failure: Failure = Failure.REFUSED, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.failure = failure


class FlowError(IntegrationError):
    """A sign-in callback that cannot be used (unknown, used, expired or failed)."""


#: Transient failures wait 30 s, 1 min, 2 min, ... up to an hour before the next try.
BACKOFF_FIRST_S = 30.0
BACKOFF_MAX_S = 3600.0


def retry_delay(failures: int) -> timedelta:
    """How long to wait after ``failures`` transient failures in a row."""
    return timedelta(seconds=min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** max(0, failures - 1)))
