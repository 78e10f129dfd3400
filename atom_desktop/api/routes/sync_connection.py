"""``POST /api/v1/sync/reconnect``: use the sync server the settings name now."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from atom_desktop.api.deps import AgentDep, scope
from atom_desktop.api.schemas import ERROR_RESPONSES

router = APIRouter(prefix="/sync", tags=["sync"], responses=ERROR_RESPONSES)


class SyncReconnected(BaseModel):
    """The server sync now uses (its address without a password), or null: sync is off."""

    server: str | None
    state: str


@router.post("/reconnect", openapi_extra=scope("admin"))
async def sync_reconnect(agent: AgentDep) -> SyncReconnected:
    """Read the sync server from the settings again and sync with it.

    ``atom-desktop sync connect`` and ``sync disconnect`` call this after
    they change the config file and the keyring, so that a running agent
    follows without a restart. The environment the agent started with still
    wins over the config file. What waits in the outbox is kept and goes to
    the server now named.
    """
    server = await agent.async_reconnect_sync()
    return SyncReconnected(server=server, state=agent.sync.status.state)
