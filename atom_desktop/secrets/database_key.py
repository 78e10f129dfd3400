"""Which key opens the database, and where it is kept (DESIGN.md "Where secrets live").

Order: ``ATOM_ENCRYPTION_KEY`` if set; else the OS keyring; else, only with
``ATOM_KEY_STORAGE=auto``, a 0600 key file in the config directory (with a
warning at every start). A small key record beside the database remembers
where the key was put, which keyring backend held it and a check value, so
that a changed backend, a lost key or a wrong key is reported as exactly that,
and an existing database is never met with a fresh key (which would make a
new, empty database look like the user's data was gone). A key record
without its database means the database went missing: that is refused too,
and :func:`set_aside` is the deliberate way to start again.

When the keyring would have to prompt first (its default keyring does not
exist yet, or is locked), the policy asks its :data:`KeyStorageAsk` (the
window) whether to use the keyring, which then prompts, or a key file. The
question waits for the person on this (worker) thread only; with no one to
ask (``serve``), the keyring counts as unusable and nothing prompts.

:meth:`DatabaseKey.describe` and :attr:`DatabaseKey.warning` are the one
wording of "where is my key": the log, ``/health``, ``status``, Home and
Settings all show them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Literal

from atom_desktop.config.database_files import START_FRESH, database_files
from atom_desktop.config.paths import AppPaths
from atom_desktop.config.settings import Settings
from atom_desktop.core.private_file import create_private, replace_private
from atom_desktop.core.redaction import Redactor
from atom_desktop.secrets.errors import SecretsError
from atom_desktop.secrets.keyring_vault import KeyringState, KeyringStatus, KeyringVault
from atom_desktop.secrets.profile import profile_id

logger = logging.getLogger(__name__)

KeyStorage = Literal["environment", "keyring", "file"]
KEY_ENTRY = "database-key"
RECORD_FILE_NAME = "key-record.json"
#: Folders of the data directory that hold data set aside by ``--reset-data``.
RESET_FOLDER_PREFIX = "reset-"
_KEY_BYTES = 32
_HEX_KEY = re.compile(r"[0-9a-f]{64}")
_CHECK_CONTEXT = b"atom-desktop database key check v1"


def key_check(key: bytes) -> str:
    """A value that tells whether ``key`` is the right one without revealing it."""
    return hmac.new(key, _CHECK_CONTEXT, hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class DatabaseKey:
    """The raw key and where it came from; ``repr`` never shows the key."""

    key: bytes = field(repr=False)
    storage: KeyStorage
    keyring_backend: str | None = None
    key_file: Path | None = None
    warning: str | None = None
    #: Why the key is in a file (``storage == "file"``), in words for a person.
    reason: str | None = None

    def describe(self) -> str:
        """Where the key is kept, for a person (no secret in it): the one wording."""
        if self.storage == "environment":
            return "environment variable ATOM_ENCRYPTION_KEY"
        if self.storage == "keyring":
            return f"OS keyring ({self.keyring_backend})"
        why = f": {self.reason}" if self.reason else ""
        return f"key file {self.key_file}, not in an OS keyring{why}"

    def summary(self) -> str:
        """:meth:`describe` without paths, for ``/health`` (which needs no token)."""
        if self.storage == "file":
            why = f": {self.reason}" if self.reason else ""
            return f"key file, not in an OS keyring{why}"
        return self.describe()


class KeyChoice(StrEnum):
    """The person's answer when the keyring would have to prompt first."""

    KEYRING = "keyring"  # let the keyring prompt (make or unlock it), then keep the key there
    FILE = "file"  # keep the key in a 0600 file, with the warning


@dataclass(frozen=True, slots=True)
class KeyStorageQuestion:
    """What the window asks before the keyring prompts (no secret in it)."""

    status: KeyringStatus
    key_file: Path
    #: False when only the keyring will do (its key is there, or ATOM_KEY_STORAGE=keyring).
    file_allowed: bool
    #: Why the last try with the keyring did not make it usable (None on the first ask).
    last_try: str | None = None

    def text(self) -> str:
        """The question, for a person."""
        if self.status.state is KeyringState.NOT_SET_UP:
            what = (
                "Your OS keyring has no default keyring yet. ATOM Desktop keeps the key "
                "that encrypts your data there; making the keyring asks you to choose its password."
            )
        else:
            what = (
                "Your OS keyring is locked. ATOM Desktop keeps the key that encrypts your data "
                "there; unlocking it asks for its password."
            )
        if not self.file_allowed:
            what += " This database's key can only come from the keyring."
        if self.last_try:
            what = f"The keyring is still not usable ({self.last_try}). {what}"
        return what

    def file_warning(self) -> str:
        """What keeping the key in a file means."""
        return (
            f"The key would be kept in the file {self.key_file} (readable by your user only). "
            "Anyone who can read that file, or a backup of it, can read your data."
        )


#: Asks the person; called on a worker thread, blocks until answered, raises
#: SecretsError if the app stops meanwhile.
KeyStorageAsk = Callable[[KeyStorageQuestion], KeyChoice]
#: Why a key is in a file, for :attr:`DatabaseKey.reason`.
CHOSEN_FILE = "chosen at first start"
KEPT_FILE = "it has been kept there since this database was made"


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """What is remembered (in plaintext, no secret) about the key of a database."""

    storage: KeyStorage
    keyring_backend: str | None
    check: str
    created_at: str
    #: Why the key is in a file, as said when the database was made (so every start
    #: says the same, whatever the keyring does since).
    reason: str | None = None


class DatabaseKeyPolicy:
    """Finds or makes the database key of one profile.

    :meth:`resolve` never writes the key record; :meth:`confirm` does, once
    the database has opened with the key, so a wrong guess is never recorded.
    """

    def __init__(
        self,
        settings: Settings,
        paths: AppPaths,
        vault: KeyringVault,
        redactor: Redactor,
        ask: KeyStorageAsk | None = None,
    ) -> None:
        self._settings = settings
        self._paths = paths
        self._vault = vault
        self._redactor = redactor
        #: Who to ask when the keyring would prompt first: the desktop window sets it
        #: before the agent starts; ``serve`` has no one to ask.
        self.ask = ask

    @property
    def record_path(self) -> Path:
        """The key record, beside the database."""
        return self._paths.data_dir / RECORD_FILE_NAME

    @property
    def key_file_path(self) -> Path:
        """Where the key file goes when no keyring is usable (never in the data dir)."""
        return self._paths.config_dir / "keys" / f"{profile_id(self._paths.data_dir)}.key"

    def resolve(self) -> DatabaseKey:
        """Return the key for this profile's database, or raise a clear SecretsError."""
        db = self._paths.database
        db_exists = db.exists() and db.stat().st_size > 0
        record = self._read_record()
        if record is not None and not db_exists:
            # Before any key is looked at: even the right key must not make a
            # new, empty database where the user's one was.
            raise self._missing(record)
        env_key = self._settings.encryption_key
        if env_key is not None:
            key = bytes.fromhex(env_key.get_secret_value())
            self._redactor.add(key.hex())
            if db_exists and record is not None and record.check != key_check(key):
                raise SecretsError(
                    f"ATOM_ENCRYPTION_KEY is not the key of the database {db}.",
                    hint="Set it to the key the database was created with, or unset it to use "
                    f"the key kept in the {record.storage}. The database was left untouched.",
                )
            return DatabaseKey(key, "environment")
        if db_exists and record is not None:
            return self._existing(record)
        if db_exists:
            return self._unrecorded()
        return self._new()

    def confirm(self, db_key: DatabaseKey) -> None:
        """Record where the key of the (now opened) database is kept."""
        record = self._read_record()
        if (
            record is not None
            and record.storage == db_key.storage
            and record.keyring_backend == db_key.keyring_backend
            and record.check == key_check(db_key.key)
            and record.reason == db_key.reason
        ):
            return
        data = {
            "storage": db_key.storage,
            "keyring_backend": db_key.keyring_backend,
            "check": key_check(db_key.key),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        if db_key.reason is not None:
            data["reason"] = db_key.reason
        replace_private(self.record_path, json.dumps(data, indent=2) + "\n")

    # -- the situations -------------------------------------------------------

    def _missing(self, record: KeyRecord) -> SecretsError:
        db = self._paths.database
        state = "is empty (0 bytes)" if db.exists() else "is missing"
        if record.storage == "environment":
            where = "ATOM_ENCRYPTION_KEY"
        elif record.storage == "keyring":
            where = f"the OS keyring ({record.keyring_backend})"
        else:
            where = f"the key file {self.key_file_path}"
        return SecretsError(
            f"The database {db} {state}, but this data directory had one: its key record "
            f"{self.record_path} is still there, and says its key is kept in {where}. "
            "ATOM Desktop does not make a new, empty database in its place.",
            # A WAL file left from another copy of the database would be
            # replayed into the restored one and damage it, hence the warning.
            hint=f"To get your data back, put your backup of {db.name} into "
            f"{self._paths.data_dir}, with its {db.name}-wal file if the backup has one "
            f"(and without any {db.name}-wal or {db.name}-shm left there from another copy), "
            f"then start again: the key still opens it. {START_FRESH}",
        )

    def _existing(self, record: KeyRecord) -> DatabaseKey:
        db = self._paths.database
        untouched = f"The database {db} was left untouched."
        if record.storage == "environment":
            raise SecretsError(
                f"The database {db} was created with a key from ATOM_ENCRYPTION_KEY.",
                hint=f"Set ATOM_ENCRYPTION_KEY to that key again. {untouched}",
            )
        if record.storage == "keyring":
            status, _ = self._settle(self._vault.probe(), file_allowed=False)
            if not status.usable:
                raise SecretsError(
                    f"The key of {db} is kept in the OS keyring ({record.keyring_backend}), "
                    f"but {status.explain()}.",
                    hint="Unlock or start the keyring and try again, or set "
                    f"ATOM_ENCRYPTION_KEY if you saved the key. {untouched}",
                )
            if status.backend != record.keyring_backend:
                raise SecretsError(
                    f"The key of {db} was stored in the keyring backend "
                    f"{record.keyring_backend}, but the backend in use now is {status.backend}.",
                    hint="Switch back to that backend (PYTHON_KEYRING_BACKEND or the keyring "
                    f"config), or set ATOM_ENCRYPTION_KEY if you saved the key. {untouched}",
                )
            key = self._parse(self._vault.get(KEY_ENTRY), f"keyring entry {self._vault.service}")
            if key is None:
                raise SecretsError(
                    f"The OS keyring has no key for {db} (entry {self._vault.service} / "
                    f"{KEY_ENTRY} is gone).",
                    hint=f"Restore the keyring, or set ATOM_ENCRYPTION_KEY if you saved the key. "
                    f"{untouched}",
                )
            self._check(key, record, f"keyring entry {self._vault.service}")
            return DatabaseKey(key, "keyring", keyring_backend=status.backend)
        key = self._read_key_file()
        if key is None:
            raise SecretsError(
                f"The key file {self.key_file_path} of {db} is missing.",
                hint=f"Restore it, or set ATOM_ENCRYPTION_KEY if you saved the key. {untouched}",
            )
        self._check(key, record, f"key file {self.key_file_path}")
        if self._settings.key_storage == "keyring":
            raise SecretsError(
                f"The key of {db} is in the key file {self.key_file_path}, and "
                "ATOM_KEY_STORAGE=keyring does not allow key files.",
                hint="Unset ATOM_KEY_STORAGE to keep using the file. " + untouched,
            )
        return self._file_key(key, record.reason or KEPT_FILE)

    def _unrecorded(self) -> DatabaseKey:
        # A database without a record (the record was deleted or never
        # written): use a key that is already stored, never a new one.
        status = self._vault.probe()
        if status.usable:
            key = self._parse(self._vault.get(KEY_ENTRY), f"keyring entry {self._vault.service}")
            if key is not None:
                return DatabaseKey(key, "keyring", keyring_backend=status.backend)
        key = self._read_key_file()
        if key is not None and self._settings.key_storage == "auto":
            return self._file_key(key, KEPT_FILE)
        raise SecretsError(
            f"The database {self._paths.database} exists, but no key for it was found "
            f"({status.explain()}; no key file at {self.key_file_path}).",
            hint="Set ATOM_ENCRYPTION_KEY if you saved the key. The database was left untouched.",
        )

    def _new(self) -> DatabaseKey:
        status, chose_file = self._settle(
            self._vault.probe(), file_allowed=self._settings.key_storage == "auto"
        )
        if chose_file:
            key = self._read_key_file()
            if key is None:
                key = secrets.token_bytes(_KEY_BYTES)
                self._write_key_file(key)
            return self._file_key(key, CHOSEN_FILE)
        if status.usable:
            key = self._parse(self._vault.get(KEY_ENTRY), f"keyring entry {self._vault.service}")
            if key is None:
                key = secrets.token_bytes(_KEY_BYTES)
                self._redactor.add(key.hex())
                self._vault.set(KEY_ENTRY, key.hex())
                logger.info("Made a new database key and stored it in the OS keyring")
            return DatabaseKey(key, "keyring", keyring_backend=status.backend)
        if self._settings.key_storage == "keyring":
            raise SecretsError(
                f"No database key can be stored: {status.explain()}, and "
                "ATOM_KEY_STORAGE=keyring allows no key file.",
                hint="Unlock or start a keyring (e.g. gnome-keyring with D-Bus), set "
                "ATOM_ENCRYPTION_KEY to a key you manage, or unset ATOM_KEY_STORAGE to "
                "allow a 0600 key file.",
            )
        key = self._read_key_file()
        if key is None:
            key = secrets.token_bytes(_KEY_BYTES)
            self._write_key_file(key)
        return self._file_key(key, f"when this database was made, {status.explain()}")

    # -- helpers ------------------------------------------------------------------

    def _settle(self, status: KeyringStatus, *, file_allowed: bool) -> tuple[KeyringStatus, bool]:
        """Ask the person while the keyring would prompt: its status then, and
        whether they chose a key file. Nothing prompts unless they chose the keyring."""
        last_try: str | None = None
        while status.needs_prompt and self.ask is not None:
            choice = self.ask(
                KeyStorageQuestion(status, self.key_file_path, file_allowed, last_try)
            )
            if choice is KeyChoice.FILE and file_allowed:
                logger.info("Key storage: a key file, as chosen in the window")
                return status, True
            logger.info("Key storage: the OS keyring, as chosen in the window; it prompts now")
            status = self._vault.unlock_with_prompt()
            last_try = None if status.usable else status.explain()
        return status, False

    def _file_key(self, key: bytes, reason: str) -> DatabaseKey:
        warning = (
            f"The database key is kept in the file {self.key_file_path}, not in an OS keyring "
            f"({reason}). Anyone who can read that file can read your data."
        )
        return DatabaseKey(key, "file", key_file=self.key_file_path, warning=warning, reason=reason)

    def _check(self, key: bytes, record: KeyRecord, where: str) -> None:
        if record.check != key_check(key):
            raise SecretsError(
                f"The key in the {where} is not the key of {self._paths.database}.",
                hint="Restore the right key, or set ATOM_ENCRYPTION_KEY if you saved it. "
                "The database was left untouched.",
            )

    def _parse(self, text: str | None, where: str) -> bytes | None:
        if text is None:
            return None
        value = text.strip().lower()
        if not _HEX_KEY.fullmatch(value):
            raise SecretsError(
                f"The {where} does not hold a valid key (64 hex characters expected).",
                hint="It may have been edited or damaged; restore it, or set "
                "ATOM_ENCRYPTION_KEY. The database was left untouched.",
            )
        self._redactor.add(value)
        return bytes.fromhex(value)

    def _read_record(self) -> KeyRecord | None:
        path = self.record_path
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            record = KeyRecord(
                storage=data["storage"],
                keyring_backend=data.get("keyring_backend"),
                check=data["check"],
                created_at=data.get("created_at", ""),
                reason=data.get("reason"),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SecretsError(
                f"The key record {path} is damaged ({type(exc).__name__}).",
                hint="Restore it from a backup, or delete it and set ATOM_ENCRYPTION_KEY "
                "(or keep the key in the keyring) to rebuild it. The database was left untouched.",
            ) from None
        if record.storage not in ("environment", "keyring", "file"):
            raise SecretsError(f"The key record {path} names an unknown storage.")
        return record

    def _check_key_file_location(self) -> None:
        if self.key_file_path.resolve().is_relative_to(self._paths.data_dir.resolve()):
            raise SecretsError(
                f"The key file would be inside the data directory ({self.key_file_path}), "
                "next to the database it unlocks.",
                hint="Use a config directory outside the data directory.",
            )

    def _read_key_file(self) -> bytes | None:
        self._check_key_file_location()
        path = self.key_file_path
        if not path.exists():
            return None
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            logger.warning("Key file %s had mode %o; made it 0600", path, mode)
            path.chmod(0o600)
        try:
            text = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise SecretsError(f"The key file {path} cannot be read: {exc}.") from None
        return self._parse(text, f"key file {path}")

    def _write_key_file(self, key: bytes) -> None:
        self._check_key_file_location()
        path = self.key_file_path
        self._redactor.add(key.hex())
        # Never overwrites: a key file that appeared meanwhile makes this fail.
        create_private(path, key.hex() + "\n")
        logger.info("Made a new database key and stored it in the key file %s", path)


def set_aside(paths: AppPaths, now: datetime | None = None) -> Path | None:
    """Move the database and its key record into a new ``reset-YYYYMMDD-HHMMSS`` folder.

    The deliberate fresh start (``--reset-data``); the caller holds the
    instance lock, so no agent has the files open. Nothing is deleted, and
    the folder is in the data directory, private to the user. Returns the
    folder, or None when there was nothing to move.

    The key is left where it is (keyring entry, key file or
    ``ATOM_ENCRYPTION_KEY``). Deleting it would make the moved database
    unreadable for good; copying it into the folder would put the key in
    plaintext beside the data it unlocks. Left in place, it is also the key
    the next start finds and gives the new database (:meth:`DatabaseKeyPolicy.resolve`
    reuses a stored key), so the moved database opens again once its files
    and key record are put back.
    """
    record = paths.data_dir / RECORD_FILE_NAME
    # The database first, the record last: stopped half way, the record left
    # behind makes the next start refuse (a missing database) rather than
    # make a new one beside what was not moved yet.
    moving = database_files(paths.database) + ([record] if record.exists() else [])
    if not moving:
        return None
    # Local time: the folder's name is for the person who looks for their data.
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = folder = paths.data_dir / f"{RESET_FOLDER_PREFIX}{stamp}"
    attempt = 1
    while True:
        try:
            folder.mkdir(mode=0o700)
            break
        except FileExistsError:  # two resets within a second: never mix their files
            attempt += 1
            folder = base.with_name(f"{base.name}-{attempt}")
    for path in moving:
        path.rename(folder / path.name)
    logger.warning(
        "Moved %s to %s; a new, empty database will be made. To go back, stop ATOM Desktop, "
        "set the new files aside and move these back.",
        ", ".join(path.name for path in moving),
        folder,
    )
    return folder
