"""The manifest model, its signature and the order of release numbers."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from atom_desktop.core.update_address import check_url
from atom_desktop.updates.errors import ManifestRefusedError
from atom_desktop.updates.manifest import Manifest
from atom_desktop.updates.signature import (
    key_id,
    public_key_from_text,
    public_key_text,
    sign_manifest,
    verify_document,
)
from atom_desktop.updates.version import Release, is_release


def _manifest(**changes: Any) -> dict[str, Any]:
    build = {"url": "https://u.example/b.tar.gz", "sha256": "0f" * 32, "size": 10}
    data: dict[str, Any] = {
        "format": 1,
        "version": "0.2.0",
        "released": "2026-12-01T00:00:00Z",
        "notes": "n",
        "platforms": {"linux-x86_64": build},
    }
    for key, value in changes.items():
        if key in build:
            build[key] = value
        else:
            data[key] = value
    return data


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"format": 2}, "format"),
        ({"channel": "beta"}, "Extra inputs"),
        ({"version": "0.2.0rc1"}, "not a release number"),
        ({"version": "01.2"}, "not a release number"),
        ({"released": "2026-12-01T00:00:00"}, "timezone"),
        ({"platforms": {}}, "at least 1"),
        ({"platforms": {"linux-riscv": {}}}, "linux-x86_64"),
        ({"sha256": "0F" * 32}, "pattern"),
        ({"sha256": "0f" * 31}, "pattern"),
        ({"size": 0}, "greater than 0"),
        ({"size": 3 * 1024**3}, "less than or equal"),
        ({"url": "http://u.example/b.tar.gz"}, "not an allowed update address"),
        ({"url": "ftp://u.example/b"}, "not an allowed update address"),
        ({"url": "https://user:pw@u.example/b"}, "user name or password"),
    ],
    ids=lambda value: json.dumps(value, sort_keys=True)[:40] if isinstance(value, dict) else value,
)
def test_the_model_refuses(changes: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        Manifest.model_validate(_manifest(**changes))


def test_the_model_accepts_a_release() -> None:
    manifest = Manifest.model_validate(_manifest())
    assert manifest.release == Release("0.2")


@pytest.mark.parametrize(
    "url",
    [
        "https://u.example/m.json",
        "http://127.0.0.1:8000/m.json",
        "http://localhost/m",
        "http://[::1]:9/m",
    ],
)
def test_https_or_loopback_http_are_allowed(url: str) -> None:
    assert check_url(url) == url


@pytest.mark.parametrize(
    ("older", "newer"),
    [("0.1.0", "0.2.0"), ("0.9", "0.10"), ("1.2.3", "1.2.4"), ("1", "1.0.1"), ("0.1.9", "1.0")],
)
def test_release_order(older: str, newer: str) -> None:
    assert Release(older) < Release(newer)
    assert not Release(newer) < Release(older)


def test_trailing_zeros_do_not_count() -> None:
    assert Release("1.0.0") == Release("1") == Release("1.0")
    assert hash(Release("1.0.0")) == hash(Release("1"))


@pytest.mark.parametrize("text", ["", "1.", ".1", "1.2.3.4.5", "v1.0", "1.0-beta", "01", "1.02"])
def test_not_release_numbers(text: str) -> None:
    assert not is_release(text)
    with pytest.raises(ValueError, match="not a release number"):
        Release(text)


def test_signed_bytes_are_the_text_as_written() -> None:
    key = Ed25519PrivateKey.generate()
    # Odd spacing and key order survive: the signature is over these bytes.
    text = json.dumps(_manifest(), indent=7, sort_keys=True) + "\n\n"
    document = json.loads(sign_manifest(text, key))
    assert document["signed"] == text
    assert document["key_id"] == key_id(key.public_key())
    assert verify_document(json.dumps(document).encode(), key.public_key()).version == "0.2.0"


def test_one_changed_byte_breaks_the_signature() -> None:
    key = Ed25519PrivateKey.generate()
    document = json.loads(sign_manifest(json.dumps(_manifest()), key))
    document["signed"] = document["signed"].replace('"notes": "n"', '"notes": "m"')
    with pytest.raises(ManifestRefusedError, match="signature does not match"):
        verify_document(json.dumps(document).encode(), key.public_key())


def test_a_garbled_signature_is_refused() -> None:
    key = Ed25519PrivateKey.generate()
    document = json.loads(sign_manifest(json.dumps(_manifest()), key))
    document["signature"] = "not base64!"
    with pytest.raises(ManifestRefusedError, match="signature does not match"):
        verify_document(json.dumps(document).encode(), key.public_key())


def test_a_document_too_large_is_refused_unread() -> None:
    key = Ed25519PrivateKey.generate()
    with pytest.raises(ManifestRefusedError, match="more than"):
        verify_document(b" " * (300 * 1024), key.public_key())


def test_public_key_text_round_trip_and_refusals() -> None:
    key = Ed25519PrivateKey.generate().public_key()
    assert key_id(public_key_from_text(public_key_text(key))) == key_id(key)
    with pytest.raises(ValueError, match="not base64"):
        public_key_from_text("%%%")
    with pytest.raises(ValueError, match="has 3 bytes"):
        public_key_from_text(base64.b64encode(b"abc").decode())
