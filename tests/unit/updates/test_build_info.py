"""Whether and where a copy of the app checks for updates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from atom_desktop.core.events import EventBus
from atom_desktop.updates.app_updates import app_update_service
from atom_desktop.updates.build_info import load_update_source
from atom_desktop.updates.service import RunControl
from atom_desktop.updates.signature import key_id, public_key_text
from atom_desktop.updates.status import UpdateState
from tests.support.update_builds import install_version

KEY = Ed25519PrivateKey.generate().public_key()


def _build(folder: Path, **info: object) -> Path:
    program = folder / "atom-desktop"
    folder.mkdir(parents=True, exist_ok=True)
    program.write_text("")
    if info:
        (folder / "build-info.json").write_text(json.dumps(info))
    return program


def _info() -> dict[str, object]:
    return {"update_url": "https://u.example/m.json", "update_public_key": public_key_text(KEY)}


@pytest.mark.parametrize(
    ("frozen", "check", "info", "reason"),
    [
        (False, True, True, "Running from source: update with git."),
        (True, False, True, "Checking for updates is turned off in Settings."),
        (True, True, False, "This build was made without an update key."),
    ],
    ids=["from-source", "opted-out", "no-key"],
)
def test_updates_are_off_and_say_why(
    tmp_path: Path, frozen: bool, check: bool, info: bool, reason: str
) -> None:
    program = _build(tmp_path / "app", **(_info() if info else {}))
    source = load_update_source(
        frozen=frozen, executable=program, url_setting=None, check_setting=check
    )
    assert not source.enabled
    assert source.off == reason


def test_the_build_names_the_key_and_a_setting_may_name_a_mirror(tmp_path: Path) -> None:
    program = _build(tmp_path / "app", **_info())
    source = load_update_source(
        frozen=True, executable=program, url_setting=None, check_setting=True
    )
    assert source.enabled and source.url == "https://u.example/m.json"
    assert source.public_key is not None and key_id(source.public_key) == key_id(KEY)
    mirror = load_update_source(
        frozen=True,
        executable=program,
        url_setting="https://mirror.corp.example/m.json",
        check_setting=True,
    )
    assert mirror.url == "https://mirror.corp.example/m.json"
    assert mirror.public_key is not None and key_id(mirror.public_key) == key_id(KEY)


def test_a_macos_bundle_keeps_it_in_resources(tmp_path: Path) -> None:
    program = _build(tmp_path / "ATOM Desktop.app" / "Contents" / "MacOS")
    resources = tmp_path / "ATOM Desktop.app" / "Contents" / "Resources"
    resources.mkdir()
    (resources / "build-info.json").write_text(json.dumps(_info()))
    assert load_update_source(
        frozen=True, executable=program, url_setting=None, check_setting=True
    ).enabled


@pytest.mark.parametrize(
    ("info", "words"),
    [
        ("{not json", "cannot be read"),
        ('["a list"]', "not a JSON object"),
        (
            json.dumps({"update_url": "https://u.example/m", "update_public_key": "AAAA"}),
            "not usable",
        ),
        (json.dumps({"update_public_key": public_key_text(KEY)}), "names no update address"),
        (
            json.dumps(
                {"update_url": "http://u.example/m", "update_public_key": public_key_text(KEY)}
            ),
            "not an allowed update address",
        ),
    ],
    ids=["not-json", "not-object", "bad-key", "no-url", "plain-http"],
)
def test_unusable_build_information_turns_updates_off(
    tmp_path: Path, info: str, words: str
) -> None:
    program = _build(tmp_path / "app")
    (tmp_path / "app" / "build-info.json").write_text(info)
    source = load_update_source(
        frozen=True, executable=program, url_setting=None, check_setting=True
    )
    assert not source.enabled
    assert source.off is not None and words in source.off


async def _nothing() -> None:
    return None


def _service_for(program: Path, tmp_path: Path, check: bool = True) -> UpdateState:
    service = app_update_service(
        check=check,
        url_setting=None,
        cache_dir=tmp_path / "cache",
        bus=EventBus(),
        runs=RunControl(lambda: 0, lambda: False, _nothing, _nothing),
        quit_app=lambda: None,
        health_url=lambda: "http://127.0.0.1:1/api/v1/health",
        environ={},
        frozen=True,
        executable=program,
        argv=[],
    )
    return service.status.state


def test_a_build_outside_the_install_layout_does_not_update_itself(tmp_path: Path) -> None:
    program = _build(tmp_path / "unpacked", **_info())
    assert _service_for(program, tmp_path) is UpdateState.OFF


def test_an_installed_build_with_a_key_checks(tmp_path: Path) -> None:
    program = install_version(tmp_path / "install", "0.1.0")
    (program.parent / "build-info.json").write_text(json.dumps(_info()))
    assert _service_for(program, tmp_path) is UpdateState.IDLE
    assert _service_for(program, tmp_path, check=False) is UpdateState.OFF
