"""Removing secrets from text before it is logged or shown.

Two layers: secrets the program knows (the database key, API tokens) are
registered and replaced wherever they appear, and patterns catch the shapes
secrets usually have (bearer headers, ``password=...``, credentials in URLs,
long hex keys, JWTs) even when nobody registered them.
"""

from __future__ import annotations

import re
import threading

MASK = "***"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # "Authorization: Bearer abc" and "bearer abc" anywhere.
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+"), rf"\1 {MASK}"),
    # name=value and "name": "value" for names that hold secrets.
    (
        re.compile(
            r"(?i)\b((?:[a-z0-9]+[_-])*(?:password|passwd|pwd|passphrase|secret|token|"
            r"api[_-]?key|key|credentials?|authorization)"
            r"['\"]?\s*[=:]\s*['\"]?)([^\s'\"&,;}]+)"
        ),
        rf"\1{MASK}",
    ),
    # scheme://user:password@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+@"), rf"\1{MASK}@"),
    # JSON Web Tokens.
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), MASK),
    # Raw keys written as hex (32 bytes and up), e.g. PRAGMA key = "x'...'".
    (re.compile(r"\b[0-9A-Fa-f]{64,}\b"), MASK),
    # Our own API tokens.
    (re.compile(r"\batom_[A-Za-z0-9_-]{16,}"), MASK),
)


class Redactor:
    """Replaces registered secrets and secret-shaped text with ``***``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: frozenset[str] = frozenset()

    def add(self, secret: str) -> None:
        """Register a secret value; short values are ignored (too many false hits)."""
        if len(secret) < 8:
            return
        with self._lock:
            self._secrets = self._secrets | {secret}

    def secrets(self) -> frozenset[str]:
        """The registered secret values (to keep them out of child environments)."""
        return self._secrets

    def redact(self, text: str) -> str:
        """Return ``text`` with every registered secret and secret pattern masked."""
        # Longest first, so a secret that contains another is masked whole.
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, MASK)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text
