"""A keyring that would prompt first: nothing prompts unless asked, and the answer decides.

A real gnome-keyring on a private D-Bus with no default keyring (a first
login without a login keyring) and no prompter: a prompt, if one is made, is
dismissed at once, which is what a cancelled prompt looks like to the app.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from atom_desktop.config.paths import AppPaths
from atom_desktop.config.settings import Settings
from atom_desktop.core.redaction import Redactor
from atom_desktop.secrets.database_key import (
    CHOSEN_FILE,
    DatabaseKey,
    DatabaseKeyPolicy,
    KeyChoice,
    KeyStorageQuestion,
)
from atom_desktop.secrets.errors import SecretsError
from atom_desktop.secrets.keyring_vault import KeyringState, KeyringVault
from atom_desktop.secrets.profile import keyring_service
from atom_desktop.store.database import Database
from tests.support.secret_service import SecretServiceSession, running_secret_service

pytestmark = pytest.mark.keyring


@pytest.fixture
def fresh_keyring(tmp_path: Path) -> Iterator[SecretServiceSession]:
    with running_secret_service(tmp_path / "keyring-home", login_keyring=False) as session:
        yield session


class Answers:
    """Answers the questions in order and keeps what was asked."""

    def __init__(self, *choices: KeyChoice) -> None:
        self._choices = list(choices)
        self.asked: list[KeyStorageQuestion] = []

    def __call__(self, question: KeyStorageQuestion) -> KeyChoice:
        self.asked.append(question)
        return self._choices.pop(0)


def start(
    settings: Settings, paths: AppPaths, session: SecretServiceSession, ask: Answers | None
) -> DatabaseKey:
    vault = KeyringVault(keyring_service(paths.data_dir), session.backend())
    policy = DatabaseKeyPolicy(settings, paths, vault, Redactor(), ask)
    key = policy.resolve()
    Database.open(paths.database, key.key).close()
    policy.confirm(key)
    return key


def test_the_probe_reports_a_missing_default_keyring_without_making_one(
    fresh_keyring: SecretServiceSession, paths: AppPaths
) -> None:
    status = KeyringVault(keyring_service(paths.data_dir), fresh_keyring.backend()).probe()
    assert status.state is KeyringState.NOT_SET_UP
    assert status.needs_prompt and not status.usable
    assert "has no default keyring yet" in status.explain()
    assert not fresh_keyring.has_default_collection()


def test_with_no_one_to_ask_the_key_goes_to_a_file_and_nothing_prompts(
    fresh_keyring: SecretServiceSession, settings: Settings, paths: AppPaths
) -> None:
    key = start(settings, paths, fresh_keyring, None)
    assert key.storage == "file"
    assert key.describe().startswith(f"key file {key.key_file}, not in an OS keyring: when")
    assert "has no default keyring yet" in key.describe()
    assert not fresh_keyring.has_default_collection()


def test_keep_in_a_file_is_remembered_with_its_reason_at_every_start(
    fresh_keyring: SecretServiceSession, settings: Settings, paths: AppPaths
) -> None:
    answers = Answers(KeyChoice.FILE)
    key = start(settings, paths, fresh_keyring, answers)
    assert [q.file_allowed for q in answers.asked] == [True]
    assert key.storage == "file" and key.reason == CHOSEN_FILE
    assert key.warning is not None and CHOSEN_FILE in key.warning
    record = json.loads((paths.data_dir / "key-record.json").read_text())
    assert record["storage"] == "file" and record["reason"] == CHOSEN_FILE

    # The next start asks nothing and says the same, in the same words.
    again = start(settings, paths, fresh_keyring, Answers())
    assert again.key == key.key
    assert (again.describe(), again.warning) == (key.describe(), key.warning)
    assert not fresh_keyring.has_default_collection()


# keyring's SecretService backend raises InitError without closing the D-Bus
# connection it opened; the ResourceWarning is theirs, collected here.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_dismissed_prompt_asks_again_saying_why(
    fresh_keyring: SecretServiceSession, settings: Settings, paths: AppPaths
) -> None:
    answers = Answers(KeyChoice.KEYRING, KeyChoice.FILE)
    key = start(settings, paths, fresh_keyring, answers)
    assert [q.last_try is None for q in answers.asked] == [True, False]
    assert "still not usable" in answers.asked[1].text()
    assert key.storage == "file" and key.reason == CHOSEN_FILE
    gc.collect()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # as above
def test_only_the_keyring_will_do_when_the_settings_say_so(
    fresh_keyring: SecretServiceSession, settings: Settings, paths: AppPaths
) -> None:
    strict = settings.model_copy(update={"key_storage": "keyring"})
    # A "file" answer cannot be given (the window hides it); here it counts as "try again".
    answers = Answers(KeyChoice.FILE)

    def then_stop(question: KeyStorageQuestion) -> KeyChoice:
        if answers.asked:
            raise SecretsError("stopped while asking")
        return answers(question)

    vault = KeyringVault(keyring_service(paths.data_dir), fresh_keyring.backend())
    policy = DatabaseKeyPolicy(strict, paths, vault, Redactor(), then_stop)
    with pytest.raises(SecretsError, match="stopped while asking"):
        policy.resolve()
    assert [q.file_allowed for q in answers.asked] == [False]
    assert not (paths.config_dir / "keys").exists()
    gc.collect()
