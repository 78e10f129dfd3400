"""The OpenAI-compatible provider against a fake server speaking the wire format over HTTP.

The fake (tests/support/fake_openai_server.py) is a fake, documented as one:
llama.cpp's server could not be installed here from a wheel.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from email.utils import formatdate
from typing import TypeVar

import httpx
import pytest

from atom_desktop.assistant.providers.base import (
    Completion,
    OutputSchema,
    complete,
)
from atom_desktop.assistant.providers.client import DEFAULT_TIMEOUT, new_client
from atom_desktop.assistant.providers.errors import ProviderError, ProviderErrorKind
from atom_desktop.assistant.providers.openai_compatible import (
    OpenAICompatibleProvider,
    StructuredMode,
)
from atom_desktop.assistant.providers.retry import RetryPolicy
from tests.integration.assistant.conftest import HELLO, KEY, QUICK, SCHEMA
from tests.support import fake_openai_server as fake
from tests.support.ports import free_port
from tests.support.scripted_http_server import Reply, ScriptedServer, json_reply

T = TypeVar("T")


def _with_provider(
    base_url: str,
    use: Callable[[OpenAICompatibleProvider], Awaitable[T]],
    *,
    key: str | None = KEY,
    structured: StructuredMode = "json_schema",
    retry: RetryPolicy = QUICK,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
) -> T:
    async def run() -> T:
        async with new_client(timeout) as client:
            provider = OpenAICompatibleProvider(
                client,
                base_url=base_url,
                model=fake.MODEL,
                api_key=key,
                structured=structured,
                retry=retry,
                name="The test server",
            )
            return await use(provider)

    return asyncio.run(run())


def _ask(server: ScriptedServer, **options: object) -> Completion:
    output = options.pop("output", None)
    assert output is None or isinstance(output, OutputSchema)
    return _with_provider(
        server.base_url + "/v1",
        lambda p: complete(p, HELLO, output=output),
        **options,  # type: ignore[arg-type]
    )


def _failure(server: ScriptedServer, **options: object) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        _ask(server, **options)
    return caught.value


def test_text_arrives_in_pieces_and_is_joined(openai_server: ScriptedServer) -> None:
    openai_server.add(fake.stream(["Hel", "lo, ", "wor", "ld."]))
    seen: list[str] = []

    async def use(provider: OpenAICompatibleProvider) -> Completion:
        return await complete(provider, HELLO, on_text=seen.append)

    answer = _with_provider(openai_server.base_url + "/v1", use)
    assert answer.text == "Hello, world."
    assert seen == ["Hel", "lo, ", "wor", "ld."]
    assert answer.stop_reason == "stop"
    assert (answer.usage.input_tokens, answer.usage.output_tokens) == (11, 7)
    [request] = openai_server.received
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    body = request.json()
    assert body["stream"] is True
    assert body["model"] == fake.MODEL
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hello"},
    ]
    assert "response_format" not in body
    assert "tools" not in body


def test_structured_output_as_a_json_schema(openai_server: ScriptedServer) -> None:
    openai_server.add(fake.stream(['{"n"', ": 4", "2}"]))
    answer = _ask(openai_server, output=SCHEMA)
    assert answer.text == '{"n": 42}'
    sent = openai_server.received[0].json()["response_format"]
    assert sent == {
        "type": "json_schema",
        "json_schema": {
            "name": "propose_plan",
            "schema": dict(SCHEMA.schema),
            "strict": False,
        },
    }


def test_structured_output_as_a_json_object_with_its_schema(openai_server: ScriptedServer) -> None:
    # llama-cpp-python's server takes structured output only in this form.
    openai_server.add(fake.stream(['{"n"', ": 4", "2}"]))
    answer = _ask(openai_server, output=SCHEMA, structured="json_object")
    assert answer.text == '{"n": 42}'
    body = openai_server.received[0].json()
    assert body["response_format"] == {"type": "json_object", "schema": dict(SCHEMA.schema)}
    assert "tools" not in body


def test_structured_output_as_a_tool_call_in_pieces(openai_server: ScriptedServer) -> None:
    openai_server.add(fake.stream(tool="propose_plan", arguments=['{"', 'n": ', "42", "}"]))
    answer = _ask(openai_server, output=SCHEMA, structured="tools")
    assert answer.text == ""
    assert answer.tool_calls[0].name == "propose_plan"
    assert answer.tool_calls[0].arguments == '{"n": 42}'
    assert answer.stop_reason == "tool_calls"
    body = openai_server.received[0].json()
    assert body["tools"][0]["function"]["parameters"] == dict(SCHEMA.schema)
    assert body["tool_choice"] == {"type": "function", "function": {"name": "propose_plan"}}
    assert "response_format" not in body


@pytest.mark.parametrize(
    ("reply", "kind", "words"),
    [
        (
            fake.invalid_key("sk-elsewhere-0000000000"),
            ProviderErrorKind.BAD_KEY,
            "refused the API key",
        ),
        (fake.model_not_found(fake.MODEL), ProviderErrorKind.MODEL_NOT_FOUND, "model name"),
        (fake.context_too_long(), ProviderErrorKind.CONTEXT_TOO_LONG, "Shorten the request"),
        (
            # llama.cpp's server: its own type and an integer code.
            json_reply(
                400,
                {
                    "error": {
                        "code": 400,
                        "message": "the request exceeds the available context size, "
                        "try increasing it",
                        "type": "exceed_context_size_error",
                    }
                },
            ),
            ProviderErrorKind.CONTEXT_TOO_LONG,
            "exceeds the available context size",
        ),
        (
            # Ollama: a model that was never pulled.
            fake.error(404, 'model "llama3.2" not found, try pulling it first', type="api_error"),
            ProviderErrorKind.MODEL_NOT_FOUND,
            "try pulling it first",
        ),
        (fake.rate_limited("120"), ProviderErrorKind.RATE_LIMITED, "Wait a minute"),
        (
            fake.error(
                429,
                "You exceeded your current quota.",
                type="insufficient_quota",
                code="insufficient_quota",
            ),
            ProviderErrorKind.RATE_LIMITED,
            "out of quota",
        ),
        (
            fake.error(400, "Invalid parameter: 'response_format' is not supported."),
            ProviderErrorKind.REJECTED,
            "another mode",
        ),
        (
            # llama-cpp-python's server (0.3.36; this body is what it sent): its request
            # validation error for a response_format type it does not take, as a 500.
            json_reply(
                500,
                {
                    "error": {
                        "message": "1 validation error:\n  {'type': 'literal_error', 'loc': "
                        "('body', 'response_format', 'type'), 'msg': \"Input should be 'text' "
                        "or 'json_object'\", 'input': 'json_schema', 'ctx': {'expected': "
                        "\"'text' or 'json_object'\"}}\n\n  File \"/srv/llama_cpp/server/"
                        'app.py", line 376, in create_chat_completion\n    POST '
                        "/v1/chat/completions",
                        "type": "internal_server_error",
                        "param": None,
                        "code": None,
                    }
                },
            ),
            ProviderErrorKind.REJECTED,
            "JSON object with a schema",
        ),
    ],
    ids=[
        "401",
        "404",
        "400-context",
        "400-llama.cpp-context",
        "404-ollama",
        "429-long-wait",
        "429-quota",
        "400-other",
        "500-llama-cpp-python-response-format",
    ],
)
def test_each_refusal_has_its_kind_and_is_asked_once(
    openai_server: ScriptedServer, reply: Reply, kind: ProviderErrorKind, words: str
) -> None:
    openai_server.add(reply)
    error = _failure(openai_server)
    assert error.kind is kind
    assert words in str(error)
    assert len(openai_server.received) == 1  # none of these is asked again


def test_no_key_where_the_server_wants_one(openai_server: ScriptedServer) -> None:
    error = _failure(openai_server, key=None)
    assert error.kind is ProviderErrorKind.NO_KEY
    assert "Add the key in Settings → Assistant" in str(error)
    assert "authorization" not in openai_server.received[0].headers


def test_a_wrong_key_is_not_repeated_in_the_message(openai_server: ScriptedServer) -> None:
    wrong = "sk-wrong-9876543210zyxwvuts"
    error = _failure(openai_server, key=wrong)
    assert error.kind is ProviderErrorKind.BAD_KEY
    assert wrong not in str(error)
    assert "Incorrect API key provided: ***" in str(error)  # the server's own words, masked


def test_rate_limited_waits_as_long_as_the_server_says(openai_server: ScriptedServer) -> None:
    openai_server.add(fake.rate_limited("1"), fake.stream(["ok"]))
    assert _ask(openai_server).text == "ok"
    first, second = openai_server.received
    # By the server's clock: the second request came no earlier than Retry-After allowed.
    assert second.at - first.replied_at >= 1.0


def test_a_retry_after_date_is_waited_for(openai_server: ScriptedServer) -> None:
    # An HTTP date has whole seconds: two seconds ahead is a wait of one to two.
    until = int(time.time()) + 2
    openai_server.add(fake.rate_limited(formatdate(until, usegmt=True)), fake.stream(["ok"]))
    assert _ask(openai_server).text == "ok"
    first, second = openai_server.received
    assert second.wall_at >= until  # by the server's wall clock, which the date is read on
    assert second.at > first.replied_at


@pytest.mark.parametrize("status", [500, 503], ids=["500", "503"])
def test_server_errors_are_retried(openai_server: ScriptedServer, status: int) -> None:
    openai_server.add(fake.server_error(status), fake.stream(["ok"]))
    assert _ask(openai_server).text == "ok"
    assert len(openai_server.received) == 2


def test_server_errors_give_up_after_the_last_try(openai_server: ScriptedServer) -> None:
    openai_server.add(*[fake.server_error(503)] * 3)
    error = _failure(openai_server)
    assert error.kind is ProviderErrorKind.SERVER_ERROR
    assert "Try again in a moment" in str(error)
    assert len(openai_server.received) == QUICK.tries


def test_an_answer_cut_off_part_way_is_a_server_error(openai_server: ScriptedServer) -> None:
    openai_server.add(fake.stream(["Hel", "lo"], done=False))
    error = _failure(openai_server)
    assert error.kind is ProviderErrorKind.SERVER_ERROR
    assert "ended before it was finished" in str(error)


def _failing_stream(*text: str) -> Reply:
    # llama.cpp and vLLM report a failure after the 200 as a data: {"error": ...} chunk.
    ok = fake.stream(text, done=False).events or ()
    failure = b'data: {"error": {"message": "KV cache full", "type": "server_error"}}\n\n'
    return Reply(200, {"Content-Type": "text/event-stream"}, events=(*ok, failure))


def test_an_error_in_the_stream_before_any_text_is_retried(openai_server: ScriptedServer) -> None:
    openai_server.add(_failing_stream(), fake.stream(["ok"]))
    assert _ask(openai_server).text == "ok"
    assert len(openai_server.received) == 2


def test_an_error_in_the_stream_after_text_is_reported(openai_server: ScriptedServer) -> None:
    openai_server.add(_failing_stream("Hel"), fake.stream(["Hello"]))
    error = _failure(openai_server)
    assert error.kind is ProviderErrorKind.SERVER_ERROR
    assert "KV cache full" in str(error)
    assert len(openai_server.received) == 1  # "Hel" was shown: not asked again


@pytest.mark.parametrize(
    ("shown", "words"),
    [((), "did not answer in time"), (("Hel",), "stopped sending its answer part-way")],
    ids=["before-text", "after-text"],
)
def test_a_server_that_stalls_is_given_up_on_without_asking_again(
    openai_server: ScriptedServer, shown: tuple[str, ...], words: str
) -> None:
    stalled = fake.stream(shown, done=False)
    openai_server.add(Reply(200, stalled.headers, events=stalled.events, stall=True))
    # The read timeout is the longest quiet spell allowed between two chunks.
    error = _failure(openai_server, timeout=httpx.Timeout(10.0, read=0.3))
    assert error.kind is ProviderErrorKind.SERVER_ERROR
    assert words in str(error)
    assert len(openai_server.received) == 1


def test_a_failing_text_callback_closes_the_answer(openai_server: ScriptedServer) -> None:
    stalled = fake.stream(["Hel", "lo"], done=False)
    openai_server.add(Reply(200, stalled.headers, events=stalled.events, stall=True))

    def refuse(text: str) -> None:
        raise RuntimeError(f"the window is gone ({text})")

    async def use(provider: OpenAICompatibleProvider) -> bool:
        with pytest.raises(RuntimeError):
            await complete(provider, HELLO, on_text=refuse)
        # The connection is closed now, not when the client is: the server sees it hang up.
        return await asyncio.to_thread(openai_server.received[0].hung_up.wait, 10)

    assert _with_provider(openai_server.base_url + "/v1", use)


def test_the_models_the_server_offers(openai_server: ScriptedServer) -> None:
    openai_server.add(fake.models("qwen2.5:0.5b", "llama3.2:1b"))
    names = _with_provider(openai_server.base_url + "/v1", lambda p: p.list_models())
    assert names == ["llama3.2:1b", "qwen2.5:0.5b"]
    [request] = openai_server.received
    assert (request.method, request.path) == ("GET", "/v1/models")
    assert request.headers["authorization"] == f"Bearer {KEY}"


def test_listing_models_with_a_wrong_key(openai_server: ScriptedServer) -> None:
    with pytest.raises(ProviderError) as caught:
        _with_provider(
            openai_server.base_url + "/v1", lambda p: p.list_models(), key="sk-nope-000000000"
        )
    assert caught.value.kind is ProviderErrorKind.BAD_KEY


def test_a_closed_port_is_offline() -> None:
    port = free_port()  # nothing listens there: the connection is refused
    with pytest.raises(ProviderError) as caught:
        _with_provider(f"http://127.0.0.1:{port}/v1", lambda p: complete(p, HELLO))
    assert caught.value.kind is ProviderErrorKind.OFFLINE
    assert "cannot be reached" in str(caught.value)
    with pytest.raises(ProviderError) as listing:
        _with_provider(f"http://127.0.0.1:{port}/v1", lambda p: p.list_models())
    assert listing.value.kind is ProviderErrorKind.OFFLINE
