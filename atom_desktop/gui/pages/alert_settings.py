"""The Settings page's Alerts box: one checkbox per kind of alert.

A change applies at once (the running agent is told) and is saved to
``config.toml`` as ``alerts_<kind>``, so the next start keeps it; an
``ATOM_ALERTS_<KIND>`` environment variable still wins over the file there.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtWidgets import QCheckBox, QGroupBox, QLabel, QVBoxLayout, QWidget

from atom_desktop.config.config_file import ENV_PREFIX
from atom_desktop.config.config_update import update_config_file
from atom_desktop.config.settings import Settings
from atom_desktop.core.alert_kinds import AlertKind, setting_name
from atom_desktop.core.errors import AtomError
from atom_desktop.gui import jobs
from atom_desktop.gui.agent_host import AgentHost


class AlertSettingsBox(QGroupBox):
    """Which problems are told as a notification and the tray's error state."""

    def __init__(
        self, host: AgentHost, config_file: Path, settings: Settings, parent: QWidget | None = None
    ) -> None:
        super().__init__(self.tr("Alerts"), parent)
        self._host = host
        self._config_file = config_file
        labels = {
            AlertKind.AUTOMATION_FAILED: self.tr("An automation fails"),
            AlertKind.SERVICE_STOPPED: self.tr("A part of the agent stops with an error"),
            AlertKind.DISK_FULL: self.tr("The data folder's disk is almost full"),
            AlertKind.KEYRING_LOCKED: self.tr("The OS keyring is locked"),
            AlertKind.INTEGRATION_RECONNECT: self.tr("An integration needs reconnecting"),
        }
        intro = QLabel(
            self.tr(
                "Tell me with a notification, and the tray icon's error state until I open "
                "the window, when:"
            )
        )
        intro.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        self.boxes: dict[AlertKind, QCheckBox] = {}
        for kind in AlertKind:
            box = QCheckBox(labels[kind])
            box.setAccessibleName(self.tr("Alert: {0}").format(labels[kind]))
            box.setChecked(bool(getattr(settings, setting_name(kind))))
            box.toggled.connect(lambda checked, k=kind: self._save(k, checked))
            layout.addWidget(box)
            self.boxes[kind] = box
        self.note = QLabel()
        self.note.setWordWrap(True)
        layout.addWidget(self.note)
        host.when_started(self.refresh)

    def refresh(self) -> None:
        """Show what the running agent uses (the file may have changed since the start)."""
        runtime = self._host.runtime
        if runtime is None:
            return
        for kind, box in self.boxes.items():
            box.blockSignals(True)
            box.setChecked(runtime.alerts.enabled(kind))
            box.blockSignals(False)

    def _save(self, kind: AlertKind, enabled: bool) -> None:
        name = setting_name(kind)
        try:
            update_config_file(self._config_file, {name: enabled})
        except (AtomError, OSError) as exc:
            self.note.setText(self.tr("Not saved: {0}").format(exc))
            return
        self._host.call(lambda rt: jobs.set_alert_enabled(rt, kind, enabled), None, self._error)
        env_name = f"{ENV_PREFIX}{name.upper()}"
        if os.environ.get(env_name):
            self.note.setText(
                self.tr("Saved to {0}, but {1} is set in the environment and wins there.").format(
                    self._config_file, env_name
                )
            )
        else:
            self.note.setText(self.tr("Saved to {0}.").format(self._config_file))

    def _error(self, error: AtomError) -> None:
        self.note.setText(str(error))
