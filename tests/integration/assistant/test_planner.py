"""Plans asked of a provider: validated, retried once with the errors, then a bad_output failure.

Against the fake servers (tests/support/fake_*_server.py), which are fakes.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest

from atom_desktop.assistant.plan import ProposedPlan
from atom_desktop.assistant.plan_schema import plan_schema
from atom_desktop.assistant.planner import TOOL_NAME, plan_messages, propose_plan
from atom_desktop.assistant.providers.anthropic import AnthropicProvider
from atom_desktop.assistant.providers.base import ChatMessage, Provider
from atom_desktop.assistant.providers.client import new_client
from atom_desktop.assistant.providers.errors import ProviderError, ProviderErrorKind
from atom_desktop.assistant.providers.openai_compatible import OpenAICompatibleProvider
from atom_desktop.automations.model import ShellStep
from tests.integration.assistant.conftest import KEY
from tests.support import fake_anthropic_server as anthropic_fake
from tests.support import fake_openai_server as openai_fake
from tests.support.scripted_http_server import ScriptedServer

NOW = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)
VALID = json.dumps({"steps": [{"type": "shell", "shell": "make test"}]})
INVALID = json.dumps({"steps": [{"type": "shell", "cwd": "/srv"}]})  # no command


def _pieces(text: str, size: int = 7) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _plan_with_openai(server: ScriptedServer, seen: list[str] | None = None) -> ProposedPlan:
    async def run() -> ProposedPlan:
        async with new_client() as client:
            provider: Provider = OpenAICompatibleProvider(
                client, base_url=server.base_url + "/v1", model=openai_fake.MODEL, api_key=KEY
            )
            return await propose_plan(
                provider,
                "run the tests with make",
                now=NOW,
                zone="Europe/Berlin",
                on_text=None if seen is None else seen.append,
            )

    return asyncio.run(run())


def _plan_with_anthropic(server: ScriptedServer) -> ProposedPlan:
    async def run() -> ProposedPlan:
        async with new_client() as client:
            provider = AnthropicProvider(
                client, model=anthropic_fake.MODEL, api_key=KEY, base_url=server.base_url
            )
            return await propose_plan(provider, "run make test", now=NOW, zone="UTC")

    return asyncio.run(run())


def test_a_plan_streamed_as_json_text(openai_server: ScriptedServer) -> None:
    openai_server.add(openai_fake.stream(_pieces(VALID)))
    seen: list[str] = []
    plan = _plan_with_openai(openai_server, seen)
    assert plan.steps == [ShellStep(type="shell", shell="make test")]
    assert "".join(seen) == VALID  # the text was shown as it came
    body = openai_server.received[0].json()
    assert body["response_format"]["json_schema"]["schema"] == plan_schema()
    system, user = body["messages"]
    assert system["role"] == "system"
    assert "Europe/Berlin" in system["content"]
    assert "2026-12-07T14:00:00+00:00" in system["content"]
    assert user == {"role": "user", "content": "run the tests with make"}


def test_a_plan_as_an_anthropic_tool_call(anthropic_server: ScriptedServer) -> None:
    anthropic_server.add(anthropic_fake.stream(tool=TOOL_NAME, arguments=_pieces(VALID)))
    plan = _plan_with_anthropic(anthropic_server)
    assert plan.steps == [ShellStep(type="shell", shell="make test")]
    body = anthropic_server.received[0].json()
    assert body["tools"][0]["input_schema"] == plan_schema()
    assert body["tool_choice"] == {"type": "tool", "name": TOOL_NAME}


def test_an_invalid_plan_is_sent_back_once_with_what_is_wrong(
    openai_server: ScriptedServer,
) -> None:
    openai_server.add(openai_fake.stream([INVALID]), openai_fake.stream(_pieces(VALID)))
    plan = _plan_with_openai(openai_server)
    assert plan.steps == [ShellStep(type="shell", shell="make test")]
    first, second = (r.json()["messages"] for r in openai_server.received)
    assert second[: len(first)] == first
    answer, feedback = second[len(first) :]
    assert answer == {"role": "assistant", "content": INVALID}
    assert feedback["role"] == "user"
    assert "steps.0.shell.shell: Field required" in feedback["content"]


def test_a_plan_invalid_twice_is_bad_output(anthropic_server: ScriptedServer) -> None:
    anthropic_server.add(
        anthropic_fake.stream(tool=TOOL_NAME, arguments=[INVALID]),
        anthropic_fake.stream(tool=TOOL_NAME, arguments=["{not json"]),
        anthropic_fake.stream(tool=TOOL_NAME, arguments=[VALID]),  # never asked for
    )
    with pytest.raises(ProviderError) as caught:
        _plan_with_anthropic(anthropic_server)
    assert caught.value.kind is ProviderErrorKind.BAD_OUTPUT
    assert "did not give a valid plan" in str(caught.value)
    assert len(anthropic_server.received) == 2
    feedback = anthropic_server.received[1].json()["messages"][-1]
    assert "steps.0.shell.shell: Field required" in feedback["content"]


def test_a_provider_failure_is_not_retried_as_bad_output(openai_server: ScriptedServer) -> None:
    openai_server.add(openai_fake.context_too_long())
    with pytest.raises(ProviderError) as caught:
        _plan_with_openai(openai_server)
    assert caught.value.kind is ProviderErrorKind.CONTEXT_TOO_LONG
    assert len(openai_server.received) == 1


def test_the_reply_streams_out_of_a_tool_call_and_the_context_is_sent(
    anthropic_server: ScriptedServer,
) -> None:
    answer = json.dumps({"reply": "Nothing failed; here is a re-run.", **json.loads(VALID)})
    anthropic_server.add(anthropic_fake.stream(tool=TOOL_NAME, arguments=_pieces(answer, 3)))
    replies: list[str] = []
    pieces: list[str] = []
    history = [ChatMessage("user", "hello"), ChatMessage("assistant", "Hi.")]
    messages = plan_messages(
        "what failed?", now=NOW, zone="UTC", context="Recent runs: none", history=history
    )

    async def run() -> ProposedPlan:
        async with new_client() as client:
            provider = AnthropicProvider(
                client, model=anthropic_fake.MODEL, api_key=KEY, base_url=anthropic_server.base_url
            )
            return await propose_plan(
                provider, messages, on_text=pieces.append, on_reply=replies.append
            )

    plan = asyncio.run(run())
    assert plan.reply == "Nothing failed; here is a re-run."
    assert len(replies) > 3  # as it came, not at the end
    assert "".join(replies) == plan.reply
    assert "".join(pieces) == answer
    body = anthropic_server.received[0].json()
    assert "Recent runs: none" in body["system"]
    assert body["messages"] == [
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "Hi."},
        {"role": "user", "content": "what failed?"},
    ]
