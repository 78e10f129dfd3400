"""Updates that must be refused: each says why and leaves the installed app as it was.

The app checks a real loopback server; the signature check, the download, the
verification and the unpacking are the code the app runs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from atom_desktop.updates.errors import DownloadRefusedError, ManifestRefusedError, UpdateError
from atom_desktop.updates.signature import key_id
from tests.integration.updates.conftest import UpdateLab
from tests.support.update_builds import build_tarball, manifest_text, signed, tree_fingerprint
from tests.support.update_server import Served, update_server

MANIFEST = "/stable/manifest.json"
BUILD = "/builds/atom-desktop-0.2.0-linux-x86_64.tar.gz"


def _tampered_manifest(lab: UpdateLab) -> None:
    # Someone with the server swaps the build's hash (and file) after signing.
    lab.release("0.2.0")
    other = build_tarball("0.2.0", "crashes")
    document = json.loads(lab.server.files[MANIFEST].body)
    inner = json.loads(document["signed"])
    inner["platforms"]["linux-x86_64"]["sha256"] = hashlib.sha256(other).hexdigest()
    inner["platforms"]["linux-x86_64"]["size"] = len(other)
    document["signed"] = json.dumps(inner, indent=2)
    lab.server.files[MANIFEST] = Served(json.dumps(document).encode())
    lab.server.files[BUILD] = Served(other)


def _wrong_signature(lab: UpdateLab) -> None:
    # Signed by another key that claims to be the release key.
    body = lab.release("0.2.0")
    forged = json.loads(
        signed(manifest_text("0.2.0", lab.server.url(BUILD), body), Ed25519PrivateKey.generate())
    )
    forged["key_id"] = key_id(lab.key.public_key())
    lab.server.files[MANIFEST] = Served(json.dumps(forged).encode())


def _another_key(lab: UpdateLab) -> None:
    body = lab.release("0.2.0")
    text = manifest_text("0.2.0", lab.server.url(BUILD), body)
    lab.server.files[MANIFEST] = Served(signed(text, Ed25519PrivateKey.generate()))


def _wrong_hash(lab: UpdateLab) -> None:
    # The manifest is genuine; the file on the server is another one of the same size.
    body = lab.release("0.2.0")
    lab.server.files[BUILD] = Served(bytes(reversed(body)))


def _truncated_download(lab: UpdateLab) -> None:
    body = lab.release("0.2.0")
    lab.server.files[BUILD] = Served(body, cut_after=len(body) // 2)


def _oversized_download(lab: UpdateLab) -> None:
    body = lab.release("0.2.0")
    lab.server.files[BUILD] = Served(body + b"\0" * 100_000)


def _downgrade(lab: UpdateLab) -> None:
    lab.release("0.0.9")


def _not_a_manifest(lab: UpdateLab) -> None:
    lab.server.files[MANIFEST] = Served(b"<html>captive portal</html>")


def _redirect_to_plain_http(lab: UpdateLab) -> None:
    # The build's address is genuine; the server sends the download elsewhere, unencrypted.
    lab.release("0.2.0")
    lab.server.redirects[BUILD] = "http://updates.example.invalid/atom-desktop.tar.gz"


def _redirect_with_a_password(lab: UpdateLab) -> None:
    lab.release("0.2.0")
    lab.server.redirects[MANIFEST] = f"http://user:secret@127.0.0.1:{lab.server.port}/m.json"


CASES: dict[str, tuple[Callable[[UpdateLab], None], type[UpdateError], str]] = {
    "tampered-manifest": (_tampered_manifest, ManifestRefusedError, "signature does not match"),
    "wrong-signature": (_wrong_signature, ManifestRefusedError, "signature does not match"),
    "another-key": (_another_key, ManifestRefusedError, "trusts only key"),
    "wrong-hash": (_wrong_hash, DownloadRefusedError, "SHA-256"),
    "truncated-download": (_truncated_download, DownloadRefusedError, "truncated"),
    "oversized-download": (_oversized_download, DownloadRefusedError, "the signed manifest says"),
    "downgrade": (_downgrade, ManifestRefusedError, "downgrades are refused"),
    "not-a-manifest": (_not_a_manifest, ManifestRefusedError, "not a signed manifest"),
    "redirect-to-plain-http": (_redirect_to_plain_http, UpdateError, "the redirect was refused"),
    "redirect-with-a-password": (_redirect_with_a_password, UpdateError, "user name or password"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_refused_with_a_clear_message_and_the_app_untouched(lab: UpdateLab, case: str) -> None:
    publish, error, words = CASES[case]
    publish(lab)
    before = tree_fingerprint(lab.root)
    updater = lab.updater()

    with pytest.raises(error) as refused:
        manifest = updater.check()
        assert manifest is not None
        artifact = updater.download(manifest)
        updater.prepare(manifest, artifact)

    message = str(refused.value)
    assert words in message
    assert "refused" in message or "deleted" in message
    assert tree_fingerprint(lab.root) == before
    assert lab.layout.installed_version() == "0.1.0"
    # Nothing half-downloaded is left, and a refused manifest fetched no build.
    assert not lab.cache.exists() or list(lab.cache.iterdir()) == []
    if error is ManifestRefusedError:
        assert lab.server.requests == [MANIFEST]


def test_a_genuine_update_is_downloaded_verified_and_unpacked_beside_the_app(
    lab: UpdateLab,
) -> None:
    body = lab.release("0.2.0")
    updater = lab.updater()
    progress: list[tuple[int, int]] = []

    manifest = updater.check()
    assert manifest is not None and manifest.version == "0.2.0"
    artifact = updater.download(manifest, lambda done, total: progress.append((done, total)))
    updater.prepare(manifest, artifact)

    assert artifact.read_bytes() == body
    assert progress[-1] == (len(body), len(body))
    assert lab.layout.executable("0.2.0").is_file()
    # Prepared is not applied: the installed version still starts.
    assert lab.layout.installed_version() == "0.1.0"
    # A second download of the same verified build is not fetched again.
    requests = len(lab.server.requests)
    assert updater.download(manifest) == artifact
    assert len(lab.server.requests) == requests


def test_a_redirect_to_another_loopback_server_is_followed(lab: UpdateLab) -> None:
    body = lab.release("0.2.0")
    with update_server() as mirror:
        mirror.files[BUILD] = Served(body)
        lab.server.redirects[BUILD] = mirror.url(BUILD)
        updater = lab.updater()
        manifest = updater.check()
        assert manifest is not None
        assert updater.download(manifest).read_bytes() == body
        assert mirror.requests == [BUILD]


def test_the_same_version_is_up_to_date(lab: UpdateLab) -> None:
    lab.release("0.1.0")
    assert lab.updater().check() is None


def test_an_unreachable_server_is_reported(lab: UpdateLab, tmp_path: Path) -> None:
    with pytest.raises(UpdateError, match="answered 404"):
        lab.updater().check()
