"""Errors of the secrets package."""

from __future__ import annotations

from atom_desktop.core.errors import AtomError


class SecretsError(AtomError):
    """A key or secret cannot be found, stored or trusted."""
