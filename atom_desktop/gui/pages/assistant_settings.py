"""Settings → Assistant: the AI provider, what it may read, and what runs without asking.

Save writes the provider, its address and model, the consent and the kinds
of step that run by themselves to ``config.toml`` and applies them to the
running agent at once. The API key goes to the OS keyring only (never to the
file) and is never shown again: the box only says whether one is stored.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from atom_desktop.config.config_file import ENV_PREFIX
from atom_desktop.config.config_update import update_config_file
from atom_desktop.config.settings import Settings
from atom_desktop.core.errors import AtomError
from atom_desktop.gui import jobs
from atom_desktop.gui.agent_host import AgentHost
from atom_desktop.gui.error_label import ErrorLabel
from atom_desktop.gui.style import muted
from atom_desktop.gui.translations import english_plural

# Types only: the providers (httpx) load on the agent thread.
if TYPE_CHECKING:
    from atom_desktop.assistant.providers.choice import ProviderChoice
    from atom_desktop.assistant.providers.openai_compatible import StructuredMode

#: The providers offered: the setting's value and its label.
PROVIDERS = (
    ("none", QT_TRANSLATE_NOOP("AssistantSettingsBox", "None (built-in rules only)")),
    (
        "openai_compatible",
        QT_TRANSLATE_NOOP(
            "AssistantSettingsBox", "OpenAI-compatible (OpenAI, Ollama, llama.cpp, LM Studio)"
        ),
    ),
    ("anthropic", QT_TRANSLATE_NOOP("AssistantSettingsBox", "Anthropic")),
)
STRUCTURED = (
    ("json_schema", QT_TRANSLATE_NOOP("AssistantSettingsBox", "JSON schema (response_format)")),
    (
        "json_object",
        QT_TRANSLATE_NOOP("AssistantSettingsBox", "JSON object with a schema (llama-cpp-python)"),
    ),
    ("tools", QT_TRANSLATE_NOOP("AssistantSettingsBox", "Tool call (for servers without it)")),
)
#: The kinds of step (the assistant's StepKind) with their labels.
KINDS = (
    ("shell", QT_TRANSLATE_NOOP("AssistantSettingsBox", "Shell commands")),
    ("http", QT_TRANSLATE_NOOP("AssistantSettingsBox", "HTTP requests")),
    ("notify", QT_TRANSLATE_NOOP("AssistantSettingsBox", "Notifications")),
    ("task_create", QT_TRANSLATE_NOOP("AssistantSettingsBox", "Adding tasks")),
    ("task_update", QT_TRANSLATE_NOOP("AssistantSettingsBox", "Changing tasks")),
    ("automation", QT_TRANSLATE_NOOP("AssistantSettingsBox", "Creating automations")),
)
#: The providers' own addresses, used when the base URL is left empty
#: (the providers' modules say the same; they load httpx, so not imported here).
DEFAULT_URLS = {
    "openai_compatible": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
}


def _tr(text: str) -> str:
    return QCoreApplication.translate("AssistantSettingsBox", text)


class AssistantSettingsBox(QGroupBox):
    """The assistant's provider, key, consent and approval settings."""

    #: Saved and applied.
    saved = Signal()

    def __init__(
        self, host: AgentHost, config_file: Path, settings: Settings, parent: QWidget | None = None
    ) -> None:
        super().__init__(self.tr("Assistant"), parent)
        self._host = host
        self._config_file = config_file

        intro = QLabel(
            self.tr(
                "The Assistant page turns a request in plain words into a plan of steps. With "
                "no AI provider, built-in rules understand a few forms of request offline."
            )
        )
        intro.setWordWrap(True)

        self.provider = QComboBox()
        for value, label in PROVIDERS:
            self.provider.addItem(_tr(str(label)), value)
        self.provider.setAccessibleName(self.tr("AI provider"))
        self.base_url = QLineEdit(settings.assistant_base_url or "")
        self.base_url.setAccessibleName(self.tr("Base URL"))
        self.model = QComboBox()
        self.model.setEditable(True)
        self.model.setAccessibleName(self.tr("Model"))
        self.model.setMinimumContentsLength(24)
        self.model.setCurrentText(settings.assistant_model or "")
        self.load_models_button = QPushButton(self.tr("Load models"))
        self.load_models_button.setAccessibleName(self.tr("Load the provider's models"))
        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(self.load_models_button)
        self.key = QLineEdit()
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setAccessibleName(self.tr("API key"))
        self.key_state = muted(QLabel())
        self.key_state.setWordWrap(True)
        self.forget_key_button = QPushButton(self.tr("Forget key"))
        self.forget_key_button.setAccessibleName(self.tr("Remove the API key from the keyring"))
        key_row = QHBoxLayout()
        key_row.addWidget(self.key, 1)
        key_row.addWidget(self.forget_key_button)
        self.structured = QComboBox()
        for value, label in STRUCTURED:
            self.structured.addItem(_tr(str(label)), value)
        self.structured.setAccessibleName(self.tr("Structured output"))
        self.structured.setCurrentIndex(
            max(0, self.structured.findData(settings.assistant_structured_output))
        )
        self.test_button = QPushButton(self.tr("Test"))
        self.test_button.setAccessibleName(self.tr("Test the AI provider"))
        self.test_result = QLabel()
        self.test_result.setWordWrap(True)
        self.test_result.setAccessibleName(self.tr("Test result"))
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.test_result, 1)

        form = QFormLayout()
        form.addRow(self.tr("Provider:"), self.provider)
        form.addRow(self.tr("Base URL:"), self.base_url)
        form.addRow(self.tr("Model:"), model_row)
        form.addRow(self.tr("API key:"), key_row)
        form.addRow("", self.key_state)
        form.addRow(self.tr("Structured output:"), self.structured)
        form.addRow("", test_row)

        # Consent: nothing of the person's data goes to the provider unless ticked.
        self.share_tasks = QCheckBox(self.tr("Open tasks"))
        self.share_tasks.setAccessibleName(self.tr("Send open tasks to the provider"))
        self.share_tasks.setChecked(settings.assistant_share_tasks)
        self.share_runs = QCheckBox(self.tr("Recent runs and the end of their output"))
        self.share_runs.setAccessibleName(self.tr("Send recent runs to the provider"))
        self.share_runs.setChecked(settings.assistant_share_runs)
        self.share_automations = QCheckBox(self.tr("Automations"))
        self.share_automations.setAccessibleName(self.tr("Send automations to the provider"))
        self.share_automations.setChecked(settings.assistant_share_automations)
        self.context_tokens = QSpinBox()
        self.context_tokens.setRange(200, 100_000)
        self.context_tokens.setSingleStep(500)
        self.context_tokens.setValue(settings.assistant_context_tokens)
        self.context_tokens.setSuffix(self.tr(" tokens"))
        self.context_tokens.setAccessibleName(self.tr("At most this much context per request"))
        consent = QGroupBox(self.tr("With each request, the provider may read:"))
        consent_layout = QVBoxLayout(consent)
        for box in (self.share_tasks, self.share_runs, self.share_automations):
            consent_layout.addWidget(box)
        budget = QHBoxLayout()
        budget.addWidget(QLabel(self.tr("At most:")))
        budget.addWidget(self.context_tokens)
        budget.addStretch(1)
        consent_layout.addLayout(budget)
        consent_note = muted(
            QLabel(
                self.tr(
                    "Nothing is sent unless ticked; secrets the agent knows of are masked "
                    "first, and “What did you send?” on each request shows what went."
                )
            )
        )
        consent_note.setWordWrap(True)
        consent_layout.addWidget(consent_note)

        # Approval: which kinds of step run without asking.
        self.auto: dict[str, QCheckBox] = {}
        auto = QGroupBox(self.tr("Run without my approval:"))
        auto_layout = QVBoxLayout(auto)
        kinds = QGridLayout()
        for place, (kind, label) in enumerate(KINDS):
            box = QCheckBox(_tr(str(label)))
            box.setAccessibleName(self.tr("Run without approval: %1").replace("%1", box.text()))
            box.setChecked(kind in settings.assistant_auto_kinds)
            box.toggled.connect(self._warn)
            kinds.addWidget(box, place // 3, place % 3)
            self.auto[kind] = box
        kinds.setColumnStretch(3, 1)
        auto_layout.addLayout(kinds)
        self.auto_warning = ErrorLabel()
        self.auto_warning.setAccessibleName(self.tr("Approval warning"))
        auto_layout.addWidget(self.auto_warning)

        self.save_button = QPushButton(self.tr("Save"))
        self.save_button.setAccessibleName(self.tr("Save the assistant settings"))
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setAccessibleName(self.tr("Assistant settings message"))
        save_row = QHBoxLayout()
        save_row.addWidget(self.save_button)
        save_row.addWidget(self.note, 1)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(consent)
        layout.addWidget(auto)
        layout.addLayout(save_row)

        self.provider.setCurrentIndex(max(0, self.provider.findData(settings.assistant_provider)))
        self._provider_changed()
        self._warn()
        self.provider.currentIndexChanged.connect(self._provider_changed)
        self.load_models_button.clicked.connect(self.load_models)
        self.test_button.clicked.connect(self.test)
        self.save_button.clicked.connect(self.save)
        self.forget_key_button.clicked.connect(self.forget_key)
        self.base_url.editingFinished.connect(self.refresh_key_state)
        host.when_started(self.refresh_key_state)

    # -- state ------------------------------------------------------------------------------

    def kind(self) -> str:
        """The provider chosen ("none", "openai_compatible" or "anthropic")."""
        return str(self.provider.currentData())

    def url(self) -> str:
        """The base URL given, or the provider's own."""
        return self.base_url.text().strip() or DEFAULT_URLS.get(self.kind(), "")

    def values(self) -> dict[str, Any]:
        """The settings as the box shows them, by their config.toml names."""
        return {
            "assistant_provider": self.kind(),
            "assistant_base_url": self.base_url.text().strip() or None,
            "assistant_model": self.model.currentText().strip() or None,
            "assistant_structured_output": str(self.structured.currentData()),
            "assistant_share_tasks": self.share_tasks.isChecked(),
            "assistant_share_runs": self.share_runs.isChecked(),
            "assistant_share_automations": self.share_automations.isChecked(),
            "assistant_context_tokens": self.context_tokens.value(),
            "assistant_auto_kinds": tuple(k for k, box in self.auto.items() if box.isChecked()),
        }

    def _provider_changed(self) -> None:
        kind = self.kind()
        chosen = kind != "none"
        for widget in (
            self.base_url,
            self.model,
            self.load_models_button,
            self.key,
            self.forget_key_button,
            self.test_button,
        ):
            widget.setEnabled(chosen)
        self.structured.setEnabled(kind == "openai_compatible")
        self.base_url.setPlaceholderText(
            self.tr("empty: %1").replace("%1", DEFAULT_URLS[kind]) if chosen else ""
        )
        self.refresh_key_state()

    def _warn(self) -> None:
        chosen = [box.text() for box in self.auto.values() if box.isChecked()]
        if not chosen:
            self.auto_warning.hide()
            return
        text = self.tr("%1 will run as soon as they are proposed, without asking you.").replace(
            "%1", ", ".join(chosen)
        )
        if self.auto["shell"].isChecked():
            text += " " + self.tr(
                "Shell commands can do anything you can: delete files, send data away. Only "
                "the deny list still stops them. This is dangerous."
            )
        self.auto_warning.show_error(text)

    def refresh_key_state(self) -> None:
        """Say whether a key for the chosen provider and address is in the keyring."""
        kind = self.kind()
        if kind == "none":
            self.key_state.setText(self.tr("No AI provider: no key needed."))
            self.key.setPlaceholderText("")
            return
        if not self._host.is_running:
            return
        url = self.url()
        self._host.call(
            lambda rt: jobs.assistant_key_state(rt, kind, url), self._show_key_state, self._note
        )

    def _show_key_state(self, state: jobs.AssistantSettingsView) -> None:
        if not state.keyring_usable:
            text = self.tr(
                "No usable OS keyring: a key cannot be stored (local servers need none)."
            )
        elif state.has_key:
            text = self.tr("A key is stored in the OS keyring for this provider and address.")
        else:
            text = self.tr("No key stored (local servers such as Ollama need none).")
        self.key_state.setText(text)
        self.key.setPlaceholderText(
            self.tr("stored; type a new one to replace it")
            if state.has_key
            else self.tr("kept in the OS keyring only")
        )
        self.forget_key_button.setEnabled(state.has_key and self.kind() != "none")

    # -- actions ------------------------------------------------------------------------------

    def _choice(self) -> ProviderChoice | None:
        from atom_desktop.assistant.providers.choice import ProviderChoice  # noqa: PLC0415

        kind, model = self.kind(), self.model.currentText().strip()
        if kind == "none":
            self.test_result.setText(self.tr("Choose a provider first."))
            return None
        if not model and kind == "anthropic":
            self.test_result.setText(self.tr("Choose a model first."))
            return None
        return ProviderChoice(
            kind="anthropic" if kind == "anthropic" else "openai_compatible",
            model=model,
            base_url=self.url(),
            structured=_structured_mode(self.structured.currentData()),
        )

    def test(self) -> None:
        """Ask the provider for a one-word answer; show it, or the error with its hint."""
        choice = self._choice()
        if choice is None:
            return
        if not choice.model:
            self.test_result.setText(self.tr("Choose a model first."))
            return
        key = self.key.text().strip() or None
        self.test_result.setText(self.tr("Testing…"))
        self.test_button.setEnabled(False)
        self._host.call(
            lambda rt: jobs.assistant_check(rt, choice, key), self._tested, self._test_failed
        )

    def _tested(self, answer: str) -> None:
        self.test_button.setEnabled(True)
        said = self.tr("It works. The model answered: “%1”").replace("%1", answer)
        self.test_result.setText(said)

    def _test_failed(self, error: AtomError) -> None:
        self.test_button.setEnabled(True)
        self.test_result.setText(str(error))

    def load_models(self) -> None:
        """Fill the model list from the provider's own list."""
        choice = self._choice()
        if choice is None:
            return
        key = self.key.text().strip() or None
        self.test_result.setText(self.tr("Loading the models…"))
        self._host.call(
            lambda rt: jobs.assistant_models(rt, choice, key), self._show_models, self._test_failed
        )

    def _show_models(self, models: list[str]) -> None:
        current = self.model.currentText()
        self.model.clear()
        self.model.addItems(models)
        self.model.setCurrentText(current or (models[0] if models else ""))
        count = len(models)
        self.test_result.setText(english_plural(self.tr("%n model(s) offered.", "", count), count))

    def save(self) -> None:
        """Write the settings to config.toml, the key to the keyring, and apply them now."""
        values = self.values()
        try:
            update_config_file(self._config_file, values)
        except (AtomError, OSError) as exc:
            self.note.setText(self.tr("Not saved: %1").replace("%1", str(exc)))
            return
        note = self.tr("Saved to %1 and in use.").replace("%1", str(self._config_file))
        # The environment wins over the file at the next start (as for every setting).
        overridden = sorted(
            n for n in os.environ if n.upper().startswith(ENV_PREFIX + "ASSISTANT_")
        )
        if overridden:
            note += " " + self.tr(
                "At the next start, the environment wins over the file for: %1."
            ).replace("%1", ", ".join(overridden))
        self.note.setText(note)
        key, kind, url = self.key.text().strip(), self.kind(), self.url()
        if key and kind != "none":
            self._host.call(
                lambda rt: jobs.assistant_store_key(rt, kind, url, key),
                self._key_stored,
                self._key_failed,
            )
        self._host.call(lambda rt: jobs.assistant_configure(rt, values), self._applied, self._note)

    def _applied(self, _result: None) -> None:
        self.saved.emit()

    def _key_stored(self, _result: None) -> None:
        self.key.clear()
        self.refresh_key_state()

    def _key_failed(self, error: AtomError) -> None:
        self.key.clear()
        self.note.setText(
            self.tr("Settings saved, but the key was not: %1").replace("%1", str(error))
        )

    def forget_key(self) -> None:
        """Remove the chosen provider's key from the keyring."""
        kind, url = self.kind(), self.url()
        if kind == "none":
            return
        self._host.call(
            lambda rt: jobs.assistant_forget_key(rt, kind, url),
            lambda _: self.refresh_key_state(),
            self._note,
        )

    def _note(self, error: AtomError) -> None:
        self.note.setText(str(error))


def _structured_mode(value: object) -> StructuredMode:
    """The combo's value as a mode (JSON schema for anything it does not name)."""
    if value in ("json_object", "tools"):
        return value
    return "json_schema"
