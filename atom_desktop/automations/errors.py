"""Errors of automations."""

from __future__ import annotations

from atom_desktop.core.errors import AtomError


class AutomationError(AtomError):
    """An automation cannot do what was asked."""


class StepError(AutomationError):
    """A step cannot run as written (a bad reference, an invalid result)."""


class RunNotInProgressError(AutomationError):
    """The automation run has already ended (or never started)."""
