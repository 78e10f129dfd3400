"""``GET /oauth/callback``: where a provider sends the browser back after sign-in.

RFC 8252 loopback redirect: the browser cannot send an API token, so the
route is public and ``state`` is its guard (single-use, bound to one flow,
ten minutes; see integrations/flows.py). It answers a small page that says
what happened, which loads nothing, cannot be framed and sends no Referer
(the address it was opened with held the code).
"""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from atom_desktop.api.deps import agent_of
from atom_desktop.integrations.errors import IntegrationError

CALLBACK_PATH = "/oauth/callback"
router = APIRouter()

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - ATOM Desktop</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 0; display: grid; place-items: center;
       min-height: 100vh; background: #f5f6f8; color: #1d2330; }}
main {{ background: #fff; border-radius: 12px; padding: 32px 40px; max-width: 32rem;
        box-shadow: 0 2px 12px rgba(0,0,0,.08); }}
h1 {{ font-size: 1.3rem; margin: 0 0 .75rem; color: {colour}; }}
p {{ line-height: 1.5; margin: .5rem 0; }}
</style></head>
<body><main><h1>{title}</h1><p>{message}</p><p>{next}</p></main></body></html>
"""
_OK = "#1b7f4b"
_FAILED = "#b42318"
Param = Annotated[str | None, Query(max_length=4096)]


def _page(title: str, message: str, next_step: str, *, ok: bool, status: int) -> HTMLResponse:
    body = _PAGE.format(
        title=html.escape(title),
        message=html.escape(message),
        next=html.escape(next_step),
        colour=_OK if ok else _FAILED,
    )
    return HTMLResponse(body, status_code=status)


@router.get(CALLBACK_PATH, include_in_schema=False)
async def oauth_callback(
    request: Request,
    state: Param = None,
    code: Param = None,
    error: Param = None,
    error_description: Param = None,
) -> HTMLResponse:
    """Complete the sign-in ``state`` names, and say how it went."""
    if not state:
        return _page(
            "Not a sign-in",
            "This address is where ATOM Desktop finishes connecting an account, and this "
            "request did not come from a sign-in.",
            "Start connecting from the app.",
            ok=False,
            status=400,
        )
    try:
        account = await agent_of(request).integrations.async_complete(
            state, code=code, error=error, error_description=error_description
        )
    except IntegrationError as exc:
        return _page(
            "Not connected",
            exc.message,
            exc.hint or "You can close this page and try again from the app.",
            ok=False,
            status=400,
        )
    who = f" as {account.account}" if account.account else ""
    return _page(
        f"{account.provider_name} connected",
        f"ATOM Desktop is connected to {account.provider_name}{who}.",
        "You can close this page.",
        ok=True,
        status=200,
    )
