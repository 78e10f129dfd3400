"""Which provider the settings name, built into a :class:`Provider`, and a test of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import httpx

from atom_desktop.assistant.providers.anthropic import ANTHROPIC_BASE_URL, AnthropicProvider
from atom_desktop.assistant.providers.base import ChatMessage, Provider, complete
from atom_desktop.assistant.providers.errors import ProviderError, ProviderErrorKind
from atom_desktop.assistant.providers.openai_compatible import (
    OPENAI_BASE_URL,
    OpenAICompatibleProvider,
    StructuredMode,
)
from atom_desktop.assistant.providers.retry import RetryPolicy
from atom_desktop.config.settings import Settings

ProviderKind = Literal["openai_compatible", "anthropic"]


@dataclass(frozen=True, slots=True)
class ProviderChoice:
    """A provider as the settings describe it (never with its key)."""

    kind: ProviderKind
    model: str
    base_url: str
    structured: StructuredMode = "json_schema"

    @classmethod
    def from_settings(cls, settings: Settings) -> ProviderChoice | None:
        """The provider chosen in ``settings``; None when none is (rules only)."""
        if settings.assistant_provider == "none":
            return None
        if not settings.assistant_model:
            raise ProviderError(
                ProviderErrorKind.MODEL_NOT_FOUND,
                "No model is chosen for the assistant.",
                hint="Choose one in Settings → Assistant.",
            )
        default = (
            ANTHROPIC_BASE_URL if settings.assistant_provider == "anthropic" else OPENAI_BASE_URL
        )
        return cls(
            kind=settings.assistant_provider,
            model=settings.assistant_model,
            base_url=settings.assistant_base_url or default,
            structured=settings.assistant_structured_output,
        )


def build_provider(
    choice: ProviderChoice,
    client: httpx.AsyncClient,
    api_key: str | None,
    *,
    retry: RetryPolicy | None = None,
) -> Provider:
    """The provider ``choice`` names, talking through ``client`` with ``api_key``."""
    if choice.kind == "anthropic":
        return AnthropicProvider(
            client, model=choice.model, api_key=api_key, base_url=choice.base_url, retry=retry
        )
    return OpenAICompatibleProvider(
        client,
        base_url=choice.base_url,
        model=choice.model,
        api_key=api_key,
        structured=choice.structured,
        retry=retry,
        name="OpenAI" if choice.base_url.rstrip("/") == OPENAI_BASE_URL else "The AI server",
    )


async def check_provider(provider: Provider) -> str:
    """Ask ``provider`` for a one-word answer: Settings → Assistant's "Test" button.

    Returns what it said; raises ProviderError with the reason it failed.
    """
    answer = await complete(
        provider, [ChatMessage("user", "Reply with the single word: ready")], max_tokens=16
    )
    return answer.text.strip()
