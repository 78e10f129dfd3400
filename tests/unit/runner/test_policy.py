from __future__ import annotations

import pytest

from atom_desktop.runner.policy import CommandDeniedError, CommandPolicy
from atom_desktop.runner.request import RunRequest


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
