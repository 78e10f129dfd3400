"""The assistant as a service of the agent: requests in, plans kept, approved steps run.

One request (:meth:`AssistantService.async_ask`) goes:

1. into a conversation in the encrypted store (a new one unless named);
2. to the AI provider the settings choose, with the earlier turns and the
   context the person allows (redacted, capped), exactly as recorded with the
   request ("what did you send?"); or, with no provider or none reachable,
   to the rule-based parser;
3. back as a reply (streamed) and a plan, whose steps are stored with their
   digests and run only once approved (assistant/executor.py).

Every change to a plan is published as an ``assistant.plan`` event, so the
window, the tray and API clients follow it without asking.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from atom_desktop.assistant.context import (
    AutomationLine,
    Consent,
    ContextBuilder,
    IntegrationLine,
    SharedContext,
    estimate_tokens,
)
from atom_desktop.assistant.executor import PlanExecutor, refusal
from atom_desktop.assistant.outcome import Refusal
from atom_desktop.assistant.plan import REQUEST_MAX, PlanStep, commands, describe, kind
from atom_desktop.assistant.plan_state import PlanState, plan_state
from atom_desktop.assistant.providers.base import ChatMessage
from atom_desktop.assistant.providers.choice import ProviderChoice, build_provider
from atom_desktop.assistant.providers.errors import ProviderError, ProviderErrorKind
from atom_desktop.assistant.providers.keys import ProviderKeys
from atom_desktop.assistant.step_digest import parse_step, step_body, step_digest
from atom_desktop.automations.service import AutomationService
from atom_desktop.config.settings import Settings
from atom_desktop.core.errors import AtomError
from atom_desktop.core.events import AssistantPlanChanged, EventBus
from atom_desktop.core.redaction import Redactor
from atom_desktop.platform.local_zone import local_zone_name
from atom_desktop.runner.policy import CommandPolicy
from atom_desktop.secrets.keyring_vault import KeyringVault
from atom_desktop.store.conversations import (
    ConversationRecord,
    MessageRecord,
    PlanRecord,
    PlanStepRecord,
)
from atom_desktop.store.errors import NotFoundError
from atom_desktop.store.service import StoreService

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger(__name__)

#: Earlier turns sent with a request, at most (newest kept).
HISTORY_MESSAGES = 10
HISTORY_TOKENS = 2000
TITLE_CHARS = 80


class AssistantError(AtomError):
    """A request the assistant cannot take as it is (empty, too long)."""


@dataclass(frozen=True, slots=True)
class AssistantConfig:
    """What the settings say about the assistant, replaceable while the agent runs."""

    provider: ProviderChoice | None = None
    #: Why the chosen provider cannot be built (no model chosen), told at each request.
    provider_problem: ProviderError | None = None
    consent: Consent = field(default_factory=Consent)
    context_tokens: int = 3000
    auto_kinds: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: Settings) -> AssistantConfig:
        """The configuration ``settings`` describe."""
        provider, problem = None, None
        try:
            provider = ProviderChoice.from_settings(settings)
        except ProviderError as exc:
            problem = exc
        return cls(
            provider=provider,
            provider_problem=problem,
            consent=Consent.from_settings(settings),
            context_tokens=settings.assistant_context_tokens,
            auto_kinds=frozenset(settings.assistant_auto_kinds),
        )


@dataclass(frozen=True, slots=True)
class StepView:
    """One step as a person is shown it, with what decides whether it may run."""

    record: PlanStepRecord
    step: PlanStep | None
    description: str
    commands: tuple[str, ...]
    #: Runs without approval (its kind is set to ``auto``).
    auto: bool
    #: Why the command policy refuses it (it will not run, approved or not).
    refused: str | None


@dataclass(frozen=True, slots=True)
class PlanView:
    """A stored plan with its state and its steps' views."""

    record: PlanRecord
    state: PlanState
    steps: tuple[StepView, ...]


@dataclass(frozen=True, slots=True)
class ConversationView:
    """A conversation with its messages and plans, in order."""

    conversation: ConversationRecord
    messages: tuple[MessageRecord, ...]
    plans: tuple[PlanView, ...]


@dataclass(frozen=True, slots=True)
class AskEvent:
    """One piece of the answer to a request, as it happens."""

    kind: Literal["conversation", "reply", "plan", "message", "error", "done"]
    data: dict[str, Any] = field(default_factory=dict)


Emit = Callable[[AskEvent], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Decision:
    """Approve (naming the digest shown) or reject one step."""

    index: int
    approve: bool
    digest: str | None = None


@dataclass(frozen=True, slots=True)
class AskOutcome:
    """What one request left: the conversation, the messages and the plan (if any)."""

    conversation_id: str
    request: MessageRecord
    answer: MessageRecord
    plan: PlanView | None
    error: ProviderError | None = None


async def _no_emit(_event: AskEvent) -> None:
    return None


@dataclass(frozen=True, slots=True)
class _Turn:
    """One request being answered."""

    conversation_id: str
    request: MessageRecord
    said: str
    emit: Emit


class AssistantService:
    """Conversations, plans and their runs; see the module's notes."""

    name = "assistant"

    def __init__(
        self,
        config: AssistantConfig,
        store: StoreService,
        automations: AutomationService,
        *,
        policy: CommandPolicy,
        vault: KeyringVault,
        redactor: Redactor,
        bus: EventBus,
        integrations: Callable[[], Sequence[IntegrationLine]] = tuple,
        zone: Callable[[], ZoneInfo] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self._store = store
        self._policy = policy
        self._redactor = redactor
        self._bus = bus
        self._zone = zone or (lambda: ZoneInfo(local_zone_name()))
        self._clock = clock
        self._keys = ProviderKeys(vault, redactor)
        self._context = ContextBuilder(
            lambda: store.tasks,
            lambda: store.runs,
            self._automation_lines,
            redactor,
            integrations=integrations,
        )
        self._automations = automations
        self._executor = PlanExecutor(
            lambda: store.conversations, lambda: store.tasks, automations, policy, bus
        )
        self._http: httpx.AsyncClient | None = None
        self._runs: set[asyncio.Task[None]] = set()
        self._asks: set[asyncio.Task[None]] = set()
        #: Requests answered since the start, by who answered (the metrics may read it).
        self.answered: dict[str, int] = {}

    # -- service ------------------------------------------------------------------------

    async def async_start(self) -> None:
        """Steps left running by an agent that stopped are marked failed."""
        count = await asyncio.to_thread(self._store.conversations.interrupt_running)
        if count:
            logger.info("%d assistant plan step(s) were running when the agent stopped", count)

    async def async_stop(self) -> None:
        """Cancel plan runs in progress (their steps are marked failed) and close the client."""
        runs = [*self._runs, *self._asks]
        for task in runs:
            task.cancel()
        if runs:
            await asyncio.gather(*runs, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def configure(self, config: AssistantConfig) -> None:
        """Use ``config`` from the next request on (Settings → Assistant)."""
        self.config = config

    # -- requests -------------------------------------------------------------------------

    async def async_ask(
        self, text: str, *, conversation_id: str | None = None, emit: Emit | None = None
    ) -> AskOutcome:
        """Answer ``text`` (see the module's notes); ``emit`` sees the answer as it comes."""
        said = _checked_request(text)
        emit = emit or _no_emit
        repo = self._store.conversations
        config = self.config
        if conversation_id is None:
            conversation = await asyncio.to_thread(repo.create_conversation, said[:TITLE_CHARS])
            history: list[ChatMessage] = []
        else:
            conversation = await asyncio.to_thread(repo.conversation, conversation_id)
            history = await self._history(conversation.id)
        now, zone = self._clock(), self._zone()
        messages: list[ChatMessage] | None = None
        shared: SharedContext | None = None
        if config.provider is not None and config.provider_problem is None:
            if config.consent.anything:
                shared = await self._context.async_build(
                    config.consent, config.context_tokens, zone
                )
            from atom_desktop.assistant.planner import plan_messages  # noqa: PLC0415

            messages = plan_messages(
                said,
                now=now,
                zone=zone.key,
                context=shared.text if shared else None,
                history=history,
            )
        sent = (
            None
            if messages is None
            else [{"role": m.role, "content": self._redactor.redact(m.content)} for m in messages]
        )
        request = await asyncio.to_thread(
            repo.add_message,
            conversation.id,
            "user",
            said,
            sent=sent,
            provider=_label(config.provider) if messages is not None else "rules",
        )
        await emit(
            AskEvent(
                "conversation",
                {"conversation_id": conversation.id, "message_id": request.id},
            )
        )
        turn = _Turn(conversation.id, request, said, emit)
        return await self._answer(config, turn, messages, now, zone)

    async def ask_events(
        self, text: str, *, conversation_id: str | None = None
    ) -> AsyncIterator[AskEvent]:
        """:meth:`async_ask` as events, ending with ``done`` (or ``error``).

        The request is answered by a task of the agent's own: a client that
        goes away mid-answer does not lose it - the reply and the plan are
        stored all the same and are in the conversation when it looks again.
        Raises before the first event when the request or the conversation is
        wrong (AssistantError, NotFoundError).
        """
        _checked_request(text)
        if conversation_id is not None:
            await asyncio.to_thread(self._store.conversations.conversation, conversation_id)
        queue: asyncio.Queue[AskEvent | None] = asyncio.Queue()

        async def emit(event: AskEvent) -> None:
            queue.put_nowait(event)

        async def answer() -> None:
            try:
                outcome = await self.async_ask(text, conversation_id=conversation_id, emit=emit)
                if outcome.error is not None:
                    return  # the error event was the end
                done = {
                    "conversation_id": outcome.conversation_id,
                    "message_id": outcome.answer.id,
                    "plan_id": outcome.plan.record.id if outcome.plan else None,
                }
                queue.put_nowait(AskEvent("done", done))
            except AtomError as exc:
                queue.put_nowait(AskEvent("error", {"message": exc.message, "hint": exc.hint}))
            finally:
                queue.put_nowait(None)

        task = asyncio.create_task(answer(), name="assistant-ask")
        self._asks.add(task)
        task.add_done_callback(self._asks.discard)
        while (event := await queue.get()) is not None:
            yield event

    async def _answer(
        self,
        config: AssistantConfig,
        turn: _Turn,
        messages: list[ChatMessage] | None,
        now: datetime,
        zone: ZoneInfo,
    ) -> AskOutcome:
        note = ""
        if messages is not None and config.provider is not None:
            try:
                proposed = await self._ask_provider(config.provider, messages, turn.emit)
            except ProviderError as exc:
                if exc.kind != ProviderErrorKind.OFFLINE:
                    return await self._failed(turn, exc)
                note = f"{exc.message} I used the built-in rules instead.\n"
            else:
                self._count(config.provider.kind)
                label = _label(config.provider)
                return await self._keep(turn, proposed.reply, proposed.steps, label)
        elif config.provider_problem is not None:
            note = f"{config.provider_problem.message} I used the built-in rules instead.\n"
        # Loaded with the first request, not at the agent's start (API ready).
        from atom_desktop.assistant.offline_parser import parse  # noqa: PLC0415

        result = parse(turn.said, now, zone, new_id=lambda: "offline")
        self._count("rules")
        if isinstance(result, Refusal):
            text = note + result.message()
            await turn.emit(AskEvent("reply", {"text": text}))
            return await self._keep(turn, text, [], "rules")
        reply = note + "Understood without an AI provider. Nothing runs until you approve it."
        await turn.emit(AskEvent("reply", {"text": reply}))
        return await self._keep(turn, reply, result.steps, "rules")

    def _count(self, who: str) -> None:
        self.answered[who] = self.answered.get(who, 0) + 1

    async def _ask_provider(
        self, choice: ProviderChoice, messages: list[ChatMessage], emit: Emit
    ) -> Any:
        key = await asyncio.to_thread(self._keys.get, choice.kind, choice.base_url)
        provider = build_provider(choice, self._client(), key)

        async def reply(text: str) -> None:
            await emit(AskEvent("reply", {"text": text}))

        from atom_desktop.assistant.planner import propose_plan  # noqa: PLC0415

        return await propose_plan(provider, messages, on_reply=reply)

    async def _keep(
        self, turn: _Turn, reply: str, steps: Sequence[PlanStep], provider: str
    ) -> AskOutcome:
        repo = self._store.conversations
        text = reply.strip() or _plan_summary(len(steps))
        answer = await asyncio.to_thread(
            repo.add_message, turn.conversation_id, "assistant", text, provider=provider
        )
        view = None
        if steps:
            stored = [(kind(s).value, step_body(s), step_digest(s)) for s in steps]
            record = await asyncio.to_thread(
                repo.add_plan, turn.conversation_id, answer.id, turn.said, stored
            )
            answer = replace(answer, plan_id=record.id)
            view = self.view(record)
            await turn.emit(AskEvent("plan", {"plan": view}))
            self._publish(view)
        await turn.emit(AskEvent("message", {"message_id": answer.id}))
        return AskOutcome(turn.conversation_id, turn.request, answer, view)

    async def _failed(self, turn: _Turn, error: ProviderError) -> AskOutcome:
        answer = await asyncio.to_thread(
            self._store.conversations.add_message, turn.conversation_id, "error", str(error)
        )
        await turn.emit(
            AskEvent(
                "error",
                {"kind": error.kind.value, "message": error.message, "hint": error.hint},
            )
        )
        return AskOutcome(turn.conversation_id, turn.request, answer, None, error)

    async def _history(self, conversation_id: str) -> list[ChatMessage]:
        records = await asyncio.to_thread(self._store.conversations.messages, conversation_id)
        turns: list[ChatMessage] = []
        used = 0
        for record in reversed(records):
            if record.role not in ("user", "assistant"):
                continue
            cost = estimate_tokens(record.text)
            if len(turns) >= HISTORY_MESSAGES or used + cost > HISTORY_TOKENS:
                break
            turns.append(ChatMessage("user" if record.role == "user" else "assistant", record.text))
            used += cost
        turns.reverse()
        # A conversation told to the model starts with the person.
        while turns and turns[0].role != "user":
            turns.pop(0)
        return turns

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            from atom_desktop.assistant.providers.client import new_client  # noqa: PLC0415

            self._http = new_client()
        return self._http

    async def _automation_lines(self) -> list[AutomationLine]:
        from atom_desktop.assistant.plan import describe_triggers  # noqa: PLC0415

        states = await self._automations.async_list()
        return [
            AutomationLine(
                name=s.spec.name,
                enabled=s.record.enabled,
                triggers=describe_triggers(s.spec),
                last_status=str(s.last_run.status) if s.last_run else None,
                next_fire_at=s.next_fire_at,
            )
            for s in states
        ]

    # -- plans ----------------------------------------------------------------------------

    def view(self, record: PlanRecord) -> PlanView:
        """``record`` with its state and what a person is shown of each step."""
        auto = self.config.auto_kinds
        steps = []
        for step_record in record.steps:
            try:
                step: PlanStep | None = parse_step(step_record.body)
            except ValueError:
                step = None
            steps.append(
                StepView(
                    record=step_record,
                    step=step,
                    description=describe(step) if step else "This stored step is not valid.",
                    commands=commands(step) if step else (),
                    auto=step_record.kind in auto,
                    refused=refusal(self._policy, step) if step else None,
                )
            )
        return PlanView(record, plan_state(record.steps, auto), tuple(steps))

    async def async_plan(self, plan_id: str) -> PlanView:
        """One plan (NotFoundError when there is none)."""
        record = await asyncio.to_thread(self._store.conversations.plan, plan_id)
        return self.view(record)

    async def async_decide(
        self, plan_id: str, decisions: Sequence[Decision], *, by: str, run: bool = True
    ) -> PlanView:
        """Approve or reject steps; then (``run``) run what may run now, in the background.

        An approval must name the digest of the step as shown: a step changed
        since is a ConflictError and is not approved.
        """
        repo = self._store.conversations
        for decision in decisions:
            await asyncio.to_thread(
                repo.decide_step,
                plan_id,
                decision.index,
                approve=decision.approve,
                by=by,
                digest=decision.digest,
            )
        view = await self.async_plan(plan_id)
        self._publish(view)
        if run:
            self.start_run(plan_id)
        return view

    async def async_edit(self, plan_id: str, index: int, body: object, *, by: str) -> PlanView:
        """Replace a step that has not run with ``body`` (validated); it needs approval again."""
        step = parse_step(body)
        await asyncio.to_thread(
            self._store.conversations.edit_step,
            plan_id,
            index,
            kind=kind(step).value,
            body=step_body(step),
            digest=step_digest(step),
            by=by,
        )
        view = await self.async_plan(plan_id)
        self._publish(view)
        return view

    def start_run(self, plan_id: str) -> None:
        """Run what may run of the plan now, on the agent's loop, in the background."""
        task = asyncio.create_task(self._run(plan_id), name=f"assistant-plan-{plan_id}")
        self._runs.add(task)
        task.add_done_callback(self._runs.discard)

    async def async_run_now(self, plan_id: str) -> PlanView:
        """Run what may run of the plan now and wait for it; the plan afterwards."""
        record = await self._executor.async_run(plan_id, self.config.auto_kinds)
        return self.view(record)

    async def _run(self, plan_id: str) -> None:
        try:
            await self._executor.async_run(plan_id, self.config.auto_kinds)
        except NotFoundError:
            # The conversation was deleted while its plan ran.
            logger.info("Assistant plan %s was deleted while it ran", plan_id)

    # -- conversations --------------------------------------------------------------------

    async def async_conversations(
        self, limit: int = 50, offset: int = 0
    ) -> list[ConversationRecord]:
        """Conversations, the most recently active first."""
        return await asyncio.to_thread(self._store.conversations.conversations, limit, offset)

    async def async_conversation(self, conversation_id: str) -> ConversationView:
        """One conversation whole (NotFoundError when there is none)."""
        repo = self._store.conversations

        def read() -> tuple[ConversationRecord, list[MessageRecord], list[PlanRecord]]:
            return (
                repo.conversation(conversation_id),
                repo.messages(conversation_id),
                repo.plans(conversation_id),
            )

        conversation, messages, plans = await asyncio.to_thread(read)
        return ConversationView(conversation, tuple(messages), tuple(self.view(p) for p in plans))

    async def async_delete(self, conversation_id: str) -> None:
        """Delete a conversation with its messages and plans (runs stay in the run history)."""
        await asyncio.to_thread(self._store.conversations.delete_conversation, conversation_id)

    def _publish(self, view: PlanView) -> None:
        self._bus.publish(
            AssistantPlanChanged(
                plan_id=view.record.id,
                conversation_id=view.record.conversation_id,
                state=view.state.value,
            )
        )


def _checked_request(text: str) -> str:
    said = text.strip()
    if not said:
        raise AssistantError("The request is empty.", hint="Say what you want done.")
    if len(said) > REQUEST_MAX:
        raise AssistantError(
            f"The request is {len(said)} characters long; at most {REQUEST_MAX} are taken.",
            hint="Shorten it, or split it into several requests.",
        )
    if "\x00" in said:
        raise AssistantError("The request holds a NUL character.", hint="Remove it.")
    return said


def _label(choice: ProviderChoice | None) -> str:
    if choice is None:
        return "rules"
    return f"{choice.kind}: {choice.model} at {choice.base_url}"[:200]


def _plan_summary(count: int) -> str:
    steps = "1 step" if count == 1 else f"{count} steps"
    return f"Here is a plan of {steps}. Nothing runs until you approve it."
