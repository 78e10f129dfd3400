"""Error reports: redacted, capped in number and size, written once per failure."""

from __future__ import annotations

import json
import logging
import stat
import threading
from pathlib import Path

import pytest

from atom_desktop.config.logging_setup import LOG_FILE_NAME, configure_logging
from atom_desktop.core.redaction import Redactor
from atom_desktop.diagnostics import edges
from atom_desktop.diagnostics.reports import (
    ErrorReports,
    ReportFolder,
    report_id_is_valid,
)

SECRET = "s3cr3t-value-the-agent-knows"


def _failure(text: str) -> RuntimeError:
    """A raised (so it has a traceback) exception carrying ``text``."""
    try:
        raise RuntimeError(text)
    except RuntimeError as exc:
        return exc


def _failure_elsewhere(text: str) -> ValueError:
    try:
        raise ValueError(text)
    except ValueError as exc:
        return exc


@pytest.fixture
def redactor() -> Redactor:
    redactor = Redactor()
    redactor.add(SECRET)
    return redactor


def test_a_report_says_what_and_where_and_holds_no_secret(
    tmp_path: Path, redactor: Redactor
) -> None:
    logs = configure_logging(
        level="INFO", log_dir=tmp_path / "logs", redactor=redactor, console=None
    )
    try:
        logging.getLogger("atom_desktop.test").info("using %s now", SECRET)
        reports = ErrorReports(
            tmp_path / "reports", redactor, log_file=tmp_path / "logs" / LOG_FILE_NAME
        )
        path = reports.record("runner", _failure(f"boom {SECRET}"), f"message {SECRET}")
    finally:
        logs.close()
    assert path is not None
    text = path.read_text()
    assert SECRET not in text
    report = json.loads(text)
    assert report["what"] == "RuntimeError: boom ***"
    assert report["where"] == "runner"
    assert report["message"] == "message ***"
    assert "_failure" in report["stack"]
    assert report["version"] and report["python"] and report["system"]
    assert any("using *** now" in line for line in report["log"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert report_id_is_valid(report["id"]) and path.stem == report["id"]


def test_the_same_failure_is_reported_once(tmp_path: Path, redactor: Redactor) -> None:
    reports = ErrorReports(tmp_path / "reports", redactor)
    first = _failure("first")
    assert reports.record("a", first) is not None
    assert reports.record("b", first) is None  # the same exception at a second edge
    assert reports.record("a", _failure("again, from the same line")) is None
    assert reports.record("a", _failure_elsewhere("another failure")) is not None
    assert len(ReportFolder(tmp_path / "reports").summaries()) == 2


def test_reports_are_capped_in_number_oldest_first(tmp_path: Path, redactor: Redactor) -> None:
    reports = ErrorReports(tmp_path / "reports", redactor, max_reports=3)
    folder = ReportFolder(tmp_path / "reports")
    written = []
    for n in range(5):
        # A new code object per failure: each is a failure of its own.
        namespace: dict[str, object] = {}
        code = compile(f"def fail():\n    raise RuntimeError('failure {n}')\n", f"<{n}>", "exec")
        exec(code, namespace)
        try:
            namespace["fail"]()  # type: ignore[operator]
        except RuntimeError as exc:
            path = reports.record("loop", exc)
        assert path is not None
        written.append(path.stem)
    kept = [s.id for s in folder.summaries()]
    assert sorted(kept) == sorted(written)[-3:]
    assert kept == sorted(kept, reverse=True)  # newest first


def test_reports_are_capped_in_size(tmp_path: Path, redactor: Redactor) -> None:
    log_file = tmp_path / "log.jsonl"
    log_file.write_text("".join(f"line {n} " + "x" * 2000 + "\n" for n in range(300)))
    reports = ErrorReports(tmp_path / "reports", redactor, log_file=log_file, max_bytes=64 * 1024)
    path = reports.record("big", _failure("y" * 200_000))
    assert path is not None
    assert path.stat().st_size <= 64 * 1024
    report = json.loads(path.read_text())
    assert report["log_cut"] is True
    assert report["log"][-1].startswith("line 299 ")  # the newest lines are kept
    assert len(report["what"]) < 2100
    assert report["stack"].rstrip().endswith("y" * 100)  # the error at the stack's end stays


def test_the_log_tail_is_the_last_200_lines(tmp_path: Path, redactor: Redactor) -> None:
    log_file = tmp_path / "log.jsonl"
    log_file.write_text("".join(f"line {n}\n" for n in range(1000)))
    reports = ErrorReports(tmp_path / "reports", redactor, log_file=log_file)
    path = reports.record("tail", _failure("x"))
    assert path is not None
    log = json.loads(path.read_text())["log"]
    assert log == [f"line {n}" for n in range(800, 1000)]


@pytest.mark.parametrize(
    "report_id", ["../config", "20260101T000000000000Z-0000000g", "x.json", ""]
)
def test_an_id_that_is_no_reports_names_no_file(tmp_path: Path, report_id: str) -> None:
    folder = ReportFolder(tmp_path)
    assert folder.path_of(report_id) is None
    assert folder.read(report_id) is None


def test_the_handler_reports_logged_exceptions_only(tmp_path: Path, redactor: Redactor) -> None:
    reports = ErrorReports(tmp_path / "reports", redactor)
    log = logging.getLogger("atom_desktop.test.edges")
    handler = edges.attach(reports, log)
    try:
        log.error("no exception here")
        try:
            raise KeyError(SECRET)
        except KeyError:
            log.warning("a warning with an exception", exc_info=True)
            log.exception("failed with %s", SECRET)
    finally:
        edges.detach(handler, log)
    summaries = ReportFolder(tmp_path / "reports").summaries()
    assert len(summaries) == 1
    assert summaries[0].where.startswith("atom_desktop.test.edges:test_the_handler")
    assert SECRET not in json.dumps(ReportFolder(tmp_path / "reports").read(summaries[0].id))


def test_a_thread_that_dies_of_an_exception_is_reported_once(
    tmp_path: Path, redactor: Redactor
) -> None:
    reports = ErrorReports(tmp_path / "reports", redactor)
    original = threading.excepthook
    passed_on: list[str] = []
    # What was there before still sees the exception (here in place of pytest's own).
    threading.excepthook = lambda args: passed_on.append(str(args.exc_value))
    before = threading.excepthook
    handler = edges.attach(reports)
    try:

        def work() -> None:
            raise OSError(f"the worker failed with {SECRET}")

        thread = threading.Thread(target=work, name="atom-test-worker")
        thread.start()
        thread.join()
    finally:
        edges.detach(handler)
        after = threading.excepthook
        threading.excepthook = original
    assert after is before
    assert passed_on == [f"the worker failed with {SECRET}"]
    (summary,) = ReportFolder(tmp_path / "reports").summaries()
    assert summary.what == "OSError: the worker failed with ***"
    assert summary.where == "thread atom-test-worker"
