"""A fake OpenAI-compatible chat completions server, for the provider tests.

It is a FAKE, not a model: it answers ``POST /v1/chat/completions`` from a
script (:mod:`tests.support.scripted_http_server`) in OpenAI's wire format:
streamed ``chat.completion.chunk`` events (``data: {...}`` then
``data: [DONE]``) whose first delta names the role, then text pieces in
``delta.content`` or one tool call whose ``function.arguments`` come in
pieces (the first piece with the call's id and name), a last chunk with the
``finish_reason``, and a usage chunk with empty ``choices``; and errors as
OpenAI sends them: ``{"error": {"message", "type", "param", "code"}}`` with
the status (401 ``invalid_api_key``, 404 ``model_not_found``, 400
``context_length_exceeded``, 429 ``rate_limit_exceeded`` with Retry-After,
500/503 ``server_error``). With ``key`` set it checks ``Authorization:
Bearer`` first and answers 401 the way OpenAI does, repeating the key it got.

``GET /v1/models`` answers a scripted list (:func:`models`).

It does not implement: generation (it says what it is told), ``n`` > 1,
logprobs, non-streaming answers, or any check of the request's schema.
It stands in for a local server such as llama-cpp-python's: that one has
no wheel for this machine and builds from source in about four minutes,
too long for every run of the tests. Checked by hand against it (0.3.36,
a tiny random-weight model): its streamed chunks and model list are what
this fake sends; it takes structured output only as ``json_object`` with a
schema and refuses ``json_schema`` with a 500 (both in the tests).
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

MODEL = "fake-model"


def _chunk(delta: dict[str, object], finish_reason: str | None = None) -> bytes:
    chunk = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 1765100000,
        "model": MODEL,
        "system_fingerprint": None,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }
    return f"data: {json.dumps(chunk)}\n\n".encode()


def stream(
    text: Sequence[str] = (),
    *,
    tool: str | None = None,
    arguments: Sequence[str] = (),
    finish_reason: str | None = None,
    done: bool = True,
) -> Reply:
    """A streamed answer: ``text`` pieces, then (with ``tool``) a call whose arguments
    arrive as ``arguments`` pieces. ``done=False`` ends the body without ``[DONE]``
    or a finish reason, as a server that died part-way."""
    events = [_chunk({"role": "assistant", "content": ""})]
    events += [_chunk({"content": piece}) for piece in text]
    if tool is not None:
        events.append(
            _chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_fake1",
                            "type": "function",
                            "function": {"name": tool, "arguments": ""},
                        }
                    ]
                }
            )
        )
        events += [
            _chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
            for piece in arguments
        ]
    if done:
        events.append(_chunk({}, finish_reason or ("tool_calls" if tool else "stop")))
        usage = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
        tail = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 1765100000,
            "model": MODEL,
            "choices": [],
            "usage": usage,
        }
        events.append(f"data: {json.dumps(tail)}\n\n".encode())
        events.append(b"data: [DONE]\n\n")
    return Reply(200, {"Content-Type": "text/event-stream"}, events=tuple(events))


def error(
    status: int,
    message: str,
    *,
    type: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """An error as OpenAI answers one."""
    body = {"error": {"message": message, "type": type, "param": param, "code": code}}
    return json_reply(status, body, headers)


def invalid_key(key: str) -> Reply:
    """OpenAI's 401 for a wrong key (it repeats the key it was given, partly)."""
    return error(
        401,
        f"Incorrect API key provided: {key}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        code="invalid_api_key",
    )


def model_not_found(model: str) -> Reply:
    """OpenAI's 404 for a model that does not exist."""
    return error(
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        code="model_not_found",
    )


def context_too_long() -> Reply:
    """OpenAI's 400 for a prompt past the context window."""
    return error(
        400,
        "This model's maximum context length is 8192 tokens. However, your messages resulted "
        "in 9000 tokens. Please reduce the length of the messages.",
        code="context_length_exceeded",
        param="messages",
    )


def rate_limited(retry_after: str) -> Reply:
    """OpenAI's 429 with a Retry-After header."""
    return error(
        429,
        "Rate limit reached for requests. Please try again in 1s.",
        type="requests",
        code="rate_limit_exceeded",
        headers={"Retry-After": retry_after},
    )


def server_error(status: int = 500) -> Reply:
    """A 500 or 503 as OpenAI answers one."""
    message = (
        "The server had an error while processing your request. Sorry about that!"
        if status == 500
        else "The engine is currently overloaded, please try again later."
    )
    return error(status, message, type="server_error")


def models(*ids: str) -> Reply:
    """``GET /v1/models``: the list as OpenAI answers it."""
    data = [{"id": i, "object": "model", "created": 1765100000, "owned_by": "fake"} for i in ids]
    return json_reply(200, {"object": "list", "data": data})


@contextmanager
def fake_openai_server(key: str | None = None) -> Iterator[ScriptedServer]:
    """The fake on a free loopback port; its base URL for the provider is ``base_url + "/v1"``."""

    def check(request: Received) -> Reply | None:
        if key is not None and request.headers.get("authorization") != f"Bearer {key}":
            sent = request.headers.get("authorization", "").removeprefix("Bearer ")
            if not sent:
                return error(401, "You didn't provide an API key.", code=None)
            return invalid_key(sent)
        return None

    with scripted_server(check) as server:
        yield server
