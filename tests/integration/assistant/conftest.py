"""Fixtures for the provider tests: the fake servers, each stopped after its test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from atom_desktop.assistant.providers.base import ChatMessage, OutputSchema
from atom_desktop.assistant.providers.retry import RetryPolicy
from tests.support.fake_anthropic_server import fake_anthropic_server
from tests.support.fake_openai_server import fake_openai_server
from tests.support.scripted_http_server import ScriptedServer

#: The key the fakes expect (long enough for the redactor to take it).
KEY = "sk-test-0123456789abcdefghij"
#: A conversation and an output schema for the provider tests.
HELLO = [ChatMessage("system", "Be brief."), ChatMessage("user", "Say hello")]
SCHEMA = OutputSchema("propose_plan", {"type": "object", "properties": {"n": {"type": "integer"}}})
#: Short waits, so the tests that exhaust the retries take well under a second.
QUICK = RetryPolicy(tries=3, first_delay=0.01, max_delay=5.0)


@pytest.fixture
def openai_server() -> Iterator[ScriptedServer]:
    """The fake OpenAI-compatible server, expecting :data:`KEY`."""
    with fake_openai_server(KEY) as server:
        yield server


@pytest.fixture
def anthropic_server() -> Iterator[ScriptedServer]:
    """The fake Anthropic server, expecting :data:`KEY`."""
    with fake_anthropic_server(KEY) as server:
        yield server
