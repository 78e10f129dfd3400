"""Fixtures for the provider tests: the fake servers, each stopped after its test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fake_anthropic_server import fake_anthropic_server
from tests.support.fake_openai_server import fake_openai_server
from tests.support.scripted_http_server import ScriptedServer

#: The key the fakes expect (long enough for the redactor to take it).
KEY = "sk-test-0123456789abcdefghij"


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
