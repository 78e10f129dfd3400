"""One error type for every provider failure, with a kind and a message for a person."""

from __future__ import annotations

from enum import StrEnum

from atom_desktop.core.errors import AtomError


class ProviderErrorKind(StrEnum):
    """What went wrong, in terms a person (and the settings page) can act on."""

    NO_KEY = "no_key"
    BAD_KEY = "bad_key"
    RATE_LIMITED = "rate_limited"
    MODEL_NOT_FOUND = "model_not_found"
    OFFLINE = "offline"
    CONTEXT_TOO_LONG = "context_too_long"
    SERVER_ERROR = "server_error"
    #: The server refused the request for another reason (its message is kept).
    REJECTED = "rejected"
    #: The model's answer was not a valid plan, even after being told why once.
    BAD_OUTPUT = "bad_output"


#: Kinds worth asking again after a pause.
RETRYABLE = frozenset({ProviderErrorKind.RATE_LIMITED, ProviderErrorKind.SERVER_ERROR})


class ProviderError(AtomError):
    """A provider call that failed; ``kind`` is the reason, ``str()`` says what to do.

    The message never holds the API key: adapters build it from the status,
    the provider's own error text and our settings, and the key is registered
    with the redactor besides.
    """

    def __init__(
        self,
        kind: ProviderErrorKind,
        message: str,
        *,
        hint: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.kind = kind
        self.status = status
        #: Seconds the server asked us to wait (Retry-After), when it said.
        self.retry_after = retry_after
        self.retryable = kind in RETRYABLE if retryable is None else retryable
