"""The database-key policy against a real Secret Service (gnome-keyring on D-Bus)."""

from __future__ import annotations

import gc
import json
import os
from pathlib import Path

import keyring.backends.fail
import pytest
from keyrings.alt.file import PlaintextKeyring
from pydantic import SecretStr

from atom_desktop.config.paths import AppPaths
from atom_desktop.config.settings import Settings
from atom_desktop.core.redaction import Redactor
from atom_desktop.secrets.database_key import KEY_ENTRY, DatabaseKey, DatabaseKeyPolicy
from atom_desktop.secrets.errors import SecretsError
from atom_desktop.secrets.keyring_vault import KeyringState, KeyringVault, backend_name
from atom_desktop.secrets.profile import keyring_service
from atom_desktop.store.database import Database
from tests.support.secret_service import SecretServiceSession

SECRET_SERVICE = "keyring.backends.SecretService.Keyring"


def policy_for(
    settings: Settings, paths: AppPaths, backend: keyring.backend.KeyringBackend
) -> DatabaseKeyPolicy:
    vault = KeyringVault(keyring_service(paths.data_dir), backend)
    return DatabaseKeyPolicy(settings, paths, vault, Redactor())


def open_and_confirm(policy: DatabaseKeyPolicy, paths: AppPaths) -> DatabaseKey:
    """What the store service does: resolve, open, then record."""
    key = policy.resolve()
    Database.open(paths.database, key.key).close()
    policy.confirm(key)
    return key


def no_keyring() -> keyring.backends.fail.Keyring:
    return keyring.backends.fail.Keyring()


def test_first_start_makes_a_key_in_the_real_keyring(
    secret_service: SecretServiceSession, settings: Settings, paths: AppPaths
) -> None:
    policy = policy_for(settings, paths, secret_service.backend())
    key = open_and_confirm(policy, paths)
    assert key.storage == "keyring"
    assert key.keyring_backend == SECRET_SERVICE
    assert key.warning is None
    assert len(key.key) == 32
    # Really in the Secret Service: a fresh client reads the same value.
    stored = secret_service.backend().get_password(keyring_service(paths.data_dir), KEY_ENTRY)
    assert stored == key.key.hex()
    assert not policy.key_file_path.exists()
    record = json.loads(policy.record_path.read_text())
    assert record["storage"] == "keyring"
    assert record["keyring_backend"] == SECRET_SERVICE
    assert key.key.hex() not in policy.record_path.read_text()
    # The next start finds the same key.
    again = policy_for(settings, paths, secret_service.backend()).resolve()
    assert again.key == key.key


def test_key_from_environment(secret_service: SecretServiceSession, paths: AppPaths) -> None:
    hex_key = os.urandom(32).hex()
    settings = Settings(
        data_dir=paths.data_dir, config_dir=paths.config_dir, encryption_key=SecretStr(hex_key)
    )
    policy = policy_for(settings, paths, secret_service.backend())
    key = open_and_confirm(policy, paths)
    assert key.storage == "environment"
    assert key.key == bytes.fromhex(hex_key)
    assert secret_service.backend().get_password(keyring_service(paths.data_dir), KEY_ENTRY) is None
    assert not policy.key_file_path.exists()
    # Without the variable the database is not opened with some other key.
    plain = Settings(data_dir=paths.data_dir, config_dir=paths.config_dir)
    with pytest.raises(SecretsError, match="ATOM_ENCRYPTION_KEY"):
        policy_for(plain, paths, secret_service.backend()).resolve()


def test_no_keyring_means_a_private_key_file_outside_the_data_dir_with_a_warning(
    settings: Settings, paths: AppPaths
) -> None:
    policy = policy_for(settings, paths, no_keyring())
    key = open_and_confirm(policy, paths)
    assert key.storage == "file"
    assert key.key_file == policy.key_file_path
    assert policy.key_file_path.stat().st_mode & 0o777 == 0o600
    assert not policy.key_file_path.resolve().is_relative_to(paths.data_dir.resolve())
    assert policy.key_file_path.read_text().strip() == key.key.hex()
    assert key.warning is not None
    assert str(policy.key_file_path) in key.warning
    assert "no OS keyring" in key.warning
    # Every start warns again, and uses the same key.
    again = policy_for(settings, paths, no_keyring()).resolve()
    assert again.key == key.key
    assert again.warning == key.warning


def test_plaintext_keyring_backend_does_not_count_as_a_keyring(
    settings: Settings, paths: AppPaths, tmp_path: Path
) -> None:
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "plaintext.cfg")
    vault = KeyringVault(keyring_service(paths.data_dir), backend)
    assert vault.probe().state is KeyringState.PLAINTEXT
    key = DatabaseKeyPolicy(settings, paths, vault, Redactor()).resolve()
    assert key.storage == "file"
    assert key.warning is not None and "plaintext" in key.warning
    assert not (tmp_path / "plaintext.cfg").exists()


def test_strict_mode_refuses_a_key_file(paths: AppPaths) -> None:
    settings = Settings(data_dir=paths.data_dir, config_dir=paths.config_dir, key_storage="keyring")
    policy = policy_for(settings, paths, no_keyring())
    with pytest.raises(SecretsError, match="ATOM_KEY_STORAGE=keyring") as info:
        policy.resolve()
    assert "ATOM_ENCRYPTION_KEY" in str(info.value)  # says what to do
    assert not policy.key_file_path.exists()
    assert not paths.database.exists()


def test_wrong_key_is_reported_and_the_file_is_unchanged(
    secret_service: SecretServiceSession, settings: Settings, paths: AppPaths
) -> None:
    open_and_confirm(policy_for(settings, paths, secret_service.backend()), paths)
    before = paths.database.read_bytes()
    wrong = Settings(
        data_dir=paths.data_dir,
        config_dir=paths.config_dir,
        encryption_key=SecretStr(os.urandom(32).hex()),
    )
    with pytest.raises(SecretsError, match="not the key of the database") as info:
        policy_for(wrong, paths, secret_service.backend()).resolve()
    assert "left untouched" in str(info.value)
    assert paths.database.read_bytes() == before


def test_two_data_dirs_never_share_a_key(
    secret_service: SecretServiceSession, tmp_path: Path
) -> None:
    keys = []
    for name in ("one", "two"):
        paths = AppPaths.resolve(data_dir=tmp_path / name, config_dir=tmp_path / "shared-config")
        paths.ensure()
        settings = Settings(data_dir=paths.data_dir, config_dir=paths.config_dir)
        keys.append(open_and_confirm(policy_for(settings, paths, secret_service.backend()), paths))
    assert keys[0].key != keys[1].key
    assert keyring_service(tmp_path / "one") != keyring_service(tmp_path / "two")


def test_two_data_dirs_never_share_a_key_file(tmp_path: Path) -> None:
    files = set()
    for name in ("one", "two"):
        paths = AppPaths.resolve(data_dir=tmp_path / name, config_dir=tmp_path / "shared-config")
        paths.ensure()
        settings = Settings(data_dir=paths.data_dir, config_dir=paths.config_dir)
        policy = policy_for(settings, paths, no_keyring())
        open_and_confirm(policy, paths)
        files.add(policy.key_file_path.read_text())
    assert len(files) == 2


def test_lost_keyring_entry_is_reported_and_no_new_database_is_made(
    secret_service: SecretServiceSession, settings: Settings, paths: AppPaths
) -> None:
    open_and_confirm(policy_for(settings, paths, secret_service.backend()), paths)
    before = paths.database.read_bytes()
    secret_service.backend().delete_password(keyring_service(paths.data_dir), KEY_ENTRY)
    with pytest.raises(SecretsError, match="has no key for") as info:
        policy_for(settings, paths, secret_service.backend()).resolve()
    assert "left untouched" in str(info.value)
    assert paths.database.read_bytes() == before
    # Nothing new was stored in its place.
    assert secret_service.backend().get_password(keyring_service(paths.data_dir), KEY_ENTRY) is None


def test_keyring_gone_for_an_existing_database_is_a_refusal_not_a_fallback(
    secret_service: SecretServiceSession, settings: Settings, paths: AppPaths
) -> None:
    policy = policy_for(settings, paths, secret_service.backend())
    open_and_confirm(policy, paths)
    with pytest.raises(SecretsError, match="kept in the OS keyring"):
        policy_for(settings, paths, no_keyring()).resolve()
    assert not policy.key_file_path.exists()


# keyring's SecretService backend raises KeyringLocked without closing the
# D-Bus connection it opened; the ResourceWarning is theirs, collected here.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_locked_keyring_is_reported_as_locked(
    secret_service: SecretServiceSession, settings: Settings, paths: AppPaths
) -> None:
    open_and_confirm(policy_for(settings, paths, secret_service.backend()), paths)
    secret_service.lock()
    vault = KeyringVault(keyring_service(paths.data_dir), secret_service.backend())
    assert vault.probe().state is KeyringState.LOCKED
    with pytest.raises(SecretsError, match="is locked") as info:
        DatabaseKeyPolicy(settings, paths, vault, Redactor()).resolve()
    assert "Unlock" in str(info.value)
    gc.collect()


def test_changed_keyring_backend_is_reported(
    secret_service: SecretServiceSession, settings: Settings, paths: AppPaths
) -> None:
    policy = policy_for(settings, paths, secret_service.backend())
    open_and_confirm(policy, paths)
    record = json.loads(policy.record_path.read_text())
    record["keyring_backend"] = "keyring.backends.kwallet.DBusKeyring"
    policy.record_path.write_text(json.dumps(record))
    with pytest.raises(SecretsError, match="backend in use now is") as info:
        policy_for(settings, paths, secret_service.backend()).resolve()
    assert "kwallet" in str(info.value)
    assert backend_name(secret_service.backend()) in str(info.value)


def test_damaged_keyring_value_and_record_are_reported(
    secret_service: SecretServiceSession, settings: Settings, paths: AppPaths
) -> None:
    policy = policy_for(settings, paths, secret_service.backend())
    open_and_confirm(policy, paths)
    secret_service.backend().set_password(keyring_service(paths.data_dir), KEY_ENTRY, "garbage")
    with pytest.raises(SecretsError, match="does not hold a valid key"):
        policy_for(settings, paths, secret_service.backend()).resolve()
    policy.record_path.write_text("{not json")
    with pytest.raises(SecretsError, match=r"key record .* is damaged"):
        policy_for(settings, paths, secret_service.backend()).resolve()


def test_loose_key_file_permissions_are_tightened(settings: Settings, paths: AppPaths) -> None:
    policy = policy_for(settings, paths, no_keyring())
    open_and_confirm(policy, paths)
    policy.key_file_path.chmod(0o644)
    policy_for(settings, paths, no_keyring()).resolve()
    assert policy.key_file_path.stat().st_mode & 0o777 == 0o600


def test_key_file_inside_the_data_dir_is_refused(tmp_path: Path) -> None:
    paths = AppPaths.resolve(data_dir=tmp_path / "d", config_dir=tmp_path / "d" / "cfg")
    paths.ensure()
    settings = Settings(data_dir=paths.data_dir, config_dir=paths.config_dir)
    with pytest.raises(SecretsError, match="inside the data directory"):
        policy_for(settings, paths, no_keyring()).resolve()
