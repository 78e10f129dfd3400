"""The Assistant page on a real agent: requests, streamed replies, plan cards and approval.

Qt offscreen; the built-in rules where no provider is set, and the fake
OpenAI-compatible server (a fake, see its module) where one is.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from atom_desktop.assistant.service import AssistantConfig
from atom_desktop.config.settings import Settings
from atom_desktop.gui import jobs
from atom_desktop.gui.app import DesktopApp
from atom_desktop.gui.main_window import PAGES
from atom_desktop.gui.pages.assistant import AssistantPage, MessageBubble
from atom_desktop.gui.plan_card import PlanCard
from atom_desktop.store.audit import AuditEntry
from tests.gui.conftest import WAIT_MS
from tests.support import fake_openai_server as fake
from tests.support.scripted_http_server import Reply, ScriptedServer


@pytest.fixture
def provider() -> Iterator[ScriptedServer]:
    # A local server that asks for no key, as Ollama's or llama.cpp's.
    with fake.fake_openai_server(None) as server:
        yield server


def use_provider(desktop: DesktopApp, settings: Settings, server: ScriptedServer) -> None:
    """Point the running agent's assistant at the fake (as Settings → Assistant does)."""
    runtime = desktop.host.runtime
    assert runtime is not None
    chosen = settings.model_copy(
        update={
            "assistant_provider": "openai_compatible",
            "assistant_base_url": server.base_url + "/v1",
            "assistant_model": fake.MODEL,
        }
    )
    runtime.assistant.configure(AssistantConfig.from_settings(chosen))


def pieces(plan: dict[str, Any], size: int = 5) -> list[str]:
    text = json.dumps(plan)
    return [text[i : i + size] for i in range(0, len(text), size)]


class GatedEvents(tuple[bytes, ...]):
    """A streamed body that sends its first ``before`` events, then waits for ``gate``."""

    before: int
    gate: threading.Event

    def __new__(cls, events: tuple[bytes, ...], before: int) -> GatedEvents:
        made = super().__new__(cls, events)
        made.before = before
        made.gate = threading.Event()
        return made

    def __iter__(self) -> Iterator[bytes]:
        for index, event in enumerate(tuple.__iter__(self)):
            if index == self.before:
                self.gate.wait(30)
            yield event


def open_page(qtbot: QtBot, desktop: DesktopApp) -> AssistantPage:
    window = desktop.window
    window.show()
    qtbot.waitExposed(window)
    window.show_page(PAGES.index("Assistant"))
    page = window.assistant
    assert window.page_name() == "Assistant"
    return page


def ask(qtbot: QtBot, page: AssistantPage, text: str) -> None:
    """Type ``text`` and press Enter; wait until it is answered."""
    page.input.setText(text)
    qtbot.keyClick(page.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not page.asking, timeout=WAIT_MS)


def only_card(qtbot: QtBot, page: AssistantPage) -> PlanCard:
    qtbot.waitUntil(lambda: len(page.cards) == 1, timeout=WAIT_MS)
    return next(iter(page.cards.values()))


def shown(qtbot: QtBot, card: PlanCard) -> PlanCard:
    """``card`` once its step rows are shown (a layout shows a new child on the next turn)."""
    qtbot.waitUntil(lambda: all(row.isVisibleTo(card) for row in card.rows), timeout=WAIT_MS)
    return card


def step_status(card: PlanCard, index: int = 0) -> str:
    return str(card.view.steps[index].record.status)


def audit(qtbot: QtBot, desktop: DesktopApp) -> list[AuditEntry]:
    got: list[list[AuditEntry]] = []
    desktop.host.call(jobs.audit_entries, got.append)
    qtbot.waitUntil(lambda: bool(got), timeout=WAIT_MS)
    return got[0]


def test_without_a_provider_run_echo_hi_is_planned_approved_and_run(
    qtbot: QtBot, desktop: DesktopApp
) -> None:
    page = open_page(qtbot, desktop)
    ask(qtbot, page, "run echo hi")
    card = shown(qtbot, only_card(qtbot, page))
    row = card.rows[0]
    assert row.commands is not None
    assert row.commands.toPlainText() == "echo hi"
    assert row.commands.isReadOnly()
    assert row.mode.text() == "needs approval"
    assert step_status(card) == "proposed"
    assert row.refusal is None
    assert not row.show_output.isVisibleTo(card)

    row.approve.click()
    qtbot.waitUntil(lambda: step_status(page.cards[card.plan_id]) == "succeeded", timeout=WAIT_MS)
    card = shown(qtbot, page.cards[card.plan_id])
    row = card.rows[0]
    assert row.chip.status == "succeeded"
    record = card.view.steps[0].record
    assert record.decided_by == "window"
    assert record.result is not None
    assert record.result["stdout"] == "hi\n"
    assert row.show_output.isVisibleTo(card)

    row.show_output.click()
    qtbot.waitUntil(lambda: desktop.window.page_name() == "Console", timeout=WAIT_MS)
    entries = audit(qtbot, desktop)
    approvals = [e for e in entries if e.action == "assistant.approve"]
    assert [(e.actor, e.target) for e in approvals] == [("window", f"{card.plan_id}/0")]


def test_the_reply_streams_in_as_the_provider_writes_it(
    qtbot: QtBot, desktop: DesktopApp, settings: Settings, provider: ScriptedServer
) -> None:
    use_provider(desktop, settings, provider)
    reply = "Sure: I will print hi for you, once you approve it."
    plan = {"reply": reply, "steps": [{"type": "shell", "shell": "echo hi"}]}
    streamed = fake.stream(pieces(plan))
    assert streamed.events is not None
    # The role chunk, then enough pieces for part of the reply, then a pause.
    gated = GatedEvents(streamed.events, before=10)
    provider.add(Reply(streamed.status, streamed.headers, events=gated))
    try:
        page = open_page(qtbot, desktop)
        page.input.setText("print hi")
        qtbot.keyClick(page.input, Qt.Key.Key_Return)
        assert page.asking
        assert page.input.isReadOnly()
        assert not page.send_button.isEnabled()
        qtbot.waitUntil(
            lambda: page.reply_label is not None and page.reply_label.text().startswith("Sure"),
            timeout=WAIT_MS,
        )
        assert page.reply_label is not None
        partial = page.reply_label.text()
        assert reply.startswith(partial)
        assert partial != reply
        assert page.asking  # the provider has not finished
    finally:
        gated.gate.set()  # also when a check above failed: the server's thread ends
    qtbot.waitUntil(lambda: not page.asking, timeout=WAIT_MS)
    assert not page.input.isReadOnly()
    card = only_card(qtbot, page)
    assert card.rows[0].commands is not None
    assert card.rows[0].commands.toPlainText() == "echo hi"
    qtbot.waitUntil(
        lambda: any(
            isinstance(b, MessageBubble) and b.text.text() == reply
            for b in page.chat.findChildren(MessageBubble)
        ),
        timeout=WAIT_MS,
    )


def test_what_did_you_send_shows_the_system_and_user_messages(
    qtbot: QtBot, desktop: DesktopApp, settings: Settings, provider: ScriptedServer
) -> None:
    use_provider(desktop, settings, provider)
    provider.add(fake.stream(pieces({"reply": "Nothing to do.", "steps": []})))
    page = open_page(qtbot, desktop)
    ask(qtbot, page, "what is on today")

    def sent_buttons() -> list[MessageBubble]:
        return [b for b in page.chat.findChildren(MessageBubble) if b.sent_button is not None]

    qtbot.waitUntil(lambda: len(sent_buttons()) == 1, timeout=WAIT_MS)
    button = sent_buttons()[0].sent_button
    assert button is not None
    button.click()
    dialog = page.sent_dialog
    assert dialog is not None
    text = dialog.text.toPlainText()
    assert "── system ──" in text
    assert "── user ──" in text
    assert "what is on today" in text
    assert dialog.text.isReadOnly()
    dialog.close()


def test_a_provider_error_is_shown_with_its_hint(
    qtbot: QtBot, desktop: DesktopApp, settings: Settings, provider: ScriptedServer
) -> None:
    use_provider(desktop, settings, provider)
    provider.add(fake.model_not_found(fake.MODEL))
    page = open_page(qtbot, desktop)
    ask(qtbot, page, "run the tests")
    qtbot.waitUntil(page.message.isVisible, timeout=WAIT_MS)
    assert "was not found" in page.message.text()
    assert "Settings → Assistant" in page.message.text()
    assert not page.input.isReadOnly()


def test_reject_leaves_the_step_unrun(qtbot: QtBot, desktop: DesktopApp) -> None:
    page = open_page(qtbot, desktop)
    ask(qtbot, page, "run echo never")
    card = only_card(qtbot, page)
    card.rows[0].reject.click()
    qtbot.waitUntil(lambda: step_status(page.cards[card.plan_id]) == "rejected", timeout=WAIT_MS)
    card = page.cards[card.plan_id]
    assert card.rows[0].chip.status == "plan.rejected"
    assert card.view.steps[0].record.run_id is None
    assert str(card.view.state) == "done"
    assert not card.approve_all.isVisibleTo(card)


def test_edit_changes_the_command_and_the_old_approval_does_not_apply(
    qtbot: QtBot, desktop: DesktopApp, settings: Settings, provider: ScriptedServer
) -> None:
    use_provider(desktop, settings, provider)
    steps = [{"type": "shell", "shell": "echo first"}, {"type": "shell", "shell": "echo one"}]
    provider.add(fake.stream(pieces({"reply": "Two steps.", "steps": steps})))
    page = open_page(qtbot, desktop)
    ask(qtbot, page, "echo twice")
    card = only_card(qtbot, page)
    plan_id = card.plan_id
    # The second step approved; it waits for the first.
    card.rows[1].approve.click()
    qtbot.waitUntil(lambda: step_status(page.cards[plan_id], 1) == "approved", timeout=WAIT_MS)

    page.cards[plan_id].rows[1].edit.click()
    dialog = page.edit_dialog
    assert dialog is not None
    dialog.editor.setPlainText("{not json")
    dialog.accept()
    assert dialog.isVisible()
    assert "not JSON" in dialog.error.text()
    dialog.editor.setPlainText(json.dumps({"type": "shell"}))
    dialog.accept()
    assert "not a valid step" in dialog.error.text()
    dialog.editor.setPlainText(json.dumps({"type": "shell", "shell": "echo two"}))
    dialog.accept()
    assert not dialog.isVisible()

    def edited() -> bool:
        row = page.cards[plan_id].rows[1]
        return row.commands is not None and row.commands.toPlainText() == "echo two"

    qtbot.waitUntil(edited, timeout=WAIT_MS)
    card = page.cards[plan_id]
    assert step_status(card, 1) == "proposed"  # the approval went with the old text
    assert card.view.steps[1].record.edited
    # The first step runs once approved; the edited one waits for its own approval.
    card.rows[0].approve.click()
    qtbot.waitUntil(lambda: step_status(page.cards[plan_id], 0) == "succeeded", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: str(page.cards[plan_id].view.state) == "waiting", timeout=WAIT_MS)
    card = page.cards[plan_id]
    assert step_status(card, 1) == "proposed"
    assert card.view.steps[1].record.run_id is None
    entries = audit(qtbot, desktop)
    assert any(e.action == "assistant.edit" and e.actor == "window" for e in entries)


def test_a_refused_step_says_why_and_approving_does_not_run_it(
    qtbot: QtBot, desktop: DesktopApp
) -> None:
    page = open_page(qtbot, desktop)
    ask(qtbot, page, 'run "rm -rf /"')
    card = shown(qtbot, only_card(qtbot, page))
    row = card.rows[0]
    assert row.refusal is not None
    assert row.refusal.isVisibleTo(card)
    assert "deny list" in row.refusal.text()
    row.approve.click()
    qtbot.waitUntil(lambda: step_status(page.cards[card.plan_id]) == "denied", timeout=WAIT_MS)
    card = page.cards[card.plan_id]
    assert card.rows[0].chip.status == "denied"
    assert card.view.steps[0].record.run_id is None


def test_the_empty_state_says_what_to_type_and_opens_the_settings(
    qtbot: QtBot, desktop: DesktopApp
) -> None:
    page = open_page(qtbot, desktop)
    assert page.stack.showing_empty
    assert "Without an AI provider I understand" in page.empty.text.text()
    assert page.empty.button is not None
    page.empty.button.click()
    qtbot.waitUntil(lambda: desktop.window.page_name() == "Settings", timeout=WAIT_MS)


def test_a_conversation_is_listed_and_deleted(qtbot: QtBot, desktop: DesktopApp) -> None:
    page = open_page(qtbot, desktop)
    ask(qtbot, page, "run echo listed")
    # The list may be read once before the request's own refresh marks it current.
    qtbot.waitUntil(
        lambda: (
            page.listed_conversations() == ["run echo listed"]
            and page.conversations.currentItem() is not None
        ),
        timeout=WAIT_MS,
    )
    page.new_button.click()
    assert page.stack.showing_empty
    ask(qtbot, page, "run echo second")
    qtbot.waitUntil(
        lambda: page.listed_conversations() == ["run echo second", "run echo listed"],
        timeout=WAIT_MS,
    )
    page.conversations.setCurrentRow(1)
    qtbot.waitUntil(lambda: len(page.cards) == 1, timeout=WAIT_MS)
    page.delete_selected(confirm=False)
    qtbot.waitUntil(lambda: page.listed_conversations() == ["run echo second"], timeout=WAIT_MS)
    assert page.stack.showing_empty
    entries = audit(qtbot, desktop)
    assert any(e.action == "assistant.delete" and e.actor == "window" for e in entries)


def test_the_trays_ask_opens_the_page_ready_to_type(qtbot: QtBot, desktop: DesktopApp) -> None:
    window = desktop.window
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(desktop.tray.ask_action.isEnabled, timeout=WAIT_MS)
    desktop.tray.ask_action.trigger()
    assert window.page_name() == "Assistant"
    qtbot.waitUntil(window.assistant.input.hasFocus, timeout=WAIT_MS)


def test_a_plan_proposed_elsewhere_in_the_open_conversation_appears(
    qtbot: QtBot, desktop: DesktopApp
) -> None:
    page = open_page(qtbot, desktop)
    ask(qtbot, page, "run echo here")
    only_card(qtbot, page)
    conversation_id = page.conversation_id
    assert conversation_id is not None
    # As the API or the command line would ask, in the same conversation.
    desktop.host.call(
        lambda rt: rt.assistant.async_ask("run echo elsewhere", conversation_id=conversation_id)
    )
    qtbot.waitUntil(lambda: len(page.cards) == 2, timeout=WAIT_MS)
    commands = [
        card.rows[0].commands.toPlainText()
        for card in page.cards.values()
        if card.rows[0].commands is not None
    ]
    assert commands == ["echo here", "echo elsewhere"]
