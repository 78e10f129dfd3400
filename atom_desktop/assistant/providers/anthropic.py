"""Anthropic's Messages API: ``POST {base_url}/v1/messages``, streamed.

Headers ``x-api-key`` and ``anthropic-version``. The stream is server-sent
events, each named by its ``event:`` line with the same ``type`` in its data:
``message_start`` (the input token count), per content block a
``content_block_start`` (a ``text`` block, or a ``tool_use`` block with the
tool's name), ``content_block_delta``s (``text_delta`` text or
``input_json_delta`` pieces of the tool input's JSON) and a
``content_block_stop``; then ``message_delta`` (the stop reason and output
tokens) and ``message_stop``. ``ping`` keeps the line open; ``error``
reports a failure after the stream began (e.g. ``overloaded_error``).
Unknown events are ignored, as Anthropic's versioning policy asks.

Structured output is one tool the model must use (``tool_choice`` of type
``tool``); the tool's ``input`` is the structured answer. System messages
go in the top-level ``system`` field.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from typing import Any

import httpx

from atom_desktop.assistant.providers.base import (
    ChatMessage,
    Delta,
    Finished,
    OutputSchema,
    TextDelta,
    ToolArgsDelta,
    Usage,
)
from atom_desktop.assistant.providers.errors import ProviderError, ProviderErrorKind
from atom_desktop.assistant.providers.exchange import fetch_json, model_ids
from atom_desktop.assistant.providers.retry import (
    RetryPolicy,
    post_with_retries,
    retry_after_seconds,
)
from atom_desktop.assistant.providers.sse import server_events
from atom_desktop.assistant.providers.wire_text import json_object, quoted

ANTHROPIC_BASE_URL = "https://api.anthropic.com"
ANTHROPIC_VERSION = "2023-06-01"


class AnthropicProvider:
    """Messages at ``base_url`` with ``model``; ``api_key`` is required."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        model: str,
        api_key: str | None,
        base_url: str = ANTHROPIC_BASE_URL,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._client = client
        self._base = base_url.rstrip("/")
        self._url = self._base + "/v1/messages"
        self._model = model
        self._key = api_key or None
        self._retry = retry or RetryPolicy()

    @property
    def label(self) -> str:
        """ "Anthropic (model)", for messages."""
        return f"Anthropic ({self._model})"

    def body(
        self, messages: Sequence[ChatMessage], output: OutputSchema | None, max_tokens: int
    ) -> dict[str, Any]:
        """The request body (public for the tests that read what is sent)."""
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        body: dict[str, Any] = {
            "model": self._model,
            "max_tokens": max_tokens,
            "messages": [
                {"role": m.role, "content": m.content} for m in messages if m.role != "system"
            ],
            "stream": True,
        }
        if system:
            body["system"] = system
        if output is not None:
            tool: dict[str, Any] = {"name": output.name, "input_schema": dict(output.schema)}
            if output.description:
                tool["description"] = output.description
            body["tools"] = [tool]
            body["tool_choice"] = {"type": "tool", "name": output.name}
        return body

    async def stream_chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        output: OutputSchema | None = None,
        max_tokens: int = 4096,
    ) -> AsyncGenerator[Delta, None]:
        """Stream the answer to ``messages``; see the module docstring."""
        if self._key is None:
            raise _no_key()
        headers = {
            "x-api-key": self._key,
            "anthropic-version": ANTHROPIC_VERSION,
            "Accept": "text/event-stream",
        }
        payload = self.body(messages, output, max_tokens)
        url = self._url

        answer = post_with_retries(
            self._client,
            url,
            payload=payload,
            headers=headers,
            classify=self._classify,
            parse=self._deltas,
            policy=self._retry,
            label=self.label,
        )
        async with aclosing(answer) as deltas:
            async for delta in deltas:
                yield delta

    async def list_models(self) -> list[str]:
        """The ids ``GET {base_url}/v1/models`` lists (its first page: the newest models)."""
        if self._key is None:
            raise _no_key()
        request = self._client.build_request(
            "GET",
            self._base + "/v1/models",
            params={"limit": 1000},
            headers={"x-api-key": self._key, "anthropic-version": ANTHROPIC_VERSION},
        )
        return model_ids(await fetch_json(self._client, request, self._classify, self.label))

    async def _deltas(  # noqa: PLR0912 - one branch per event type
        self, response: httpx.Response
    ) -> AsyncGenerator[Delta, None]:
        input_tokens: int | None = None
        output_tokens: int | None = None
        stop_reason: str | None = None
        async with aclosing(server_events(response)) as events:
            async for event in events:
                data = json_object(event.data)
                if data is None:
                    raise self._bad_stream("an event that is not a JSON object")
                match data.get("type"):
                    case "message_start":
                        usage = (data.get("message") or {}).get("usage") or {}
                        input_tokens = _int(usage.get("input_tokens"))
                        output_tokens = _int(usage.get("output_tokens"))
                    case "content_block_start":
                        block = data.get("content_block") or {}
                        if block.get("type") == "tool_use":
                            yield ToolArgsDelta(
                                index=_int(data.get("index")) or 0,
                                arguments="",
                                name=block.get("name"),
                                call_id=block.get("id"),
                            )
                        elif block.get("type") == "text" and block.get("text"):
                            yield TextDelta(str(block["text"]))
                    case "content_block_delta":
                        delta = data.get("delta") or {}
                        if delta.get("type") == "text_delta":
                            yield TextDelta(str(delta.get("text") or ""))
                        elif delta.get("type") == "input_json_delta":
                            yield ToolArgsDelta(
                                index=_int(data.get("index")) or 0,
                                arguments=str(delta.get("partial_json") or ""),
                            )
                    case "message_delta":
                        stop_reason = (data.get("delta") or {}).get("stop_reason") or stop_reason
                        output_tokens = _int((data.get("usage") or {}).get("output_tokens"))
                    case "message_stop":
                        yield Finished(stop_reason, Usage(input_tokens, output_tokens))
                        return
                    case "error":
                        raise self._error(None, data)
                    case _:  # ping, content_block_stop, and events added later
                        continue
        raise self._bad_stream("an answer that ended before it was finished")

    def _bad_stream(self, what: str) -> ProviderError:
        return ProviderError(
            ProviderErrorKind.SERVER_ERROR, f"{self.label} sent {what}.", hint="Try again."
        )

    def _classify(self, response: httpx.Response, body: bytes) -> ProviderError:
        error = self._error(response.status_code, json_object(body) or {})
        error.retry_after = retry_after_seconds(response.headers)
        return error

    def _error(  # noqa: PLR0911 - one return per kind: the table of what each status means
        self, status: int | None, body: dict[str, Any]
    ) -> ProviderError:
        """The error an HTTP error body (or a stream's ``error`` event, status None) means."""
        raw = body.get("error")
        detail: dict[str, Any] = raw if isinstance(raw, dict) else {}
        kind = str(detail.get("type") or "")
        message = str(detail.get("message") or "")
        said = f" It said: {quoted(message, self._key)}" if message else ""
        if kind == "authentication_error" or status == 401:
            return ProviderError(
                ProviderErrorKind.BAD_KEY,
                f"Anthropic refused the API key.{said}",
                hint="Check or replace the key in Settings → Assistant.",
                status=status,
            )
        if kind == "permission_error" or status == 403:
            return ProviderError(
                ProviderErrorKind.BAD_KEY,
                f"Anthropic does not allow this key to do that.{said}",
                hint="Check the key's workspace and permissions, or choose another model.",
                status=status,
            )
        if kind == "not_found_error" or status == 404:
            return ProviderError(
                ProviderErrorKind.MODEL_NOT_FOUND,
                f"Anthropic has no model {self._model!r} (or nothing at {self._url}).{said}",
                hint="Check the model name in Settings → Assistant.",
                status=status,
            )
        if (
            kind == "request_too_large"
            or status == 413
            or "prompt is too long" in message
            or "context limit" in message  # "input length and `max_tokens` exceed context limit"
        ):
            return ProviderError(
                ProviderErrorKind.CONTEXT_TOO_LONG,
                f"The request is too long for {self.label}'s context window.{said}",
                hint="Shorten the request, or choose a model with a larger context.",
                status=status,
            )
        if kind == "rate_limit_error" or status == 429:
            return ProviderError(
                ProviderErrorKind.RATE_LIMITED,
                f"Anthropic is rate limiting requests.{said}",
                hint="Wait a minute and try again.",
                status=status,
            )
        if kind in ("api_error", "overloaded_error") or (status is not None and status >= 500):
            return ProviderError(
                ProviderErrorKind.SERVER_ERROR,
                f"Anthropic had a server error ({status or kind}).{said}",
                hint="Try again in a moment.",
                status=status,
            )
        return ProviderError(
            ProviderErrorKind.REJECTED,
            f"Anthropic refused the request ({status or kind}).{said}",
            hint="Try again; if it keeps happening, the request may use something this model "
            "does not support.",
            status=status,
        )


def _no_key() -> ProviderError:
    return ProviderError(
        ProviderErrorKind.NO_KEY,
        "Anthropic needs an API key and none is set.",
        hint="Add the key in Settings → Assistant.",
    )


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
