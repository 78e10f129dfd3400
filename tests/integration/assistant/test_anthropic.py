"""The Anthropic provider against a fake server speaking the Messages wire format over HTTP.

The fake (tests/support/fake_anthropic_server.py) is a fake, documented as one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from atom_desktop.assistant.providers.anthropic import ANTHROPIC_VERSION, AnthropicProvider
from atom_desktop.assistant.providers.base import Completion, OutputSchema, complete
from atom_desktop.assistant.providers.client import new_client
from atom_desktop.assistant.providers.errors import ProviderError, ProviderErrorKind
from tests.integration.assistant.conftest import HELLO, KEY, QUICK, SCHEMA
from tests.support import fake_anthropic_server as fake
from tests.support.ports import free_port
from tests.support.scripted_http_server import Reply, ScriptedServer

T = TypeVar("T")


def _with_provider(
    base_url: str,
    use: Callable[[AnthropicProvider], Awaitable[T]],
    *,
    key: str | None = KEY,
) -> T:
    async def run() -> T:
        async with new_client() as client:
            provider = AnthropicProvider(
                client, model=fake.MODEL, api_key=key, base_url=base_url, retry=QUICK
            )
            return await use(provider)

    return asyncio.run(run())


def _ask(
    server: ScriptedServer, *, output: OutputSchema | None = None, key: str | None = KEY
) -> Completion:
    return _with_provider(server.base_url, lambda p: complete(p, HELLO, output=output), key=key)


def _failure(server: ScriptedServer, *, key: str | None = KEY) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        _ask(server, key=key)
    return caught.value


def test_text_arrives_in_pieces_and_is_joined(anthropic_server: ScriptedServer) -> None:
    anthropic_server.add(fake.stream(["Hel", "lo, ", "world."]))
    seen: list[str] = []

    async def use(provider: AnthropicProvider) -> Completion:
        return await complete(provider, HELLO, on_text=seen.append)

    answer = _with_provider(anthropic_server.base_url, use)
    assert answer.text == "Hello, world."
    assert seen == ["Hel", "lo, ", "world."]
    assert answer.stop_reason == "end_turn"
    assert (answer.usage.input_tokens, answer.usage.output_tokens) == (25, 15)
    [request] = anthropic_server.received
    assert request.path == "/v1/messages"
    assert request.headers["x-api-key"] == KEY
    assert request.headers["anthropic-version"] == ANTHROPIC_VERSION
    assert "authorization" not in request.headers
    body = request.json()
    assert body["stream"] is True
    assert body["model"] == fake.MODEL
    assert body["system"] == "Be brief."
    assert body["messages"] == [{"role": "user", "content": "Say hello"}]
    assert "tools" not in body


def test_structured_output_as_tool_input_in_pieces(anthropic_server: ScriptedServer) -> None:
    anthropic_server.add(
        fake.stream(["Planning."], tool="propose_plan", arguments=['{"n"', ": 4", "2}"])
    )
    answer = _ask(anthropic_server, output=SCHEMA)
    assert answer.text == "Planning."
    assert answer.tool_calls[1].name == "propose_plan"  # the block after the text block
    assert answer.tool_calls[1].arguments == '{"n": 42}'
    assert answer.stop_reason == "tool_use"
    body = anthropic_server.received[0].json()
    assert body["tools"] == [{"name": "propose_plan", "input_schema": dict(SCHEMA.schema)}]
    assert body["tool_choice"] == {"type": "tool", "name": "propose_plan"}


@pytest.mark.parametrize(
    ("reply", "kind", "words"),
    [
        (fake.model_not_found(fake.MODEL), ProviderErrorKind.MODEL_NOT_FOUND, "model name"),
        (fake.prompt_too_long(), ProviderErrorKind.CONTEXT_TOO_LONG, "Shorten the request"),
        (
            fake.error(
                400,
                "invalid_request_error",
                "input length and `max_tokens` exceed context limit: 198000 + 4096 > 200000",
            ),
            ProviderErrorKind.CONTEXT_TOO_LONG,
            "exceed context limit",
        ),
        (fake.rate_limited("120"), ProviderErrorKind.RATE_LIMITED, "Wait a minute"),
        (
            fake.error(400, "invalid_request_error", "max_tokens: Field required"),
            ProviderErrorKind.REJECTED,
            "max_tokens: Field required",
        ),
        (
            fake.error(403, "permission_error", "Your API key does not have permission"),
            ProviderErrorKind.BAD_KEY,
            "permissions",
        ),
    ],
    ids=["404", "400-too-long", "400-context-limit", "429-long-wait", "400-other", "403"],
)
def test_each_refusal_has_its_kind_and_is_asked_once(
    anthropic_server: ScriptedServer, reply: Reply, kind: ProviderErrorKind, words: str
) -> None:
    anthropic_server.add(reply)
    error = _failure(anthropic_server)
    assert error.kind is kind
    assert words in str(error)
    assert len(anthropic_server.received) == 1


def test_a_wrong_key_is_refused_once(anthropic_server: ScriptedServer) -> None:
    error = _failure(anthropic_server, key="sk-ant-wrong-0000000000000")
    assert error.kind is ProviderErrorKind.BAD_KEY
    assert "invalid x-api-key" in str(error)
    assert "sk-ant-wrong" not in str(error)
    assert len(anthropic_server.received) == 1  # 401 is never retried


def test_no_key_asks_nothing(anthropic_server: ScriptedServer) -> None:
    error = _failure(anthropic_server, key=None)
    assert error.kind is ProviderErrorKind.NO_KEY
    assert "Add the key in Settings → Assistant" in str(error)
    assert anthropic_server.received == []


def test_rate_limited_waits_as_long_as_the_server_says(anthropic_server: ScriptedServer) -> None:
    anthropic_server.add(fake.rate_limited("1"), fake.stream(["ok"]))
    assert _ask(anthropic_server).text == "ok"
    first, second = anthropic_server.received
    assert second.at - first.replied_at >= 1.0  # by the server's clock


@pytest.mark.parametrize(
    "reply",
    [fake.overloaded(), fake.error(500, "api_error", "Internal server error")],
    ids=["529", "500"],
)
def test_overloaded_and_server_errors_are_retried(
    anthropic_server: ScriptedServer, reply: Reply
) -> None:
    anthropic_server.add(reply, fake.stream(["ok"]))
    assert _ask(anthropic_server).text == "ok"
    assert len(anthropic_server.received) == 2


def test_an_error_event_part_way_ends_the_answer(anthropic_server: ScriptedServer) -> None:
    # Text already shown is not asked for again: the failure is reported instead.
    anthropic_server.add(fake.stream(["Hel"], fail_with="overloaded_error"), fake.stream(["x"]))
    seen: list[str] = []

    async def use(provider: AnthropicProvider) -> Completion:
        return await complete(provider, HELLO, on_text=seen.append)

    with pytest.raises(ProviderError) as caught:
        _with_provider(anthropic_server.base_url, use)
    assert caught.value.kind is ProviderErrorKind.SERVER_ERROR
    assert "Overloaded" in str(caught.value)
    assert seen == ["Hel"]
    assert len(anthropic_server.received) == 1


def test_an_error_event_before_any_text_is_retried(anthropic_server: ScriptedServer) -> None:
    # Nothing was shown yet: like the 529 it stands for, it is asked again.
    anthropic_server.add(fake.stream(fail_with="overloaded_error"), fake.stream(["ok"]))
    assert _ask(anthropic_server).text == "ok"
    assert len(anthropic_server.received) == 2


def test_the_models_anthropic_offers(anthropic_server: ScriptedServer) -> None:
    anthropic_server.add(fake.models("claude-b", "claude-a"))
    assert _with_provider(anthropic_server.base_url, lambda p: p.list_models()) == [
        "claude-a",
        "claude-b",
    ]
    [request] = anthropic_server.received
    assert (request.method, request.path) == ("GET", "/v1/models?limit=1000")
    assert request.headers["x-api-key"] == KEY


def test_a_closed_port_is_offline() -> None:
    port = free_port()
    with pytest.raises(ProviderError) as caught:
        _with_provider(f"http://127.0.0.1:{port}", lambda p: complete(p, HELLO))
    assert caught.value.kind is ProviderErrorKind.OFFLINE
