"""Integrations benchmark: many callers, one expired token, one refresh.

Starts the real OpenID Connect provider the tests use (npm's oidc-provider,
installed by ./scripts/test), a real OS keyring (gnome-keyring on a private
D-Bus session) and an agent (the real runtime on its own thread), connects
one account through the provider's sign-in pages, then, ``--rounds`` times
each, interleaved so that the machine's load hits every side alike:

- **100 callers**: the account's access token is marked expired, and
  ``--callers`` coroutines on the agent's loop ask the integration service
  for a token at once. Timed until all have one; the provider's own count of
  refresh requests must rise by exactly one.
- **one refresh alone** (the target's baseline): the same, with one caller.
- **the wire alone** (the floor): one refresh request sent with the same
  HTTP client and OAuth code, nothing stored.

Prints the medians, the ratio of 100 callers to one refresh alone (the
target is 1.5x or less) and to the wire alone.

    .venv/bin/python -m bench.integrations [--callers 100] [--rounds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from atom_desktop.agent_thread import AgentThread
from atom_desktop.config.settings import Settings
from atom_desktop.integrations.oauth import OAuthClient
from atom_desktop.integrations.service import IntegrationService
from atom_desktop.integrations.token_vault import account_entry, decode_secret
from atom_desktop.runtime import Runtime
from tests.support.oidc_provider import OidcProvider, running_oidc_provider
from tests.support.secret_service import running_secret_service


def _expire(service: IntegrationService, account_id: str) -> None:
    """Make the service believe the account's token has expired (on the agent loop)."""
    account = service.repo.update(account_id, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    service._remember(account)


async def _callers(service: IntegrationService, account_id: str, count: int) -> float:
    _expire(service, account_id)
    started = time.perf_counter()
    tokens = await asyncio.gather(*(service.async_access_token(account_id) for _ in range(count)))
    elapsed = time.perf_counter() - started
    assert len(set(tokens)) == 1, "callers got different tokens"
    return elapsed


async def _wire(service: IntegrationService, account_id: str) -> float:
    """One refresh request with the service's client and OAuth code, nothing stored."""
    account = service.repo.get(account_id)
    provider = service.provider_of(account)
    values = decode_secret(
        service._keyring.get(account_entry(account_id, account.secret_generation)) or ""
    )
    oauth = OAuthClient(service.http, provider)
    endpoints = await oauth.endpoints()
    client = service.clients.credentials(provider)
    started = time.perf_counter()
    tokens = await oauth.refresh(endpoints, client, values["refresh_token"])
    elapsed = time.perf_counter() - started
    # The refresh token rotated: keep what the provider now accepts.
    account = await asyncio.to_thread(
        service._vault.replace,
        account,
        {**values, **tokens.secret_values()},
        expires_at=tokens.expires_at,
    )
    service._values[account_id] = {**values, **tokens.secret_values()}
    service._remember(account)
    return elapsed


def _connect(runtime: Runtime, provider: OidcProvider) -> str:
    base = f"http://127.0.0.1:{runtime.api_port}"
    owner = runtime.token_service.owner
    assert owner is not None
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {owner.secret}"}, timeout=30
    ) as api:
        started = api.post(
            "/api/v1/integrations", json={"provider": "oidc", "issuer": provider.issuer}
        )
        started.raise_for_status()
        account_id = str(started.json()["id"])
        with httpx.Client(timeout=30) as browser:
            browser.get(provider.login(started.json()["authorize_url"])).raise_for_status()
        assert api.get(f"/api/v1/integrations/{account_id}").json()["status"] == "connected"
    return account_id


def run(callers: int, rounds: int) -> None:
    """Set everything up, measure, print."""
    with tempfile.TemporaryDirectory(prefix="atom-bench-integrations-") as tmp:
        root = Path(tmp)
        with (
            running_secret_service(root / "keyring") as keyring,
            running_oidc_provider(root / "oidc") as provider,
        ):
            config = root / "config"
            config.mkdir()
            (config / "config.toml").write_text(
                f'[integrations.oidc]\nclient_id = "{provider.client_id}"\n'
            )
            settings = Settings(data_dir=root / "data", config_dir=config, port=0)
            runtime = Runtime(settings, keyring_backend=keyring.backend())
            host = AgentThread(lambda: runtime)
            host.start_and_wait()
            try:
                _measure(runtime, host, provider, callers, rounds)
            finally:
                host.stop()


def _measure(
    runtime: Runtime, host: AgentThread, provider: OidcProvider, callers: int, rounds: int
) -> None:
    service = runtime.integrations
    account_id = _connect(runtime, provider)

    def on_loop(make: Callable[[], Awaitable[float]]) -> float:
        async def timed() -> float:
            return await make()

        return host.call(timed()).result(timeout=120)

    many: list[float] = []
    one: list[float] = []
    wire: list[float] = []
    refreshes: list[int] = []
    for round_number in range(rounds + 2):
        before = provider.token_requests().get("refresh_token", 0)
        elapsed_many = on_loop(lambda: _callers(service, account_id, callers))
        refreshes.append(provider.token_requests().get("refresh_token", 0) - before)
        elapsed_one = on_loop(lambda: _callers(service, account_id, 1))
        elapsed_wire = on_loop(lambda: _wire(service, account_id))
        if round_number >= 2:  # the first rounds warm connections and caches
            many.append(elapsed_many)
            one.append(elapsed_one)
            wire.append(elapsed_wire)

    def ms(values: list[float]) -> str:
        return f"{statistics.median(values) * 1000:7.2f} ms"

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(f"rounds: {rounds} (after 2 not counted), callers: {callers}")
    print(f"refreshes that reached the provider per round of {callers}: {sorted(set(refreshes))}")
    print(f"{callers} callers, one expired token (median): {ms(many)}")
    print(f"one refresh alone (median):               {ms(one)}")
    print(f"the refresh request alone (median):       {ms(wire)}")
    ratio = statistics.median(many) / statistics.median(one)
    print(f"ratio {callers} callers / one refresh: {ratio:.2f}x (target <= 1.5x)")
    overhead = statistics.median(one) / statistics.median(wire)
    print(f"ratio one refresh / the request alone: {overhead:.2f}x")
    assert set(refreshes) == {1}, f"expected exactly one refresh per round, got {refreshes}"


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--callers", type=int, default=100, help="concurrent callers")
    parser.add_argument("--rounds", type=int, default=30, help="rounds of each measurement")
    args = parser.parse_args()
    run(args.callers, args.rounds)


if __name__ == "__main__":
    main()
