"""Error reports written to the data directory, and read back for the API.

A report says what failed, where, in which version and on which platform,
with the stack and the last lines of the log. Everything in it passes the
:class:`Redactor` first, so a report can be shown or exported as it is.
Nothing here sends a report anywhere: it leaves the machine only when the
person exports it.

Reports are capped in number (the oldest go first) and in size (log lines
and then the top of the stack are cut), so a failure that repeats can never
fill the disk. The same failure (same type, same place) is written once per
process; its repeats are logged, not reported again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
import traceback
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from atom_desktop import __version__
from atom_desktop.core.private_file import create_private
from atom_desktop.core.redaction import Redactor

logger = logging.getLogger(__name__)

#: The folder of the data directory reports are written to.
REPORTS_DIR_NAME = "reports"
MAX_REPORTS = 50
MAX_REPORT_BYTES = 256 * 1024
LOG_LINES = 200
#: How much of the log's end is read to find its last lines.
_LOG_TAIL_BYTES = 512 * 1024
#: A report's id: its UTC time to the microsecond (so names sort by time), and a random part.
REPORT_ID_PATTERN = r"^[0-9]{8}T[0-9]{12}Z-[0-9a-f]{8}$"
_ID = re.compile(REPORT_ID_PATTERN)
#: The longest "what" and "message" kept (an exception's text can be megabytes).
_MAX_TEXT = 2000
#: Set on an exception once it has a report: the next edge it passes skips it.
_MARK = "_atom_error_report"


@dataclass(frozen=True, slots=True)
class ReportSummary:
    """What a list of reports shows of each."""

    id: str
    time: str
    what: str
    where: str
    size: int


def report_id_is_valid(report_id: str) -> bool:
    """Whether ``report_id`` has the shape of a report's id (and so names no other file)."""
    return bool(_ID.fullmatch(report_id))


def system_description() -> dict[str, str]:
    """The version of the app and the platform it runs on."""
    # Imported here, as is secrets below: the window loads this module before its
    # first paint, and both are needed only once something has gone wrong.
    import platform  # noqa: PLC0415

    return {
        "version": __version__,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
    }


class ReportFolder:
    """Reads the reports of one data directory (no redactor needed: they are redacted)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path_of(self, report_id: str) -> Path | None:
        """The file of the report ``report_id`` (None for an id that is no report's)."""
        if not report_id_is_valid(report_id):
            return None
        return self.folder / f"{report_id}.json"

    def _files(self) -> list[Path]:
        try:
            files = [p for p in self.folder.iterdir() if report_id_is_valid(p.stem)]
        except FileNotFoundError:
            return []
        # Ids start with their UTC time: the name orders them.
        return sorted((p for p in files if p.suffix == ".json"), key=lambda p: p.name)

    def summaries(self) -> list[ReportSummary]:
        """Every report, newest first."""
        found = []
        for path in reversed(self._files()):
            report = self._load(path)
            if report is not None:
                found.append(
                    ReportSummary(
                        id=path.stem,
                        time=str(report.get("time", "")),
                        what=str(report.get("what", "")),
                        where=str(report.get("where", "")),
                        size=path.stat().st_size,
                    )
                )
        return found

    def read(self, report_id: str) -> dict[str, Any] | None:
        """One report as written, or None when there is no such report."""
        path = self.path_of(report_id)
        return None if path is None else self._load(path)

    def prune(self, keep: int) -> None:
        """Delete the oldest reports beyond ``keep``."""
        files = self._files()
        for path in files[: max(0, len(files) - keep)]:
            path.unlink(missing_ok=True)

    @staticmethod
    def _load(path: Path) -> dict[str, Any] | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # removed meanwhile, or not ours
        return data if isinstance(data, dict) else None


class ErrorReports:
    """Writes a redacted report for an unexpected exception (thread-safe)."""

    def __init__(
        self,
        folder: Path,
        redactor: Redactor,
        *,
        log_file: Path | None = None,
        max_reports: int = MAX_REPORTS,
        max_bytes: int = MAX_REPORT_BYTES,
    ) -> None:
        self.folder = ReportFolder(folder)
        self._redactor = redactor
        self._log_file = log_file
        self._max_reports = max_reports
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._written: dict[str, str] = {}  # fingerprint: report id

    def record(self, where: str, exc: BaseException, message: str = "") -> Path | None:
        """Write the report of ``exc``, caught at ``where``; its file, or None.

        None when this exception already has a report, when the same failure
        was reported before in this process, or when writing failed (which is
        logged and otherwise ignored: a report must never become a second failure).
        """
        if getattr(exc, _MARK, False):
            return None
        _mark(exc)
        fingerprint = _fingerprint(exc)
        with self._lock:
            earlier = self._written.get(fingerprint)
            if earlier is not None:
                logger.warning("The failure of report %s happened again (%s)", earlier, where)
                return None
            report_id = _new_id()
            self._written[fingerprint] = report_id
        try:
            text = self._render(report_id, where, exc, message)
            path = self.folder.folder / f"{report_id}.json"
            create_private(path, text)
            self.folder.prune(self._max_reports)
        except Exception:  # see the docstring
            logger.warning("Could not write an error report", exc_info=True)
            return None
        logger.warning("Error report written: %s", path)
        return path

    def _render(self, report_id: str, where: str, exc: BaseException, message: str) -> str:
        redact = self._redactor.redact
        stack = redact("".join(traceback.format_exception(exc)))
        report: dict[str, Any] = {
            "id": report_id,
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
            "what": redact(f"{type(exc).__qualname__}: {exc}"),
            "where": redact(where),
            "message": redact(message),
            **system_description(),
            "stack": stack,
            "log": [redact(line) for line in self._log_tail()],
        }
        return _within(report, self._max_bytes)

    def _log_tail(self) -> list[str]:
        """The last lines of the log file (already redacted once as they were written)."""
        if self._log_file is None:
            return []
        try:
            with self._log_file.open("rb") as handle:
                size = handle.seek(0, os.SEEK_END)
                handle.seek(max(0, size - _LOG_TAIL_BYTES))
                data = handle.read()
        except OSError:
            return []
        lines = data.decode("utf-8", errors="replace").splitlines()
        if len(data) == _LOG_TAIL_BYTES and lines:
            lines = lines[1:]  # the first may be the end of a line cut off
        return list(deque(lines, maxlen=LOG_LINES))


def _within(report: dict[str, Any], max_bytes: int) -> str:
    """``report`` as JSON of at most ``max_bytes``.

    The end of a stack (the innermost frames and the error) and the newest
    log lines say the most: the stack keeps its end within half the size,
    then the oldest log lines go, then more of the stack's top.
    """
    for key in ("what", "message"):
        if len(report[key]) > _MAX_TEXT:
            report[key] = report[key][:_MAX_TEXT] + " [...]"
    if len(report["stack"].encode()) > max_bytes // 2:
        report["stack"] = "[...]\n" + report["stack"][-(max_bytes // 8) :]
    text = json.dumps(report, ensure_ascii=False, indent=1)
    while len(text.encode()) > max_bytes and report["log"]:
        report["log"] = report["log"][len(report["log"]) // 2 + 1 :]
        report["log_cut"] = True
        text = json.dumps(report, ensure_ascii=False, indent=1)
    while len(text.encode()) > max_bytes and len(report["stack"]) > 64:
        report["stack"] = "[...]\n" + report["stack"][len(report["stack"]) // 2 :]
        text = json.dumps(report, ensure_ascii=False, indent=1)
    return text


def _fingerprint(exc: BaseException) -> str:
    """Same type raised from the same line: the same failure."""
    frames = traceback.extract_tb(exc.__traceback__)
    last = frames[-1] if frames else None
    place = f"{last.filename}:{last.lineno}" if last else "?"
    return f"{type(exc).__module__}.{type(exc).__qualname__}@{place}"


def _mark(exc: BaseException) -> None:
    # An exception type with __slots__ takes no mark: it may be reported twice.
    with contextlib.suppress(AttributeError):
        setattr(exc, _MARK, True)


def _new_id() -> str:
    import secrets  # noqa: PLC0415

    now = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{now}-{secrets.token_hex(4)}"
