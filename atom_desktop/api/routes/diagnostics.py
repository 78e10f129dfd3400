"""``GET /api/v1/diagnostics/reports``: the error reports kept on this machine (read scope).

Reports are redacted as they are written (diagnostics/reports.py); the API
only reads them. Nothing is sent anywhere: a person exports a report by
fetching it here or opening its file.
"""

from __future__ import annotations

from fastapi import APIRouter, Path
from pydantic import BaseModel

from atom_desktop.api.deps import AgentDep, scope
from atom_desktop.api.schemas import ERROR_RESPONSES
from atom_desktop.diagnostics.reports import REPORT_ID_PATTERN, REPORTS_DIR_NAME, ReportFolder
from atom_desktop.store.errors import NotFoundError

router = APIRouter(prefix="/diagnostics", tags=["diagnostics"], responses=ERROR_RESPONSES)


class ReportSummaryPublic(BaseModel):
    """One report in the list."""

    id: str
    time: str
    what: str
    where: str
    size: int


class ReportList(BaseModel):
    """Every report kept, newest first."""

    items: list[ReportSummaryPublic]


class ReportPublic(BaseModel):
    """A whole report, as written to its file."""

    id: str
    time: str
    what: str
    where: str
    message: str
    version: str
    python: str
    implementation: str
    system: str
    release: str
    machine: str
    stack: str
    log: list[str]
    log_cut: bool = False


def _folder(agent: AgentDep) -> ReportFolder:
    return ReportFolder(agent.paths.data_dir / REPORTS_DIR_NAME)


@router.get("/reports", openapi_extra=scope("read"))
def list_reports(agent: AgentDep) -> ReportList:
    """The error reports, newest first (what failed, where, when; the size of each)."""
    return ReportList(
        items=[
            ReportSummaryPublic(id=s.id, time=s.time, what=s.what, where=s.where, size=s.size)
            for s in _folder(agent).summaries()
        ]
    )


@router.get("/reports/{report_id}", openapi_extra=scope("read"))
def get_report(agent: AgentDep, report_id: str = Path(pattern=REPORT_ID_PATTERN)) -> ReportPublic:
    """One report: the redacted stack, the last log lines, the version and platform."""
    report = _folder(agent).read(report_id)
    if report is None:
        raise NotFoundError(f"There is no error report {report_id!r}.")
    return ReportPublic.model_validate(report)
