"""LLM providers behind one interface: OpenAI-compatible chat completions and Anthropic Messages.

Each adapter speaks its wire format over httpx, streams, and turns every
failure into one :class:`~atom_desktop.assistant.providers.errors.ProviderError`
whose kind says what happened and whose message says what to do.
"""
