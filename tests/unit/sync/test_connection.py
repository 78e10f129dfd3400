"""Server addresses shown without secrets, and libpq's failures named."""

from __future__ import annotations

import pytest

from atom_desktop.sync.errors import ServerProblem, SyncError
from atom_desktop.sync.server.connection import classify, connect_error, parse_address


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://sync:pw-secret@db.example:5433/atom", "postgresql://sync@db.example:5433/atom"),
        ("postgresql+psycopg://sync:pw-secret@db.example/atom", "postgresql://sync@db.example/atom"),
        ("host=db.example user=sync password=pw-secret dbname=atom", "postgresql://sync@db.example/atom"),
        ("postgresql://admin@/atom?host=/run/pg&port=5433", "postgresql://admin@/atom?host=/run/pg&port=5433"),
        ("postgresql://sync:pw-secret@[::1]:5432/atom", "postgresql://sync@[::1]:5432/atom"),
    ],
)  # fmt: skip
def test_the_shown_address_has_no_password(url: str, shown: str) -> None:
    address = parse_address(url)
    assert address.display == shown
    assert "pw-secret" not in address.display


def test_an_unreadable_address_is_refused_without_echoing_it() -> None:
    with pytest.raises(SyncError) as info:
        parse_address("postgresql://sync:pw-secret@db/atom?bogus=1")
    assert info.value.problem is ServerProblem.INVALID
    assert "pw-secret" not in str(info.value)
    with pytest.raises(SyncError) as info:
        parse_address("user=sync password=pw-secret nonsense")
    assert "pw-secret" not in str(info.value)


_FAILURES = [
    ('could not translate host name "db.invalid" to address: Name or service not known', "dns"),
    ("failed to resolve host 'db.invalid': [Errno -2] Name or service not known", "dns"),
    ('connection to server at "127.0.0.1", port 1 failed: Connection refused', "refused"),
    (
        'connection to server on socket "/tmp/.s.PGSQL.1" failed: No such file or directory',
        "refused",
    ),
    ('connection to server at "10.0.0.1", port 5432 failed: timeout expired', "timeout"),
    ('FATAL:  password authentication failed for user "sync"', "authentication"),
    ("fe_sendauth: no password supplied", "authentication"),
    ('FATAL:  role "sync" does not exist', "authentication"),
    ('FATAL:  role "sync" is not permitted to log in', "authentication"),
    ('FATAL:  no pg_hba.conf entry for host "10.0.0.2", user "sync"', "authentication"),
    ('FATAL:  database "atom" does not exist', "database"),
    ('FATAL:  permission denied for database "atom"', "permission"),
    ("server does not support SSL, but SSL was required", "tls"),
    ("SSL error: certificate verify failed", "tls"),
    ("something nobody expected", "other"),
    # Several addresses tried: the password refused says more than a refused one.
    (
        "Multiple connection attempts failed. All failures were:\n"
        "- host: 'localhost', port: '5432', hostaddr: '::1': connection failed: "
        "Connection refused\n"
        "- host: 'localhost', port: '5432', hostaddr: '127.0.0.1': connection failed: "
        'FATAL:  password authentication failed for user "sync"',
        "authentication",
    ),
]


@pytest.mark.parametrize(("detail", "problem"), _FAILURES)
def test_libpq_failures_are_classified(detail: str, problem: str) -> None:
    assert classify(detail) is ServerProblem(problem)


def test_the_message_says_what_failed_and_masks_secrets() -> None:
    address = parse_address("postgresql://sync:pw-secret-123@db.example:5433/atom")
    error = connect_error(
        address,
        'connection to server at "db.example", port 5433 failed: FATAL:  password '
        'authentication failed for user "sync" (pw-secret-123)',
    )
    assert error.problem is ServerProblem.AUTHENTICATION
    text = str(error)
    assert text.startswith(
        "The server at postgresql://sync@db.example:5433/atom refused the login of sync"
    )
    assert "PGPASSWORD" in text
    assert "pw-secret-123" not in text
