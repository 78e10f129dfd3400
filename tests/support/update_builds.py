"""Stand-in builds for update tests, and a fingerprint of an install tree.

A real one-folder build takes minutes to make, so the versions an update
test installs are small programs (Python scripts run by this interpreter)
packed as the real build is: a tarball with one top folder holding an
executable ``atom-desktop``. One plays a version that starts (it confirms its
trial through the app's own :func:`confirm_trial` and then runs until
ended); the other a version that fails at start. Everything around them —
signature, download, verification, unpacking, the switch, the trial and the
rollback — is the real code.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import tarfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from atom_desktop.updates.signature import sign_manifest

Behaviour = Literal["starts", "crashes", "hangs"]

_PROGRAMS: dict[Behaviour, str] = {
    "starts": """
import os, signal, sys, time
from atom_desktop.updates.trial import confirm_trial
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print("version {version} starting", flush=True)
confirm_trial()
deadline = time.monotonic() + 300  # never outlives a test run by much
while time.monotonic() < deadline:
    time.sleep(0.05)
""",
    "crashes": """
import sys
print("version {version}: cannot open the data directory (simulated start failure)",
      file=sys.stderr, flush=True)
sys.exit(3)
""",
    "hangs": """
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
deadline = time.monotonic() + 300
while time.monotonic() < deadline:
    time.sleep(0.05)
""",
}


def program_text(version: str, behaviour: Behaviour) -> str:
    """The stand-in program of ``version`` (run by this interpreter, which has the app)."""
    return f"#!{sys.executable}\n" + _PROGRAMS[behaviour].replace("{version}", version)


def build_tarball(version: str, behaviour: Behaviour) -> bytes:
    """A build as the release ships it: ``atom-desktop/atom-desktop`` and a data file."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        _add(archive, "atom-desktop/", None)
        _add(archive, "atom-desktop/atom-desktop", program_text(version, behaviour).encode(), 0o755)
        _add(archive, "atom-desktop/_internal/VERSION", f"{version}\n".encode(), 0o644)
        # Padding, so downloads span several chunks and can be cut in the middle.
        _add(archive, "atom-desktop/_internal/data.bin", os.urandom(600_000), 0o644)
    return buffer.getvalue()


def _add(archive: tarfile.TarFile, name: str, data: bytes | None, mode: int = 0o755) -> None:
    info = tarfile.TarInfo(name)
    info.mtime = 1_700_000_000
    if data is None:
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        archive.addfile(info)
        return
    info.size = len(data)
    info.mode = mode
    archive.addfile(info, io.BytesIO(data))


def install_version(root: Path, version: str, behaviour: Behaviour = "starts") -> Path:
    """Install a stand-in as ``root/versions/<version>`` (as a first install would); its program."""
    folder = root / "versions" / version
    (folder / "_internal").mkdir(parents=True)
    program = folder / "atom-desktop"
    program.write_text(program_text(version, behaviour), encoding="utf-8")
    program.chmod(0o755)
    (folder / "_internal" / "VERSION").write_text(f"{version}\n", encoding="utf-8")
    return program


def manifest_text(version: str, url: str, body: bytes, **platform_fields: object) -> str:
    """A manifest offering ``body`` at ``url`` as the Linux build of ``version``."""
    build = {"url": url, "sha256": hashlib.sha256(body).hexdigest(), "size": len(body)}
    build.update(platform_fields)
    return json.dumps(
        {
            "format": 1,
            "version": version,
            "released": datetime(2026, 12, 1, tzinfo=UTC).isoformat(),
            "notes": f"Version {version}: faster start.",
            "platforms": {"linux-x86_64": build},
        },
        indent=2,
    )


def signed(text: str, key: Ed25519PrivateKey) -> bytes:
    """The signed document of a manifest text."""
    return sign_manifest(text, key).encode("utf-8")


def tree_fingerprint(root: Path) -> dict[str, str]:
    """Every entry under ``root`` (but the handover's state) with its kind and content hash."""
    result: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if relative.split("/")[0] == ".update":
            continue
        if path.is_symlink():
            result[relative] = "link:" + str(path.readlink())
        elif path.is_dir():
            result[relative] = "dir"
        else:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            result[relative] = f"file:{oct(path.stat().st_mode & 0o777)}:{digest}"
    return result
