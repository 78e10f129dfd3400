"""A key record without its database is refused; ``set_aside`` is the way to start fresh.

Against a real Secret Service (gnome-keyring on D-Bus) and real SQLCipher files.
"""

from __future__ import annotations

import os
from datetime import datetime

import keyring.backends.fail
import pytest
from pydantic import SecretStr

from atom_desktop.config.paths import AppPaths
from atom_desktop.config.settings import Settings
from atom_desktop.core.ids import IdFactory
from atom_desktop.core.redaction import Redactor
from atom_desktop.secrets.database_key import KEY_ENTRY, DatabaseKeyPolicy, set_aside
from atom_desktop.secrets.errors import SecretsError
from atom_desktop.secrets.keyring_vault import KeyringVault
from atom_desktop.secrets.profile import keyring_service
from atom_desktop.store.database import Database
from atom_desktop.store.task_types import TaskCreate
from atom_desktop.store.tasks import TaskRepository
from tests.support.secret_service import SecretServiceSession


def policy_for(
    settings: Settings, paths: AppPaths, backend: keyring.backend.KeyringBackend
) -> DatabaseKeyPolicy:
    vault = KeyringVault(keyring_service(paths.data_dir), backend)
    return DatabaseKeyPolicy(settings, paths, vault, Redactor())


def start(policy: DatabaseKeyPolicy, paths: AppPaths, *, add: str | None = None) -> list[str]:
    """What the store service does (resolve, open, record), plus a task; the titles."""
    key = policy.resolve()
    db = Database.open(paths.database, key.key, key_verified=policy.record_path.exists())
    try:
        policy.confirm(key)
        tasks = TaskRepository(db, IdFactory())
        if add is not None:
            tasks.create(TaskCreate(title=add))
        return [task.title for task in tasks.page().items]
    finally:
        db.close()


def stored_key(secret_service: SecretServiceSession, paths: AppPaths) -> str | None:
    value: str | None = secret_service.backend().get_password(
        keyring_service(paths.data_dir), KEY_ENTRY
    )
    return value


@pytest.mark.parametrize("damage", ["deleted", "emptied"])
def test_a_missing_or_empty_database_beside_its_key_record_is_refused(
    secret_service: SecretServiceSession, settings: Settings, paths: AppPaths, damage: str
) -> None:
    policy = policy_for(settings, paths, secret_service.backend())
    start(policy, paths, add="mine")
    key_before = stored_key(secret_service, paths)
    record_before = policy.record_path.read_bytes()
    if damage == "deleted":
        paths.database.unlink()
    else:
        paths.database.write_bytes(b"")

    with pytest.raises(SecretsError) as info:
        policy_for(settings, paths, secret_service.backend()).resolve()

    message = str(info.value)
    assert str(paths.database) in message
    assert ("is missing" if damage == "deleted" else "is empty (0 bytes)") in message
    assert str(policy.record_path) in message
    assert "OS keyring (keyring.backends.SecretService.Keyring)" in message
    assert "backup" in message
    assert "--reset-data" in message
    # Nothing changed: no database made, the record and the key as they were.
    assert paths.database.exists() == (damage == "emptied")
    if damage == "emptied":
        assert paths.database.stat().st_size == 0
    assert policy.record_path.read_bytes() == record_before
    assert stored_key(secret_service, paths) == key_before


def test_the_right_key_from_the_environment_does_not_make_a_new_database_either(
    paths: AppPaths,
) -> None:
    hex_key = os.urandom(32).hex()
    settings = Settings(
        data_dir=paths.data_dir, config_dir=paths.config_dir, encryption_key=SecretStr(hex_key)
    )
    policy = policy_for(settings, paths, keyring.backends.fail.Keyring())
    start(policy, paths)
    paths.database.unlink()
    with pytest.raises(SecretsError, match="is missing") as info:
        policy.resolve()
    assert "ATOM_ENCRYPTION_KEY" in str(info.value)
    assert not paths.database.exists()


def test_a_missing_database_with_a_key_file_is_refused_and_the_key_file_kept(
    settings: Settings, paths: AppPaths
) -> None:
    policy = policy_for(settings, paths, keyring.backends.fail.Keyring())
    start(policy, paths)
    key_file = policy.key_file_path.read_bytes()
    paths.database.unlink()
    with pytest.raises(SecretsError, match="is missing") as info:
        policy.resolve()
    assert str(policy.key_file_path) in str(info.value)
    assert policy.key_file_path.read_bytes() == key_file


def test_set_aside_moves_the_data_and_a_put_back_database_opens_again(
    secret_service: SecretServiceSession, settings: Settings, paths: AppPaths
) -> None:
    policy = policy_for(settings, paths, secret_service.backend())
    assert start(policy, paths, add="before the reset") == ["before the reset"]
    key = stored_key(secret_service, paths)
    (paths.data_dir / "atom.db-wal").write_bytes(b"")  # as a killed agent leaves it
    old = {p.name: p.read_bytes() for p in paths.data_dir.iterdir() if p.is_file()}

    folder = set_aside(paths, datetime(2025, 3, 4, 5, 6, 7))

    assert folder == paths.data_dir / "reset-20250304-050607"
    assert folder.stat().st_mode & 0o777 == 0o700
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == old
    assert not [p for p in paths.data_dir.iterdir() if p.is_file()]
    # The key stayed in the keyring; the fresh start is empty and uses it too.
    assert stored_key(secret_service, paths) == key
    assert start(policy_for(settings, paths, secret_service.backend()), paths) == []

    # Putting the old files back (the new ones set aside) brings the data back.
    assert set_aside(paths, datetime(2025, 3, 4, 5, 6, 7)) == folder.with_name(
        "reset-20250304-050607-2"
    )
    for moved in folder.iterdir():
        moved.rename(paths.data_dir / moved.name)
    restored = policy_for(settings, paths, secret_service.backend())
    assert start(restored, paths) == ["before the reset"]


def test_set_aside_with_nothing_to_move_makes_no_folder(paths: AppPaths) -> None:
    assert set_aside(paths) is None
    assert not list(paths.data_dir.glob("reset-*"))


def test_a_set_aside_stopped_half_way_is_refused_not_replaced(
    secret_service: SecretServiceSession, settings: Settings, paths: AppPaths
) -> None:
    """The record moves last: with only the database gone, the next start refuses."""
    policy = policy_for(settings, paths, secret_service.backend())
    start(policy, paths)
    folder = paths.data_dir / "reset-by-hand"
    folder.mkdir()
    paths.database.rename(folder / paths.database.name)
    with pytest.raises(SecretsError, match="is missing"):
        policy_for(settings, paths, secret_service.backend()).resolve()
    assert not paths.database.exists()
