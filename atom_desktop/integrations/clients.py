"""The OAuth client the agent is for each provider: its id and, where needed, secret.

Client ids are settings, never code: ``ATOM_INTEGRATIONS__<PROVIDER>__CLIENT_ID``
over ``[integrations.<provider>] client_id`` in the config file. They are read
again at each use, so one set in the window or the file while the agent runs
takes effect at once. A client secret set from the app goes to the OS keyring
(entry ``integration-client-secret:<provider>``), never to the file; one the
person wrote into the file or the environment is used as it is.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from atom_desktop.config.config_file import ENV_PREFIX, read_config_file
from atom_desktop.config.config_update import update_config_file
from atom_desktop.integrations.catalogue import Provider
from atom_desktop.integrations.errors import IntegrationError
from atom_desktop.integrations.oauth import ClientCredentials
from atom_desktop.secrets.keyring_vault import KeyringVault

SETTING = "integrations"


def _env_name(provider_id: str, field: str) -> str:
    return f"{ENV_PREFIX}{SETTING.upper()}__{provider_id.upper()}__{field.upper()}"


def secret_entry(provider_id: str) -> str:
    """The keyring entry of a provider's client secret."""
    return f"integration-client-secret:{provider_id}"


class ClientSettings:
    """Client ids and secrets by provider, read live from env, file and keyring."""

    def __init__(
        self, config_file: Path, vault: KeyringVault, environ: Mapping[str, str] | None = None
    ) -> None:
        self._config_file = config_file
        self._vault = vault
        self._environ = environ

    def _value(self, provider_id: str, field: str) -> tuple[str | None, str]:
        env = os.environ if self._environ is None else self._environ
        named = {key.upper(): value for key, value in env.items()}
        from_env = named.get(_env_name(provider_id, field), "").strip()
        if from_env:
            return from_env, "environment"
        table = read_config_file(self._config_file).get(SETTING, {})
        value = table.get(provider_id, {}).get(field) if isinstance(table, dict) else None
        if isinstance(value, str) and value.strip():
            return value.strip(), "config file"
        return None, ""

    def client_id(self, provider_id: str) -> str | None:
        """The configured client id, or None."""
        return self._value(provider_id, "client_id")[0]

    def source(self, provider_id: str) -> str:
        """Where the client id comes from: "environment", "config file" or ""."""
        return self._value(provider_id, "client_id")[1]

    def client_secret(self, provider_id: str) -> str | None:
        """The client secret: environment, config file, then the keyring."""
        value = self._value(provider_id, "client_secret")[0]
        if value is not None:
            return value
        if not self._vault.probe().usable:
            return None
        return self._vault.get(secret_entry(provider_id))

    def credentials(
        self,
        provider: Provider,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> ClientCredentials:
        """The client to act as for ``provider``; IntegrationError says what is missing.

        ``client_id`` and ``client_secret`` given here (the generic provider's
        request body) win over the settings.
        """
        chosen_id = client_id or self.client_id(provider.id)
        if not chosen_id:
            raise IntegrationError(
                f"No OAuth client id is set for {provider.name}.",
                hint=(
                    f"Register an app with {provider.name} ({provider.docs}), with the "
                    "redirect address http://127.0.0.1/oauth/callback, then set its client id: "
                    f'[{SETTING}.{provider.id}] client_id = "..." in the config file, '
                    f"{_env_name(provider.id, 'client_id')}, the Integrations page, or "
                    f"atom-desktop integrations set-client {provider.id} --client-id ID."
                ),
            )
        secret = client_secret if client_id else (client_secret or self.client_secret(provider.id))
        if provider.client_secret_required and not secret:
            raise IntegrationError(
                f"{provider.name} needs the client secret of the app as well as its id.",
                hint=(
                    f"Set it on the Integrations page (kept in the OS keyring) or in "
                    f"{_env_name(provider.id, 'client_secret')}."
                ),
            )
        method = provider.token_endpoint_auth if secret else "none"
        return ClientCredentials(chosen_id, secret, method)

    def save(self, provider_id: str, client_id: str, client_secret: str | None) -> None:
        """Keep a client id in the config file and its secret in the keyring."""
        if client_secret and not self._vault.probe().usable:
            raise IntegrationError(
                "There is no usable OS keyring to keep the client secret in.",
                hint=(
                    f"Unlock the keyring, or set {_env_name(provider_id, 'client_secret')} "
                    "in the agent's environment."
                ),
            )
        table = read_config_file(self._config_file).get(SETTING, {})
        clients = dict(table) if isinstance(table, dict) else {}
        entry = dict(clients.get(provider_id, {}))
        entry["client_id"] = client_id
        clients[provider_id] = entry
        update_config_file(self._config_file, {SETTING: clients})
        if client_secret:
            self._vault.set(secret_entry(provider_id), client_secret)
