"""The OS keyring, with an honest answer to "is it usable, and which is it?".

Each keyring call can cost a D-Bus round trip (~15 ms), so values are cached
in memory after the first read. ``keyrings.alt`` backends keep secrets as
plaintext files: never counted as a keyring, and never chosen unless the user
named one (then it is reported as plaintext).

The probe never prompts. A Secret Service (gnome-keyring, KWallet) whose
default keyring does not exist yet, or is locked, would answer the first read
with a password prompt of its own and hold the caller until the person
answers it; the probe looks first, reports ``NOT_SET_UP`` or ``LOCKED``, and
leaves the prompt to :meth:`KeyringVault.unlock_with_prompt`, called only
when the person has asked for the keyring.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable
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
    #: A Secret Service without a default keyring: making one asks for a new password.
    NOT_SET_UP = "not set up"
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

    @property
    def needs_prompt(self) -> bool:
        """True when the keyring becomes usable once the person answers its own prompt."""
        return self.state in (KeyringState.LOCKED, KeyringState.NOT_SET_UP)

    def explain(self) -> str:
        """Why the keyring is not usable, in words for a person."""
        extra = f" ({self.detail})" if self.detail else ""
        if self.state is KeyringState.LOCKED:
            return f"the OS keyring ({self.backend}) is locked{extra}"
        if self.state is KeyringState.NOT_SET_UP:
            return (
                f"the OS keyring ({self.backend}) has no default keyring yet; making one asks "
                f"for a new password{extra}"
            )
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


def _secret_service_state(backend: keyring.backend.KeyringBackend) -> KeyringState | None:
    """LOCKED or NOT_SET_UP when reading would make a Secret Service prompt; else None.

    Only looks: ``secretstorage.get_default_collection`` (what keyring calls)
    would create a missing default collection, and keyring then unlocks a
    locked one, each with a prompt that holds the caller.
    """
    if type(backend).__module__ != "keyring.backends.SecretService":
        return None
    import secretstorage  # noqa: PLC0415 - present wherever this backend is
    from secretstorage.exceptions import (  # noqa: PLC0415
        ItemNotFoundException,
        SecretStorageException,
    )

    try:
        connection = secretstorage.dbus_init()
    except SecretStorageException:
        return None  # no Secret Service: the read that follows says so
    try:
        preferred = getattr(backend, "preferred_collection", None)
        try:
            collection = (
                secretstorage.Collection(connection, preferred)
                if preferred
                else secretstorage.collection.get_collection_by_alias(connection, "default")
            )
            locked = collection.is_locked()
        except ItemNotFoundException:
            return KeyringState.NOT_SET_UP
        except SecretStorageException:
            return None
        return KeyringState.LOCKED if locked else None
    finally:
        connection.close()


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
        #: Called when a read or write finds the keyring locked (the runtime's alerts).
        self.on_locked: Callable[[], object] | None = None

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
            waiting = _secret_service_state(backend)
        except Exception as exc:  # D-Bus can fail in many ways; the read below reports it
            logger.debug("Looking at the Secret Service failed: %s", exc)
            waiting = None
        if waiting is not None:
            return KeyringStatus(waiting, name)
        status, value = self._read_probe(backend, name)
        if status.usable:
            self._cache[self._probe_entry] = value  # under self._lock (probe holds it)
        return status

    def _read_probe(
        self, backend: keyring.backend.KeyringBackend, name: str
    ) -> tuple[KeyringStatus, str | None]:
        try:
            value = backend.get_password(self._service, self._probe_entry)
        except keyring.errors.KeyringLocked:
            return KeyringStatus(KeyringState.LOCKED, name, "the prompt was dismissed"), None
        except keyring.errors.InitError as exc:
            # Secret Service: making the default keyring failed, e.g. its prompt was cancelled.
            return KeyringStatus(KeyringState.NOT_SET_UP, name, str(exc).rstrip(".")), None
        except Exception as exc:
            return KeyringStatus(KeyringState.MISSING, name, f"{type(exc).__name__}: {exc}"), None
        return KeyringStatus(KeyringState.AVAILABLE, name), value

    def unlock_with_prompt(self) -> KeyringStatus:
        """Read the keyring, letting it prompt (create or unlock); the new status.

        Blocks until the person answers the keyring's own prompt: call it off
        the window's thread and off the event loop, and only when asked to.
        """
        try:
            backend = self._get_backend()
        except Exception as exc:
            status = KeyringStatus(KeyringState.MISSING, "none", str(exc))
        else:
            status, value = self._read_probe(backend, backend_name(backend))
        with self._lock:
            self._status = status
            if status.usable:
                self._cache[self._probe_entry] = value
        logger.info("Keyring after its prompt: %s", status.explain())
        return status

    def locked_now(self) -> bool:
        """Whether the keyring this profile uses is locked now; asked without a prompt.

        False when the probe found no usable keyring (the profile keeps its
        secrets elsewhere), and where only a read could tell (every backend
        but a Secret Service): a read that finds it locked calls
        :attr:`on_locked` instead.
        """
        with self._lock:
            status = self._status
        if status is None or not status.usable:
            return False
        try:
            return _secret_service_state(self._get_backend()) is KeyringState.LOCKED
        except Exception as exc:  # D-Bus can fail in many ways; not a locked keyring
            logger.debug("Looking at the Secret Service failed: %s", exc)
            return False

    def _found_locked(self) -> None:
        hook = self.on_locked
        if hook is not None:
            hook()

    def get(self, entry: str) -> str | None:
        """The secret stored under ``entry``, or None when there is none."""
        with self._lock:
            if entry in self._cache:
                return self._cache[entry]
        try:
            value = self._get_backend().get_password(self._service, entry)
        except keyring.errors.KeyringLocked:
            self._found_locked()
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
        except keyring.errors.KeyringLocked:
            self._found_locked()
            raise SecretsError(
                f"Storing {entry!r} failed: the OS keyring is locked.",
                hint="Unlock it (log in again) and retry.",
            ) from None
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
