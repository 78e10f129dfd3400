from __future__ import annotations

import pytest

from atom_desktop.core.redaction import Redactor

KEY_HEX = "9f" * 32


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer abc.def-123", "abc.def-123"),
        ("calling with bearer s3cr3tT0ken", "s3cr3tT0ken"),
        ("password=hunter22 user=bob", "hunter22"),
        ('{"client_secret": "cs-123456"}', "cs-123456"),
        ("api_key: AKIA1234567", "AKIA1234567"),
        ("refresh_token=rt.abcdef&x=1", "rt.abcdef"),
        ("postgresql://atom:pa55word@db:5432/atom", "pa55word"),
        (f"PRAGMA key = \"x'{KEY_HEX}'\"", KEY_HEX),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig_part-1", "eyJzdWIiOiIxIn0"),
        ("token atom_0123456789abcdefABCDEF_xyz used", "atom_0123456789abcdefABCDEF_xyz"),
    ],
)
def test_secret_shapes_are_masked(text: str, secret: str) -> None:
    out = Redactor().redact(text)
    assert secret not in out
    assert "***" in out


def test_registered_secret_is_masked_anywhere() -> None:
    redactor = Redactor()
    redactor.add("plain-looking-value-42")
    out = redactor.redact("the value plain-looking-value-42 appeared in prose")
    assert out == "the value *** appeared in prose"


@pytest.mark.parametrize(
    "text",
    [
        "Key storage: OS keyring (keyring.backends.SecretService.Keyring)",
        "Opened the encrypted database /home/a/.local/share/atom-desktop/atom.db",
        "Task 01a21280-1d09-7179-8437-d403721c604b created",
        "set ATOM_KEY_STORAGE=keyring to refuse key files",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert Redactor().redact(text) == text


def test_short_values_are_not_registered() -> None:
    redactor = Redactor()
    redactor.add("ab")
    assert redactor.redact("about abc") == "about abc"
