"""``atom-desktop doctor``: checks a profile and its machine, each with what to do.

Every check answers OK, a warning (works, but worth knowing), a problem
(something will not work) or skipped (not configured, or not checkable
now), with what it found and, for the last three, what to do. The command
exits 1 when any check found a problem. Nothing is changed, created or
sent anywhere: the checks only look (the port is bound and let go at once,
the database is opened read-only).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import TextIO

from atom_desktop.core.redaction import Redactor


class Outcome(StrEnum):
    """How a check went."""

    OK = "ok"
    WARNING = "warning"
    PROBLEM = "problem"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Finding:
    """What one check found, and what to do about it."""

    check: str
    outcome: Outcome
    found: str
    fix: str = ""


#: One check: looks, never changes anything, and returns what it found.
Check = Callable[[], Finding | Sequence[Finding]]

_LABELS = {
    Outcome.OK: "OK",
    Outcome.WARNING: "WARN",
    Outcome.PROBLEM: "PROBLEM",
    Outcome.SKIPPED: "SKIP",
}


def run_checks(checks: Sequence[tuple[str, Check]], redactor: Redactor) -> list[Finding]:
    """Run every check; one that fails itself is a problem of its own, and the rest still run."""
    findings: list[Finding] = []
    for name, check in checks:
        try:
            result = check()
        except Exception as exc:  # a check must never end the doctor
            result = Finding(
                name,
                Outcome.PROBLEM,
                f"the check itself failed: {type(exc).__name__}: {exc}",
                "Run the doctor again; if this stays, include this line in a bug report.",
            )
        results = [result] if isinstance(result, Finding) else list(result)
        # Messages may quote a server's or a library's own words: mask what they carry.
        findings.extend(
            Finding(f.check, f.outcome, redactor.redact(f.found), redactor.redact(f.fix))
            for f in results
        )
    return findings


def exit_code(findings: Sequence[Finding]) -> int:
    """1 when any check found a problem, else 0."""
    return 1 if any(f.outcome is Outcome.PROBLEM for f in findings) else 0


def print_findings(findings: Sequence[Finding], out: TextIO, *, as_json: bool) -> None:
    """Write the findings as aligned lines for a person, or as one JSON document."""
    if as_json:
        document = {
            "ok": exit_code(findings) == 0,
            "checks": [{**asdict(f), "outcome": f.outcome.value} for f in findings],
        }
        out.write(json.dumps(document, indent=2) + "\n")
        return
    width = max((len(f.check) for f in findings), default=0)
    for f in findings:
        out.write(f"{_LABELS[f.outcome]:<8} {f.check:<{width}}  {f.found}\n")
        if f.fix and f.outcome is not Outcome.OK:
            out.write(f"{'':<8} {'':<{width}}  -> {f.fix}\n")
    problems = sum(f.outcome is Outcome.PROBLEM for f in findings)
    warnings = sum(f.outcome is Outcome.WARNING for f in findings)
    out.write("\nNo problems found." if not problems else f"\n{problems} problem(s) found.")
    out.write(f" {warnings} warning(s).\n" if warnings else "\n")
