"""The signed manifest document: ed25519 over the exact bytes of the manifest text.

The document is ``{"signed": "<manifest JSON as text>", "signature":
"<base64>", "key_id": "<fingerprint>"}``. Signing the text as it is, rather
than a re-serialised object, means nothing has to be canonicalised: the
verifier checks the very bytes it then parses. The private key lives only
with whoever signs releases (``packaging/sign-manifest``); the app carries
the public key, from its build.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from atom_desktop.updates.errors import ManifestRefusedError
from atom_desktop.updates.manifest import Manifest, validation_problems

#: A signed manifest larger than this is refused before it is parsed.
MAX_DOCUMENT_BYTES = 256 * 1024


class SignedDocument(BaseModel):
    """The file the update server serves: the manifest text and its signature."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    signed: str = Field(min_length=2, max_length=MAX_DOCUMENT_BYTES)
    signature: str = Field(min_length=1, max_length=200)
    key_id: str = Field(min_length=1, max_length=64)


def public_key_from_text(text: str) -> Ed25519PublicKey:
    """An ed25519 public key from its base64 raw form (32 bytes); ValueError if it is not one."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except binascii.Error:
        raise ValueError("the update key is not base64") from None
    if len(raw) != 32:
        raise ValueError(f"the update key has {len(raw)} bytes; an ed25519 key has 32")
    return Ed25519PublicKey.from_public_bytes(raw)


def public_key_text(key: Ed25519PublicKey) -> str:
    """The base64 raw form of a public key (what a build carries)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def private_key_from_text(text: str) -> Ed25519PrivateKey:
    """A signing key from a PEM (PKCS#8, unencrypted) or base64 raw 32-byte form.

    The error never repeats the text it was given: it is a secret.
    """
    stripped = text.strip()
    if stripped.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(stripped.encode("ascii"), password=None)
        except (ValueError, TypeError):
            raise ValueError("the signing key is PEM but not an unencrypted private key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the signing key is not an ed25519 key")
        return key
    try:
        raw = base64.b64decode(stripped, validate=True)
    except binascii.Error:
        raise ValueError("the signing key is neither PEM nor base64") from None
    if len(raw) != 32:
        raise ValueError(f"the signing key has {len(raw)} bytes; an ed25519 key has 32")
    return Ed25519PrivateKey.from_private_bytes(raw)


def key_id(key: Ed25519PublicKey) -> str:
    """A short fingerprint of a public key: the first 16 hex digits of its SHA-256."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def sign_manifest(manifest_text: str, key: Ed25519PrivateKey) -> str:
    """The signed document (JSON text) for ``manifest_text``, which must be a valid manifest."""
    Manifest.model_validate_json(manifest_text)
    signature = key.sign(manifest_text.encode("utf-8"))
    document = SignedDocument(
        signed=manifest_text,
        signature=base64.b64encode(signature).decode("ascii"),
        key_id=key_id(key.public_key()),
    )
    return json.dumps(document.model_dump(), indent=2) + "\n"


def verify_document(data: bytes, key: Ed25519PublicKey) -> Manifest:
    """The manifest in a signed document, once its signature by ``key`` checks out.

    Raises :class:`ManifestRefusedError` saying why: not a signed document, signed
    with another key, a signature that does not match (the text was changed
    after signing), or a manifest that is not valid.
    """
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ManifestRefusedError(
            f"The update manifest is {len(data)} bytes, more than the {MAX_DOCUMENT_BYTES} "
            "a manifest may have; it was refused."
        )
    try:
        document = SignedDocument.model_validate_json(data)
    except ValidationError:
        raise ManifestRefusedError(
            "The update manifest is not a signed manifest document "
            "({signed, signature, key_id}); it was refused.",
            hint="Check the update address: it should serve what packaging/sign-manifest wrote.",
        ) from None
    expected = key_id(key)
    if document.key_id != expected:
        raise ManifestRefusedError(
            f"The update manifest was signed with key {document.key_id}, but this build "
            f"trusts only key {expected}; it was refused.",
            hint="Sign releases with the key whose public half was given to the build.",
        )
    try:
        signature = base64.b64decode(document.signature, validate=True)
        key.verify(signature, document.signed.encode("utf-8"))
    except (binascii.Error, InvalidSignature):
        raise ManifestRefusedError(
            f"The update manifest's signature does not match its content (key {expected}): "
            "it was changed after signing, or not signed by this key. It was refused and "
            "nothing was downloaded."
        ) from None
    try:
        return Manifest.model_validate_json(document.signed)
    except ValidationError as exc:
        problems = validation_problems(exc)
        raise ManifestRefusedError(
            f"The update manifest is signed but not valid ({problems}); it was refused."
        ) from None
