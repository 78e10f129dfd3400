"""A shell line split into the simple commands the shell will run."""

from __future__ import annotations

import pytest

from atom_desktop.runner.shell_words import (
    MAX_NESTING,
    Redirect,
    ShellSyntaxError,
    SimpleCommand,
    split_commands,
)


def words(line: str) -> list[tuple[str, ...]]:
    return [c.words for c in split_commands(line)]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("echo rm -rf /", [("echo", "rm", "-rf", "/")]),
        ("a; b && c || d | e |& f & g", [("a",), ("b",), ("c",), ("d",), ("e",), ("f",), ("g",)]),
        ("a\nb", [("a",), ("b",)]),
        ("echo ';' '&&' \"|\" \\;", [("echo", ";", "&&", "|", ";")]),
        ("echo a#b # a comment; rm -rf /", [("echo", "a#b")]),
        ("r''m -\"rf\" /", [("rm", "-rf", "/")]),
        ("echo a\\\nb", [("echo", "ab")]),
        ('echo "a \\"b\\" \\x"', [("echo", 'a "b" \\x')]),
        ("echo $'a\\tb\\x41'", [("echo", "a\tbA")]),
        ("FOO=1 BAR+=2 env", [("env",)]),
        ("'FOO=1' x", [("FOO=1", "x")]),  # quoted: a program name, not an assignment
        ("if true; then rm x; fi", [("true",), ("rm", "x")]),
        ("! { a; }", [("a",)]),
        ("(a) && (b)", [("a",), ("b",)]),
        ("echo ${HOME}/x $((1 + (2)))", [("echo", "${HOME}/x", "$((1 + (2)))")]),
    ],
)
def test_lines_split_into_their_simple_commands(line: str, expected: list[tuple[str, ...]]) -> None:
    assert words(line) == expected


def test_redirections_are_kept_apart_with_their_targets() -> None:
    (command,) = split_commands("cat a 2> err >> '/dev/sd a' <in")
    assert command.words == ("cat", "a")
    assert command.redirects == (
        Redirect(">", "err"),  # the descriptor number is not a word
        Redirect(">>", "/dev/sd a"),
        Redirect("<", "in"),
    )
    # A redirection alone is a command: it truncates its file.
    assert split_commands("> f") == [SimpleCommand((), (Redirect(">", "f"),))]


def test_here_documents_are_the_text_of_their_redirection() -> None:
    line = "cat <<EOF > out; echo after\nrm -rf / isn't a command here\nEOF\necho next"
    commands = split_commands(line)
    assert [c.words for c in commands] == [("cat",), ("echo", "after"), ("echo", "next")]
    assert commands[0].redirects == (
        Redirect("<<", "rm -rf / isn't a command here"),
        Redirect(">", "out"),
    )
    tabbed = split_commands("bash <<-'END'\n\tls\n\tEND\n")
    assert tabbed[0].redirects == (Redirect("<<-", "\tls"),)


@pytest.mark.parametrize(
    ("line", "inner"),
    [
        ("echo $(rm -rf /)", ("rm", "-rf", "/")),
        ('echo "x $(rm -rf /) y"', ("rm", "-rf", "/")),
        ("echo `rm -rf /`", ("rm", "-rf", "/")),
        ("diff <(rm -rf /) b", ("rm", "-rf", "/")),
        ("x=$(rm -rf /)", ("rm", "-rf", "/")),
        ("cat > $(rm -rf /)", ("rm", "-rf", "/")),
        ("echo $(echo ')'; rm -rf /)", ("echo", ")")),
    ],
)
def test_command_substitutions_are_split_too(line: str, inner: tuple[str, ...]) -> None:
    (command,) = split_commands(line)
    assert command.substitutions[0].commands[0].words == inner


def test_substitutions_nest() -> None:
    (command,) = split_commands('echo "$(a "$(b `c`)")"')
    (outer,) = command.substitutions
    assert outer.text == 'a "$(b `c`)"'
    (middle,) = outer.commands[0].substitutions
    assert middle.commands[0].words == ("b", "`c`")
    assert middle.commands[0].substitutions[0].commands[0].words == ("c",)


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("echo 'open", "single quote"),
        ('echo "open', "double quote"),
        ("echo `open", "backtick"),
        ("echo $(open", "not closed"),
        ("echo ${open", "not closed"),
        ("echo >", "has no target"),
        ("echo > ;", "has no target"),
        ("echo " + "$(" * (MAX_NESTING + 2) + ")" * (MAX_NESTING + 2), "nested more than"),
    ],
)
def test_a_line_that_is_not_well_formed_is_refused(line: str, why: str) -> None:
    with pytest.raises(ShellSyntaxError, match=why):
        split_commands(line)
