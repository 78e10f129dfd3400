"""Assistant: requests in plain words, the plans proposed for them, and their approval.

On the left the conversations (newest first); on the right the chosen one:
each request, the reply (streamed in as the provider writes it), and each
plan as a card (gui/plan_card.py) whose steps run only once approved, or by
themselves where Settings → Assistant lets their kind. A request the AI
provider got has "What did you send?", which shows exactly what went.

The answer's pieces come from the agent's thread: :class:`AskFeed` re-emits
them as a signal, so they are shown on the Qt thread, in order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QFontDatabase, QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from atom_desktop.core.errors import AtomError
from atom_desktop.core.events import AssistantPlanChanged, Event
from atom_desktop.gui import jobs
from atom_desktop.gui.agent_host import AgentHost
from atom_desktop.gui.empty_state import EmptyState, EmptyStateStack
from atom_desktop.gui.error_label import ErrorLabel
from atom_desktop.gui.plan_card import PlanCard, StepEditDialog, as_link
from atom_desktop.gui.run_labels import run_command_text
from atom_desktop.gui.style import Spacing, heading, muted, page_margins
from atom_desktop.gui.translations import english_plural

# Types only: the assistant and the store load on the agent thread, after the paint.
if TYPE_CHECKING:
    from atom_desktop.assistant.service import (
        AskEvent,
        AskOutcome,
        ConversationView,
        PlanView,
    )
    from atom_desktop.store.conversations import ConversationRecord, MessageRecord
    from atom_desktop.store.runs import RunRecord

#: The item data role holding a conversation's id in the list.
CONVERSATION_ROLE = Qt.ItemDataRole.UserRole


class AskFeed(QObject):
    """Carries one request's answer, piece by piece, from the agent's thread to Qt's."""

    arrived = Signal(object)  # AskEvent

    async def send(self, event: AskEvent) -> None:
        """The ``emit`` of :meth:`AssistantService.async_ask` (runs on the agent's loop)."""
        try:
            # Emitted from the agent's thread: Qt queues it to the page's thread.
            self.arrived.emit(event)
        except RuntimeError:  # the page (and this feed) went while the answer came
            return


class SentDialog(QDialog):
    """What went to the AI provider with one request, read-only."""

    def __init__(self, sent: list[dict[str, Any]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("What was sent to the AI provider"))
        layout = QVBoxLayout(self)
        note = QLabel(
            self.tr(
                "Exactly these messages went to the provider with this request (secrets "
                "the agent knows of were masked first)."
            )
        )
        note.setWordWrap(True)
        layout.addWidget(note)
        self.text = QPlainTextEdit(
            "\n\n".join(f"── {m.get('role', '?')} ──\n{m.get('content', '')}" for m in sent)
        )
        self.text.setReadOnly(True)
        self.text.setTabChangesFocus(True)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setAccessibleName(self.tr("The messages sent"))
        self.text.setMinimumSize(640, 400)
        layout.addWidget(self.text, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)


class MessageBubble(QFrame):
    """One message of the conversation: who said it, and what."""

    sent_requested = Signal(str)  # message id

    def __init__(
        self, who: str, text: str, *, message_id: str | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.message_id = message_id
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, Spacing.XS, 0, Spacing.XS)
        layout.setSpacing(2)
        top = QHBoxLayout()
        self.who = muted(QLabel(who))
        top.addWidget(self.who)
        top.addStretch(1)
        self.sent_button: QPushButton | None = None
        layout.addLayout(top)
        self.text = QLabel(text)
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.PlainText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.text)
        self._top = top

    def offer_sent(self) -> None:
        """Add the "What did you send?" button (the provider got this request)."""
        button = QPushButton(self.tr("What did you send?"))
        as_link(button)
        button.setAccessibleName(self.tr("Show what was sent to the AI provider"))
        button.clicked.connect(self._ask_sent)
        self._top.addWidget(button)
        self.sent_button = button

    def _ask_sent(self) -> None:
        if self.message_id is not None:
            self.sent_requested.emit(self.message_id)


class AssistantPage(QWidget):
    """Conversations with the assistant, and the plans it proposed."""

    #: Show a run in the Console (run id, command).
    open_run = Signal(str, str)
    #: The person asked for Settings → Assistant.
    open_settings = Signal()

    def __init__(self, host: AgentHost, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._host = host
        self.conversation_id: str | None = None
        self.asking = False
        self.cards: dict[str, PlanCard] = {}
        self.messages: dict[str, MessageRecord] = {}
        self.reply_label: QLabel | None = None
        self._request_bubble: MessageBubble | None = None
        self._reply_bubble: MessageBubble | None = None
        self._reply_text = ""
        self.sent_dialog: SentDialog | None = None
        self.edit_dialog: StepEditDialog | None = None
        self._editing: tuple[str, int] | None = None
        # Plans being read, and those changed again meanwhile (read once more after).
        self._reading: set[str] = set()
        self._stale: set[str] = set()
        self.feed = AskFeed(self)
        self.feed.arrived.connect(self._on_ask_event)

        # Conversations
        self.conversations = QListWidget()
        self.conversations.setAccessibleName(self.tr("Conversations"))
        # Long titles end in "…" (the tooltip has them whole), never a sideways scroll.
        self.conversations.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.conversations.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.new_button = QPushButton(self.tr("New conversation"))
        self.new_button.setAccessibleName(self.tr("Start a new conversation"))
        self.delete_button = QPushButton(self.tr("Delete"))
        self.delete_button.setAccessibleName(self.tr("Delete the selected conversation"))
        self.delete_button.setEnabled(False)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(heading(self.tr("Conversations"), level=2))
        side_layout.addWidget(self.conversations, 1)
        side_buttons = QHBoxLayout()
        side_buttons.addWidget(self.new_button)
        side_buttons.addWidget(self.delete_button)
        side_layout.addLayout(side_buttons)

        # The chat
        self.chat = QWidget()
        self.chat_layout = QVBoxLayout(self.chat)
        self.chat_layout.setContentsMargins(Spacing.S, Spacing.S, Spacing.S, Spacing.S)
        self.chat_layout.setSpacing(Spacing.S)
        self.chat_layout.addStretch(1)
        self.chat_scroll = QScrollArea()
        self.chat_scroll.setWidgetResizable(True)
        self.chat_scroll.setWidget(self.chat)
        self.chat_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.empty = EmptyState(
            self.tr("Ask for something to be done"),
            "",
            action=self.tr("Settings → Assistant…"),
        )
        self.empty.action_requested.connect(self.open_settings)
        self.stack = EmptyStateStack(self.chat_scroll, self.empty)
        self.message = ErrorLabel()
        self.message.setAccessibleName(self.tr("Assistant message"))
        self.input = QLineEdit()
        self.input.setPlaceholderText(
            self.tr("Ask… e.g. run df -h, or every weekday at 9 run backup.sh")
        )
        self.input.setAccessibleName(self.tr("Your request"))
        self.input.setMaxLength(10_000)
        self.send_button = QPushButton(self.tr("Send"))
        self.send_button.setAccessibleName(self.tr("Send the request"))
        self.send_button.setDefault(True)
        entry = QHBoxLayout()
        entry.addWidget(self.input, 1)
        entry.addWidget(self.send_button)
        main = QWidget()
        main_layout = QVBoxLayout(main)
        main_layout.setContentsMargins(0, 0, 0, 0)
        main_layout.addWidget(self.stack, 1)
        main_layout.addWidget(self.message)
        main_layout.addLayout(entry)

        splitter = QSplitter()
        splitter.addWidget(side)
        splitter.addWidget(main)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([240, 760])
        splitter.setChildrenCollapsible(False)
        layout = page_margins(QVBoxLayout(self))
        layout.addWidget(heading(self.tr("Assistant")))
        layout.addWidget(splitter, 1)
        self.setTabOrder(self.input, self.send_button)

        self.new_button.clicked.connect(self.new_conversation)
        self.delete_button.clicked.connect(self.delete_selected)
        self.conversations.currentItemChanged.connect(self._on_current)
        self.input.returnPressed.connect(self.send)
        self.send_button.clicked.connect(self.send)
        host.agent_event.connect(self._on_event)
        host.when_started(self.refresh)
        self._show_empty_words()
        self.stack.set_empty(True)

    # -- reading ---------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        """Fresh conversations and provider words whenever the page comes into view."""
        super().showEvent(event)
        self._show_empty_words()
        if self._host.is_running:
            self.refresh()

    def refresh(self) -> None:
        """Reload the list of conversations."""
        self._host.call(jobs.assistant_conversations, self._show_conversations, self._error)

    def _show_conversations(self, records: list[ConversationRecord]) -> None:
        self.conversations.blockSignals(True)
        self.conversations.clear()
        for record in records:
            item = QListWidgetItem(record.title)
            item.setData(CONVERSATION_ROLE, record.id)
            local = record.updated_at.astimezone()
            count = record.message_count
            item.setToolTip(
                english_plural(self.tr("%1 · %n message(s) · %2", "", count), count)
                .replace("%1", record.title)
                .replace("%2", local.strftime("%Y-%m-%d %H:%M"))
            )
            self.conversations.addItem(item)
            if record.id == self.conversation_id:
                self.conversations.setCurrentItem(item)
        self.conversations.blockSignals(False)
        self.delete_button.setEnabled(self.conversations.currentItem() is not None)

    def listed_conversations(self) -> list[str]:
        """The titles listed, in order (for tests and screenshots)."""
        return [self.conversations.item(i).text() for i in range(self.conversations.count())]

    def _on_current(self, item: QListWidgetItem | None, _previous: object = None) -> None:
        self.delete_button.setEnabled(item is not None)
        if item is None or self.asking:
            return
        conversation_id = str(item.data(CONVERSATION_ROLE))
        if conversation_id != self.conversation_id:
            self.open_conversation(conversation_id)

    def open_conversation(self, conversation_id: str) -> None:
        """Show one conversation (read from the agent)."""
        self.conversation_id = conversation_id
        self._host.call(
            lambda rt: jobs.assistant_conversation(rt, conversation_id),
            self._show_conversation,
            self._error,
        )

    def _show_conversation(self, view: ConversationView) -> None:
        if view.conversation.id != self.conversation_id or self.asking:
            return
        self._clear_chat()
        plans = {p.record.message_id: p for p in view.plans}
        for record in view.messages:
            self.messages[record.id] = record
            self._add_message(record)
            plan = plans.get(record.id)
            if plan is not None:
                self._add_card(plan)
                # Read before a decision made meanwhile, perhaps: read again now.
                self.refresh_plan(plan.record.id)
        self.stack.set_empty(not view.messages)
        self._scroll_to_end()

    def _add_message(self, record: MessageRecord) -> None:
        role = str(record.role)
        if role == "error":
            error = ErrorLabel(self.chat)
            error.show_error(record.text)
            self._append(error)
            return
        who = self.tr("You") if role == "user" else self._answered_by(record.provider)
        bubble = MessageBubble(who, record.text, message_id=record.id)
        if role == "user" and record.sent is not None:
            bubble.offer_sent()
            bubble.sent_requested.connect(self.show_sent)
        self._append(bubble)

    def _answered_by(self, provider: str | None) -> str:
        if provider is None or provider == "rules":
            return self.tr("Assistant (built-in rules)")
        return self.tr("Assistant (%1)").replace("%1", provider.split(" at ")[0])

    # -- asking ------------------------------------------------------------------------------

    def focus_input(self) -> None:
        """Put the cursor in the request box."""
        self.input.setFocus(Qt.FocusReason.OtherFocusReason)

    def new_conversation(self) -> None:
        """Start afresh: nothing selected, the empty state, the cursor in the box."""
        if self.asking:
            return
        self.conversation_id = None
        self.conversations.clearSelection()
        self.conversations.setCurrentRow(-1)
        self._clear_chat()
        self.stack.set_empty(True)
        self.message.hide()
        self.focus_input()

    def send(self) -> None:
        """Send the request typed (Enter); the box waits until it is answered."""
        text = self.input.text().strip()
        if not text or self.asking:
            return
        self.asking = True
        self._set_busy(True)
        self.message.hide()
        if self.conversation_id is None:
            self._clear_chat()
        self.stack.set_empty(False)
        self._request_bubble = MessageBubble(self.tr("You"), text)
        self._append(self._request_bubble)
        self._reply_text = ""
        bubble = MessageBubble(self.tr("Assistant"), self.tr("…"))
        self.reply_label = bubble.text
        self.reply_label.setAccessibleName(self.tr("The assistant's reply"))
        self._reply_bubble = bubble
        self._append(bubble)
        self._scroll_to_end()
        conversation_id, feed = self.conversation_id, self.feed
        future = self._host.call(
            lambda rt: jobs.assistant_ask(rt, text, conversation_id, feed.send),
            self._asked,
            self._ask_failed,
        )
        if future is None:
            return
        self.input.clear()

    def _set_busy(self, busy: bool) -> None:
        # Read-only rather than disabled: the cursor stays in the box (a disabled
        # box would hand the keyboard focus to the navigation rail).
        self.input.setReadOnly(busy)
        self.send_button.setEnabled(not busy)
        self.new_button.setEnabled(not busy)
        self.conversations.setEnabled(not busy)

    def _on_ask_event(self, event: AskEvent) -> None:
        data = event.data
        if event.kind == "conversation":
            self.conversation_id = str(data["conversation_id"])
        elif event.kind == "reply" and self.reply_label is not None:
            self._reply_text += str(data.get("text", ""))
            self.reply_label.setText(self._reply_text)
            self._scroll_to_end()
        elif event.kind == "plan":
            self._add_card(data["plan"])
            self._scroll_to_end()
        elif event.kind == "error":
            self._show_provider_error(str(data.get("message", "")), data.get("hint"))

    def _asked(self, outcome: AskOutcome) -> None:
        # The streamed answer stays where it is (a card being looked at is not
        # rebuilt); it takes the stored messages' ids and text.
        self.conversation_id = outcome.conversation_id
        request, answer = outcome.request, outcome.answer
        self.messages[request.id] = request
        self.messages[answer.id] = answer
        if self._request_bubble is not None:
            self._request_bubble.message_id = request.id
            if request.sent is not None:
                self._request_bubble.offer_sent()
                self._request_bubble.sent_requested.connect(self.show_sent)
        if self._reply_bubble is not None:
            if str(answer.role) == "error":
                self._drop(self._reply_bubble)
                error = ErrorLabel(self.chat)
                error.show_error(answer.text)
                self._append(error)
            else:
                self._reply_bubble.who.setText(self._answered_by(answer.provider))
                self._reply_bubble.text.setText(answer.text)
                self._reply_bubble.message_id = answer.id
        if outcome.plan is not None and outcome.plan.record.id not in self.cards:
            self._add_card(outcome.plan)
        self._finish_ask()
        self.refresh()

    def _ask_failed(self, error: AtomError) -> None:
        if self._reply_bubble is not None:
            self._drop(self._reply_bubble)
        self._finish_ask()
        self._show_provider_error(error.message, error.hint)
        if self.conversation_id is not None:
            self.refresh()

    def _finish_ask(self) -> None:
        self.asking = False
        self.reply_label = None
        self._request_bubble = None
        self._reply_bubble = None
        self._set_busy(False)
        self.focus_input()

    def _drop(self, widget: QWidget) -> None:
        self.chat_layout.removeWidget(widget)
        widget.hide()
        widget.deleteLater()

    def _show_provider_error(self, message: str, hint: object) -> None:
        text = message if not hint else f"{message}\n{hint}"
        self.message.show_error(text)

    # -- plans ---------------------------------------------------------------------------------

    def _add_card(self, view: PlanView) -> None:
        card = PlanCard(view)
        card.approve_requested.connect(self.approve)
        card.reject_requested.connect(self.reject_step)
        card.edit_requested.connect(self.edit_step)
        card.approve_all_requested.connect(self.approve_all)
        card.output_requested.connect(self.show_output)
        self.cards[view.record.id] = card
        self._append(card)

    def approve(self, plan_id: str, index: int, digest: str) -> None:
        """Approve one step as shown (its digest) and run what may run."""
        from atom_desktop.assistant.service import Decision  # noqa: PLC0415

        self._decide(plan_id, [Decision(index, True, digest)])

    def reject_step(self, plan_id: str, index: int) -> None:
        """Reject one step: it will not run."""
        from atom_desktop.assistant.service import Decision  # noqa: PLC0415

        self._decide(plan_id, [Decision(index, False)])

    def approve_all(self, plan_id: str) -> None:
        """Approve every proposed step as shown, and run the plan."""
        from atom_desktop.assistant.service import Decision  # noqa: PLC0415

        card = self.cards.get(plan_id)
        if card is None:
            return
        decisions = [
            Decision(s.record.index, True, s.record.digest)
            for s in card.view.steps
            if str(s.record.status) == "proposed"
        ]
        if decisions:
            self._decide(plan_id, decisions)

    def _decide(self, plan_id: str, decisions: list[Any]) -> None:
        self.message.hide()
        self._host.call(
            lambda rt: jobs.assistant_decide(rt, plan_id, decisions),
            self._changed,
            self._error,
        )

    def edit_step(self, plan_id: str, index: int) -> None:
        """Open the step's body in an editor; saved, it replaces the step (unapproved)."""
        card = self.cards.get(plan_id)
        if card is None:
            return
        step = next((s for s in card.view.steps if s.record.index == index), None)
        if step is None:
            return
        self._editing = (plan_id, index)
        self.edit_dialog = StepEditDialog(dict(step.record.body), index + 1, self)
        self.edit_dialog.accepted.connect(self._edited)
        self.edit_dialog.open()

    def _edited(self) -> None:
        if self.edit_dialog is None or self._editing is None:
            return
        (plan_id, index), body = self._editing, self.edit_dialog.body
        self._host.call(
            lambda rt: jobs.assistant_edit(rt, plan_id, index, body),
            self._changed,
            self._error,
        )

    def _changed(self, view: PlanView) -> None:
        self.refresh_plan(view.record.id)

    def refresh_plan(self, plan_id: str) -> None:
        """Read a plan again and show it on its card.

        One read per plan at a time, and one more if it changed meanwhile: reads
        run side by side on the agent and may end in any order, and an older
        state must never be shown over a newer one.
        """
        if plan_id in self._reading:
            self._stale.add(plan_id)
            return
        self._reading.add(plan_id)
        self._host.call(
            lambda rt: jobs.assistant_plan(rt, plan_id),
            self._plan_read,
            lambda error: self._plan_not_read(plan_id, error),
        )

    def _plan_read(self, view: PlanView) -> None:
        plan_id = view.record.id
        self._reading.discard(plan_id)
        card = self.cards.get(plan_id)
        if card is not None:
            card.set_view(view)
        if plan_id in self._stale:
            self._stale.discard(plan_id)
            self.refresh_plan(plan_id)

    def _plan_not_read(self, plan_id: str, error: AtomError) -> None:
        self._reading.discard(plan_id)
        self._stale.discard(plan_id)
        self._error(error)

    def show_output(self, run_id: str) -> None:
        """Show the run of a step in the Console."""
        self._host.call(lambda rt: jobs.run_record(rt, run_id), self._open_run, self._error)

    def _open_run(self, record: RunRecord) -> None:
        self.open_run.emit(record.id, run_command_text(record))

    def show_sent(self, message_id: str) -> None:
        """Show what went to the provider with a request."""
        record = self.messages.get(message_id)
        if record is None or record.sent is None:
            return
        self.sent_dialog = SentDialog(record.sent, self)
        self.sent_dialog.open()

    def _on_event(self, event: Event) -> None:
        payload = event.payload
        if not isinstance(payload, AssistantPlanChanged):
            return
        if payload.plan_id in self.cards:
            self.refresh_plan(payload.plan_id)
        elif payload.conversation_id == self.conversation_id and not self.asking:
            # A plan proposed in this conversation from elsewhere (the API, the command line).
            self.open_conversation(payload.conversation_id)

    # -- conversations ----------------------------------------------------------------------

    def delete_selected(self, *, confirm: bool = True) -> None:
        """Delete the selected conversation (after asking)."""
        item = self.conversations.currentItem()
        if item is None or self.asking:
            return
        conversation_id = str(item.data(CONVERSATION_ROLE))
        if confirm:
            answer = QMessageBox.question(
                self,
                self.tr("Delete conversation"),
                self.tr(
                    "Delete “%1” with its messages and plans? The runs its steps made stay "
                    "in the run history."
                ).replace("%1", item.text()),
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        self._host.call(
            lambda rt: jobs.assistant_delete(rt, conversation_id),
            self._deleted,
            self._error,
        )

    def _deleted(self, _result: None) -> None:
        self.new_conversation()
        self.refresh()

    # -- layout helpers -----------------------------------------------------------------------

    def _append(self, widget: QWidget) -> None:
        # Before the stretch that keeps the messages at the top.
        self.chat_layout.insertWidget(self.chat_layout.count() - 1, widget)

    def _clear_chat(self) -> None:
        while self.chat_layout.count() > 1:
            item = self.chat_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.hide()
                widget.deleteLater()
        self.cards = {}
        self.messages = {}

    def _scroll_to_end(self) -> None:
        QTimer.singleShot(0, self._scroll_bottom)

    def _scroll_bottom(self) -> None:
        bar = self.chat_scroll.verticalScrollBar()
        bar.setValue(bar.maximum())

    def _show_empty_words(self) -> None:
        runtime = self._host.runtime
        config = runtime.assistant.config if runtime is not None else None
        provider = config.provider if config is not None else None
        if provider is None:
            text = self.tr(
                "Type what you want done below. No AI provider is set up, so built-in rules "
                "read it.\n\nWithout an AI provider I understand:\nrun COMMAND\nevery weekday "
                "at 9 run COMMAND\nevery 15 minutes run COMMAND\nwhen a file in ~/FOLDER "
                "changes run COMMAND\nadd a task TITLE due tomorrow\nremind me to THING at 5pm"
                "\n\nNothing runs until you approve it."
            )
            action = self.tr("Set up an AI provider…")
        else:
            text = self.tr(
                "Say in your own words what you want done below. The AI provider (%1) "
                "proposes a plan of steps; nothing runs until you approve it (unless "
                "Settings → Assistant lets a kind of step run by itself)."
            ).replace("%1", f"{provider.model}")
            action = self.tr("Settings → Assistant…")
        self.empty.text.setText(text)
        self.empty.text.setAccessibleName(text)
        if self.empty.button is not None:
            self.empty.button.setText(action)
            self.empty.button.setAccessibleName(action)

    def _error(self, error: AtomError) -> None:
        self.message.show_error(str(error))
