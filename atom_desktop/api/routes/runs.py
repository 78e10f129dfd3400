"""Runs: start (``run``), look (``read``), cancel, feed stdin, stream output."""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import json
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Header, Query, Request, Response, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse

from atom_desktop.api.auth import Principal
from atom_desktop.api.context import AgentContext
from atom_desktop.api.deps import AgentDep, PrincipalDep, principal_of, scope, websocket_scope
from atom_desktop.api.errors import status_of
from atom_desktop.api.open_streams import REVOKED, OpenStreams, StreamStop
from atom_desktop.api.output_events import OutputEvents
from atom_desktop.api.schemas import (
    ERROR_RESPONSES,
    MAX_ID,
    RunCreate,
    RunInput,
    RunPage,
    RunPublic,
)
from atom_desktop.api.streaming import SSE_REVOKED, close_socket, resume_point
from atom_desktop.core.errors import AtomError
from atom_desktop.core.output import Chunk
from atom_desktop.core.statuses import RunStatus
from atom_desktop.runner.follow import Dropped, Exited, follow_run
from atom_desktop.runner.output import now
from atom_desktop.runner.service import RunnerService
from atom_desktop.store.runs import RunRecord, RunRepository

router = APIRouter(prefix="/runs", tags=["runs"], responses=ERROR_RESPONSES)
T = TypeVar("T")


def _public(record: RunRecord) -> RunPublic:
    return RunPublic(**dataclasses.asdict(record))


@router.post("", status_code=201, openapi_extra=scope("run"))
async def start_run(agent: AgentDep, principal: PrincipalDep, body: RunCreate) -> RunPublic:
    """Start a command (``argv``) or a shell line (``shell``); it may wait in a queue."""
    # A denied command is 403 naming the rule, a bad request 400 (api/errors.py).
    record = await agent.runner.async_submit(body.request(), source="api", requester=principal.name)
    return _public(record)


@router.get("", openapi_extra=scope("read"))
def list_runs(
    agent: AgentDep,
    status: Annotated[list[RunStatus] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[str | None, Query(max_length=36)] = None,
) -> RunPage:
    """Runs, newest first."""
    records = agent.store.runs.page(status=status, limit=limit, before=before)
    next_before = records[-1].id if len(records) == limit else None
    return RunPage(items=[_public(r) for r in records], next_before=next_before)


@router.get("/{run_id}", openapi_extra=scope("read"))
def get_run(agent: AgentDep, run_id: str) -> RunPublic:
    """One run, with its status and exit code."""
    return _public(agent.store.runs.get(run_id))


@router.delete("/{run_id}", status_code=204, openapi_extra=scope("run"))
def delete_run(agent: AgentDep, run_id: str) -> Response:
    """Delete a finished run and its stored output."""
    agent.store.runs.delete(run_id)
    return Response(status_code=204)


@router.get(
    "/{run_id}/output",
    openapi_extra=scope("read"),
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def get_output(
    agent: AgentDep, run_id: str, stream: Literal["stdout", "stderr"] = "stdout"
) -> Response:
    """The exact stored bytes of one stream (head and tail, if the cap dropped the middle).

    Sent from the store a page at a time, so memory stays bounded whatever
    the size. A finished run's answer has a ``Content-Length``. A run still
    going has no length yet: its answer is what it printed before the
    request (as far as its cap keeps it), what the runner has not stored yet
    included; ``/stream`` follows it live.
    """
    runs = agent.store.runs
    record = await asyncio.to_thread(runs.get, run_id)  # 404 for an unknown run
    if not record.finished:
        return StreamingResponse(
            _unfinished_output(agent.runner, run_id, stream, until=now()),
            media_type="application/octet-stream",
        )
    # Finished: its output no longer changes, so its size is known.
    size = await asyncio.to_thread(runs.stored_bytes, run_id, stream)
    return StreamingResponse(
        _stored_output(runs, run_id, stream, size),
        media_type="application/octet-stream",
        headers={"Content-Length": str(size)},
    )


async def _stored_output(
    runs: RunRepository, run_id: str, stream: str, size: int
) -> AsyncIterator[bytes]:
    """A finished run's stored ``stream``, a page per send."""
    sent = 0
    page = await asyncio.to_thread(runs.stream_page, run_id, stream)
    while page:
        # The next page is read (and decrypted, off the loop's thread and
        # without the interpreter lock) while this one is being sent.
        ahead = asyncio.ensure_future(
            asyncio.to_thread(runs.stream_page, run_id, stream, after=page[-1].seq)
        )
        try:
            data = b"".join(chunk.data for chunk in page)
            sent += len(data)
            yield data
            page = await ahead
        finally:
            ahead.cancel()  # the client went away: the read's result is not wanted
    if sent != size:
        # Deleted while being sent: cutting the answer short (Content-Length
        # unmet) tells the client it is incomplete.
        raise AtomError(f"The output of run {run_id} was deleted while it was being sent.")


async def _unfinished_output(
    runner: RunnerService, run_id: str, stream: str, *, until: datetime
) -> AsyncIterator[bytes]:
    """What a run still going printed on ``stream`` up to ``until``, stored or not yet."""
    after = 0
    while batch := await runner.async_backlog(run_id, after):
        after = batch[-1].seq
        data = b"".join(c.data for c in batch if c.stream == stream and c.at <= until)
        if data:
            yield data
        if batch[-1].at > until:
            return


@router.post("/{run_id}/cancel", status_code=202, openapi_extra=scope("run"))
async def cancel_run(agent: AgentDep, run_id: str) -> RunPublic:
    """End the run and everything it started (SIGTERM, then SIGKILL)."""
    await agent.runner.async_cancel(run_id)  # 409 once it has ended (api/errors.py)
    return _public(await asyncio.to_thread(agent.store.runs.get, run_id))


@router.post("/{run_id}/input", status_code=204, openapi_extra=scope("run"))
async def send_input(agent: AgentDep, run_id: str, body: RunInput) -> Response:
    """Write to the run's stdin."""
    # RunInput has refused both at once and base64 that does not decode.
    data = (
        body.text.encode()
        if body.text is not None
        else base64.b64decode(body.base64 or "", validate=True)
    )
    await agent.runner.async_input(run_id, data, close=body.close)
    return Response(status_code=204)


@router.get(
    "/{run_id}/stream",
    openapi_extra=scope("read"),
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream_run(
    request: Request,
    agent: AgentDep,
    run_id: str,
    *,
    since: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    encoding: Literal["text", "base64"] = "text",
    last_event_id: Annotated[str | None, Header(max_length=32)] = None,
) -> StreamingResponse:
    """Backlog, then live ``output`` events ``{"seq", "stream", "text"}``, then one ``exit``.

    ``encoding=base64`` sends ``"data"`` (the exact bytes, base64) instead of
    ``"text"``, for clients that need the output byte for byte.
    """
    await asyncio.to_thread(agent.store.runs.get, run_id)  # 404 before streaming starts
    after = since if since is not None else resume_point(last_event_id, 0)
    streams: OpenStreams = request.app.state.streams

    async def body() -> AsyncIterator[bytes]:
        events = OutputEvents(encoding)
        with streams.open(principal_of(request.scope)) as stop:
            async for item in follow_run(agent.runner, run_id, after, stop.event):
                match item:
                    case Chunk():
                        yield events.output(item)
                    case Dropped():
                        yield events.dropped(item)
                    case Exited():
                        yield events.exit(item)
            if stop.reason == REVOKED:
                yield SSE_REVOKED.encode()

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"X-Accel-Buffering": "no", "Cache-Control": "no-store"},
    )


STDOUT_TAG = 1
STDERR_TAG = 2


@router.websocket("/{run_id}/ws")
async def run_socket(websocket: WebSocket, run_id: str) -> None:
    """Interactive view of a run.

    Server to client: binary frames ``tag (1 byte: 1 stdout, 2 stderr) + seq
    (8 bytes, big-endian) + the exact bytes``; text frames ``{"type":
    "dropped", ...}`` and a final ``{"type": "exit", ...}``. Client to server:
    binary frames are stdin bytes; text frames ``{"type": "stdin", "text"|
    "base64": ...}``, ``{"type": "close_stdin"}`` or ``{"type": "cancel"}``.
    ``?since=N`` resumes after sequence number N.
    """
    agent = websocket.app.state.agent
    offered = [p.strip() for p in websocket.headers.get("sec-websocket-protocol", "").split(",")]
    try:
        await asyncio.to_thread(agent.store.runs.get, run_id)
    except AtomError:
        await websocket.close(code=4404, reason="no such run")
        return
    await websocket.accept(subprotocol="bearer" if "bearer" in offered else None)
    after = resume_point(websocket.query_params.get("since"), 0)
    streams: OpenStreams = websocket.app.state.streams
    principal = principal_of(websocket.scope)
    with streams.open(principal) as stop:
        actions = _SocketActions(agent, run_id, principal, stop, websocket.app.state.audit)

        async def send_output() -> None:
            async for item in follow_run(agent.runner, run_id, after, stop.event):
                match item:
                    case Chunk(seq=seq, stream=stream, data=data):
                        tag = STDOUT_TAG if stream == "stdout" else STDERR_TAG
                        await websocket.send_bytes(bytes([tag]) + seq.to_bytes(8, "big") + data)
                    case Dropped(first_seq=first, last_seq=last):
                        await websocket.send_json(
                            {"type": "dropped", "from_seq": first, "to_seq": last}
                        )
                    case Exited():
                        await websocket.send_json({"type": "exit", **dataclasses.asdict(item)})
            await close_socket(websocket, stop, normal=1000)

        async def take_input() -> None:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                # Shielded: the socket may close (the run ended) while an
                # action is under way; it still completes and is audited.
                error = await asyncio.shield(actions.handle(message))
                if error is not None:
                    await websocket.send_json({"type": "error", "message": error})

        sender = asyncio.create_task(send_output())
        receiver = asyncio.create_task(take_input())
        try:
            done, pending = await asyncio.wait(
                {sender, receiver}, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            for task in done:
                exc = task.exception()
                if exc is not None and not isinstance(exc, WebSocketDisconnect | RuntimeError):
                    raise exc
        finally:
            for task in (sender, receiver):
                task.cancel()


# Audit entries of socket actions name the HTTP route that does the same.
_TWIN = "/api/v1/runs/{run_id}"
AuditAction = Callable[[Principal | None, str, str | None, int], Awaitable[None]]


class _SocketActions:
    """What a client asks of a run over its WebSocket: checked and audited as over HTTP.

    The token was checked when the socket opened; it is checked again before
    each action, so a token revoked meanwhile can do nothing more, even in
    the moment before its socket is closed.
    """

    def __init__(
        self,
        agent: AgentContext,
        run_id: str,
        principal: Principal | None,
        stop: StreamStop,
        audit: AuditAction,
    ) -> None:
        self._agent = agent
        self._run_id = run_id
        self._principal = principal
        self._stop = stop
        self._audit = audit

    async def handle(self, message: MutableMapping[str, Any]) -> str | None:
        """Do what ``message`` asks; an error message for the client, or None."""
        try:
            kind, data = _parse_client_message(message)
        except (ValueError, binascii.Error) as exc:
            await self._audit(self._principal, f"WS {_TWIN}/ws", self._run_id, 400)
            return str(exc)
        action, ok_status = (
            (f"POST {_TWIN}/cancel (WebSocket)", 202)
            if kind == "cancel"
            else (f"POST {_TWIN}/input (WebSocket)", 204)
        )
        if self._stop.event.is_set() or not self._still_valid():
            await self._audit(self._principal, action, self._run_id, 403)
            return "The token of this socket is no longer valid."
        try:
            if kind == "cancel":
                await self._agent.runner.async_cancel(self._run_id)
            else:
                await self._agent.runner.async_input(
                    self._run_id, data, close=kind == "close_stdin"
                )
        except AtomError as exc:
            await self._audit(self._principal, action, self._run_id, status_of(exc)[0])
            return exc.message
        await self._audit(self._principal, action, self._run_id, ok_status)
        return None

    def _still_valid(self) -> bool:
        return self._principal is None or self._agent.tokens.is_valid(self._principal.token_id)


def _parse_client_message(message: MutableMapping[str, Any]) -> tuple[str, bytes]:
    """A client frame as (``stdin`` | ``close_stdin`` | ``cancel``, stdin bytes)."""
    raw = message.get("bytes")
    if isinstance(raw, bytes | bytearray):
        return "stdin", bytes(raw)
    request = json.loads(str(message.get("text") or "{}"))
    if not isinstance(request, dict):
        raise ValueError("a text frame must be a JSON object with a 'type'")
    kind = request.get("type")
    if kind in ("cancel", "close_stdin"):
        return str(kind), b""
    if kind == "stdin":
        if "base64" in request:
            return "stdin", base64.b64decode(str(request["base64"]), validate=True)
        return "stdin", str(request.get("text", "")).encode()
    raise ValueError(f"unknown message type {kind!r}; use stdin, close_stdin or cancel")


websocket_scope(router, "run")
