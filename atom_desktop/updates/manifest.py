"""The update manifest: which release is current, and where each system's build is.

The manifest is JSON validated by a strict model (unknown fields are refused,
so a typo in the release tooling cannot pass unnoticed). It is never trusted
on its own: :mod:`atom_desktop.updates.signature` checks its signature first.
"""

from __future__ import annotations

import platform
import sys
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from atom_desktop.core.update_address import check_url
from atom_desktop.updates.version import Release

#: Builds are single files of at most this size; more is a mistake or an attack.
MAX_BUILD_BYTES = 2 * 1024**3
PlatformName = Literal["linux-x86_64", "windows-x86_64", "macos-arm64"]


class PlatformBuild(BaseModel):
    """One system's build: where it is, its SHA-256 and its exact size."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(max_length=2000)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="lower-case hex")
    size: int = Field(gt=0, le=MAX_BUILD_BYTES, description="bytes")

    @field_validator("url")
    @classmethod
    def _allowed_url(cls, value: str) -> str:
        return check_url(value)


class Manifest(BaseModel):
    """A release: its number, date, notes, and a build per system."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal[1] = Field(description="the manifest's format version")
    version: str = Field(max_length=40)
    released: AwareDatetime
    notes: str = Field(default="", max_length=20_000)
    platforms: dict[PlatformName, PlatformBuild] = Field(min_length=1)

    @field_validator("version")
    @classmethod
    def _release_number(cls, value: str) -> str:
        Release(value)
        return value

    @property
    def release(self) -> Release:
        """The version as an ordered release number."""
        return Release(self.version)


def this_platform() -> PlatformName | None:
    """The manifest's name for the system this runs on; None for one we do not build for."""
    machine = platform.machine().lower()
    if sys.platform.startswith("linux") and machine in ("x86_64", "amd64"):
        return "linux-x86_64"
    if sys.platform == "win32" and machine in ("x86_64", "amd64"):
        return "windows-x86_64"
    if sys.platform == "darwin" and machine == "arm64":
        return "macos-arm64"
    return None


def validation_problems(exc: ValidationError) -> str:
    """What is wrong with a manifest, one "field: problem" after another."""
    return "; ".join(
        f"{'.'.join(str(p) for p in error['loc']) or 'manifest'}: {error['msg']}"
        for error in exc.errors()
    )
