"""Integration accounts and owed revocations: what is known about each, never
where a token is but for the generation of its keyring entries.

The integration service decides; this module only keeps its rows. Every
method is blocking (run it off the event loop).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select

from atom_desktop.core.ids import IdFactory
from atom_desktop.store.database import Database
from atom_desktop.store.errors import NotFoundError
from atom_desktop.store.models import IntegrationAccountRow, IntegrationRevocationRow


@dataclass(frozen=True, slots=True)
class AccountRecord:
    """One account as stored (``secret`` only when there is no usable keyring)."""

    id: str
    provider: str
    account: str
    parameters: dict[str, str]
    client_id: str | None
    scopes: tuple[str, ...]
    status: str
    token_storage: str
    secret_generation: int
    secret: str | None
    expires_at: datetime | None
    refreshed_at: datetime | None
    checked_at: datetime | None
    retry_at: datetime | None
    failures: int
    last_error: str | None
    created_at: datetime
    updated_at: datetime


_ACCOUNT_FIELDS = tuple(f.name for f in fields(AccountRecord))
#: What :meth:`IntegrationAccountRepository.update` may change.
_CHANGEABLE = frozenset(_ACCOUNT_FIELDS) - {"id", "provider", "created_at", "updated_at"}


def _account(row: IntegrationAccountRow) -> AccountRecord:
    values: dict[str, Any] = {name: getattr(row, name) for name in _ACCOUNT_FIELDS}
    values["scopes"] = tuple(row.scopes)
    values["parameters"] = dict(row.parameters)
    return AccountRecord(**values)


@dataclass(frozen=True, slots=True)
class RevocationRecord:
    """A token still to be revoked at its provider."""

    id: str
    provider: str
    account: str
    revoke_url: str
    client_id: str | None
    token_storage: str
    secret: str | None
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime


def _revocation(row: IntegrationRevocationRow) -> RevocationRecord:
    return RevocationRecord(**{f.name: getattr(row, f.name) for f in fields(RevocationRecord)})


class IntegrationAccountRepository:
    """Rows of ``integration_accounts`` and ``integration_revocations``."""

    def __init__(
        self,
        db: Database,
        ids: IdFactory,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self._ids = ids
        self._clock = clock

    def new_id(self) -> str:
        """An id for an account or revocation about to be made."""
        return self._ids.new()

    def create(
        self,
        *,
        account_id: str,
        provider: str,
        parameters: dict[str, str],
        client_id: str | None,
        scopes: Iterable[str],
        token_storage: str,
        status: str = "pending",
        account: str = "",
    ) -> AccountRecord:
        """A new account (``pending`` until its first tokens are stored)."""
        now = self._clock()
        with self._db.write() as session:
            row = IntegrationAccountRow(
                id=account_id,
                provider=provider,
                account=account,
                parameters=dict(parameters),
                client_id=client_id,
                scopes=list(scopes),
                status=status,
                token_storage=token_storage,
                secret_generation=0,
                secret=None,
                failures=0,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            return _account(row)

    def get(self, account_id: str) -> AccountRecord:
        """One account; NotFoundError when there is none."""
        with self._db.read() as session:
            row = session.get(IntegrationAccountRow, account_id)
            if row is None:
                raise NotFoundError(f"There is no integration with id {account_id!r}.")
            return _account(row)

    def all(self) -> list[AccountRecord]:
        """Every account, oldest first."""
        with self._db.read() as session:
            rows = session.scalars(
                select(IntegrationAccountRow).order_by(
                    IntegrationAccountRow.created_at, IntegrationAccountRow.id
                )
            )
            return [_account(r) for r in rows]

    def update(self, account_id: str, **changes: Any) -> AccountRecord:
        """Change the named fields of one account; NotFoundError when it is gone."""
        unknown = set(changes) - _CHANGEABLE
        if unknown:
            raise ValueError(f"not changeable: {sorted(unknown)}")
        with self._db.write() as session:
            row = session.get(IntegrationAccountRow, account_id)
            if row is None:
                raise NotFoundError(f"There is no integration with id {account_id!r}.")
            for name, value in changes.items():
                setattr(row, name, list(value) if name == "scopes" else value)
            row.updated_at = self._clock()
            session.flush()
            return _account(row)

    def delete(self, account_id: str) -> None:
        """Forget one account (a missing one is not an error)."""
        with self._db.write() as session:
            session.execute(
                delete(IntegrationAccountRow).where(IntegrationAccountRow.id == account_id)
            )

    def replace_with_revocation(self, account_id: str, revocation: RevocationRecord | None) -> None:
        """Delete the account and, in the same transaction, owe its revocation."""
        with self._db.write() as session:
            session.execute(
                delete(IntegrationAccountRow).where(IntegrationAccountRow.id == account_id)
            )
            if revocation is not None:
                session.add(
                    IntegrationRevocationRow(
                        **{f.name: getattr(revocation, f.name) for f in fields(RevocationRecord)}
                    )
                )

    def revocations_due(self, now: datetime) -> list[RevocationRecord]:
        """Owed revocations whose next attempt is due."""
        with self._db.read() as session:
            rows = session.scalars(
                select(IntegrationRevocationRow)
                .where(IntegrationRevocationRow.next_attempt_at <= now)
                .order_by(IntegrationRevocationRow.next_attempt_at)
            )
            return [_revocation(r) for r in rows]

    def revocations(self) -> list[RevocationRecord]:
        """Every owed revocation."""
        with self._db.read() as session:
            rows = session.scalars(
                select(IntegrationRevocationRow).order_by(IntegrationRevocationRow.created_at)
            )
            return [_revocation(r) for r in rows]

    def revocation_failed(self, revocation_id: str, error: str, next_attempt_at: datetime) -> None:
        """Count a failed attempt and say when to try again."""
        with self._db.write() as session:
            row = session.get(IntegrationRevocationRow, revocation_id)
            if row is not None:
                row.attempts += 1
                row.last_error = error
                row.next_attempt_at = next_attempt_at

    def revocation_done(self, revocation_id: str) -> None:
        """Forget a revocation (done, or given up)."""
        with self._db.write() as session:
            session.execute(
                delete(IntegrationRevocationRow).where(IntegrationRevocationRow.id == revocation_id)
            )
