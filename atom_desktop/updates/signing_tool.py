"""``packaging/sign-manifest``: make the release key pair, sign a manifest, check a signed one.

::

    sign-manifest --new-key DIR                     make a key pair; prints the public key
    sign-manifest --key FILE manifest.json [-o OUT] sign (or the key in ATOM_UPDATE_SIGNING_KEY)
    sign-manifest --check KEY signed.json           verify with a public key (base64)

The private key is read from a file (PEM or base64 raw) or from the
environment, and is never printed, logged or written anywhere but the
0600 file ``--new-key`` makes. The manifest is validated with the model the
app uses, so a manifest the app would refuse is not signed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from atom_desktop.core.private_file import create_private
from atom_desktop.updates.errors import UpdateError
from atom_desktop.updates.manifest import validation_problems
from atom_desktop.updates.signature import (
    key_id,
    private_key_from_text,
    public_key_from_text,
    public_key_text,
    sign_manifest,
    verify_document,
)

#: Where the release pipeline gives the signing key when it is not in a file.
SIGNING_KEY_ENV = "ATOM_UPDATE_SIGNING_KEY"
PRIVATE_KEY_NAME = "update-signing-key.pem"
PUBLIC_KEY_NAME = "update-public-key.txt"
PROG = "sign-manifest"


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``sign-manifest``."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Sign an ATOM Desktop update manifest with the release key (ed25519).",
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument(
        "--new-key",
        type=Path,
        metavar="DIR",
        help="make a key pair in DIR and print its public key",
    )
    action.add_argument(
        "--check", metavar="PUBLIC_KEY", help="verify a signed manifest with this base64 public key"
    )
    parser.add_argument(
        "--key",
        type=Path,
        metavar="FILE",
        help=f"the private key (PEM or base64); default: the environment's {SIGNING_KEY_ENV}",
    )
    parser.add_argument("manifest", nargs="?", type=Path, help="the manifest JSON to sign")
    parser.add_argument("-o", "--output", type=Path, help="where to write (default: stdout)")
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run the tool; the exit code (0, 1 when refused, 2 for a wrong command line)."""
    args = build_parser().parse_args(argv)
    env = os.environ if environ is None else environ
    try:
        if args.new_key is not None:
            return _new_key(args.new_key)
        if args.manifest is None:
            raise UpdateError("Name the manifest file to sign (or use --new-key DIR).")
        if args.check is not None:
            return _check(args.check, args.manifest)
        return _sign(args.manifest, _signing_key(args.key, env), args.output)
    except UpdateError as exc:
        sys.stderr.write(f"{PROG}: {exc}\n")
        return exc.exit_code


def _new_key(folder: Path) -> int:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    private_path = folder / PRIVATE_KEY_NAME
    try:
        create_private(private_path, pem)
    except FileExistsError:
        raise UpdateError(
            f"{private_path} exists; it is not overwritten (a lost release key cannot be "
            "replaced in the apps already built). Choose another folder."
        ) from None
    public = public_key_text(key.public_key())
    (folder / PUBLIC_KEY_NAME).write_text(public + "\n", encoding="utf-8")
    sys.stdout.write(
        f"Private key: {private_path} (mode 0600; keep it secret and backed up)\n"
        f"Key id: {key_id(key.public_key())}\n"
        f"Public key (give it to the build as ATOM_UPDATE_PUBLIC_KEY):\n{public}\n"
    )
    return 0


def _signing_key(path: Path | None, env: Mapping[str, str]) -> Ed25519PrivateKey:
    if path is not None:
        try:
            text = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise UpdateError(f"The signing key {path} cannot be read: {exc}.") from None
        where = str(path)
    else:
        text = env.get(SIGNING_KEY_ENV, "")
        where = SIGNING_KEY_ENV
        if not text.strip():
            raise UpdateError(f"No signing key: give --key FILE or set {SIGNING_KEY_ENV}.")
    try:
        return private_key_from_text(text)
    except ValueError as exc:
        raise UpdateError(f"The signing key in {where} is not usable: {exc}.") from None


def _sign(manifest: Path, key: Ed25519PrivateKey, output: Path | None) -> int:
    try:
        text = manifest.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UpdateError(f"The manifest {manifest} cannot be read: {exc}.") from None
    try:
        document = sign_manifest(text, key)
    except ValidationError as exc:
        problems = validation_problems(exc)
        raise UpdateError(
            f"The manifest {manifest} is not valid, so it was not signed: {problems}."
        ) from None
    if output is None:
        sys.stdout.write(document)
    else:
        output.write_text(document, encoding="utf-8")
        sys.stderr.write(f"{PROG}: signed with key {key_id(key.public_key())}: {output}\n")
    return 0


def _check(public_key: str, signed: Path) -> int:
    try:
        key = public_key_from_text(public_key)
    except ValueError as exc:
        raise UpdateError(f"The public key is not usable: {exc}.") from None
    try:
        data = signed.read_bytes()
    except OSError as exc:
        raise UpdateError(f"The signed manifest {signed} cannot be read: {exc}.") from None
    manifest = verify_document(data, key)
    platforms = ", ".join(sorted(manifest.platforms))
    sys.stdout.write(
        f"Good signature (key {key_id(key)}): version {manifest.version} ({platforms})\n"
    )
    return 0
