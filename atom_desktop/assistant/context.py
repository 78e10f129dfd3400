"""What the assistant may tell the provider about the agent: bounded, redacted, by consent.

Three sources, each off until the person allows it (``assistant_share_*``):
open tasks, recent runs with the tail of their output, and automations (with
the integration accounts an http step may name as its ``auth``: their ids,
services and states, never an account's name or token). What
is sent is one block of plain text, built newest and most useful first,
redacted by the agent's redactor (registered secrets and secret-shaped text),
and cut to a budget of tokens. Tokens are estimated, not counted: the
provider's tokenizer is not known here, and four bytes of UTF-8 per token
errs on the side of sending less for English text and code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from atom_desktop.config.settings import Settings
from atom_desktop.core.redaction import Redactor
from atom_desktop.core.statuses import RunStatus
from atom_desktop.store.runs import RunRecord, RunRepository
from atom_desktop.store.task_types import Task, TaskFilter
from atom_desktop.store.tasks import TaskRepository

#: Bytes of UTF-8 per token in the estimate.
BYTES_PER_TOKEN = 4
#: How much of the budget each source may use at most (what one leaves is not passed on:
#: a long task list must not crowd out the runs a question is about).
SHARES = {"tasks": 0.3, "runs": 0.45, "automations": 0.15, "integrations": 0.1}
TASKS_MAX = 100
RUNS_MAX = 30
#: Runs whose output tail is sent (the newest ones).
TAILS_MAX = 5
TAIL_BYTES = 1500


def estimate_tokens(text: str) -> int:
    """About how many tokens ``text`` is (rounded up)."""
    return -(-len(text.encode("utf-8")) // BYTES_PER_TOKEN)


@dataclass(frozen=True, slots=True)
class Consent:
    """Which sources the person allows the assistant to send."""

    tasks: bool = False
    runs: bool = False
    automations: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> Consent:
        """The consent the settings give."""
        return cls(
            tasks=settings.assistant_share_tasks,
            runs=settings.assistant_share_runs,
            automations=settings.assistant_share_automations,
        )

    @property
    def anything(self) -> bool:
        """At least one source is allowed."""
        return self.tasks or self.runs or self.automations


@dataclass(frozen=True, slots=True)
class AutomationLine:
    """What is told of one automation (the automation service gives these)."""

    name: str
    enabled: bool
    triggers: str
    last_status: str | None
    next_fire_at: datetime | None


@dataclass(frozen=True, slots=True)
class IntegrationLine:
    """What is told of one integration account: enough to name it as an http step's auth."""

    id: str
    service: str
    status: str


@dataclass(frozen=True, slots=True)
class SharedContext:
    """The block of text sent with a request, and what went into it."""

    text: str
    tokens: int
    #: How many items of each source were sent, and how many were left out for the budget.
    sent: dict[str, int]
    left_out: dict[str, int]


class ContextBuilder:
    """Builds the context block from the store and the automations the person lets it read."""

    def __init__(
        self,
        tasks: Callable[[], TaskRepository],
        runs: Callable[[], RunRepository],
        automations: Callable[[], Awaitable[Sequence[AutomationLine]]],
        redactor: Redactor,
        integrations: Callable[[], Sequence[IntegrationLine]] = tuple,
    ) -> None:
        self._tasks = tasks
        self._runs = runs
        self._automations = automations
        self._integrations = integrations
        self._redactor = redactor

    async def async_build(
        self, consent: Consent, budget_tokens: int, zone: tzinfo
    ) -> SharedContext | None:
        """The context for one request; None when nothing is allowed (or there is nothing)."""
        sections: list[tuple[str, str, list[str]]] = []
        if consent.tasks:
            tasks = await asyncio.to_thread(self._open_tasks)
            sections.append(
                ("tasks", "Open tasks (id, title, due, priority):", _task_lines(tasks, zone))
            )
        if consent.runs:
            lines = await asyncio.to_thread(self._run_lines, zone)
            sections.append(("runs", "Recent runs, newest first:", lines))
        if consent.automations:
            automations = await self._automations()
            sections.append(
                ("automations", "Automations:", [_automation_line(a, zone) for a in automations])
            )
            accounts = [f"- {i.id} | {i.service} | {i.status}" for i in self._integrations()]
            sections.append(
                (
                    "integrations",
                    "Integrations an http step may name as auth (id | service | state):",
                    accounts,
                )
            )
        if not sections:
            return None
        parts: list[str] = []
        sent: dict[str, int] = {}
        left_out: dict[str, int] = {}
        for name, heading, lines in sections:
            share = int(budget_tokens * SHARES[name])
            kept = _within(
                [self._redactor.redact(line) for line in lines], share - estimate_tokens(heading)
            )
            sent[name] = len(kept)
            left_out[name] = len(lines) - len(kept)
            body = "\n".join(kept) if kept else "(none)"
            more = f"\n({left_out[name]} more not sent)" if left_out[name] else ""
            parts.append(f"{heading}\n{body}{more}")
        text = "\n\n".join(parts)
        return SharedContext(text, estimate_tokens(text), sent, left_out)

    def _open_tasks(self) -> list[Task]:
        page = self._tasks().page(TaskFilter(statuses=("todo", "doing")), limit=TASKS_MAX)
        return page.items

    def _run_lines(self, zone: tzinfo) -> list[str]:
        repo = self._runs()
        records = repo.page(limit=RUNS_MAX)
        lines = []
        for index, record in enumerate(records):
            line = _run_line(record, zone)
            if index < TAILS_MAX and record.status != RunStatus.QUEUED:
                line += _tails(repo, record)
            lines.append(line)
        return lines


def _within(lines: list[str], budget: int) -> list[str]:
    kept: list[str] = []
    used = 0
    for line in lines:
        cost = estimate_tokens(line) + 1
        if used + cost > budget:
            break
        kept.append(line)
        used += cost
    return kept


def _when(moment: datetime | None, zone: tzinfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else "-"


def _task_lines(tasks: list[Task], zone: tzinfo) -> list[str]:
    # Soonest due first, then those without a due date.
    ordered = sorted(tasks, key=lambda t: (t.due_at is None, t.due_at or t.created_at))
    return [
        f"- {t.id} | {t.title} | due {_when(t.due_at, zone)} | priority {t.priority}"
        + (f" | tags {', '.join(t.tags)}" if t.tags else "")
        for t in ordered
    ]


def _run_line(record: RunRecord, zone: tzinfo) -> str:
    command = record.shell if record.shell is not None else " ".join(record.argv or [])
    ended = "exit code " + str(record.exit_code) if record.exit_code is not None else ""
    if record.signal is not None:
        ended = f"signal {record.signal}"
    return (
        f"- {record.id} | {command} | {record.status}"
        + (f" ({ended})" if ended else "")
        + f" | started {_when(record.started_at or record.created_at, zone)}"
        + f" | by {record.source}"
    )


def _tails(repo: RunRepository, record: RunRecord) -> str:
    text = ""
    for stream in ("stdout", "stderr"):
        tail = repo.tail(record.id, stream, TAIL_BYTES)
        if tail:
            shown = tail.decode("utf-8", "replace").replace("\x00", "")
            text += f"\n  last {stream}:\n" + "\n".join(f"    {x}" for x in shown.splitlines())
    return text


def _automation_line(line: AutomationLine, zone: tzinfo) -> str:
    state = "on" if line.enabled else "off"
    last = f" | last run {line.last_status}" if line.last_status else ""
    following = f" | next {_when(line.next_fire_at, zone)}" if line.next_fire_at else ""
    return f"- {line.name} ({state}) | {line.triggers}{last}{following}"
