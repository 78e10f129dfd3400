"""OpenAI-compatible chat completions: OpenAI, Ollama, LM Studio, vLLM, llama.cpp's server.

``POST {base_url}/chat/completions`` with ``"stream": true``; the answer is
server-sent events whose ``data:`` is a ``chat.completion.chunk`` (text in
``choices[0].delta.content``, tool-call arguments in pieces in
``choices[0].delta.tool_calls[i].function.arguments``) and then ``[DONE]``.
``stream_options.include_usage`` asks for a last chunk with the usage and no
choices (some servers send ``"choices": null`` there).

Structured output is asked for one of three ways (:data:`StructuredMode`):
``json_schema`` (``response_format`` of that type: OpenAI, llama.cpp's own
server, vLLM, Ollama and LM Studio take it, and local servers constrain their
sampling to it), ``json_object`` (``response_format`` ``{"type":
"json_object", "schema": ...}``: llama-cpp-python's server takes only this
form, and constrains its sampling to the schema) or ``tools`` (one function
the model is told to call). Strict mode is off: a
plan's schema has parts strict mode refuses; the planner validates anyway.

The key goes only in the ``Authorization`` header; a local server needs
none, and one is sent only when set.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from typing import Any, Literal

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

StructuredMode = Literal["json_schema", "json_object", "tools"]

OPENAI_BASE_URL = "https://api.openai.com/v1"
#: How servers say a request is past the context window: OpenAI and vLLM ("maximum
#: context length"), llama.cpp ("exceeds the available context size").
_CONTEXT_WORDS = (
    "context length",
    "context_length",
    "maximum context",
    "context size",
    "too many tokens",
)


class OpenAICompatibleProvider:
    """Chat completions at ``base_url`` (ending in ``/v1`` for most servers) with ``model``."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        base_url: str,
        model: str,
        api_key: str | None,
        structured: StructuredMode = "json_schema",
        retry: RetryPolicy | None = None,
        name: str = "The AI provider",
    ) -> None:
        """``name`` is how messages call the server ("OpenAI", "Ollama", ...)."""
        self._client = client
        self._base = base_url.rstrip("/")
        self._url = self._base + "/chat/completions"
        self._model = model
        self._key = api_key or None
        self._structured = structured
        self._retry = retry or RetryPolicy()
        self._name = name

    @property
    def label(self) -> str:
        """The server and model, for messages."""
        return f"{self._name} ({self._model})"

    def body(
        self, messages: Sequence[ChatMessage], output: OutputSchema | None, max_tokens: int
    ) -> dict[str, Any]:
        """The request body (public for the tests that read what is sent)."""
        body: dict[str, Any] = {
            "model": self._model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": max_tokens,
        }
        if output is not None and self._structured == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": output.name,
                    **_described(output),
                    "schema": dict(output.schema),
                    "strict": False,
                },
            }
        elif output is not None and self._structured == "json_object":
            body["response_format"] = {"type": "json_object", "schema": dict(output.schema)}
        elif output is not None:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": output.name,
                        **_described(output),
                        "parameters": dict(output.schema),
                    },
                }
            ]
            body["tool_choice"] = {"type": "function", "function": {"name": output.name}}
        return body

    async def stream_chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        output: OutputSchema | None = None,
        max_tokens: int = 4096,
    ) -> AsyncGenerator[Delta, None]:
        """Stream the answer to ``messages``; see the module docstring."""
        headers = {"Accept": "text/event-stream"}
        if self._key is not None:
            headers["Authorization"] = f"Bearer {self._key}"
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
        """The ids ``GET {base_url}/models`` lists (Ollama and LM Studio: what is installed)."""
        headers = {} if self._key is None else {"Authorization": f"Bearer {self._key}"}
        request = self._client.build_request("GET", self._base + "/models", headers=headers)
        return model_ids(await fetch_json(self._client, request, self._classify, self.label))

    async def _deltas(self, response: httpx.Response) -> AsyncGenerator[Delta, None]:
        stop_reason: str | None = None
        usage = Usage()
        done = False
        async with aclosing(server_events(response)) as events:
            async for event in events:
                if event.data.strip() == "[DONE]":
                    done = True
                    break
                chunk = json_object(event.data)
                if chunk is None:
                    raise self._bad_stream("a chunk that is not a JSON object")
                if "error" in chunk:  # vLLM and llama.cpp report a failure mid-stream this way
                    raise self._error(500, chunk)
                if isinstance(chunk.get("usage"), dict):
                    usage = _usage(chunk["usage"])
                choices = chunk.get("choices") or []
                if not isinstance(choices, list) or not choices:
                    continue
                choice = choices[0]
                delta = choice.get("delta") if isinstance(choice, dict) else None
                if isinstance(delta, dict):
                    for piece in _pieces(delta):
                        yield piece
                if isinstance(choice, dict) and choice.get("finish_reason"):
                    stop_reason = str(choice["finish_reason"])
        if not done and stop_reason is None:
            raise self._bad_stream("an answer that ended before it was finished")
        yield Finished(stop_reason, usage)

    def _bad_stream(self, what: str) -> ProviderError:
        return ProviderError(
            ProviderErrorKind.SERVER_ERROR,
            f"{self.label} sent {what}.",
            hint="Try again; if it keeps happening, the server may not be OpenAI-compatible.",
        )

    def _classify(self, response: httpx.Response, body: bytes) -> ProviderError:
        error = self._error(response.status_code, json_object(body) or {})
        error.retry_after = retry_after_seconds(response.headers)
        return error

    def _error(  # noqa: PLR0911 - one return per kind: the table of what each status means
        self, status: int, body: dict[str, Any]
    ) -> ProviderError:
        detail = body.get("error")
        if isinstance(detail, dict):
            message = str(detail.get("message") or "")
            code = str(detail.get("code") or "")
            kind = str(detail.get("type") or "")
        else:  # Ollama's native errors and some proxies: {"error": "text"}
            message, code, kind = str(detail or ""), "", ""
        said = f" It said: {quoted(message, self._key)}" if message else ""
        lowered = message.lower()
        if status == 401 or code == "invalid_api_key":
            if self._key is None:
                return ProviderError(
                    ProviderErrorKind.NO_KEY,
                    f"{self.label} needs an API key and none is set.",
                    hint="Add the key in Settings → Assistant.",
                    status=status,
                )
            return ProviderError(
                ProviderErrorKind.BAD_KEY,
                f"{self.label} refused the API key.{said}",
                hint="Check or replace the key in Settings → Assistant.",
                status=status,
            )
        if status == 403:
            return ProviderError(
                ProviderErrorKind.BAD_KEY,
                f"{self.label} does not allow this key to use the model.{said}",
                hint="Check the key's permissions, or choose another model.",
                status=status,
            )
        if status == 404 or code == "model_not_found":
            return ProviderError(
                ProviderErrorKind.MODEL_NOT_FOUND,
                f"{self.label}: the model {self._model!r} was not found at {self._url}.{said}",
                hint="Check the model name and the base URL in Settings → Assistant "
                "(a local server lists its models at /v1/models).",
                status=status,
            )
        if (
            code == "context_length_exceeded"
            or kind == "exceed_context_size_error"
            or status == 413
            or any(w in lowered for w in _CONTEXT_WORDS)
        ):
            return ProviderError(
                ProviderErrorKind.CONTEXT_TOO_LONG,
                f"The request is too long for {self.label}'s context window.{said}",
                hint="Shorten the request, or choose a model with a larger context.",
                status=status,
            )
        if status == 429:
            if code == "insufficient_quota" or kind == "insufficient_quota":
                return ProviderError(
                    ProviderErrorKind.RATE_LIMITED,
                    f"{self.label} says the account is out of quota.{said}",
                    hint="Check the plan and billing with the provider; retrying will not help.",
                    status=status,
                    retryable=False,
                )
            return ProviderError(
                ProviderErrorKind.RATE_LIMITED,
                f"{self.label} is rate limiting requests.{said}",
                hint="Wait a minute and try again.",
                status=status,
            )
        if status >= 500 and "response_format" in said:
            # llama-cpp-python's server answers a response_format it does not
            # take with a 500 naming it: asking again would not help.
            return ProviderError(
                ProviderErrorKind.REJECTED,
                f"{self.label} does not take structured output this way ({status}).{said}",
                hint=_OTHER_MODE,
                status=status,
            )
        if status >= 500:
            return ProviderError(
                ProviderErrorKind.SERVER_ERROR,
                f"{self.label} had a server error ({status}).{said}",
                hint="Try again in a moment.",
                status=status,
            )
        return ProviderError(
            ProviderErrorKind.REJECTED,
            f"{self.label} refused the request ({status}).{said}",
            hint=_OTHER_MODE,
            status=status,
        )


_OTHER_MODE = (
    "The server may not support structured output this way; try another mode (JSON schema, "
    "JSON object with a schema, or tools) in Settings → Assistant."
)


def _described(output: OutputSchema) -> dict[str, str]:
    return {"description": output.description} if output.description else {}


def _pieces(delta: dict[str, Any]) -> list[Delta]:
    pieces: list[Delta] = []
    content = delta.get("content")
    if isinstance(content, str) and content:
        pieces.append(TextDelta(content))
    for call in delta.get("tool_calls") or []:
        if not isinstance(call, dict):
            continue
        function = call.get("function") if isinstance(call.get("function"), dict) else {}
        arguments = function.get("arguments") if isinstance(function, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        pieces.append(
            ToolArgsDelta(
                index=int(call.get("index") or 0),
                arguments=arguments if isinstance(arguments, str) else "",
                name=name if isinstance(name, str) else None,
                call_id=call.get("id") if isinstance(call.get("id"), str) else None,
            )
        )
    return pieces


def _usage(usage: dict[str, Any]) -> Usage:
    prompt = usage.get("prompt_tokens")
    completion = usage.get("completion_tokens")
    return Usage(
        prompt if isinstance(prompt, int) else None,
        completion if isinstance(completion, int) else None,
    )
