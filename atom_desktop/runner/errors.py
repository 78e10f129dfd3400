"""Errors of the runner."""

from __future__ import annotations

from atom_desktop.core.errors import AtomError


class RunnerError(AtomError):
    """A run cannot be started, found or acted on as asked."""


class RunNotActiveError(RunnerError):
    """The run has finished (or never started), so it cannot take input or be cancelled."""
