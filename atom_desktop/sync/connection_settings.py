"""Where the sync server is set, and where its password is kept.

The address is a setting: ``ATOM_SYNC_URL`` over ``sync_url`` in the config
file. A password given with it through ``atom-desktop sync connect`` or the
window goes to the OS keyring, one entry per profile; the address that is
stored keeps none, so the config file can be read, shown and backed up. A
password written into ``ATOM_SYNC_URL`` or the file by hand is used as it
is (that is the user's choice), and libpq's own ``PGPASSWORD`` and
``~/.pgpass`` still work for an address with no password anywhere.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from atom_desktop.config.config_file import ENV_PREFIX, read_config_file
from atom_desktop.config.config_update import update_config_file
from atom_desktop.secrets.errors import SecretsError
from atom_desktop.secrets.keyring_vault import KeyringVault
from atom_desktop.sync.errors import ServerProblem, SyncError
from atom_desktop.sync.server.connection import parse_address

logger = logging.getLogger(__name__)

#: The keyring entry (in the profile's keyring service) that holds the password.
SYNC_PASSWORD_ENTRY = "sync-password"  # noqa: S105 - the entry's name, no secret
#: The setting's name in the config file, and in the environment with the prefix.
SETTING = "sync_url"
ENV_NAME = f"{ENV_PREFIX}{SETTING.upper()}"
_URL_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")


def split_password(url: str) -> tuple[str, str | None]:
    """``url`` without its password, and the password (None when it has none).

    A URL stays a URL (its user, hosts, database and options as written); a
    ``key=value`` connection string stays one. SyncError (INVALID) when
    libpq cannot read ``url`` at all.
    """
    text = url.strip()
    password = parse_address(text).password
    if not password:
        return text, None
    if text.startswith(_URL_SCHEMES):
        return _url_without_password(text), password
    params = conninfo_to_dict(text)
    params.pop("password", None)
    return make_conninfo("", **params), password


def _url_without_password(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc
    userinfo, at, hosts = netloc.rpartition("@")
    if at:
        user = userinfo.partition(":")[0]
        netloc = f"{user}@{hosts}" if user else hosts
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "password"]
    return urlunsplit(
        (parts.scheme, netloc, parts.path, urlencode(query, quote_via=quote), parts.fragment)
    )


def with_password(url: str, password: str | None) -> str:
    """A connection string for ``url`` with ``password`` added (``url`` when None)."""
    if not password:
        return url
    return make_conninfo(parse_address(url).conninfo, password=password)


@dataclass(frozen=True, slots=True)
class ConfiguredServer:
    """The server as configured: its address and where the address came from."""

    url: str
    source: str  # "environment" or "config file"


def configured_server(
    config_file: Path, environ: Mapping[str, str] | None = None
) -> ConfiguredServer | None:
    """The sync address the settings name now (the environment over the file), or None.

    Read again at each call, so that a running agent can pick up an address
    set after it started.
    """
    env = os.environ if environ is None else environ
    named = {key.upper(): value for key, value in env.items()}
    from_env = named.get(ENV_NAME, "").strip()
    if from_env:
        return ConfiguredServer(from_env, "environment")
    value = read_config_file(config_file).get(SETTING)
    if isinstance(value, str) and value.strip():
        return ConfiguredServer(value.strip(), "config file")
    return None


class SyncConnectionStore:
    """Saves and forgets the sync server of one profile: the address and its password."""

    def __init__(self, config_file: Path, vault: KeyringVault) -> None:
        self._config_file = config_file
        self._vault = vault

    def configured(self, environ: Mapping[str, str] | None = None) -> ConfiguredServer | None:
        """The configured address (see :func:`configured_server`)."""
        return configured_server(self._config_file, environ)

    def stored_password(self) -> str | None:
        """The password kept in the keyring, or None (none kept, or no usable keyring)."""
        if not self._vault.probe().usable:
            return None
        try:
            return self._vault.get(SYNC_PASSWORD_ENTRY)
        except SecretsError as exc:
            logger.warning("The sync password could not be read: %s", exc)
            return None

    def connection_url(self, url: str) -> str:
        """``url`` ready to connect: with the keyring's password when it carries none."""
        if parse_address(url).password:
            return url
        return with_password(url, self.stored_password())

    def save(self, url: str, password: str | None) -> str:
        """Keep ``url`` in the config file and its password in the keyring; returns what was stored.

        A password in ``url`` itself counts as given. With none given, a
        password kept from before is removed: it belonged to the old address.
        Nothing is changed when the keyring cannot take the password.
        """
        bare, in_url = split_password(url)
        secret = password or in_url
        if secret:
            status = self._vault.probe()
            if not status.usable:
                raise SyncError(
                    "The sync password cannot be kept: there is no usable OS keyring "
                    f"({status.explain()}).",
                    problem=ServerProblem.INVALID,
                    hint="Unlock or install a keyring, or leave the password out of the address "
                    "and give it by PGPASSWORD or ~/.pgpass.",
                )
            self._vault.set(SYNC_PASSWORD_ENTRY, secret)
        elif self._vault.probe().usable:
            # Without a keyring there is no password kept to remove.
            self._vault.delete(SYNC_PASSWORD_ENTRY)
        update_config_file(self._config_file, {SETTING: bare})
        return bare

    def forget(self) -> None:
        """Remove the address from the config file and the password from the keyring."""
        if self._vault.probe().usable:
            self._vault.delete(SYNC_PASSWORD_ENTRY)
        update_config_file(self._config_file, {SETTING: None})


__all__ = [
    "ENV_NAME",
    "SYNC_PASSWORD_ENTRY",
    "ConfiguredServer",
    "SyncConnectionStore",
    "configured_server",
    "split_password",
    "with_password",
]
