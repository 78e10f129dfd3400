"""The doctor's frame: a failing check is a finding, secrets are masked, exit 1 on a problem."""

from __future__ import annotations

import io
import json

from atom_desktop.client.doctor import (
    Finding,
    Outcome,
    exit_code,
    print_findings,
    run_checks,
)
from atom_desktop.core.redaction import Redactor

SECRET = "the-sync-password-1234"


def _broken() -> Finding:
    raise RuntimeError(f"could not reach postgresql://atom:{SECRET}@db/atom")


def test_a_check_that_fails_is_a_problem_and_the_rest_still_run() -> None:
    redactor = Redactor()
    redactor.add(SECRET)
    findings = run_checks(
        [
            ("sync", _broken),
            ("python", lambda: Finding("python", Outcome.OK, "Python 3")),
            ("pair", lambda: [Finding("a", Outcome.WARNING, "w", f"set {SECRET}")]),
        ],
        redactor,
    )
    assert [(f.check, f.outcome) for f in findings] == [
        ("sync", Outcome.PROBLEM),
        ("python", Outcome.OK),
        ("a", Outcome.WARNING),
    ]
    assert "RuntimeError: could not reach" in findings[0].found
    assert all(SECRET not in f.found + f.fix for f in findings)
    assert exit_code(findings) == 1
    assert exit_code(findings[1:]) == 0


def test_text_for_a_person_and_json_for_scripts() -> None:
    findings = [
        Finding("python", Outcome.OK, "Python 3.11", "never shown for OK"),
        Finding("api-port", Outcome.PROBLEM, "8084 is in use", "Use another port."),
        Finding("sync", Outcome.SKIPPED, "not configured"),
    ]
    text = io.StringIO()
    print_findings(findings, text, as_json=False)
    assert text.getvalue().splitlines() == [
        "OK       python    Python 3.11",
        "PROBLEM  api-port  8084 is in use",
        "                   -> Use another port.",
        "SKIP     sync      not configured",
        "",
        "1 problem(s) found.",
    ]
    out = io.StringIO()
    print_findings(findings, out, as_json=True)
    document = json.loads(out.getvalue())
    assert document["ok"] is False
    assert document["checks"][1] == {
        "check": "api-port",
        "outcome": "problem",
        "found": "8084 is in use",
        "fix": "Use another port.",
    }
