"""An install of version 0.1.0, a signing key, and a loopback update server."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from atom_desktop.updates.build_info import UpdateSource
from atom_desktop.updates.linux_layout import LinuxLayout
from atom_desktop.updates.trial import end_tree
from atom_desktop.updates.updater import Updater
from tests.support.update_builds import (
    Behaviour,
    build_tarball,
    install_version,
    manifest_text,
    signed,
)
from tests.support.update_server import Served, UpdateServer, update_server

INSTALLED = "0.1.0"


@dataclass
class UpdateLab:
    """An installed app, the release key, and the server it checks."""

    root: Path
    layout: LinuxLayout
    cache: Path
    key: Ed25519PrivateKey
    server: UpdateServer

    @property
    def manifest_url(self) -> str:
        """Where the app looks for the signed manifest."""
        return self.server.url("/stable/manifest.json")

    def source(self) -> UpdateSource:
        """The update source a build made with the lab's key would have."""
        return UpdateSource(self.manifest_url, self.key.public_key())

    def updater(self) -> Updater:
        """An updater for the installed app (a Linux x86-64 build)."""
        return Updater(
            self.source(),
            installer=self.layout,
            installed=INSTALLED,
            platform="linux-x86_64",
            cache_dir=self.cache,
        )

    def release(self, version: str, behaviour: Behaviour = "starts") -> bytes:
        """Publish ``version`` (build and signed manifest); the build's bytes."""
        body = build_tarball(version, behaviour)
        path = f"/builds/atom-desktop-{version}-linux-x86_64.tar.gz"
        self.server.files[path] = Served(body)
        text = manifest_text(version, self.server.url(path), body)
        self.server.files["/stable/manifest.json"] = Served(signed(text, self.key))
        return body


@contextmanager
def update_lab(tmp_path: Path) -> Iterator[UpdateLab]:
    """Version 0.1.0 installed under ``tmp_path``, a new key, and a server, until the block ends."""
    root = tmp_path / "install"
    install_version(root, INSTALLED)
    layout = LinuxLayout(root)
    layout.activate(INSTALLED)
    with update_server() as server:
        yield UpdateLab(root, layout, tmp_path / "cache", Ed25519PrivateKey.generate(), server)


@contextmanager
def running_version(lab: UpdateLab, version: str = INSTALLED) -> Iterator[subprocess.Popen[bytes]]:
    """``version`` running (the app that asks for the update); ended when the block ends."""
    process = subprocess.Popen(
        [str(lab.layout.executable(version))],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        end_tree(process)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[UpdateLab]:
    with update_lab(tmp_path) as made:
        yield made


@pytest.fixture
def old_app(lab: UpdateLab) -> Iterator[subprocess.Popen[bytes]]:
    """The installed version running, as the app that asks for the update."""
    with running_version(lab) as process:
        yield process
