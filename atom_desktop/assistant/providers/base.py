"""The provider interface: chat messages in, a stream of typed deltas out.

A provider streams :data:`Delta` values: :class:`TextDelta` pieces of the
answer's text, :class:`ToolArgsDelta` pieces of a tool call's JSON arguments
(structured output asked for as a tool call), and one :class:`Finished` last,
with the stop reason and the token counts. :func:`complete` collects a stream
into one :class:`Completion` for callers that do not show text as it comes.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of a conversation, as text."""

    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class OutputSchema:
    """Structured output wanted: a JSON object matching ``schema`` (a JSON Schema)."""

    name: str
    schema: Mapping[str, Any]
    description: str = ""


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens the request used, where the provider said (None when it did not)."""

    input_tokens: int | None = None
    output_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class TextDelta:
    """The next piece of the answer's text."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolArgsDelta:
    """The next piece of tool call ``index``'s JSON arguments.

    ``name`` (and ``call_id``) come with a call's first piece; later pieces
    carry only ``arguments``, which join into one JSON text.
    """

    index: int
    arguments: str
    name: str | None = None
    call_id: str | None = None


@dataclass(frozen=True, slots=True)
class Finished:
    """The end of an answer: why it stopped (the provider's word) and what it used."""

    stop_reason: str | None
    usage: Usage = Usage()


Delta = TextDelta | ToolArgsDelta | Finished


class Provider(Protocol):
    """An LLM behind one interface; see the module docstring."""

    @property
    def label(self) -> str:
        """The provider and model, for messages ("Anthropic (claude-...)")."""
        ...

    def stream_chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        output: OutputSchema | None = None,
        max_tokens: int = 4096,
    ) -> AsyncGenerator[Delta, None]:
        """Ask for an answer to ``messages`` and stream it; raises ProviderError on failure."""
        ...

    async def list_models(self) -> list[str]:
        """The models the server offers (for choosing one); raises ProviderError on failure."""
        ...


@dataclass
class ToolCall:
    """A tool call's name and its joined JSON arguments."""

    name: str | None
    arguments: str = ""


@dataclass
class Completion:
    """A whole answer: its text, its tool calls (by index), and how it ended."""

    text: str = ""
    tool_calls: dict[int, ToolCall] = field(default_factory=dict)
    stop_reason: str | None = None
    usage: Usage = Usage()

    def add(self, delta: Delta) -> None:
        """Join ``delta`` into the answer."""
        match delta:
            case TextDelta():
                self.text += delta.text
            case ToolArgsDelta():
                call = self.tool_calls.setdefault(delta.index, ToolCall(delta.name))
                if call.name is None:
                    call.name = delta.name
                call.arguments += delta.arguments
            case Finished():
                self.stop_reason = delta.stop_reason
                self.usage = delta.usage


async def complete(
    provider: Provider,
    messages: Sequence[ChatMessage],
    *,
    output: OutputSchema | None = None,
    max_tokens: int = 4096,
    on_text: Callable[[str], Awaitable[None] | None] | None = None,
    on_arguments: Callable[[str], Awaitable[None] | None] | None = None,
) -> Completion:
    """The whole answer of :meth:`Provider.stream_chat`.

    ``on_text`` sees the text as it comes, ``on_arguments`` the tool calls'
    JSON arguments (structured output arrives as one or the other).
    """
    result = Completion()
    stream = provider.stream_chat(messages, output=output, max_tokens=max_tokens)
    async with aclosing(stream) as deltas:  # closed (the response with it) if on_text raises
        async for delta in deltas:
            result.add(delta)
            piece, callback = "", None
            if isinstance(delta, TextDelta):
                piece, callback = delta.text, on_text
            elif isinstance(delta, ToolArgsDelta):
                piece, callback = delta.arguments, on_arguments
            if callback is not None and piece:
                awaited = callback(piece)
                if awaited is not None:
                    await awaited
    return result
