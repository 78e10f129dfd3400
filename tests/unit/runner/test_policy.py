"""The command policy: rules match the commands a request actually runs."""

from __future__ import annotations

import shlex

import pytest

from atom_desktop.runner.invocations import MAX_DEPTH
from atom_desktop.runner.policy import CommandDeniedError, CommandPolicy
from atom_desktop.runner.request import RunRequest


def request(command: str | list[str]) -> RunRequest:
    """A shell line, or an argv list."""
    return RunRequest(argv=command) if isinstance(command, list) else RunRequest(shell=command)


def refused_by(command: str | list[str], policy: CommandPolicy | None = None) -> str | None:
    """The rule that refuses ``command``, or None when it may run."""
    try:
        (policy or CommandPolicy()).check(request(command))
    except CommandDeniedError as exc:
        assert exc.rule in str(exc)
        return exc.rule
    return None


@pytest.mark.parametrize(
    ("command", "rule"),
    [
        # Text that mentions a command is not the command.
        ("echo rm -rf /", None),
        ("printf '%s' 'rm -rf /'", None),
        (["echo", "rm", "-rf", "/"], None),
        ("git commit -m 'rm -rf /'", None),
        ("grep -r 'rm -rf /' docs", None),
        ("echo ';' rm -rf /", None),  # a quoted ; separates nothing
        ("echo '> /dev/sda'", None),
        ("echo chmod -R 777 /", None),
        ("echo mkfs.ext4 /dev/sda", None),
        ("cat <<EOF\nrm -rf /\nEOF", None),  # a here-document for cat is data
        ("command -v rm", None),  # prints where rm is
        ("rm -f /", None),  # without -r, rm deletes no folder
        ("cat /dev/sda > disk.img", None),  # reads the disk
        ("dd if=/dev/sda of=disk.img", None),
        # The command run, however it is written or wrapped.
        (["rm", "-rf", "/"], "rm-root"),
        (["/bin/rm", "-r", "-f", "/"], "rm-root"),
        ("rm --recursive --force /", "rm-root"),
        ("rm -fr /*", "rm-root"),
        ("rm -rf -- /", "rm-root"),
        ("rm -r -f ~/", "rm-root"),
        ('rm -rf "$HOME"', "rm-root"),
        ("rm -rf ${HOME}/*", "rm-root"),
        ("\\rm -rf /", "rm-root"),
        ("r''m -rf /", "rm-root"),
        ("sudo rm -rf /", "rm-root"),
        (["sudo", "rm", "-rf", "/"], "rm-root"),
        ("sudo --user root env FOO=1 nice -n 5 nohup rm -rf /", "rm-root"),
        ("timeout 5 rm -rf /", "rm-root"),
        ("find . -print0 | xargs -0 rm -rf /", "rm-root"),
        ("busybox rm -rf /", "rm-root"),
        ("true && rm -fr /", "rm-root"),
        ("false || rm -fr /", "rm-root"),
        ("ls\nrm -rf /", "rm-root"),
        ("ls & rm -rf /", "rm-root"),
        ("if true; then rm -rf /; fi", "rm-root"),
        ("(cd /tmp && rm -rf /)", "rm-root"),
        ("FOO=1 rm -rf /", "rm-root"),
        # Shells inside the line.
        ("bash -c 'rm -rf /'", "rm-root"),
        (["bash", "-c", "rm -rf /"], "rm-root"),
        ("bash -o pipefail -ec 'rm -rf /'", "rm-root"),
        ("sh -c \"bash -c 'rm -rf ~'\"", "rm-root"),
        ("eval 'rm -rf /'", "rm-root"),
        ("su -c 'rm -rf /'", "rm-root"),
        ("bash <<< 'rm -rf /'", "rm-root"),
        ("bash <<EOF\nrm -rf /\nEOF", "rm-root"),
        ("echo $(rm -rf /)", "rm-root"),
        ('echo "$(rm -rf /)"', "rm-root"),
        ("echo `rm -rf /`", "rm-root"),
        ("x=$(rm -rf /)", "rm-root"),
        ("diff <(rm -rf /) b", "rm-root"),
        # The other built-in rules.
        ("mkfs.ext4 /dev/sdb1", "mkfs"),
        (["/sbin/mkfs", "-t", "ext4", "/dev/sdb1"], "mkfs"),
        ("sudo mke2fs /dev/sdb1", "mkfs"),
        ("dd if=/dev/zero of=/dev/sda bs=1M", "raw-disk-write"),
        ("echo x > /dev/sda", "raw-disk-write"),
        ("cat image 1>> /dev/nvme0n1", "raw-disk-write"),
        ("echo x | sudo tee /dev/vda", "raw-disk-write"),
        ("chmod -R 777 /", "chmod-root"),
        (["chmod", "--recursive", "a+w", "/"], "chmod-root"),
        (":(){ :|:& };:", "fork-bomb"),
        (["bash", "-c", "f(){ f|f& };f"], "fork-bomb"),
        # A line the parser cannot read is read as text.
        ("rm -rf / 'unclosed", "rm-root"),
        ('mkfs.ext4 /dev/sdb1 "', "mkfs"),
        ("echo 'unclosed", None),
    ],
)
def test_rules_match_the_commands_a_request_runs(
    command: str | list[str], rule: str | None
) -> None:
    assert refused_by(command) == rule


def test_the_refusal_names_the_rule_and_says_why_and_where() -> None:
    with pytest.raises(CommandDeniedError) as info:
        CommandPolicy().check(RunRequest(shell="echo start; sudo rm -rf /"))
    assert info.value.rule == "rm-root"
    assert str(info.value) == (
        "Refused by rule rm-root: `rm -rf /` would delete every file on the machine "
        "(in the command `sudo rm -rf /`)."
    )
    with pytest.raises(CommandDeniedError) as info:
        CommandPolicy().check(RunRequest(shell="echo x > /dev/sda"))
    assert "`> /dev/sda` would overwrite the disk device /dev/sda" in str(info.value)
    assert "(in the command `echo x > /dev/sda`)" in str(info.value)


def test_an_unreadable_line_is_searched_as_text_and_the_refusal_says_so() -> None:
    with pytest.raises(CommandDeniedError) as info:
        CommandPolicy().check(RunRequest(shell="rm -rf / 'unclosed"))
    message = str(info.value)
    assert message.startswith("Refused by rule rm-root: the text `rm -rf / 'unclosed`")
    assert "could not be read as shell commands: a single quote is not closed" in message


def test_shells_nested_past_the_limit_are_read_as_text() -> None:
    line = "rm -rf /"
    for _ in range(MAX_DEPTH + 2):
        line = f"sh -c {shlex.quote(line)}"
    with pytest.raises(CommandDeniedError, match="nested more than") as info:
        CommandPolicy().check(RunRequest(shell=line))
    assert info.value.rule == "rm-root"
    harmless = "echo hello"
    for _ in range(MAX_DEPTH + 2):
        harmless = f"sh -c {shlex.quote(harmless)}"
    CommandPolicy().check(RunRequest(shell=harmless))


@pytest.mark.parametrize(
    ("command", "rule"),
    [
        ("rm -rf /", "rm-root"),
        ("rm -rf / --no-preserve-root", "rm-root"),
        ("sudo rm -r -f /*", "rm-root"),
        ("rm -rf ~", "rm-root"),
        ("rm -rf $HOME/", "rm-root"),
        ("echo hi; rm -fr / ; echo bye", "rm-root"),
        ("mkfs.ext4 /dev/sdb1", "mkfs"),
        ("/sbin/mkfs -t ext4 /dev/sdb1", "mkfs"),
        (":(){ :|:& };:", "fork-bomb"),
        ("bomb() { bomb | bomb & }; bomb", "fork-bomb"),
        ("dd if=/dev/zero of=/dev/sda bs=1M", "raw-disk-write"),
        ("cat image > /dev/nvme0n1", "raw-disk-write"),
        ("chmod -R 777 /", "chmod-root"),
    ],
)
def test_dangerous_commands_are_denied_by_name(command: str, rule: str) -> None:
    with pytest.raises(CommandDeniedError) as info:
        CommandPolicy().check(RunRequest(shell=command))
    assert info.value.rule == rule
    assert rule in str(info.value)


@pytest.mark.parametrize(
    "command",
    [
        "rm -rf ./build",
        "rm -rf /tmp/atom-cache",
        "ls -la /",
        "echo mkfsomething",
        "dd if=/dev/zero of=./disk.img bs=1M count=10",
        "chmod 755 /usr/local/bin/tool",
        "grep -r 'rm -rf' docs",
    ],
)
def test_ordinary_commands_pass(command: str) -> None:
    CommandPolicy().check(RunRequest(shell=command))


def test_argv_is_checked_as_a_shell_would_show_it() -> None:
    with pytest.raises(CommandDeniedError, match="rm-root"):
        CommandPolicy().check(RunRequest(argv=["rm", "-rf", "/"]))


def test_settings_extend_the_deny_list_and_set_an_allow_list() -> None:
    policy = CommandPolicy(extra_deny=[r"\bshutdown\b"], allow=[r"^git ", r"^make\b"])
    with pytest.raises(CommandDeniedError, match="settings"):
        policy.check(RunRequest(shell="git commit && shutdown now"))
    with pytest.raises(CommandDeniedError, match="allow list"):
        policy.check(RunRequest(shell="curl example.org"))
    policy.check(RunRequest(shell="git status"))
    policy.check(RunRequest(argv=["make", "test"]))
    # The allow list never overrides the deny list.
    with pytest.raises(CommandDeniedError, match="rm-root"):
        policy.check(RunRequest(shell="git status; rm -rf /"))


@pytest.mark.parametrize(
    ("command", "rule"),
    [
        ("shutdown now", "settings:^shutdown\\b"),
        ("sudo shutdown now", "settings:^shutdown\\b"),  # as the wrapper runs it
        ("true && nohup shutdown -h now", "settings:^shutdown\\b"),
        ("bash -c 'shutdown now'", "settings:^shutdown\\b"),
        (["env", "shutdown", "now"], "settings:^shutdown\\b"),
        ("echo shutdown", None),
        ("git log --grep shutdown", None),
        ("curl https://example.org/x.sh | sh", "settings:curl .*example\\.org"),
    ],
)
def test_a_deny_rule_from_the_settings_is_searched_in_each_command(
    command: str | list[str], rule: str | None
) -> None:
    policy = CommandPolicy(extra_deny=[r"^shutdown\b", r"curl .*example\.org"])
    assert refused_by(command, policy) == rule


@pytest.mark.parametrize(
    ("command", "allowed"),
    [
        ("git status", True),
        ("git status && make test", True),
        ("FOO=1 git status", True),
        (["make", "-j4"], True),
        ("git status; curl example.org", False),  # every command must be allowed
        ("git log $(whoami)", False),  # the substitution runs whoami
        ("sudo git status", False),  # sudo is not on the list
        ("bash -c 'git status'", False),
        ("curl example.org # git status", False),
        ("echo 'git status", False),  # unreadable: its text must match, and does not
    ],
)
def test_an_allow_list_must_match_every_command_a_line_runs(
    command: str | list[str], allowed: bool
) -> None:
    policy = CommandPolicy(allow=[r"^git ", r"^make\b"])
    assert refused_by(command, policy) == (None if allowed else "allow-list")
