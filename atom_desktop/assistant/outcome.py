"""What reading a request gives: a plan to show, or a plain refusal."""

from __future__ import annotations

from dataclasses import dataclass

from atom_desktop.assistant.plan import Plan


@dataclass(frozen=True, slots=True)
class Refusal:
    """A request that was not turned into a plan: what was not understood, and what would be."""

    reason: str
    understood: tuple[str, ...] = ()

    def message(self) -> str:
        """The reason, then the kinds of request that are understood, one per line."""
        if not self.understood:
            return self.reason
        known = "\n".join(f"- {form}" for form in self.understood)
        return f"{self.reason}\nWithout an AI provider I understand:\n{known}"


ParseResult = Plan | Refusal
