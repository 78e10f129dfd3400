"""A fake Anthropic Messages server, for the provider tests.

It is a FAKE, not a model: it answers ``POST /v1/messages`` from a script
(:mod:`tests.support.scripted_http_server`) in Anthropic's wire format:
streamed events, each an ``event:`` line naming the type and a ``data:``
line with the same ``type`` (``message_start``, then per block
``content_block_start``, ``content_block_delta`` with ``text_delta`` or
``input_json_delta`` pieces, ``content_block_stop``, then ``message_delta``
with the stop reason and ``message_stop``, with a ``ping`` among them), an
``error`` event part-way (``overloaded_error``), and HTTP errors as
``{"type": "error", "error": {"type", "message"}, "request_id"}`` (400
``invalid_request_error`` "prompt is too long", 401
``authentication_error``, 404 ``not_found_error``, 429 ``rate_limit_error``
with retry-after, 500 ``api_error``, 529 ``overloaded_error``). With ``key``
set it checks ``x-api-key`` (and that ``anthropic-version`` is sent) first.

``GET /v1/models`` answers a scripted page (:func:`models`).

It does not implement: generation, non-streaming answers, paging, thinking blocks,
images, prompt caching, or any check of the request's schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from tests.support.scripted_http_server import (
    Received,
    Reply,
    ScriptedServer,
    json_reply,
    scripted_server,
)

MODEL = "claude-fake"


def _event(data: dict[str, object]) -> bytes:
    return f"event: {data['type']}\ndata: {json.dumps(data)}\n\n".encode()


def stream(
    text: Sequence[str] = (),
    *,
    tool: str | None = None,
    arguments: Sequence[str] = (),
    stop_reason: str | None = None,
    fail_with: str | None = None,
) -> Reply:
    """A streamed answer: a text block of ``text`` pieces, then (with ``tool``) a tool_use
    block whose input arrives as ``arguments`` pieces. ``fail_with`` (an error type)
    ends the stream part-way with an ``error`` event instead."""
    message: dict[str, object] = {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": MODEL,
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 25, "output_tokens": 1},
    }
    events = [_event({"type": "message_start", "message": message}), _event({"type": "ping"})]
    index = 0
    if text:
        events.append(
            _event(
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "text", "text": ""},
                }
            )
        )
        events += [
            _event(
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "text_delta", "text": piece},
                }
            )
            for piece in text
        ]
    if fail_with is not None:
        failure: dict[str, object] = {
            "type": "error",
            "error": {"type": fail_with, "message": "Overloaded"},
        }
        events.append(_event(failure))
        return Reply(200, {"Content-Type": "text/event-stream"}, events=tuple(events))
    if text:
        events.append(_event({"type": "content_block_stop", "index": index}))
        index += 1
    if tool is not None:
        events.append(
            _event(
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {
                        "type": "tool_use",
                        "id": "toolu_fake",
                        "name": tool,
                        "input": {},
                    },
                }
            )
        )
        events += [
            _event(
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": piece},
                }
            )
            for piece in arguments
        ]
        events.append(_event({"type": "content_block_stop", "index": index}))
    reason = stop_reason or ("tool_use" if tool else "end_turn")
    events.append(
        _event(
            {
                "type": "message_delta",
                "delta": {"stop_reason": reason, "stop_sequence": None},
                "usage": {"output_tokens": 15},
            }
        )
    )
    events.append(_event({"type": "message_stop"}))
    return Reply(200, {"Content-Type": "text/event-stream"}, events=tuple(events))


def error(status: int, type: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    """An error as Anthropic answers one."""
    body = {"type": "error", "error": {"type": type, "message": message}, "request_id": "req_fake"}
    return json_reply(status, body, headers)


def rate_limited(retry_after: str) -> Reply:
    """A 429 rate_limit_error with retry-after."""
    return error(
        429,
        "rate_limit_error",
        "Number of request tokens has exceeded your per-minute rate limit.",
        {"retry-after": retry_after},
    )


def prompt_too_long() -> Reply:
    """The 400 for a prompt past the context window."""
    return error(400, "invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum")


def model_not_found(model: str) -> Reply:
    """The 404 for an unknown model."""
    return error(404, "not_found_error", f"model: {model}")


def overloaded() -> Reply:
    """The 529 overloaded_error."""
    return error(529, "overloaded_error", "Overloaded")


def models(*ids: str) -> Reply:
    """``GET /v1/models``: one page, as Anthropic answers it."""
    data = [
        {"type": "model", "id": i, "display_name": i, "created_at": "2026-01-01T00:00:00Z"}
        for i in ids
    ]
    first, last = (ids[0], ids[-1]) if ids else (None, None)
    return json_reply(200, {"data": data, "has_more": False, "first_id": first, "last_id": last})


@contextmanager
def fake_anthropic_server(key: str | None = None) -> Iterator[ScriptedServer]:
    """The fake on a free loopback port; ``base_url`` is the provider's base URL."""

    def check(request: Received) -> Reply | None:
        if "anthropic-version" not in request.headers:
            return error(400, "invalid_request_error", "anthropic-version: header is required")
        if key is not None and request.headers.get("x-api-key") != key:
            return error(401, "authentication_error", "invalid x-api-key")
        return None

    with scripted_server(check) as server:
        yield server
