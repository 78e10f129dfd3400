"""Every program a request runs: wrappers and nested shells opened."""

from __future__ import annotations

from atom_desktop.runner.invocations import MAX_WRAPPERS, read_argv, read_shell


def programs(line: str) -> list[tuple[str, ...]]:
    return [i.argv for i in read_shell(line).invocations]


def test_each_wrapper_runs_the_command_after_its_options() -> None:
    assert programs("sudo -u root env -i A=1 nice -n 5 rm -rf x") == [
        ("sudo", "-u", "root", "env", "-i", "A=1", "nice", "-n", "5", "rm", "-rf", "x"),
        ("env", "-i", "A=1", "nice", "-n", "5", "rm", "-rf", "x"),
        ("nice", "-n", "5", "rm", "-rf", "x"),
        ("rm", "-rf", "x"),
    ]
    reading = read_shell("timeout -s KILL 5 xargs -0 -n 1 rm")
    assert reading.invocations[-1].argv == ("rm",)
    assert {i.written for i in reading.invocations} == {
        ("timeout", "-s", "KILL", "5", "xargs", "-0", "-n", "1", "rm")
    }


def test_options_that_only_print_run_nothing() -> None:
    assert programs("command -v rm") == [("command", "-v", "rm")]
    assert programs("sudo -l rm") == [("sudo", "-l", "rm")]


def test_the_program_is_named_by_its_file_name() -> None:
    reading = read_argv(["/usr/bin/RM.exe", "-rf", "x"])
    assert reading.invocations[0].program == "rm"
    assert reading.commands == (("/usr/bin/RM.exe", "-rf", "x"),)
    assert reading.shell_texts == ()  # an argv list is never read as a shell line


def test_text_a_shell_is_handed_is_read_as_a_line() -> None:
    reading = read_argv(["bash", "--norc", "-ec", "a | b", "name", "arg"])
    assert reading.shell_texts == ("a | b",)
    assert reading.commands == (("bash", "--norc", "-ec", "a | b", "name", "arg"), ("a",), ("b",))
    assert read_shell("sh script.sh").shell_texts == ("sh script.sh",)  # its text is not here
    assert read_shell("eval 'a;' b").commands == (("eval", "a;", "b"), ("a",), ("b",))
    assert read_shell("zsh <<< 'a'").commands[-1] == ("a",)


def test_what_cannot_be_read_is_kept_as_text_with_the_reason() -> None:
    reading = read_shell("ls; bash -c 'echo \"open'")
    assert [u.text for u in reading.unreadable] == ['echo "open']
    assert "double quote" in reading.unreadable[0].reason
    wrapped = read_shell("nohup " * (MAX_WRAPPERS + 1) + "rm -rf /")
    assert len(wrapped.invocations) == MAX_WRAPPERS
    assert "wrappers" in wrapped.unreadable[0].reason
    assert wrapped.unreadable[0].text.endswith("rm -rf /")
