"""The Settings page's Updates box: the opt-out, the status line and "Install now"."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from atom_desktop.config.config_update import update_config_file
from atom_desktop.core.errors import AtomError
from atom_desktop.core.events import Event
from atom_desktop.gui import jobs
from atom_desktop.gui.agent_host import AgentHost
from atom_desktop.updates.status import UpdateState, UpdateStatus, UpdateStatusChanged


def describe(status: UpdateStatus) -> str:  # noqa: PLR0911 - one line per state
    """The status line for a person."""
    state, message = status.state, status.message
    match state:
        case UpdateState.OFF:
            return f"Updates are off. {message or ''}".strip()
        case UpdateState.IDLE:
            return f"Version {status.installed}. The first check follows shortly."
        case UpdateState.CHECKING:
            return "Checking for updates…"
        case UpdateState.UP_TO_DATE:
            return f"Up to date (version {status.installed})."
        case UpdateState.AVAILABLE:
            return f"Version {status.available} is available."
        case UpdateState.DOWNLOADING:
            done = f" ({100 * status.received // status.total} %)" if status.total else ""
            return f"Downloading version {status.available}{done}…"
        case _:
            return message or state.value


class UpdatesBox(QGroupBox):
    """Whether to check, what the checks found, and a button to install a downloaded update."""

    def __init__(
        self, host: AgentHost, config_file: Path, check: bool, parent: QWidget | None = None
    ) -> None:
        super().__init__("Updates", parent)
        self._host = host
        self._config_file = config_file
        self.check = QCheckBox(self.tr("Check for updates at start and once a day"))
        self.check.setAccessibleName(self.tr("Check for updates"))
        self.check.setChecked(check)
        self.status = QLabel("—")
        self.status.setWordWrap(True)
        self.status.setAccessibleName(self.tr("Update status"))
        self.notes = QLabel()
        self.notes.setWordWrap(True)
        self.notes.hide()
        self.check_now_button = QPushButton(self.tr("Check now"))
        self.check_now_button.setAccessibleName(self.tr("Check for updates now"))
        self.install_button = QPushButton(self.tr("Install now"))
        self.install_button.setAccessibleName(self.tr("Install the downloaded update now"))
        self.install_button.setToolTip(
            self.tr("Waits for active runs to end, then restarts ATOM Desktop in the new version")
        )
        self.note = QLabel()
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.check)
        layout.addWidget(self.status)
        layout.addWidget(self.notes)
        buttons = QHBoxLayout()
        buttons.addWidget(self.check_now_button)
        buttons.addWidget(self.install_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        layout.addWidget(self.note)

        self.check.toggled.connect(self._save_check)
        self.check_now_button.clicked.connect(self.check_now)
        self.install_button.clicked.connect(self.install_now)
        host.agent_event.connect(self._on_event)
        host.when_started(self.refresh)
        self.show_status(None)

    def refresh(self) -> None:
        """Show the agent's update status now."""
        runtime = self._host.runtime
        self.show_status(runtime.updates.status if runtime is not None else None)

    def show_status(self, status: UpdateStatus | None) -> None:
        """Show ``status`` (None before the agent runs)."""
        if status is None:
            self.status.setText("—")
            self.install_button.setEnabled(False)
            self.check_now_button.setEnabled(False)
            return
        self.status.setText(describe(status))
        self.notes.setText(status.notes or "")
        self.notes.setVisible(bool(status.notes) and status.state is not UpdateState.UP_TO_DATE)
        self.install_button.setEnabled(status.state is UpdateState.READY)
        self.check_now_button.setEnabled(
            status.state
            not in (
                UpdateState.OFF,
                UpdateState.APPLYING,
                UpdateState.HANDING_OVER,
                UpdateState.CHECKING,
            )
        )

    def check_now(self) -> None:
        """Ask the agent to check now."""
        self._host.call(jobs.check_for_update, self.show_status, self._error)

    def install_now(self) -> None:
        """Install the downloaded update (after active runs end)."""
        self._host.call(jobs.install_update, self.show_status, self._error)

    def _on_event(self, event: Event) -> None:
        if isinstance(event.payload, UpdateStatusChanged):
            self.refresh()

    def _save_check(self, checked: bool) -> None:
        try:
            update_config_file(self._config_file, {"update_check": checked})
        except (AtomError, OSError) as exc:
            self.note.setText(self.tr("Not saved: {0}").format(exc))
            return
        self.note.setText(
            self.tr("Saved to {0}; used from the next start.").format(self._config_file)
        )

    def _error(self, error: AtomError) -> None:
        self.note.setText(str(error))
