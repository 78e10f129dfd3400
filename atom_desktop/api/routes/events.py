"""The event bus over Server-Sent Events and a WebSocket.

Every event carries the bus's strictly increasing id. A client resumes with
``Last-Event-ID`` (or ``?since=``); when events it missed are no longer kept,
it gets a ``gap`` event first and knows to reload. Streams end when the
agent stops, so shutdown never waits on an open stream.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse

from atom_desktop.api.deps import AgentDep, principal_of, scope, websocket_scope
from atom_desktop.api.open_streams import CLIENT_GONE, REVOKED, OpenStreams, StreamStop
from atom_desktop.api.schemas import ERROR_RESPONSES, MAX_ID
from atom_desktop.api.streaming import SSE_REVOKED, close_socket, resume_point
from atom_desktop.core.events import Event, EventBus

router = APIRouter(prefix="/events", tags=["events"], responses=ERROR_RESPONSES)
QUEUE_LIMIT = 1000


def event_json(event: Event) -> dict[str, object]:
    """The wire form of an event."""
    return {
        "id": event.id,
        "kind": event.kind,
        "time": event.time.isoformat(),
        "data": dataclasses.asdict(event.payload),
    }


class _Overflow:
    """Marks a subscriber that fell too far behind."""


OVERFLOW = _Overflow()


async def follow(
    bus: EventBus, since: int, stop: asyncio.Event, heartbeat_s: float
) -> AsyncIterator[Event | _Overflow | None]:
    """Backlog after ``since``, then live events; None is a heartbeat tick.

    Yields OVERFLOW once, first, when events after ``since`` were already
    dropped from history, and again (then stops) if this subscriber falls
    more than QUEUE_LIMIT events behind. Ends when ``stop`` is set. Every
    task it starts is ended with it, however the caller stops iterating.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Event | _Overflow] = asyncio.Queue()

    def enqueue(item: Event | _Overflow) -> None:
        if queue.qsize() >= QUEUE_LIMIT:
            queue.put_nowait(OVERFLOW)
        else:
            queue.put_nowait(item)

    # Subscribe before reading the backlog so nothing falls between the two.
    unsubscribe = bus.subscribe(lambda e: loop.call_soon_threadsafe(enqueue, e))
    stopped = asyncio.ensure_future(stop.wait())
    getter: asyncio.Future[Event | _Overflow] | None = None
    try:
        backlog, gap = bus.since(since)
        if gap:
            yield OVERFLOW
        last = since
        for event in backlog:
            if stop.is_set():
                return
            last = event.id
            yield event
            # Sending never waits while the socket takes the data, and a
            # client that has gone is noticed only when the loop runs the
            # server's connection_lost: without a turn after each write the
            # rest of the backlog would be written into a closed socket.
            await asyncio.sleep(0)
        while not stop.is_set():
            if getter is None:  # else the last one is still waiting: keep it
                getter = asyncio.ensure_future(queue.get())
            waiting: set[asyncio.Future[Any]] = {getter, stopped}
            done, _ = await asyncio.wait(
                waiting, timeout=heartbeat_s, return_when=asyncio.FIRST_COMPLETED
            )
            if getter not in done:
                if stopped not in done:
                    yield None
                continue
            item = getter.result()
            getter = None
            if isinstance(item, _Overflow):
                yield OVERFLOW
                return
            if item.id > last:
                last = item.id
                yield item
    finally:
        unsubscribe()
        for task in (getter, stopped):
            if task is not None and not task.done():
                task.cancel()


def _sse(item: Event | _Overflow | None) -> str:
    if item is None:
        return ": heartbeat\n\n"
    if isinstance(item, _Overflow):
        return 'event: gap\ndata: {"message": "events were missed; reload your state"}\n\n'
    return f"id: {item.id}\nevent: {item.kind}\ndata: {json.dumps(event_json(item))}\n\n"


@router.get(
    "",
    openapi_extra=scope("read"),
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream_events(
    request: Request,
    agent: AgentDep,
    since: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    last_event_id: Annotated[str | None, Header(max_length=32)] = None,
) -> StreamingResponse:
    """Server-Sent Events of everything on the bus, resumable."""
    start = since if since is not None else resume_point(last_event_id, agent.bus.last_id)
    streams: OpenStreams = request.app.state.streams
    heartbeat: float = request.app.state.heartbeat_s

    async def body() -> AsyncIterator[str]:
        with streams.open(principal_of(request.scope)) as stop:
            async for item in follow(agent.bus, start, stop.event, heartbeat):
                yield _sse(item)
            if stop.reason == REVOKED:
                yield SSE_REVOKED

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"X-Accel-Buffering": "no", "Cache-Control": "no-store"},
    )


@router.websocket("/ws")
async def events_socket(websocket: WebSocket) -> None:
    """The same events as JSON text frames (a browser sends its token as subprotocol)."""
    agent = websocket.app.state.agent
    offered = websocket.headers.get("sec-websocket-protocol", "")
    subprotocol = "bearer" if "bearer" in [p.strip() for p in offered.split(",")] else None
    await websocket.accept(subprotocol=subprotocol)
    since = resume_point(websocket.query_params.get("since"), agent.bus.last_id)
    streams: OpenStreams = websocket.app.state.streams
    heartbeat: float = websocket.app.state.heartbeat_s
    try:
        with streams.open(principal_of(websocket.scope)) as stop:
            # Without reading, a client's close would be seen only at the next
            # send: with a quiet bus, never, and the stream would stay subscribed.
            watcher = asyncio.create_task(_end_when_gone(websocket, stop))
            try:
                async for item in follow(agent.bus, since, stop.event, heartbeat):
                    if item is None:
                        continue
                    if isinstance(item, _Overflow):
                        await websocket.send_json({"kind": "gap"})
                        continue
                    await websocket.send_json(event_json(item))
            finally:
                watcher.cancel()
                # Its end is awaited, so a failed read is not left unretrieved.
                await asyncio.gather(watcher, return_exceptions=True)
            if stop.reason != CLIENT_GONE:
                await close_socket(websocket, stop)
    except WebSocketDisconnect:
        return


async def _end_when_gone(websocket: WebSocket, stop: StreamStop) -> None:
    """End the stream once its client has gone; what it sends is ignored (this
    socket only speaks)."""
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass
    stop.end(CLIENT_GONE)


websocket_scope(router, "read")
