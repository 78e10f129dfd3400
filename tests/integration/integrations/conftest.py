"""A real OpenID Connect provider for the tests of the integrations' OAuth."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.oidc_provider import OidcProvider, running_oidc_provider


@pytest.fixture
def oidc_provider(tmp_path: Path) -> Iterator[OidcProvider]:
    """A fresh provider per test (about a second to start): no grant or token leaks between tests.

    Access tokens live an hour; a test of expiry starts its own with
    ``running_oidc_provider(path, access_token_ttl_s=2)``.
    """
    with running_oidc_provider(tmp_path / "oidc") as provider:
        yield provider
