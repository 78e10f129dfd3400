from __future__ import annotations

import io
import json
import logging
import logging.handlers
from collections.abc import Iterator
from pathlib import Path

import pytest

from atom_desktop.config.logging_setup import LOG_FILE_NAME, LoggingHandle, configure_logging
from atom_desktop.core.redaction import Redactor

SECRET = "registered-secret-value-123"


@pytest.fixture
def logged(tmp_path: Path) -> Iterator[tuple[logging.Logger, Path, io.StringIO]]:
    redactor = Redactor()
    redactor.add(SECRET)
    console = io.StringIO()
    handle: LoggingHandle = configure_logging(
        level="DEBUG",
        log_dir=tmp_path / "logs",
        redactor=redactor,
        console=console,
        logger_name="atom_test",
    )
    try:
        yield logging.getLogger("atom_test.module"), tmp_path / "logs" / LOG_FILE_NAME, console
    finally:
        handle.close()


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_file_gets_json_lines_and_console_gets_readable_lines(
    logged: tuple[logging.Logger, Path, io.StringIO],
) -> None:
    log, path, console = logged
    log.info("opened %s", "atom.db", extra={"run_id": "r1"})
    entries = _lines(path)
    assert entries[-1]["message"] == "opened atom.db"
    assert entries[-1]["level"] == "INFO"
    assert entries[-1]["logger"] == "atom_test.module"
    assert entries[-1]["run_id"] == "r1"
    assert "INFO    atom_test.module: opened atom.db" in console.getvalue()


def test_no_secret_reaches_either_log(logged: tuple[logging.Logger, Path, io.StringIO]) -> None:
    log, path, console = logged
    key_hex = "ab" * 32
    log.info("using %s", SECRET)
    log.warning("header Authorization: Bearer tok-987654321")
    log.info("connecting to %s", "postgresql://u:dbpass99@h/db")
    log.info("settings", extra={"password": f"password={SECRET}"})
    try:
        raise ValueError(f"PRAGMA key = \"x'{key_hex}'\"")
    except ValueError:
        log.exception("open failed with password=hunter2222")
    written = path.read_text(encoding="utf-8") + console.getvalue()
    for secret in (SECRET, "tok-987654321", "dbpass99", key_hex, "hunter2222"):
        assert secret not in written
    assert written.count("***") >= 6


def test_level_filters_records(tmp_path: Path) -> None:
    console = io.StringIO()
    handle = configure_logging(
        level="WARNING", log_dir=None, redactor=Redactor(), console=console, logger_name="atom_lvl"
    )
    try:
        logging.getLogger("atom_lvl").info("quiet")
        logging.getLogger("atom_lvl").warning("loud")
    finally:
        handle.close()
    assert "quiet" not in console.getvalue()
    assert "loud" in console.getvalue()


def test_file_rotates(tmp_path: Path) -> None:
    handle = configure_logging(
        level="INFO", log_dir=tmp_path, redactor=Redactor(), console=None, logger_name="atom_rot"
    )
    try:
        file_handler = handle.handlers[0]
        assert isinstance(file_handler, logging.handlers.RotatingFileHandler)
        file_handler.maxBytes = 2000
        for i in range(100):
            logging.getLogger("atom_rot").info("line %d %s", i, "x" * 50)
    finally:
        handle.close()
    assert (tmp_path / f"{LOG_FILE_NAME}.1").exists()
    assert (tmp_path / LOG_FILE_NAME).stat().st_size <= 2000


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_libraries_routine_lines_stay_off_the_console(level: str) -> None:
    root = logging.getLogger()
    root_level = root.level
    before = {name: logging.getLogger(name).level for name in ("apscheduler", "httpx")}
    console = io.StringIO()
    handle = configure_logging(level=level, log_dir=None, redactor=Redactor(), console=console)
    try:
        logging.getLogger("atom_desktop.runtime").info("agent running")
        logging.getLogger("apscheduler.scheduler").info("Scheduler started")
        logging.getLogger("apscheduler.executors.default").info('Running job "prune"')
        logging.getLogger("httpx").info('HTTP Request: POST http://127.0.0.1:8084 "200 OK"')
        logging.getLogger("httpcore.connection").debug("connect_tcp.started")
        logging.getLogger("uvicorn.error").info("Started server process [4242]")
        logging.getLogger("apscheduler.scheduler").warning("Run time of job was missed")
    finally:
        handle.close()
        root.setLevel(root_level)
    shown = console.getvalue()
    assert "agent running" in shown
    assert "Run time of job was missed" in shown  # their warnings still show
    for routine in ("Scheduler started", "Running job", "HTTP Request", "connect_tcp", "server"):
        assert routine not in shown
    # Closing the logging puts the libraries' levels back as they were.
    assert {name: logging.getLogger(name).level for name in before} == before
