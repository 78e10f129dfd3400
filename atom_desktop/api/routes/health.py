"""``GET /api/v1/health`` (no token) and ``GET /api/v1/status``."""

from __future__ import annotations

from fastapi import APIRouter, Request

from atom_desktop import __version__
from atom_desktop.api.deps import AgentDep, agent_of, scope
from atom_desktop.api.plain_route import PlainRoute
from atom_desktop.api.schemas import ERROR_RESPONSES, Health, Status

router = APIRouter(tags=["agent"], responses=ERROR_RESPONSES)


async def health(request: Request) -> Health:
    """Whether the agent is up; no token needed, no user data in it."""
    agent = agent_of(request)
    key = agent.store.key
    return Health(
        status="ok",
        version=__version__,
        uptime_s=round(agent.uptime_s, 3),
        key_storage=key.storage if key else None,
        keyring_backend=key.keyring_backend if key else None,
        key_where=key.summary() if key else None,
    )


# Polled often (monitors, the web app, the CLI's wait for start-up) and needs
# nothing from the request: a plain route, without FastAPI's per-request work.
router.add_api_route(
    "/health",
    health,
    methods=["GET"],
    openapi_extra=scope("public"),
    route_class_override=PlainRoute,
)


@router.get("/status", openapi_extra=scope("read"))
def status(agent: AgentDep) -> Status:
    """The agent's state, counts and where its files are."""
    key = agent.store.key
    return Status(
        state=agent.state,
        version=__version__,
        uptime_s=round(agent.uptime_s, 3),
        api=f"http://{agent.settings.host}:{agent.api_port}",
        key_storage=key.describe() if key else None,
        key_warning=key.warning if key else None,
        tasks=agent.store.tasks.count(),
        outbox_pending=agent.store.outbox.count(),
        data_dir=str(agent.paths.data_dir),
        config_dir=str(agent.paths.config_dir),
        log_dir=str(agent.paths.log_dir),
    )
