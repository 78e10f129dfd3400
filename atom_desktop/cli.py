"""The ``atom-desktop`` command.

With no subcommand it is the desktop app; ``serve`` runs the same agent with
no user interface. Settings are built here and passed down, nowhere else.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from atom_desktop import __version__
from atom_desktop.config.logging_setup import configure_logging
from atom_desktop.config.paths import AppPaths
from atom_desktop.config.settings import LOG_LEVELS, Settings, load_settings
from atom_desktop.core.errors import AtomError
from atom_desktop.core.redaction import Redactor

logger = logging.getLogger("atom_desktop")

PROG = "atom-desktop"


def _add_common(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        default=default,
        help="database and profile files (ATOM_DATA_DIR)",
    )
    parser.add_argument(
        "--config-dir",
        type=Path,
        metavar="DIR",
        default=default,
        help="config.toml and key file (ATOM_CONFIG_DIR)",
    )
    parser.add_argument(
        "--log-level",
        type=str.upper,
        choices=LOG_LEVELS,
        metavar="LEVEL",
        default=default,
        help=f"one of {', '.join(LOG_LEVELS)} (ATOM_LOG_LEVEL; default INFO)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (its help is the command-line reference)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="ATOM Desktop: the local-first desktop agent of the ATOM platform. "
        "With no command, opens the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    _add_common(parser, None)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="run the agent headless until stopped (SIGINT/SIGTERM)",
        description="Run the agent with no user interface until SIGINT or SIGTERM.",
    )
    # The same options after the subcommand; SUPPRESS keeps an option given
    # before the subcommand from being overwritten with None.
    _add_common(serve, argparse.SUPPRESS)
    return parser


def has_display(environ: os._Environ[str] | dict[str, str] | None = None) -> bool:
    """Whether a graphical session is there to show a window in."""
    env = os.environ if environ is None else environ
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(
            {"data_dir": args.data_dir, "config_dir": args.config_dir, "log_level": args.log_level}
        )
    except AtomError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return exc.exit_code
    redactor = Redactor()
    for secret in (settings.api_token, settings.sync_url, settings.encryption_key):
        if secret is not None:
            redactor.add(secret.get_secret_value())
    paths = AppPaths.resolve(
        data_dir=settings.data_dir, config_dir=settings.config_dir, log_dir=settings.log_dir
    )
    try:
        paths.ensure()
    except OSError as exc:
        print(f"{PROG}: cannot create the data directories: {exc}", file=sys.stderr)
        return 1
    logs = configure_logging(level=settings.log_level, log_dir=paths.log_dir, redactor=redactor)
    try:
        if args.command == "serve":
            return _serve(settings, paths, redactor)
        return _desktop(settings, paths, redactor)
    except AtomError as exc:
        logger.error("%s", exc)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    finally:
        logs.close()


def _serve(settings: Settings, paths: AppPaths, redactor: Redactor) -> int:
    from atom_desktop.runtime import Runtime  # noqa: PLC0415 - keeps --help and --version fast

    Runtime(settings, paths=paths, redactor=redactor).serve()
    return 0


def _desktop(settings: Settings, paths: AppPaths, redactor: Redactor) -> int:
    if not has_display():
        print(
            f"{PROG}: no display found (DISPLAY and WAYLAND_DISPLAY are unset); "
            f"running the agent headless, as '{PROG} serve'.",
            file=sys.stderr,
        )
    else:
        print(
            f"{PROG}: this version has no desktop window yet; running the agent headless, "
            f"as '{PROG} serve'.",
            file=sys.stderr,
        )
    return _serve(settings, paths, redactor)
