"""The head-limited protocol's own parts, and what it relies on in uvicorn.

The behaviour over a real socket is in
``tests/integration/api/test_header_limits.py``; these fail first, and say
why, when an upgrade of uvicorn moves what the protocol builds on.
"""

from __future__ import annotations

import asyncio
import inspect
import json

import pytest
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from atom_desktop.api.http_protocol import (
    FRAMING_SLACK,
    REFUSAL_HEADERS,
    HeadLimitedProtocol,
    HeadLimits,
    refusal,
)
from atom_desktop.api.security import API_HEADERS

OVERRIDDEN = (
    "data_received",
    "on_message_begin",
    "on_headers_complete",
    "on_body",
    "handle_websocket_upgrade",
    "on_response_complete",
)
STATE = ("headers", "cycle", "pipeline", "scope", "flow", "app", "transport", "client")


def test_the_refusal_carries_every_header_of_an_api_answer() -> None:
    assert set(API_HEADERS) <= set(REFUSAL_HEADERS)
    assert (b"connection", b"close") in REFUSAL_HEADERS


@pytest.mark.parametrize("name", OVERRIDDEN)
def test_uvicorn_still_has_each_method_the_protocol_overrides(name: str) -> None:
    method = getattr(HttpToolsProtocol, name, None)
    assert callable(method), f"uvicorn's HttpToolsProtocol has no {name} any more"
    assert name in vars(HeadLimitedProtocol)


def test_uvicorn_still_keeps_the_state_the_protocol_reads() -> None:
    loop = asyncio.new_event_loop()
    try:
        config = Config(app=lambda scope, receive, send: None, http=HeadLimitedProtocol)
        config.load()
        protocol = HeadLimitedProtocol(config, ServerState(), {}, loop)
    finally:
        loop.close()
    missing = [name for name in STATE if not hasattr(protocol, name)]
    assert missing == []
    # Set as each request begins: the head reported so far, which the
    # protocol counts.
    begin = inspect.getsource(HttpToolsProtocol.on_message_begin)
    assert "self.url = " in begin and "self.headers = " in begin
    assert "self.headers" in inspect.getsource(HttpToolsProtocol.on_header)


def test_limits_pass_a_head_at_the_limit_and_refuse_one_past_it() -> None:
    limits = HeadLimits(max_bytes=2048, max_lines=10)
    assert limits.breach(size=2048, lines=10, unreported=2048 + FRAMING_SLACK) is None
    too_many = limits.breach(size=10, lines=11, unreported=0)
    too_large = limits.breach(size=2049, lines=1, unreported=0)
    still_arriving = limits.breach(size=0, lines=0, unreported=2049 + FRAMING_SLACK)
    assert too_many is not None and "more than 10 header lines" in too_many
    assert too_large is not None and "larger than 2 KiB" in too_large
    assert still_arriving == too_large


def test_the_refusal_is_a_whole_http_answer_with_a_json_error() -> None:
    answer = refusal("Send fewer headers.", [(b"date", b"Sun, 06 Dec 2026 00:00:00 GMT")])
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 431 Request Header Fields Too Large"
    assert b"date: Sun, 06 Dec 2026 00:00:00 GMT" in lines
    assert f"content-length: {len(body)}".encode() in lines
    assert json.loads(body) == {
        "error": {"code": "headers_too_large", "message": "Send fewer headers."}
    }
