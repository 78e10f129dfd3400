"""The Host check compares raw header bytes; these are the cases it must get right."""

from __future__ import annotations

import pytest

from atom_desktop.api.security import allowed_hosts, host_bytes, host_ok

ALLOWED = host_bytes(allowed_hosts(8084, ("Atom.Example",)))


@pytest.mark.parametrize(
    ("values", "ok"),
    [
        ([b"127.0.0.1:8084"], True),
        ([b"localhost:8084"], True),
        ([b"[::1]:8084"], True),
        ([b"LocalHost:8084"], True),  # host names are case-insensitive
        ([b"atom.example:8084"], True),  # an extra name set in any case
        ([b"localhost:8085"], False),
        ([b"localhost"], False),
        ([b"localhost.evil.example:8084"], False),
        ([b"evil.example"], False),
        ([b""], False),
        ([], False),
        ([b"localhost:8084", b"localhost:8084"], False),
        ([b"l\xc3\xb6calhost:8084"], False),
        ([b"LOCALHOST:8084\xff"], False),
    ],
)
def test_host_check(values: list[bytes], ok: bool) -> None:
    assert host_ok(values, ALLOWED) is ok


def test_a_name_that_is_not_ascii_is_left_out() -> None:
    assert host_bytes(["localhost:1", "bücher.example:1"]) == frozenset({b"localhost:1"})
