"""The OS keyring, with an honest answer to "is it usable, and which is it?".

Each keyring call can cost a D-Bus round trip (~15 ms), so values are cached
in memory after the first read. ``keyrings.alt`` backends keep secrets as
plaintext files: never counted as a keyring, and never chosen unless the user
named one (then it is reported as plaintext).
"""

from __future__ import annotations

import enum
import logging
import threading
from dataclasses import dataclass

import keyring
import keyring.backend
import keyring.backends.fail
import keyring.core
import keyring.errors

from atom_desktop.secrets.errors import SecretsError

logger = logging.getLogger(__name__)

_PROBE_ENTRY = "keyring-probe"


class KeyringState(enum.Enum):
    """Whether a keyring can hold our secrets."""

    AVAILABLE = "available"
    MISSING = "missing"
    LOCKED = "locked"
    PLAINTEXT = "plaintext"


@dataclass(frozen=True, slots=True)
class KeyringStatus:
    """The probed state of the keyring and the backend's full class name."""

    state: KeyringState
    backend: str
    detail: str = ""

    @property
    def usable(self) -> bool:
        """True when secrets can be stored in a real, unlocked keyring."""
        return self.state is KeyringState.AVAILABLE

    def explain(self) -> str:
        """Why the keyring is not usable, in words for a person."""
        if self.state is KeyringState.LOCKED:
            return f"the OS keyring ({self.backend}) is locked"
        if self.state is KeyringState.PLAINTEXT:
            return f"the keyring backend {self.backend} stores secrets as plaintext"
        if self.state is KeyringState.MISSING:
            extra = f": {self.detail}" if self.detail else ""
            return f"no OS keyring is available ({self.backend}{extra})"
        return f"the OS keyring ({self.backend}) is available"


def backend_name(backend: keyring.backend.KeyringBackend) -> str:
    """``module.Class`` of a backend, e.g. ``keyring.backends.SecretService.Keyring``."""
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def _is_plaintext(backend: keyring.backend.KeyringBackend) -> bool:
    return type(backend).__module__.startswith("keyrings.alt")


def _named_by_user() -> bool:
    """Whether PYTHON_KEYRING_BACKEND or keyring's config file names a backend.

    keyring's own lookup, so the answer matches what it chose from.
    """
    try:
        return (keyring.core.load_env() or keyring.core.load_config()) is not None
    except Exception:  # a broken name already failed keyring.get_keyring(), reported there
        return False


def _default_backend() -> keyring.backend.KeyringBackend:
    """The keyring the user's configuration selects, unwrapped from a chainer.

    With several viable backends keyring returns a chainer that writes to the
    first by priority; naming (and recording) that backend is what tells a
    person where the secret went.

    keyring also detects ``keyrings.alt`` whenever the package is installed
    (the tests install it) and nothing better runs. Taken as found, merely
    installing it would change what the app reports and records; so a
    detected one counts as no keyring at all, exactly as if it were absent.
    Only a backend the user named is kept, to be reported as plaintext.
    """
    chosen = keyring.get_keyring()
    inner = getattr(chosen, "backends", None)
    candidates: list[keyring.backend.KeyringBackend] = (
        list(inner) if isinstance(inner, list | tuple) and inner else [chosen]
    )
    real = [b for b in candidates if not _is_plaintext(b)]
    if real:
        return real[0]
    if _named_by_user():
        return candidates[0]
    return keyring.backends.fail.Keyring()  # type: ignore[no-untyped-call]  # keyring is untyped


class KeyringVault:
    """Secrets of one profile in the OS keyring (one service name per profile)."""

    def __init__(
        self,
        service: str,
        backend: keyring.backend.KeyringBackend | None = None,
        *,
        probe_entry: str = _PROBE_ENTRY,
    ) -> None:
        """``probe_entry``: what the probe reads (and remembers); naming the entry
        the caller reads first saves it a round trip to the keyring."""
        self._service = service
        self._backend = backend
        self._probe_entry = probe_entry
        self._lock = threading.Lock()
        self._status: KeyringStatus | None = None
        self._cache: dict[str, str | None] = {}

    @property
    def service(self) -> str:
        """The keyring service name of this profile."""
        return self._service

    def _get_backend(self) -> keyring.backend.KeyringBackend:
        if self._backend is None:
            self._backend = _default_backend()
        return self._backend

    def probe(self) -> KeyringStatus:
        """Find out (once) whether the keyring is usable; never raises."""
        with self._lock:
            if self._status is None:
                self._status = self._probe()
                logger.debug("Keyring probe: %s", self._status)
            return self._status

    def _probe(self) -> KeyringStatus:
        try:
            backend = self._get_backend()
        except Exception as exc:  # the keyring library can fail in many ways
            return KeyringStatus(KeyringState.MISSING, "none", str(exc))
        name = backend_name(backend)
        if _is_plaintext(backend):
            return KeyringStatus(KeyringState.PLAINTEXT, name)
        if type(backend).__module__ in ("keyring.backends.fail", "keyring.backends.null"):
            return KeyringStatus(KeyringState.MISSING, name, "no recommended backend")
        try:
            value = backend.get_password(self._service, self._probe_entry)
        except keyring.errors.KeyringLocked:
            return KeyringStatus(KeyringState.LOCKED, name)
        except Exception as exc:
            return KeyringStatus(KeyringState.MISSING, name, f"{type(exc).__name__}: {exc}")
        self._cache[self._probe_entry] = value  # under self._lock (probe holds it)
        return KeyringStatus(KeyringState.AVAILABLE, name)

    def get(self, entry: str) -> str | None:
        """The secret stored under ``entry``, or None when there is none."""
        with self._lock:
            if entry in self._cache:
                return self._cache[entry]
        try:
            value = self._get_backend().get_password(self._service, entry)
        except keyring.errors.KeyringLocked:
            raise SecretsError(
                "The OS keyring is locked.", hint="Unlock it (log in again) and retry."
            ) from None
        except Exception as exc:
            raise SecretsError(f"Reading {entry!r} from the OS keyring failed: {exc}.") from None
        with self._lock:
            self._cache[entry] = value
        return value

    def set(self, entry: str, value: str) -> None:
        """Store ``value`` under ``entry`` and read it back to be sure it landed."""
        backend = self._get_backend()
        try:
            backend.set_password(self._service, entry, value)
            stored = backend.get_password(self._service, entry)
        except Exception as exc:
            raise SecretsError(f"Storing {entry!r} in the OS keyring failed: {exc}.") from None
        if stored != value:
            raise SecretsError(f"The OS keyring did not keep {entry!r} intact.")
        with self._lock:
            self._cache[entry] = value

    def delete(self, entry: str) -> None:
        """Remove ``entry``; a missing entry is not an error."""
        try:
            self._get_backend().delete_password(self._service, entry)
        except keyring.errors.PasswordDeleteError:
            pass
        except Exception as exc:
            raise SecretsError(f"Deleting {entry!r} from the OS keyring failed: {exc}.") from None
        with self._lock:
            self._cache.pop(entry, None)
