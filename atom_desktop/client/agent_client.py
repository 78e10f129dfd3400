"""A small httpx client for the local API, with errors a person can read."""

from __future__ import annotations

from typing import Any

import httpx

from atom_desktop.core.errors import AtomError


class NoAgentError(AtomError):
    """Nothing answers at the agent's address."""


class ApiError(AtomError):
    """The agent answered with an error."""

    def __init__(self, status: int, code: str, message: str, hint: str | None = None) -> None:
        super().__init__(f"{message} ({status} {code})", hint=hint)
        self.status = status
        self.code = code


class AgentClient:
    """Calls the API of the agent at ``base_url`` with ``token``."""

    def __init__(self, base_url: str, token: str | None, *, timeout: float = 10.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout)

    def __enter__(self) -> AgentClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request to ``/api/v1{path}`` and return the decoded JSON (None for 204)."""
        try:
            response = self.http.request(method, f"/api/v1{path}", **kwargs)
        except httpx.ConnectError:
            raise NoAgentError(
                f"No ATOM Desktop agent answers at {self.base_url}.",
                hint="Start it with 'atom-desktop serve' (or the desktop app), or set ATOM_PORT "
                "to the port it listens on.",
            ) from None
        except httpx.HTTPError as exc:
            raise NoAgentError(f"Talking to the agent at {self.base_url} failed: {exc}.") from None
        if response.status_code == 204:
            return None
        try:
            body = response.json()
        except ValueError:
            raise ApiError(response.status_code, "not_json", "The agent sent no JSON") from None
        if response.is_error:
            error = body.get("error", {}) if isinstance(body, dict) else {}
            hint = error.get("hint")
            raise ApiError(
                response.status_code,
                str(error.get("code", "error")),
                str(error.get("message", "request failed")),
                # What to do about it, where the agent knows (e.g. which setting).
                hint if isinstance(hint, str) and hint else None,
            )
        return body
