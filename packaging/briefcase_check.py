"""Load a staged pyproject.toml with Briefcase's own config loader, for every target.

    build/packaging-venv/bin/python packaging/briefcase_check.py build/briefcase/pyproject.toml

For each target ATOM Desktop is built for (TARGETS), this makes the command
Briefcase itself would run for ``briefcase package PLATFORM FORMAT`` and
calls its ``parse_config``: the same code that reads pyproject.toml when
Briefcase starts (TOML, PEP 621 metadata, license, the global and the app
configuration with the platform's and the format's tables merged in, app name
and bundle checks, the sources). It needs no network and no platform tools, so
it runs on any system. It then checks that the icon files the platform's
template asks for exist.

Writes one JSON object (to --report, or else standard output, after
whatever Briefcase printed): per target, the settings that matter for review
(or the error Briefcase gave). Exits 1 when any target failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from briefcase.console import Console
from briefcase.exceptions import BriefcaseConfigError, BriefcaseError
from briefcase.platforms import get_output_formats

# (platform, output format) as Briefcase names them.
TARGETS = (("windows", "app"), ("macOS", "app"), ("linux", "system"))
# The icon files each platform's template installs (briefcase-<platform>-
# <format>-template's briefcase.toml: one .ico, one .icns, six PNG sizes).
ICON_FILES = {
    "windows": (".ico",),
    "macOS": (".icns",),
    "linux": tuple(f"-{n}.png" for n in (16, 32, 64, 128, 256, 512)),
}
REPORTED = (
    "app_name",
    "formal_name",
    "bundle_identifier",
    "version",
    "description",
    "author",
    "license",
    "sources",
    "icon",
    "requires",
    "console_app",
    "min_os_version",
    "universal_build",
    "system_installer",
    "system_runtime_requires",
    "info",
)


def load(pyproject: Path, platform: str, output_format: str, data_path: Path) -> dict[str, Any]:
    """The app configurations Briefcase's loader makes of ``pyproject`` for one target."""
    module = get_output_formats(platform)[output_format]
    command_class = module.package
    console = Console(input_enabled=False)
    command = command_class(console=console, base_path=pyproject.parent, data_path=data_path)
    command.parse_config(pyproject, overrides={})
    result: dict[str, Any] = {}
    for name, app in command.apps.items():
        report = {key: getattr(app, key) for key in REPORTED if hasattr(app, key)}
        report["version"] = str(app.version)
        missing = [
            f"{app.icon}{suffix}"
            for suffix in ICON_FILES[platform]
            if not (pyproject.parent / f"{app.icon}{suffix}").is_file()
        ]
        if missing:
            raise BriefcaseConfigError(f"missing icon files: {', '.join(missing)}")
        result[name] = report
    return result


def main(argv: list[str] | None = None) -> int:
    """Check every target; print what Briefcase made of the configuration."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pyproject", type=Path)
    parser.add_argument("--report", type=Path, help="write the JSON report here")
    args = parser.parse_args(argv)
    pyproject = args.pyproject.resolve()
    report: dict[str, Any] = {}
    failed = False
    # Briefcase keeps downloaded tools in its data path; loading a config
    # downloads nothing, so a throwaway folder keeps the user's cache out of it.
    with tempfile.TemporaryDirectory(prefix="briefcase-data-") as data:
        for platform, output_format in TARGETS:
            key = f"{platform} {output_format}"
            try:
                report[key] = {"apps": load(pyproject, platform, output_format, Path(data))}
            except BriefcaseError as exc:
                failed = True
                report[key] = {"error": str(exc)}
    text = json.dumps(report, indent=2, sort_keys=True, default=str)
    if args.report:
        args.report.write_text(text + "\n", encoding="utf-8")
    else:
        sys.stdout.write(text + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
