"""Which token is presented, and what it may do.

Token hashes are cached in memory (a request must not wait for the
database); last-used times are collected and written in batches.
"""

from __future__ import annotations

import asyncio
import hmac
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from atom_desktop.core.errors import AtomError
from atom_desktop.core.events import Unsubscribe
from atom_desktop.secrets.api_token import (
    OwnerToken,
    OwnerTokenStore,
    hash_token,
    looks_like_token,
    new_token,
)
from atom_desktop.store.tokens import TokenRecord, TokenRepository

SCOPES = ("read", "run", "automate", "admin")


@dataclass(frozen=True, slots=True)
class Principal:
    """The holder of a verified token."""

    token_id: str
    name: str
    scopes: frozenset[str]
    #: The owner token (the window's and the command line's): its own rate limit.
    owner: bool = False

    def allows(self, scope: str) -> bool:
        """``admin`` includes every other scope."""
        return scope in self.scopes or "admin" in self.scopes


class TokenAuthority:
    """Verifies presented tokens against the stored hashes; thread-safe."""

    def __init__(self, repo: TokenRepository) -> None:
        self._repo = repo
        self._lock = threading.Lock()
        self._by_hash: dict[str, TokenRecord] = {}
        self._used: dict[str, datetime] = {}
        self._valid_ids: frozenset[str] = frozenset()
        self._revocation_listeners: list[Callable[[frozenset[str]], None]] = []

    def load(self) -> None:
        """(Re)read every active token hash from the store.

        Tokens that were valid before and are not any more (revoked, or an
        owner token replaced) are reported to the :meth:`on_revoked` listeners.
        """
        records = self._repo.active()
        with self._lock:
            before = {r.id for r in self._by_hash.values()}
            self._by_hash = {r.token_hash: r for r in records}
            self._valid_ids = frozenset(r.id for r in records)
            gone = frozenset(before - {r.id for r in records})
            listeners = tuple(self._revocation_listeners)
        if gone:
            for listener in listeners:
                listener(gone)

    def is_valid(self, token_id: str) -> bool:
        """Whether the token with this id still works (not revoked)."""
        return token_id in self._valid_ids

    def on_revoked(self, listener: Callable[[frozenset[str]], None]) -> Unsubscribe:
        """Call ``listener(token_ids)`` (from any thread) when tokens stop being valid."""
        with self._lock:
            self._revocation_listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._revocation_listeners:
                    self._revocation_listeners.remove(listener)

        return unsubscribe

    def verify(self, presented: str) -> Principal | None:
        """The principal for ``presented``, or None for an unknown or revoked token."""
        if not looks_like_token(presented):
            return None
        digest = hash_token(presented)
        with self._lock:
            record = self._by_hash.get(digest)
            # The dict lookup picks the candidate; the final comparison is
            # constant-time so timing says nothing about how close a guess was.
            if record is None or not hmac.compare_digest(record.token_hash, digest):
                return None
            self._used[record.id] = datetime.now(UTC)
        return Principal(record.id, record.name, record.scopes, record.kind == "owner")

    def set_owner(self, secret: str) -> None:
        """Install the owner token (all scopes)."""
        self._repo.set_owner(hash_token(secret), SCOPES)
        self.load()

    def create(self, name: str, scopes: list[str]) -> tuple[TokenRecord, str]:
        """Make a named token; the secret is returned once and never stored."""
        secret = new_token()
        record = self._repo.create(name, scopes, hash_token(secret))
        self.load()
        return record, secret

    def revoke(self, token_id: str) -> TokenRecord:
        """Revoke a named token; it stops working at once."""
        record = self._repo.revoke(token_id)
        self.load()
        return record

    def flush_usage(self) -> None:
        """Write the collected last-used times."""
        with self._lock:
            used, self._used = self._used, {}
        self._repo.touch(used)


class TokenService:
    """Runtime service: installs the owner token, then serves verifications."""

    name = "tokens"

    def __init__(self, owner_store: OwnerTokenStore, repo: Callable[[], TokenRepository]) -> None:
        self._owner_store = owner_store
        self._repo = repo
        self._authority: TokenAuthority | None = None
        self.owner: OwnerToken | None = None

    @property
    def authority(self) -> TokenAuthority:
        """The authority (only between start and stop)."""
        if self._authority is None:
            raise AtomError("The token service is not running.")
        return self._authority

    async def async_start(self) -> None:
        """Find or make the owner token and load every token hash."""
        await asyncio.to_thread(self._start)

    def _start(self) -> None:
        owner = self._owner_store.load_or_create()
        authority = TokenAuthority(self._repo())
        authority.set_owner(owner.secret)
        self.owner = owner
        self._authority = authority

    async def async_stop(self) -> None:
        """Write the last-used times."""
        authority, self._authority = self._authority, None
        if authority is not None:
            await asyncio.to_thread(authority.flush_usage)
