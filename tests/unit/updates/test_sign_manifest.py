"""``packaging/sign-manifest``, run as the release pipeline runs it."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from atom_desktop.updates.signature import (
    private_key_from_text,
    public_key_from_text,
    verify_document,
)

TOOL = Path(__file__).resolve().parents[3] / "packaging" / "sign-manifest"

MANIFEST = {
    "format": 1,
    "version": "0.2.0",
    "released": "2026-12-01T00:00:00+00:00",
    "notes": "Faster start.",
    "platforms": {
        "linux-x86_64": {
            "url": "https://updates.example/atom-desktop-0.2.0-linux-x86_64.tar.gz",
            "sha256": "ab" * 32,
            "size": 1234,
        }
    },
}


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOL), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_new_key_makes_a_private_file_and_prints_only_the_public_key(tmp_path: Path) -> None:
    made = _run("--new-key", str(tmp_path / "keys"))
    assert made.returncode == 0, made.stderr
    private = tmp_path / "keys" / "update-signing-key.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    public_text = (tmp_path / "keys" / "update-public-key.txt").read_text().strip()
    assert public_text in made.stdout
    key = private_key_from_text(private.read_text())
    assert public_key_from_text(public_text) is not None
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    pem_body = private.read_text().splitlines()[1]
    for secret in (base64.b64encode(raw).decode(), pem_body, "PRIVATE KEY-----"):
        assert secret not in made.stdout + made.stderr
    # A second key never overwrites the first.
    again = _run("--new-key", str(tmp_path / "keys"))
    assert again.returncode == 1
    assert "not overwritten" in again.stderr
    assert private_key_from_text(private.read_text()) is not None


def test_signs_with_a_key_file_or_the_environment_and_the_app_accepts_it(tmp_path: Path) -> None:
    assert _run("--new-key", str(tmp_path)).returncode == 0
    key_file = tmp_path / "update-signing-key.pem"
    public = public_key_from_text((tmp_path / "update-public-key.txt").read_text())
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(MANIFEST, indent=2))

    from_file = _run("--key", str(key_file), str(manifest), "-o", str(tmp_path / "a.json"))
    assert from_file.returncode == 0, from_file.stderr
    raw = private_key_from_text(key_file.read_text()).private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    from_env = _run(str(manifest), env={"ATOM_UPDATE_SIGNING_KEY": base64.b64encode(raw).decode()})
    assert from_env.returncode == 0, from_env.stderr

    for document in ((tmp_path / "a.json").read_bytes(), from_env.stdout.encode()):
        assert verify_document(document, public).version == "0.2.0"
        # The signed text is the file's text exactly, not a re-serialisation.
        assert json.loads(document)["signed"] == manifest.read_text()
    checked = _run(
        "--check", (tmp_path / "update-public-key.txt").read_text(), str(tmp_path / "a.json")
    )
    assert checked.returncode == 0
    assert "Good signature" in checked.stdout


def test_refuses_a_manifest_the_app_would_refuse_and_a_missing_key(tmp_path: Path) -> None:
    assert _run("--new-key", str(tmp_path)).returncode == 0
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({**MANIFEST, "channel": "beta"}))
    refused = _run("--key", str(tmp_path / "update-signing-key.pem"), str(manifest))
    assert refused.returncode == 1
    assert "not valid, so it was not signed" in refused.stderr
    assert "channel" in refused.stderr
    assert refused.stdout == ""

    no_key = _run(str(manifest))
    assert no_key.returncode == 1
    assert "No signing key" in no_key.stderr

    bad_key = _run(str(manifest), env={"ATOM_UPDATE_SIGNING_KEY": "c2VjcmV0LW5vdC1hLWtleQ=="})
    assert bad_key.returncode == 1
    assert "not usable" in bad_key.stderr
    assert "c2VjcmV0LW5vdC1hLWtleQ==" not in bad_key.stderr
