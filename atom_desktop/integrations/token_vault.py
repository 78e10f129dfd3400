"""Integration secrets in the OS keyring, split where a backend limits their size.

Each account's tokens (or key) are one JSON text, kept under one keyring
entry of the profile's service: ``integration:<account id>:<generation>``.
Windows' Credential Manager keeps at most 2,560 bytes per entry (UTF-16, so
1,280 characters), less than a provider's tokens can be. There the text is
written in parts (``...:<generation>.1``, ``.2``, ...) and the main entry,
written last, says how many and holds a digest of the whole: a read joins
them and checks the digest, so a write cut short is found, never used.

A new generation is written in full before the account's row points at it,
and the old one removed only after (see the integration service): a crash
at any moment leaves one complete set of tokens.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from atom_desktop.secrets.errors import SecretsError
from atom_desktop.secrets.keyring_vault import KeyringVault

#: Characters per entry on backends with a size limit (Windows: 2,560 bytes
#: of UTF-16 is 1,280 characters; the rest is margin for the backend's own use).
WINDOWS_PART_CHARS = 1_200
_PARTS_MARK = "parts:"


def part_limit(backend: str) -> int | None:
    """The characters one entry may hold with the keyring backend named ``backend``."""
    if backend.startswith("keyring.backends.Windows"):
        return WINDOWS_PART_CHARS
    return None


def account_entry(account_id: str, generation: int) -> str:
    """The keyring entry of one generation of an account's secrets."""
    return f"integration:{account_id}:{generation}"


def revocation_entry(revocation_id: str) -> str:
    """The keyring entry of a token kept only to be revoked."""
    return f"integration-revoke:{revocation_id}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def encode_secret(values: Mapping[str, str]) -> str:
    """The JSON text kept for one account (keys sorted, so equal values are equal text)."""
    return json.dumps(dict(values), sort_keys=True, separators=(",", ":"))


def decode_secret(text: str) -> dict[str, str]:
    """The values of :func:`encode_secret`; SecretsError when the text is not that."""
    try:
        values = json.loads(text)
    except ValueError:
        values = None
    if not isinstance(values, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in values.items()
    ):
        raise SecretsError("A stored integration secret is damaged.", hint="Reconnect it.")
    return values


class TokenVault:
    """Reads and writes split entries in one profile's keyring service."""

    def __init__(self, keyring: KeyringVault, part_chars: int | None = None) -> None:
        """``part_chars``: the most one entry may hold (None: the backend's own limit)."""
        self._keyring = keyring
        self._part_chars = part_chars

    @property
    def usable(self) -> bool:
        """Whether the OS keyring can hold secrets now."""
        return self._keyring.probe().usable

    def _limit(self) -> int | None:
        if self._part_chars is not None:
            return self._part_chars
        return part_limit(self._keyring.probe().backend)

    def write(self, entry: str, text: str) -> None:
        """Keep ``text`` under ``entry`` (in parts if it is too long for one)."""
        limit = self._limit()
        if limit is None or len(text) <= limit:
            self._keyring.set(entry, text)
            return
        pieces = [text[i : i + limit] for i in range(0, len(text), limit)]
        for number, piece in enumerate(pieces, start=1):
            self._keyring.set(f"{entry}.{number}", piece)
        # Last: until this lands, a read finds no entry (or an older one's mark).
        self._keyring.set(entry, f"{_PARTS_MARK}{len(pieces)}:{_digest(text)}")

    def read(self, entry: str) -> str | None:
        """The text under ``entry``, joined from its parts; None when there is none."""
        head = self._keyring.get(entry)
        if head is None or not head.startswith(_PARTS_MARK):
            return head
        count_text, _, digest = head.removeprefix(_PARTS_MARK).partition(":")
        if not count_text.isdigit():
            raise SecretsError(f"The keyring entry {entry!r} is damaged.", hint="Reconnect it.")
        pieces = []
        for number in range(1, int(count_text) + 1):
            piece = self._keyring.get(f"{entry}.{number}")
            if piece is None:
                raise SecretsError(
                    f"Part {number} of the keyring entry {entry!r} is missing.",
                    hint="Reconnect the integration.",
                )
            pieces.append(piece)
        text = "".join(pieces)
        if _digest(text) != digest:
            raise SecretsError(
                f"The parts of the keyring entry {entry!r} do not fit together.",
                hint="Reconnect the integration.",
            )
        return text

    def remove(self, entry: str) -> None:
        """Delete ``entry`` and its parts (missing ones are not an error)."""
        head = self._keyring.get(entry)
        self._keyring.delete(entry)
        if head is not None and head.startswith(_PARTS_MARK):
            count_text = head.removeprefix(_PARTS_MARK).partition(":")[0]
            for number in range(1, int(count_text) + 1 if count_text.isdigit() else 1):
                self._keyring.delete(f"{entry}.{number}")
