"""API token rows: names, scopes and SHA-256 hashes, never the secrets."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update

from atom_desktop.core.ids import IdFactory
from atom_desktop.store.database import Database
from atom_desktop.store.errors import ConflictError, NotFoundError
from atom_desktop.store.models import ApiTokenRow

OWNER_NAME = "owner"


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A stored token (without its secret)."""

    id: str
    name: str
    kind: str
    scopes: frozenset[str]
    token_hash: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        """Not revoked."""
        return self.revoked_at is None


def _record(row: ApiTokenRow) -> TokenRecord:
    return TokenRecord(
        id=row.id,
        name=row.name,
        kind=row.kind,
        scopes=frozenset(row.scopes),
        token_hash=row.token_hash,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


class TokenRepository:
    """Persists token hashes; the API's token authority caches them in memory."""

    def __init__(
        self,
        db: Database,
        ids: IdFactory,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self._ids = ids
        self._clock = clock

    def active(self) -> list[TokenRecord]:
        """Every token that is not revoked."""
        with self._db.read() as session:
            rows = session.scalars(select(ApiTokenRow).where(ApiTokenRow.revoked_at.is_(None)))
            return [_record(r) for r in rows]

    def all(self) -> list[TokenRecord]:
        """Every token, revoked ones included, oldest first."""
        with self._db.read() as session:
            rows = session.scalars(select(ApiTokenRow).order_by(ApiTokenRow.id))
            return [_record(r) for r in rows]

    def create(self, name: str, scopes: Iterable[str], token_hash: str) -> TokenRecord:
        """Store a named token's hash."""
        with self._db.write() as session:
            taken = session.scalar(
                select(ApiTokenRow.id).where(
                    ApiTokenRow.name == name, ApiTokenRow.revoked_at.is_(None)
                )
            )
            if taken is not None:
                raise ConflictError(
                    f"A token named {name!r} already exists; revoke it or pick another name."
                )
            row = ApiTokenRow(
                id=self._ids.new(),
                name=name,
                kind="named",
                scopes=sorted(scopes),
                token_hash=token_hash,
                created_at=self._clock(),
            )
            session.add(row)
            session.flush()
            return _record(row)

    def set_owner(self, token_hash: str, scopes: Iterable[str]) -> TokenRecord:
        """Make ``token_hash`` the owner token's, replacing an older owner token."""
        with self._db.write() as session:
            row = session.scalar(
                select(ApiTokenRow).where(
                    ApiTokenRow.kind == "owner", ApiTokenRow.revoked_at.is_(None)
                )
            )
            if row is not None and row.token_hash == token_hash:
                return _record(row)
            now = self._clock()
            if row is not None:
                row.revoked_at = now
            new = ApiTokenRow(
                id=self._ids.new(),
                name=OWNER_NAME,
                kind="owner",
                scopes=sorted(scopes),
                token_hash=token_hash,
                created_at=now,
            )
            session.add(new)
            session.flush()
            return _record(new)

    def revoke(self, token_id: str) -> TokenRecord:
        """Revoke a named token; the owner token cannot be revoked here."""
        with self._db.write() as session:
            row = session.get(ApiTokenRow, token_id)
            if row is None or row.revoked_at is not None:
                raise NotFoundError(f"There is no active token with id {token_id!r}.")
            if row.kind == "owner":
                raise ConflictError("The owner token cannot be revoked, only named tokens.")
            row.revoked_at = self._clock()
            session.flush()
            return _record(row)

    def touch(self, last_used: dict[str, datetime]) -> None:
        """Record when tokens (by id) were last used."""
        if not last_used:
            return
        with self._db.write() as session:
            for token_id, at in last_used.items():
                session.execute(
                    update(ApiTokenRow).where(ApiTokenRow.id == token_id).values(last_used_at=at)
                )
