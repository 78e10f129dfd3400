"""The ``atom-desktop`` command.

With no subcommand it is the desktop app; ``serve`` runs the same agent with
no user interface. Settings are built here and passed down, nowhere else.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from atom_desktop import __version__
from atom_desktop.config.logging_setup import configure_logging
from atom_desktop.config.paths import AppPaths
from atom_desktop.config.profile import LOG_LEVELS, Profile, load_profile, locate_profile
from atom_desktop.core.errors import AtomError, ConfigError
from atom_desktop.core.redaction import Redactor
from atom_desktop.updates.markers import HANDOVER_ENV

# Types only: the settings import pydantic, which the desktop app loads after
# its window's first paint (see config/profile.py).
if TYPE_CHECKING:
    from atom_desktop.config.settings import Settings
    from atom_desktop.platform.launcher import LauncherEntry

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


def _add_address(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "--port",
        type=int,
        metavar="PORT",
        default=default,
        help="the API's port, 0 for any free one (ATOM_PORT; default 8084)",
    )
    parser.add_argument(
        "--host",
        metavar="ADDRESS",
        default=default,
        help="the API's address (ATOM_HOST; default 127.0.0.1; another needs ATOM_ALLOW_REMOTE)",
    )


def _add_reset(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "--reset-data",
        action="store_true",
        default=default,
        help="start fresh: move the database and its key record into a dated reset-* folder "
        "of the data directory (nothing is deleted; asks first)",
    )
    parser.add_argument(
        "--yes",
        action="store_true",
        default=default,
        help="confirm --reset-data without asking (needed when stdin is not a terminal)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (its help is the command-line reference)."""
    parser = _app_parser()
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_commands(commands)
    return parser


def _parse(argv: Sequence[str] | None) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    """The parser that reads ``argv``, and what it read.

    Opening the desktop app (no command: a double click, a login item) reads
    only the app's own options, with a parser that does not build the
    commands' dozens of parsers: that took 7-9 ms before the window's first
    paint. Anything else (a command, help, an option it does not know) goes
    to the whole parser, which names what is wrong.
    """
    given = list(sys.argv[1:] if argv is None else argv)
    if not {"-h", "--help"} & set(given):
        parser = _app_parser()
        parser.set_defaults(command=None)
        args, rest = parser.parse_known_args(given)
        if not rest:
            return parser, args
    parser = build_parser()
    return parser, parser.parse_args(given)


def _app_parser() -> argparse.ArgumentParser:
    """The options of the app itself, before any command."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="ATOM Desktop: the local-first desktop agent of the ATOM platform. "
        "With no command, opens the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument(
        "--background",
        action="store_true",
        help="start the desktop app hidden in the tray (used at login)",
    )
    # What ./scripts/start runs before the app, and its undo (Linux and the BSDs).
    entry = parser.add_mutually_exclusive_group()
    entry.add_argument(
        "--install-desktop-entry",
        action="store_true",
        help="add this installation to the desktop's applications menu, then exit",
    )
    entry.add_argument(
        "--uninstall-desktop-entry",
        action="store_true",
        help="take it out of the applications menu again (your data stays), then exit",
    )
    entry.add_argument(
        "--install",
        action="store_true",
        help="Linux build: copy this app to ~/.local/lib/atom-desktop, where it updates "
        "itself, and add it to the applications menu, then exit",
    )
    entry.add_argument(
        "--uninstall",
        action="store_true",
        help="stop the agent, take the app out of the menu and start at login, say where "
        "your data stays and how to remove the app, then exit",
    )
    _add_common(parser, None)
    _add_address(parser, None)
    _add_reset(parser, False)
    return parser


def _add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Every command: ``serve``, the clients of a running agent, ``doctor``."""
    serve = commands.add_parser(
        "serve",
        help="run the agent headless until stopped (SIGINT/SIGTERM)",
        description="Run the agent with no user interface until SIGINT or SIGTERM.",
    )
    # The same options after the subcommand; SUPPRESS keeps an option given
    # before the subcommand from being overwritten with None.
    _add_common(serve, argparse.SUPPRESS)
    _add_address(serve, argparse.SUPPRESS)
    _add_reset(serve, argparse.SUPPRESS)
    _add_client_commands(commands)
    _add_doctor(commands)


def _add_ask(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ask = _client_parser(
        commands,
        "ask",
        "ask the assistant in plain words; it shows a plan and runs it once you approve "
        '(e.g. atom-desktop ask "every weekday at 9 run make test")',
    )
    ask.add_argument("text", help="what you want done, in plain words")
    ask.add_argument(
        "--conversation", metavar="ID", help="continue this conversation (default: a new one)"
    )
    ask.add_argument(
        "--yes",
        dest="run_unasked",
        action="store_true",
        help="for scripts: run without asking, only when every step is of a kind set to run "
        "by itself (exit 3 and run nothing otherwise)",
    )


def _add_doctor(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    doctor = _client_parser(
        commands,
        "doctor",
        "check this machine and profile (keyring, database, data folder, port, agent, ...) "
        "and say what to do; exit 1 if anything is wrong",
    )
    # The doctor's own child, which starts Qt where a failure cannot take the doctor down.
    doctor.add_argument("--probe-qt", action="store_true", help=argparse.SUPPRESS)


def _client_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str
) -> argparse.ArgumentParser:
    sub = commands.add_parser(name, help=help_text, description=help_text)
    _add_common(sub, argparse.SUPPRESS)
    sub.add_argument("--json", action="store_true", help="print JSON for scripts")
    return sub


def _add_client_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _client_parser(commands, "status", "show the running agent's state")
    token = commands.add_parser("token", help="API tokens", description="API tokens")
    tokens_actions = token.add_subparsers(dest="tokens_action", metavar="ACTION", required=True)
    show = tokens_actions.add_parser("show", help="print the owner token (for scripts)")
    _add_common(show, argparse.SUPPRESS)
    _client_parser(tokens_actions, "list", "list tokens (never their secrets)")
    create = _client_parser(tokens_actions, "create", "make a named, scoped token")
    create.add_argument("name")
    create.add_argument(
        "--scope",
        dest="scopes",
        action="append",
        choices=("read", "run", "automate", "admin"),
        required=True,
        help="repeat for several scopes",
    )
    revoke = _client_parser(tokens_actions, "revoke", "revoke a token by id")
    revoke.add_argument("token_id")
    _add_ask(commands)
    run = commands.add_parser(
        "run",
        help="run a command on the agent and stream its output",
        description="Run CMD on the agent, in this directory; its stdout and stderr arrive "
        "here byte for byte, and the exit code is the child's (128+N for signal N). Ctrl-C "
        "cancels the run and shows the rest of its output; SIGTERM or SIGHUP cancel it and exit "
        "128+N at once. Example: atom-desktop run -- ls -l",
    )
    _add_common(run, argparse.SUPPRESS)
    run.add_argument("--shell", metavar="LINE", help="run LINE through your shell instead")
    run.add_argument("--cwd", metavar="DIR", help="working directory (default: the one you are in)")
    run.add_argument(
        "--timeout",
        type=float,
        metavar="S",
        help="wall-clock limit in seconds; the run is then stopped (SIGTERM), and this says so",
    )
    run.add_argument("--idle-timeout", type=float, metavar="S", help="limit without output")
    run.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    run.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD ARGS")
    runs = commands.add_parser("runs", help="past and running runs", description="runs")
    run_actions = runs.add_subparsers(dest="runs_action", metavar="ACTION", required=True)
    runs_list = _client_parser(run_actions, "list", "runs, newest first")
    runs_list.add_argument("--limit", type=int, default=20)
    show_run = _client_parser(run_actions, "show", "one run's record")
    show_run.add_argument("run_id")
    logs = _client_parser(run_actions, "logs", "a run's stored output, byte for byte")
    logs.add_argument("run_id")
    logs.add_argument("--stream", choices=("stdout", "stderr"), default="stdout")
    cancel = _client_parser(run_actions, "cancel", "cancel a running run")
    cancel.add_argument("run_id")
    _add_automation_commands(commands)
    _add_sync_commands(commands)
    _add_integration_commands(commands)
    tasks = commands.add_parser("tasks", help="tasks", description="tasks")
    task_commands = tasks.add_subparsers(dest="tasks_action", metavar="ACTION", required=True)
    listing = _client_parser(task_commands, "list", "list tasks, newest first")
    listing.add_argument(
        "--status", action="append", choices=("todo", "doing", "done", "cancelled")
    )
    listing.add_argument("--limit", type=int, default=50)
    add = _client_parser(task_commands, "add", "add a task; prints its id")
    add.add_argument("title")
    add.add_argument("--notes", default="")
    add.add_argument("--priority", type=int, choices=range(4), default=0)
    add.add_argument(
        "--due",
        type=_due,
        metavar="WHEN",
        help="2026-12-10 (by the end of that day, 23:59), 2026-12-10T09:00, today, tomorrow, "
        "friday, +3d, +2w, +4h, or a day and a time ('tomorrow 09:00'); in your local time "
        "unless an offset is given",
    )
    add.add_argument("--tag", dest="tags", action="append", default=[])
    done = _client_parser(task_commands, "done", "mark a task done")
    done.add_argument("task_id")
    search = _client_parser(task_commands, "search", "full-text search of titles and notes")
    search.add_argument("query")
    search.add_argument("--limit", type=int, default=20)


def _due(text: str) -> str:
    """``--due``: the moment meant, as ISO 8601 with its offset (argparse reports a bad one)."""
    from atom_desktop.client.due_dates import DueDateError, parse_due  # noqa: PLC0415

    try:
        return parse_due(text).isoformat(timespec="seconds")
    except DueDateError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_automation_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    automations = commands.add_parser(
        "automations", help="schedules and file triggers", description="automations"
    )
    actions = automations.add_subparsers(dest="automations_action", metavar="ACTION", required=True)
    _client_parser(actions, "list", "every automation, its next run and last result")
    for name, text in (
        ("show", "one automation in full (JSON)"),
        ("enable", "let its triggers fire"),
        ("disable", "stop its triggers (it can still be run by hand)"),
    ):
        _client_parser(actions, name, text).add_argument("automation_id")
    add = _client_parser(actions, "add", "create one from a JSON file ('-' reads stdin)")
    add.add_argument("file")
    run = _client_parser(actions, "run", "run it now")
    run.add_argument("automation_id")
    run.add_argument("--payload", metavar="JSON", help="JSON given to the steps")
    run.add_argument(
        "--wait", action="store_true", help="wait for the end; exit 1 unless it succeeded"
    )
    history = _client_parser(actions, "history", "its runs, newest first")
    history.add_argument("automation_id")
    history.add_argument("--limit", type=int, default=20)
    missed = _client_parser(actions, "missed", "scheduled times it missed, and what was done")
    missed.add_argument("automation_id")
    missed.add_argument("--limit", type=int, default=20)


def _parameter(text: str) -> tuple[str, str]:
    """``--param NAME=VALUE`` as a pair (argparse reports one without ``=``)."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"takes NAME=VALUE, not {text!r}")
    return name.strip(), value


def _add_sign_in_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-browser",
        action="store_true",
        help="only print the address to open (no browser is started without a display anyway)",
    )
    parser.add_argument(
        "--no-wait", action="store_true", help="return once the sign-in started (exit 0)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="stop waiting (exit 1) after this long (default: 600, how long a sign-in lasts)",
    )


def _add_integration_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    integrations = commands.add_parser(
        "integrations",
        help="connected services (GitHub, Slack, ...): connect, check, disconnect",
        description="The services the agent can act in for you, and the accounts it holds. "
        "Secrets (tokens, keys, client secrets) are read from stdin or typed at a prompt "
        "that does not echo, never given on the command line.",
    )
    actions = integrations.add_subparsers(
        dest="integrations_action", metavar="ACTION", required=True
    )
    listed = _client_parser(actions, "providers", "every service it can connect to, and how")
    listed.add_argument("--category", metavar="C", help="only those of C (e.g. messaging)")
    _client_parser(actions, "list", "accounts: status, last check and last error")
    connect = _client_parser(
        actions,
        "connect",
        "sign in to a service in a browser (OAuth), or with a code (--device); waits for it",
    )
    connect.add_argument("provider", metavar="PROVIDER")
    connect.add_argument("--issuer", metavar="URL", help="the issuer (generic OpenID Connect)")
    connect.add_argument(
        "--param",
        dest="params",
        type=_parameter,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a value the provider's addresses need (see 'providers'); repeat for several",
    )
    connect.add_argument(
        "--scope", dest="scopes", action="append", metavar="S", help="instead of the default ones"
    )
    connect.add_argument("--client-id", metavar="ID", help="the app's id (generic OpenID Connect)")
    connect.add_argument(
        "--client-secret-stdin", action="store_true", help="read the app's secret from stdin"
    )
    connect.add_argument(
        "--device",
        action="store_true",
        help="sign in on any device with a code (RFC 8628) instead of a browser here",
    )
    _add_sign_in_options(connect)
    add_key = _client_parser(
        actions,
        "add-key",
        "connect a service with its token or key, read from stdin (key and secret: two lines)",
    )
    add_key.add_argument("provider", metavar="PROVIDER")
    add_key.add_argument(
        "--param",
        dest="params",
        type=_parameter,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a value the provider needs (see 'providers'); repeat for several",
    )
    for name, text in (
        ("check", "ask the service now whether the account works (exit 1 if not)"),
        ("refresh", "get new tokens now"),
    ):
        _client_parser(actions, name, text).add_argument("integration_id", metavar="ID")
    disconnect = _client_parser(
        actions, "disconnect", "revoke the access at the service and remove the account here"
    )
    disconnect.add_argument("integration_id", metavar="ID")
    # Its own dest: a top-level --yes belongs to --reset-data.
    disconnect.add_argument(
        "--yes",
        dest="confirmed",
        action="store_true",
        help="do not ask (needed when stdin is not a terminal)",
    )
    reconnect = _client_parser(actions, "reconnect", "sign in again; new tokens replace the old")
    reconnect.add_argument("integration_id", metavar="ID")
    _add_sign_in_options(reconnect)
    set_client = _client_parser(
        actions, "set-client", "set the OAuth app (client) the agent signs in to a service as"
    )
    set_client.add_argument("provider", metavar="PROVIDER")
    set_client.add_argument("--client-id", required=True, metavar="ID")
    set_client.add_argument(
        "--client-secret-stdin",
        action="store_true",
        help="read the app's secret from stdin (kept in the OS keyring)",
    )


def _add_sync_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sync = commands.add_parser(
        "sync", help="sync with the shared ATOM PostgreSQL", description="sync"
    )
    sync_actions = sync.add_subparsers(dest="sync_action", metavar="ACTION", required=True)
    server = sync_actions.add_parser(
        "server",
        help="set up the shared server (for its administrator)",
        description="Set up the shared PostgreSQL for sync. ADMIN_URL is "
        "postgresql://USER@HOST:PORT/DATABASE for a role that may create schemas and roles; "
        "give its password by PGPASSWORD or ~/.pgpass rather than in the URL, where other "
        "users of this computer can see it in the process list.",
    )
    _client_parser(sync_actions, "status", "sync's state, queue, last error and conflicts")
    conflicts = _client_parser(
        sync_actions, "conflicts", "changes that lost to another device's, kept to look at"
    )
    conflicts.add_argument("--all", action="store_true", help="restored and dismissed ones too")
    conflicts.add_argument("--limit", type=int, default=50, help="at most this many (1-500)")
    now = _client_parser(sync_actions, "now", "sync now (push the queue, pull what is new)")
    now.add_argument(
        "--wait",
        action="store_true",
        help="return when the queue is empty and a pull found nothing new (exit 1 on an error)",
    )
    now.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="with --wait: give up (exit 1) after this long (default: 300)",
    )
    _add_sync_connection_commands(sync_actions)
    actions = server.add_subparsers(dest="server_action", metavar="ACTION", required=True)
    init = actions.add_parser(
        "init",
        help="create or upgrade the server schema (safe to repeat)",
        description="Create the sync schema atom_sync on the server, or upgrade it to this "
        "version's; at this version already, nothing changes.",
    )
    init.add_argument("--url", required=True, metavar="ADMIN_URL", help="the server, as admin")
    add_user = actions.add_parser(
        "add-user",
        help="give a device a login role in a tenant",
        description="Create the login role ROLE (or reuse it), create the tenant NAME if "
        "needed, and make the role a member of it with the rights sync needs. A new role's "
        "password is generated and printed once, unless --password-stdin gives it.",
    )
    add_user.add_argument("--url", required=True, metavar="ADMIN_URL", help="the server, as admin")
    add_user.add_argument("--tenant", required=True, metavar="NAME", help="the tenant's name")
    add_user.add_argument("--user", required=True, metavar="ROLE", help="the device's role")
    password = add_user.add_mutually_exclusive_group()
    password.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the role's password from the first line of stdin",
    )
    password.add_argument(
        "--reset-password",
        action="store_true",
        help="give an existing role a new generated password (printed once)",
    )


def _add_sync_connection_commands(
    sync_actions: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    connect = sync_actions.add_parser(
        "connect",
        help="test a server, then sync with it (the password goes to the OS keyring)",
        description="Test the server at URL (postgresql://ROLE@HOST:PORT/DATABASE"
        "[?sslmode=...]) and save it: the address in the config file, the password in the OS "
        "keyring, never in the file. Leave the password out of URL: the command asks for it "
        "(or reads it with --password-stdin), since other users of this computer can read a "
        "command line. A running agent syncs with it at once.",
    )
    connect.add_argument("url", metavar="URL", help="the server, as its device role")
    connect.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    connect.add_argument(
        "--no-check", action="store_true", help="save without testing the connection first"
    )
    test = sync_actions.add_parser(
        "test",
        help="connect as sync would and say what failed",
        description="Connect to URL, or to the configured server, as sync would, and say "
        "exactly what failed: DNS, refused, timeout, TLS, authentication, database, "
        "permission, schema missing, too old or too new. Exit 0 when sync can work.",
    )
    test.add_argument("url", nargs="?", metavar="URL", help="default: the configured server")
    test.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    sync_actions.add_parser(
        "disconnect",
        help="stop syncing: forget the saved server and its password",
        description="Remove the sync server from the config file and its password from the "
        "OS keyring. Local data stays; a running agent stops syncing.",
    )


def has_display(environ: os._Environ[str] | dict[str, str] | None = None) -> bool:
    """Whether a graphical session is there to show a window in."""
    env = os.environ if environ is None else environ
    # if/else, not an early return: mypy checks for one system and would call
    # the return after the if unreachable.
    if sys.platform == "win32" or sys.platform == "darwin":
        return True
    else:
        return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def hold_collection() -> None:
    """Keep the cyclic garbage collector off until the agent runs.

    Starting the agent builds objects that live as long as it does (modules,
    models, the app) and next to no garbage, yet the collector scans them
    again and again while they are built: about a fifth of the time the
    agent's imports take. ``Runtime.async_start`` turns it back on, whether
    the start succeeds or fails.
    """
    gc.disable()


def main(argv: Sequence[str] | None = None) -> int:  # noqa: PLR0911, PLR0912 - one per way it ends
    """Run the command line; returns the process exit code."""
    if os.environ.get(HANDOVER_ENV):
        # Started by this program to hand over to an update, not by a person.
        from atom_desktop.updates.handover import main_from_env  # noqa: PLC0415

        return main_from_env()
    parser, args = _parse(argv)
    if args.uninstall:
        return _uninstall(parser, args)
    if args.install:
        return _install(parser, args)
    if args.install_desktop_entry or args.uninstall_desktop_entry:
        return _desktop_entry(parser, args)
    agent_side = args.command in (None, "serve")
    if (args.reset_data or args.yes) and not agent_side:
        parser.error("--reset-data and --yes go with the desktop app or 'serve' only")
    if (args.port is not None or args.host is not None) and not agent_side:
        parser.error(
            "--port and --host go with the desktop app or 'serve' only; the other commands "
            "find the agent's port in its lock file (or in ATOM_PORT)"
        )
    if agent_side:
        hold_collection()  # only where an agent starts: client commands may run for hours
    if args.command is None and has_display():
        return _desktop(args)
    if args.command == "doctor" and args.probe_qt:
        from atom_desktop.gui.qt_probe import probe  # noqa: PLC0415 - only this child loads Qt

        return probe()
    if args.command == "sync" and args.sync_action == "server":
        return _sync_server(args)
    if args.command == "sync" and args.sync_action in ("connect", "test", "disconnect"):
        return _sync_connection(args)
    try:
        # The doctor only looks: a data folder that cannot be made is one of its findings.
        profile = load_profile(_overrides(args), make_dirs=args.command != "doctor")
    except AtomError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return exc.exit_code
    settings, paths, redactor = profile.settings, profile.paths, profile.redactor
    # Client commands log to the console only (WARNING and up): the agent owns the log file.
    logs = configure_logging(
        level=settings.log_level if agent_side else "WARNING",
        log_dir=paths.log_dir if agent_side else None,
        redactor=redactor,
    )
    try:
        code = _dispatch(args, settings, paths, redactor)
        sys.stdout.flush()  # a reader that went away shows here, not at the interpreter's exit
        return code
    except AtomError as exc:
        logger.error("%s", exc)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _reader_gone()
    finally:
        logs.close()


def _sync_server(args: argparse.Namespace) -> int:
    """``sync server ...``: administer the shared server; no local profile is involved."""
    from atom_desktop.sync.server import commands  # noqa: PLC0415 - loads psycopg

    redactor = Redactor()

    def act() -> int:
        if args.server_action == "init":
            return commands.init(args.url, redactor=redactor)
        return commands.add_user(
            args.url,
            tenant=args.tenant,
            role=args.user,
            password_stdin=args.password_stdin,
            reset_password=args.reset_password,
            redactor=redactor,
        )

    return _reported(redactor, act)


def _sync_connection(args: argparse.Namespace) -> int:
    """``sync connect|test|disconnect``: the profile's sync server, agent running or not."""
    from atom_desktop.client import sync_connection  # noqa: PLC0415 - loads psycopg
    from atom_desktop.client.agent_client import AgentClient  # noqa: PLC0415
    from atom_desktop.client.discovery import agent_url, owner_token  # noqa: PLC0415
    from atom_desktop.secrets.keyring_vault import KeyringVault  # noqa: PLC0415
    from atom_desktop.secrets.profile import keyring_service  # noqa: PLC0415
    from atom_desktop.sync.connection_settings import SyncConnectionStore  # noqa: PLC0415

    try:
        profile = load_profile(_overrides(args))
    except AtomError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return exc.exit_code
    settings, paths, redactor = profile.settings, profile.paths, profile.redactor
    store = SyncConnectionStore(paths.config_file, KeyringVault(keyring_service(paths.data_dir)))

    def reconnect() -> str | None:
        token = owner_token(settings, paths, redactor)
        with AgentClient(agent_url(settings, paths), token.secret if token else None) as client:
            return cast("str | None", client.request("POST", "/sync/reconnect")["server"])

    def act() -> int:
        if args.sync_action == "connect":
            return sync_connection.sync_connect(
                args.url,
                store=store,
                reconnect=reconnect,
                check=not args.no_check,
                password_stdin=args.password_stdin,
                redactor=redactor,
            )
        if args.sync_action == "test":
            return sync_connection.sync_test(
                args.url, store=store, password_stdin=args.password_stdin, redactor=redactor
            )
        return sync_connection.sync_disconnect(store=store, reconnect=reconnect)

    return _reported(redactor, act)


def _reported(redactor: Redactor, act: Callable[[], int]) -> int:
    """Run a command that works without an agent, its errors printed with secrets masked.

    The messages name servers without their passwords; the redactor masks
    any secret that a server's own words might still carry.
    """
    logs = configure_logging(level="WARNING", log_dir=None, redactor=redactor)
    try:
        return act()
    except AtomError as exc:
        print(f"{PROG}: {redactor.redact(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    finally:
        logs.close()


def _reader_gone() -> int:
    """The reader of stdout went away (``| head``): end quietly, as Unix tools do.

    What is still buffered for stdout would fail again when the interpreter
    flushes it at exit, so stdout now leads nowhere. The exit code is the
    one a tool killed by SIGPIPE (13) leaves.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)
    return 128 + 13


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "data_dir": args.data_dir,
        "config_dir": args.config_dir,
        "log_level": args.log_level,
        "port": args.port,
        "host": args.host,
    }


def _dispatch(
    args: argparse.Namespace, settings: Settings, paths: AppPaths, redactor: Redactor
) -> int:
    if args.command == "doctor":
        from atom_desktop.client.doctor_command import doctor  # noqa: PLC0415

        return doctor(settings, paths, redactor, as_json=args.json, out=sys.stdout)
    if args.command not in (None, "serve"):
        # Every other command talks to a running agent: none may start one by mistake.
        return _client_command(args, settings, paths, redactor)
    if args.command is None:
        print(
            f"{PROG}: no display found (DISPLAY and WAYLAND_DISPLAY are unset); "
            f"running the agent headless, as '{PROG} serve'.",
            file=sys.stderr,
        )
    if args.reset_data and not reset_data(paths, confirmed=args.yes):
        return 1
    return _serve(settings, paths, redactor)


def _serve(settings: Settings, paths: AppPaths, redactor: Redactor) -> int:
    from atom_desktop.runtime import Runtime  # noqa: PLC0415 - keeps --help and --version fast

    Runtime(settings, paths=paths, redactor=redactor).serve()
    return 0


def _desktop(args: argparse.Namespace) -> int:
    """The desktop app: its window shows first, the settings load just after.

    Only when a lock file names a running agent are the settings loaded
    before, to ask that agent (with its token) to show its window instead.
    """
    # Imported here: the command-line client and the headless agent need no Qt.
    from atom_desktop.platform.autostart import (  # noqa: PLC0415
        autostart_for_this_system,
        launch_command,
    )
    from atom_desktop.platform.instance_lock import LOCK_FILE_NAME, read_info  # noqa: PLC0415

    overrides = _overrides(args)
    location = locate_profile(overrides)
    # Until the settings are in, the window logs to the console only, at the
    # level the command line, environment or config file ask for.
    early_redactor = Redactor()
    early_logs = configure_logging(level=location.log_level, log_dir=None, redactor=early_redactor)
    try:
        loaded: Profile | None = None
        if args.reset_data:
            # Asked on the terminal the app was started from, before its window shows.
            loaded = load_profile(overrides)
            if not reset_data(loaded.paths, confirmed=args.yes):
                return 1
        if read_info(location.paths.data_dir / LOCK_FILE_NAME) is not None:
            loaded = loaded or load_profile(overrides)
            for secret in loaded.redactor.secrets():  # the hand-over logs with them known
                early_redactor.add(secret)
            handed_over = _hand_over(loaded)
            if handed_over is not None:
                return handed_over
        if getattr(sys, "frozen", False):
            _add_build_to_menu()
        from atom_desktop.gui.app import run_desktop  # noqa: PLC0415

        def load() -> Profile:
            return loaded if loaded is not None else load_profile(overrides)

        return run_desktop(
            location.paths.config_dir,
            load,
            autostart_for_this_system(launch_command(launcher=_installed_launcher())),
            background=args.background,
            early_logs=early_logs,
        )
    except AtomError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return exc.exit_code
    finally:
        early_logs.close()


def reset_data(paths: AppPaths, *, confirmed: bool) -> bool:
    """``--reset-data``: move the data aside once confirmed; False if the person said no.

    The question is asked on a terminal, or ``--yes`` answers it; with
    neither, nothing is asked and nothing changes (ConfigError, exit 2). The
    instance lock is held while the files move, so a running agent's files
    are never moved from under it.
    """
    # Imported here: they load the store, which only an agent start needs.
    from atom_desktop.platform.instance_lock import LOCK_FILE_NAME, InstanceLock  # noqa: PLC0415
    from atom_desktop.secrets.database_key import RECORD_FILE_NAME, set_aside  # noqa: PLC0415

    if not confirmed and not sys.stdin.isatty():
        raise ConfigError(
            "--reset-data asks before it moves your data, but stdin is not a terminal, so "
            "nothing can be asked.",
            hint="Add --yes to confirm it. Nothing was changed.",
        )
    lock = InstanceLock(paths.data_dir / LOCK_FILE_NAME)
    lock.acquire({"pid": os.getpid()})  # an agent that runs is named, and nothing moves
    try:
        if not confirmed:
            print(
                f"--reset-data moves the database {paths.database.name} (with its -wal and "
                f"-shm files) and its key record {RECORD_FILE_NAME} from {paths.data_dir} into "
                "a new reset-YYYYMMDD-HHMMSS folder there, and starts with a new, empty "
                "database. Nothing is deleted, and the key stays where it is."
            )
            try:
                answer = input("Type RESET to go on, anything else to stop: ")
            except EOFError:
                answer = ""
            if answer.strip() != "RESET":
                print("Nothing was changed.")
                return False
        folder = set_aside(paths)
    finally:
        lock.release()
    if folder is None:
        logger.info("--reset-data: there was no database in %s to move aside", paths.data_dir)
    return True


def _hand_over(profile: Profile) -> int | None:
    """Ask a running instance to show its window: the exit code, or None to start."""
    from atom_desktop.client.activation import activate_running_instance  # noqa: PLC0415

    try:
        if activate_running_instance(profile.settings, profile.paths, profile.redactor):
            logger.info("ATOM Desktop is already running; asked it to show its window")
            return 0
    except AtomError as exc:
        # Started from a launcher there is no console to read: say it in a dialog too.
        from atom_desktop.gui.app import show_error_dialog  # noqa: PLC0415

        logger.error("%s", exc)
        show_error_dialog("ATOM Desktop is already running", str(exc))
        return exc.exit_code
    return None


def _desktop_entry(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """``--install-desktop-entry`` / ``--uninstall-desktop-entry``: the applications menu entry.

    ``--uninstall`` also stops the profile's agent and start at login first.
    """
    if args.command is not None or args.reset_data or args.background:
        parser.error("--install-desktop-entry, --uninstall-desktop-entry and --uninstall go alone")
    # Imported here: nothing else needs it, and it does not load the agent.
    from atom_desktop.platform import launcher  # noqa: PLC0415

    if not launcher.has_launcher_entry(sys.platform):
        print(launcher.no_launcher_entry_message(sys.platform))
        if args.uninstall:
            print(launcher.removed_message([], _kept_folders(args)))
        return 0
    try:
        entry = _launcher_entry()
        if args.install_desktop_entry:
            changed = entry.install()
            message = launcher.installed_message(entry, changed)
        else:
            changed = entry.uninstall()
            message = launcher.removed_message(changed, _kept_folders(args))
    except AtomError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return exc.exit_code
    if message:
        print(message)
    if changed:
        # Only after a change: an unchanged entry leaves the caches as they were.
        for warning in entry.refresh_caches():
            print(f"{PROG}: {warning}", file=sys.stderr)
    return 0


def _launcher_entry(program: str | None = None) -> LauncherEntry:
    """The applications menu entry of this installation (Linux and the BSDs).

    ``program`` is the executable the entry starts; by default, the one this
    process was started as.
    """
    # Imported here: only the launcher entry's commands and a build's start need them.
    import sysconfig  # noqa: PLC0415

    from atom_desktop.platform import launcher  # noqa: PLC0415
    from atom_desktop.resource_files import (  # noqa: PLC0415
        app_icon_paths,
        desktop_entry_path,
        resource_path,
    )

    # This installation's own launcher, wherever it was started from (python -m
    # included); an install without one (a bare checkout) starts as python -m.
    program = program or _installed_launcher()
    scripts = Path(sysconfig.get_path("scripts")) / PROG
    if program is None and scripts.is_file():
        program = str(scripts)
    command = [program] if program else [sys.executable, "-m", "atom_desktop"]
    sources = launcher.LauncherSources(
        desktop_file=desktop_entry_path(),
        icons=app_icon_paths(),
        metainfo=resource_path(launcher.METAINFO_FILE_NAME),
        command=command,
    )
    data_home = launcher.xdg_data_home(Path.home(), os.environ)
    return launcher.LauncherEntry(sources, data_home=data_home)


def _add_build_to_menu() -> None:
    """A build (Linux, the BSDs) puts itself in the applications menu as it starts.

    A person who unpacked a tarball has run no installer: this is what makes
    the app appear in the launcher after the first double-click in a file
    manager. An installed build (``--install``) keeps its entry current; it
    rewrites nothing when the entry already is. A failure is logged; the app
    starts.
    """
    from atom_desktop.platform import launcher  # noqa: PLC0415
    from atom_desktop.updates.linux_layout import LinuxLayout  # noqa: PLC0415

    if not launcher.has_launcher_entry(sys.platform):
        return
    installed = LinuxLayout.of_executable(Path(sys.executable)) is not None
    try:
        entry = _launcher_entry()
        # A copy outside the install layout (a tarball unpacked to try it)
        # takes the menu entry only when there is none: it must not take it
        # from the installed app, whose entry follows its updates.
        if not installed and entry.desktop_path.exists():
            return
        if entry.install():
            logger.info("Added ATOM Desktop to the applications menu (%s)", entry.desktop_path)
            for warning in entry.refresh_caches():
                logger.warning("%s", warning)
    except AtomError as exc:
        logger.warning("Could not add ATOM Desktop to the applications menu: %s", exc)


def _kept_folders(args: argparse.Namespace) -> dict[str, Path]:
    """The profile's folders that an uninstall leaves in place, by what they hold."""
    paths = locate_profile(_overrides(args)).paths
    return {
        "data": paths.data_dir,
        "config": paths.config_dir,
        "logs": paths.log_dir,
        "cache": paths.cache_dir,
    }


def _uninstall(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """``--uninstall``: stop the agent, then start at login and the menu entry go; data stays."""
    if args.command is not None or args.reset_data or args.background:
        parser.error("--install-desktop-entry, --uninstall-desktop-entry and --uninstall go alone")
    # Imported here: only the uninstall needs them.
    from atom_desktop.client import uninstall  # noqa: PLC0415
    from atom_desktop.platform.autostart import (  # noqa: PLC0415
        autostart_for_this_system,
        launch_command,
    )

    try:
        paths = locate_profile(_overrides(args)).paths
        print(uninstall.stopped_message(uninstall.stop_agent(paths.data_dir)))
        autostart = autostart_for_this_system(launch_command(launcher=_installed_launcher()))
        if autostart.is_enabled():
            autostart.disable()
            print(f"Turned off start at login ({autostart.describe()}).")
    except AtomError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return exc.exit_code
    code = _desktop_entry(parser, args)
    print(uninstall.app_removal_hint())
    return code


def _installed_launcher() -> str | None:
    """The ``atom-desktop`` executable this was started as, if it was.

    For an installed build that is the path which keeps starting the current
    version across updates, not the versioned folder it runs from.
    """
    from atom_desktop.updates.linux_layout import LinuxLayout  # noqa: PLC0415

    launcher = Path(sys.argv[0])
    if launcher.name != PROG or not launcher.exists():
        return None
    return str(LinuxLayout.stable_program(launcher.resolve()))


def _is_linux_build() -> bool:
    """Whether this is the Linux build (frozen), the one that installs itself."""
    frozen = bool(getattr(sys, "frozen", False))
    return frozen and sys.platform.startswith("linux")


def _install(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """``--install``: a Linux build copies itself into the layout it updates in."""
    if args.command is not None or args.reset_data or args.background:
        parser.error("--install goes alone")
    if not _is_linux_build():
        print(
            f"{PROG}: --install is for the Linux build (packaging/build-linux). From a "
            "checkout, ./scripts/start adds the app to the applications menu; on Windows and "
            "macOS the installer does.",
            file=sys.stderr,
        )
        return 2
    from atom_desktop.updates.self_install import (  # noqa: PLC0415
        default_install_root,
        install_build,
    )

    root = default_install_root(Path.home())
    unpacked = Path(sys.executable).resolve().parent
    try:
        program = install_build(Path(sys.executable), root, __version__)
        entry = _launcher_entry(str(program))
        changed = entry.install()
    except AtomError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return exc.exit_code
    for warning in entry.refresh_caches() if changed else []:
        print(f"{PROG}: {warning}", file=sys.stderr)
    print(
        f"Installed ATOM Desktop {__version__} in {root}: start it from the applications "
        f"menu or as {program}. Updates are installed there.\n"
        f"The folder this was started from is no longer needed: {unpacked}\n"
        f"To remove it all again: {program} --uninstall"
    )
    return 0


def _client_command(  # noqa: PLR0911 - one return per command family
    args: argparse.Namespace, settings: Settings, paths: AppPaths, redactor: Redactor
) -> int:
    # Imported here: the agent's start-up needs none of this.
    from atom_desktop.client import commands  # noqa: PLC0415
    from atom_desktop.client.agent_client import AgentClient  # noqa: PLC0415
    from atom_desktop.client.discovery import agent_url, owner_token  # noqa: PLC0415

    token = owner_token(settings, paths, redactor)
    if args.command == "token" and args.tokens_action == "show":
        if token is None:
            print(f"{PROG}: no owner token yet; start the agent once to make it.", file=sys.stderr)
            return 1
        print(token.secret)
        return 0
    as_json = bool(getattr(args, "json", False))
    with AgentClient(agent_url(settings, paths), token.secret if token else None) as client:
        if args.command == "run":
            return _run(client, args)
        if args.command == "ask":
            from atom_desktop.client.ask_command import ask  # noqa: PLC0415

            return ask(
                client,
                args.text,
                conversation_id=args.conversation,
                yes=args.run_unasked,
                as_json=as_json,
            )
        if args.command == "runs":
            commands.runs(client, args.runs_action, args, as_json=as_json)
            return 0
        if args.command == "automations":
            from atom_desktop.client.automation_commands import automations  # noqa: PLC0415

            return automations(client, args.automations_action, args, as_json=as_json)
        if args.command == "sync":
            return _sync_command(client, args, as_json)
        if args.command == "integrations":
            return _integrations_command(client, args, as_json)
        if args.command == "status":
            commands.status(client, as_json=as_json)
        elif args.command == "token":
            _tokens_command(client, args, as_json)
        else:
            _tasks_command(client, args, as_json)
    return 0


def _run(client: object, args: argparse.Namespace) -> int:
    from atom_desktop.client.agent_client import AgentClient  # noqa: PLC0415
    from atom_desktop.client.run_command import caller_directory, run  # noqa: PLC0415

    assert isinstance(client, AgentClient)
    argv = list(args.argv)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if bool(argv) == bool(args.shell):
        print(
            f"{PROG} run: give a command after '--', or --shell 'LINE' (not both)", file=sys.stderr
        )
        return 2
    env = {}
    for pair in args.env:
        name, sep, value = pair.partition("=")
        if not sep:
            print(f"{PROG} run: --env takes NAME=VALUE, not {pair!r}", file=sys.stderr)
            return 2
        env[name] = value
    body: dict[str, object] = {"env": env}
    body.update({"argv": argv} if argv else {"shell": args.shell})
    # The agent's own directory means nothing to the caller: theirs is the default,
    # and a relative --cwd is taken from it.
    cwd = Path(args.cwd).expanduser() if args.cwd else Path()
    body["cwd"] = str(cwd if cwd.is_absolute() else Path(caller_directory()) / cwd)
    for key, value in (
        ("timeout_s", args.timeout),
        ("idle_timeout_s", args.idle_timeout),
    ):
        if value is not None:
            body[key] = value
    return run(client, body)


def _sync_command(client: Any, args: argparse.Namespace, as_json: bool) -> int:
    from atom_desktop.client import sync_commands  # noqa: PLC0415

    if args.sync_action == "status":
        sync_commands.sync_status(client, as_json=as_json)
        return 0
    if args.sync_action == "conflicts":
        sync_commands.sync_conflicts(
            client, include_resolved=args.all, limit=args.limit, as_json=as_json
        )
        return 0
    return sync_commands.sync_now(client, wait=args.wait, timeout_s=args.timeout, as_json=as_json)


def _integrations_command(  # noqa: PLR0911 - one return per action
    client: Any, args: argparse.Namespace, as_json: bool
) -> int:
    from atom_desktop.client import integration_commands as commands  # noqa: PLC0415

    action = args.integrations_action
    if action == "providers":
        return commands.providers(client, category=args.category, as_json=as_json)
    if action == "list":
        return commands.accounts(client, as_json=as_json)
    if action in ("connect", "reconnect"):
        # A browser is started only where one can show: else the address is printed alone.
        sign_in: dict[str, Any] = {
            "open_browser": not args.no_browser and has_display(),
            "wait": not args.no_wait,
            "timeout_s": args.timeout,
            "as_json": as_json,
        }
        if action == "reconnect":
            return commands.reconnect(client, args.integration_id, **sign_in)
        return commands.connect(
            client,
            args.provider,
            issuer=args.issuer,
            parameters=dict(args.params),
            scopes=args.scopes,
            client_id=args.client_id,
            secret_stdin=args.client_secret_stdin,
            device=args.device,
            **sign_in,
        )
    if action == "add-key":
        return commands.add_key(
            client, args.provider, parameters=dict(args.params), as_json=as_json
        )
    if action == "check":
        return commands.check(client, args.integration_id, as_json=as_json)
    if action == "refresh":
        return commands.refresh(client, args.integration_id, as_json=as_json)
    if action == "disconnect":
        return commands.disconnect(
            client, args.integration_id, confirmed=args.confirmed, as_json=as_json
        )
    return commands.set_client(
        client,
        args.provider,
        client_id=args.client_id,
        secret_stdin=args.client_secret_stdin,
        as_json=as_json,
    )


def _tokens_command(client: Any, args: argparse.Namespace, as_json: bool) -> None:
    from atom_desktop.client import commands  # noqa: PLC0415

    if args.tokens_action == "list":
        commands.tokens_list(client, as_json=as_json)
    elif args.tokens_action == "create":
        commands.tokens_create(client, args.name, args.scopes, as_json=as_json)
    else:
        commands.tokens_revoke(client, args.token_id, as_json=as_json)


def _tasks_command(client: Any, args: argparse.Namespace, as_json: bool) -> None:
    from atom_desktop.client import commands  # noqa: PLC0415

    if args.tasks_action == "list":
        commands.tasks_list(
            client, query=None, statuses=args.status, limit=args.limit, as_json=as_json
        )
    elif args.tasks_action == "search":
        commands.tasks_list(
            client, query=args.query, statuses=None, limit=args.limit, as_json=as_json
        )
    elif args.tasks_action == "add":
        body = {
            "title": args.title,
            "notes": args.notes,
            "priority": args.priority,
            "tags": args.tags,
        }
        if args.due:
            body["due_at"] = args.due
        commands.tasks_add(client, body, as_json=as_json)
    else:
        commands.tasks_done(client, args.task_id, as_json=as_json)
