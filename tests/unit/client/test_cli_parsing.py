"""How the command line is read: the desktop app's own options, and every command."""

from __future__ import annotations

from pathlib import Path

import pytest

from atom_desktop import cli


@pytest.mark.parametrize(
    ("argv", "command", "data_dir"),
    [
        ([], None, None),
        (["--background"], None, None),
        (["--data-dir", "/tmp/d", "--config-dir", "/tmp/c"], None, "/tmp/d"),
        # A folder named like a command is still a folder.
        (["--data-dir", "run"], None, "run"),
        (["--data-dir=/tmp/d", "serve"], "serve", "/tmp/d"),
        (["run", "--", "ls", "-l"], "run", None),
        (["status"], "status", None),
    ],
    ids=["nothing", "background", "folders", "folder-named-run", "serve", "run", "status"],
)
def test_the_app_and_each_command_read_the_same_as_with_the_whole_parser(
    argv: list[str], command: str | None, data_dir: str | None
) -> None:
    _, args = cli._parse(argv)
    whole = cli.build_parser().parse_args(argv)
    assert args.command == whole.command == command
    assert getattr(args, "data_dir", None) == getattr(whole, "data_dir", None)
    found = getattr(args, "data_dir", None)
    assert (Path(found) if found else None) == (Path(data_dir) if data_dir else None)
    # Everything the whole parser read for the app itself is read the same.
    for name, value in vars(args).items():
        assert getattr(whole, name) == value, name


def test_help_and_unknown_words_go_to_the_whole_parser(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as shown:
        cli._parse(["--help"])
    assert shown.value.code == 0
    assert "COMMAND" in capsys.readouterr().out  # the commands are listed
    with pytest.raises(SystemExit) as refused:
        cli._parse(["bogus"])
    assert refused.value.code == 2
    assert "invalid choice: 'bogus'" in capsys.readouterr().err
