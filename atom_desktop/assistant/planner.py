"""A request in plain words, turned into a :class:`ProposedPlan` by an AI provider.

The provider is asked for structured output with :func:`plan_schema` (as a
tool call or a JSON schema, whichever its adapter uses). The answer is
validated with the full pydantic models. An invalid answer is sent back once
with the validation errors, as the assistant's own previous message
followed by a user message saying what to fix (plain text messages, which
every provider takes, rather than a tool result, whose shape differs);
a second invalid answer is a :class:`ProviderError` of kind ``bad_output``.
Nothing of the answer is logged: it may hold what the person typed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from pydantic import ValidationError

from atom_desktop.assistant.plan import MAX_STEPS, ProposedPlan
from atom_desktop.assistant.plan_schema import plan_schema
from atom_desktop.assistant.providers.base import (
    ChatMessage,
    Completion,
    OutputSchema,
    Provider,
    complete,
)
from atom_desktop.assistant.providers.errors import ProviderError, ProviderErrorKind
from atom_desktop.assistant.reply_stream import ReplyStream

TOOL_NAME = "propose_plan"
#: Validation errors quoted back to the model, at most.
MAX_QUOTED_ERRORS = 20

OnText = Callable[[str], Awaitable[None] | None]


def system_prompt(now: datetime, zone: str) -> str:
    """What the model is told about its job, the time and the person's zone."""
    return (
        "You turn a person's request into a plan of steps for a desktop agent to run after "
        "the person approves it. Use only the step types in the schema: shell commands, "
        "HTTP requests, notifications, tasks to create or change, and automations to create. "
        f"Propose at most {MAX_STEPS} steps, and the fewest that do what was asked. "
        "Write shell commands exactly as they should run; never invent a command for "
        "something the person only described vaguely. "
        "Put what you want to tell the person in 'reply', first: the answer when they ask a "
        "question (then give no steps), else one short sentence about the plan. "
        f"It is now {now.isoformat()} and the person's time zone is {zone}: write times as "
        "RFC 3339 with an offset, and use that zone for schedules unless another is named. "
        f"Answer by calling {TOOL_NAME} (or with its JSON object), nothing else."
    )


#: Introduces the agent's own data the person allowed to be sent.
CONTEXT_HEADING = (
    "What the person allows you to know about their agent (it may be cut short; "
    "values shown as *** were removed):"
)


def plan_messages(
    request: str,
    *,
    now: datetime,
    zone: str,
    context: str | None = None,
    history: Sequence[ChatMessage] = (),
) -> list[ChatMessage]:
    """The messages asking for a plan: the job, the allowed context, earlier turns, the request."""
    messages = [ChatMessage("system", system_prompt(now, zone))]
    if context:
        messages.append(ChatMessage("system", f"{CONTEXT_HEADING}\n\n{context}"))
    messages.extend(history)
    messages.append(ChatMessage("user", request))
    return messages


def validation_feedback(error: ValidationError) -> str:
    """The follow-up message naming what was wrong with an answer."""
    problems = "\n".join(
        f"- {'.'.join(str(part) for part in item['loc']) or '(top level)'}: {item['msg']}"
        for item in error.errors(include_url=False, include_input=False)[:MAX_QUOTED_ERRORS]
    )
    return (
        "That answer is not a valid plan:\n"
        f"{problems}\n"
        f"Answer again with a corrected plan, as a {TOOL_NAME} JSON object only."
    )


def _answer_json(answer: Completion) -> str:
    """The structured part of an answer: the tool call's arguments, else the text."""
    for call in answer.tool_calls.values():
        if call.name in (None, TOOL_NAME):
            return call.arguments
    return _unfenced(answer.text)


def _unfenced(text: str) -> str:
    # Models asked for JSON sometimes wrap it in a Markdown code fence anyway.
    stripped = text.strip()
    if stripped.startswith("```") and stripped.endswith("```"):
        stripped = stripped.removeprefix("```").removesuffix("```")
        stripped = stripped.removeprefix("json").strip()
    return stripped


async def propose_plan(
    provider: Provider,
    request: str | Sequence[ChatMessage],
    *,
    now: datetime | None = None,
    zone: str = "UTC",
    on_text: OnText | None = None,
    on_reply: OnText | None = None,
    max_tokens: int = 4096,
) -> ProposedPlan:
    """Ask ``provider`` for a plan for ``request`` (text, or :func:`plan_messages`' messages).

    ``on_text`` sees the answer's JSON as it comes (text or tool arguments),
    ``on_reply`` the characters of its ``reply`` as they are complete.
    Raises ProviderError: the provider's own failures, or ``bad_output`` when
    the answer is invalid twice.
    """
    output = OutputSchema(
        TOOL_NAME, plan_schema(), "Propose the steps that carry out the person's request."
    )
    if isinstance(request, str):
        messages = plan_messages(request, now=now or datetime.now(UTC), zone=zone)
    else:
        messages = list(request)
    for attempt in (1, 2):
        reply = ReplyStream()

        async def piece(text: str, reply: ReplyStream = reply) -> None:
            if on_text is not None and (awaited := on_text(text)) is not None:
                await awaited
            said = reply.feed(text)
            if on_reply is not None and said and (awaited := on_reply(said)) is not None:
                await awaited

        answer = await complete(
            provider,
            messages,
            output=output,
            max_tokens=max_tokens,
            on_text=piece,
            on_arguments=piece,
        )
        raw = _answer_json(answer)
        try:
            return ProposedPlan.model_validate_json(raw or "null")
        except ValidationError as exc:
            problem = exc
        if attempt == 1:
            messages = [
                *messages,
                ChatMessage("assistant", raw or "(no answer)"),
                ChatMessage("user", validation_feedback(problem)),
            ]
    cut = (
        " (the answer was cut off at the token limit)"
        if answer.stop_reason
        in (
            "length",
            "max_tokens",
        )
        else ""
    )
    raise ProviderError(
        ProviderErrorKind.BAD_OUTPUT,
        f"{provider.label} did not give a valid plan, even when told what was wrong{cut}: "
        f"{problem.error_count()} problem(s), the first at {_where(problem)}: "
        f"{problem.errors()[0]['msg']}.",
        hint="Rephrase the request, try a more capable model, or use the rules-only mode.",
    )


def _where(problem: ValidationError) -> str:
    # A model may invent a key of any length and characters: shown cut short.
    where = ".".join(str(p) for p in problem.errors()[0]["loc"]) or "the top level"
    return where if len(where) <= 60 else repr(where[:57] + "...")
