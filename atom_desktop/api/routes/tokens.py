"""Named, scoped, revocable API tokens (admin scope)."""

from __future__ import annotations

from fastapi import APIRouter

from atom_desktop.api.deps import AgentDep, scope
from atom_desktop.api.schemas import ERROR_RESPONSES, TokenCreate, TokenCreated, TokenPublic
from atom_desktop.store.tokens import TokenRecord

router = APIRouter(prefix="/tokens", tags=["tokens"], responses=ERROR_RESPONSES)


def _public(record: TokenRecord) -> TokenPublic:
    return TokenPublic(
        id=record.id,
        name=record.name,
        kind=record.kind,
        scopes=sorted(record.scopes),
        created_at=record.created_at,
        last_used_at=record.last_used_at,
        revoked_at=record.revoked_at,
    )


@router.get("", openapi_extra=scope("admin"))
def list_tokens(agent: AgentDep) -> list[TokenPublic]:
    """Every token, revoked ones included; never a secret."""
    agent.tokens.flush_usage()
    return [_public(r) for r in agent.store.api_tokens.all()]


@router.post("", status_code=201, openapi_extra=scope("admin"))
def create_token(agent: AgentDep, body: TokenCreate) -> TokenCreated:
    """Make a token; its secret is in this response only."""
    record, secret = agent.tokens.create(body.name, list(body.scopes))
    return TokenCreated(**_public(record).model_dump(), token=secret)


@router.delete("/{token_id}", openapi_extra=scope("admin"))
def revoke_token(agent: AgentDep, token_id: str) -> TokenPublic:
    """Revoke a named token; it stops working at once."""
    return _public(agent.tokens.revoke(token_id))
