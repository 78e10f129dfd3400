"""Settings: command line over ``ATOM_*`` environment over the TOML config file.

:func:`load_settings` is the one place settings are read. Every problem is
turned into one :class:`~atom_desktop.core.errors.ConfigError` that names the
key, the offending value (masked for secrets) and where it came from.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from atom_desktop.config.config_file import ENV_PREFIX, config_file_path
from atom_desktop.core.errors import ConfigError
from atom_desktop.core.update_address import check_url

_SECRET_FIELDS = frozenset({"encryption_key", "api_token", "sync_url", "integrations"})
# Settings that say where the config file is cannot come from that file.
_NOT_IN_FILE = frozenset({"config_dir", "config_file"})
_HEX_KEY = re.compile(r"[0-9a-fA-F]{64}")
#: Every API token starts with this (secrets/api_token.py makes them).
API_TOKEN_PREFIX = "atom_"  # noqa: S105 - the mark of every token, no secret
#: What ``ATOM_API_TOKEN`` must look like: a token the API accepts, long
#: enough to be a secret (the agent makes 43 characters after the prefix).
_OWNER_TOKEN = re.compile(re.escape(API_TOKEN_PREFIX) + r"[A-Za-z0-9_-]{32,195}")
OWNER_TOKEN_SHAPE = (
    f"must be an ATOM API token: '{API_TOKEN_PREFIX}' followed by 32 to 195 letters, digits, "
    "'-' or '_' (make one with: python3 -c \"import secrets; "
    f"print('{API_TOKEN_PREFIX}' + secrets.token_urlsafe(32))\")"
)


#: The kinds of plan step (the assistant's StepKind), for ``assistant_auto_kinds``.
AssistantStepKind = Literal["shell", "http", "notify", "task_create", "task_update", "automation"]


class IntegrationClient(BaseModel):
    """The OAuth client registered with one provider: ``[integrations.<provider>]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: str | None = Field(default=None, min_length=1, max_length=500)
    client_secret: SecretStr | None = Field(
        default=None, description="Kept in the OS keyring when set from the app."
    )


class Settings(BaseSettings):
    """Every setting of the agent; see DESIGN.md "Configuration"."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_ignore_empty=True,  # ATOM_X= (empty) means "not set"
        # ATOM_INTEGRATIONS__GITHUB__CLIENT_ID: one provider's client settings.
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        validate_default=True,
    )

    config_file: Path | None = Field(default=None, description="The TOML file that was read.")
    data_dir: Path | None = Field(default=None, description="Database and per-profile files.")
    config_dir: Path | None = Field(default=None, description="Config file and key file.")
    log_dir: Path | None = Field(default=None, description="Rotated JSON-lines logs.")
    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=8084, ge=0, le=65535, description="0 picks a free port")
    allow_remote: bool = Field(
        default=False, description="Allow a non-loopback ATOM_HOST (warned at every start)."
    )
    encryption_key: SecretStr | None = Field(
        default=None, description="64 hex characters: the raw 32-byte database key."
    )
    key_storage: Literal["auto", "keyring"] = "auto"
    api_token: SecretStr | None = None
    allowed_origins: Annotated[tuple[str, ...], NoDecode] = ()
    sync_url: SecretStr | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    shutdown_timeout_s: float = Field(default=10.0, gt=0, le=300)
    max_concurrent_runs: int = Field(
        default=4, ge=1, le=256, description="More runs wait in a queue."
    )
    run_output_cap_mib: float = Field(
        default=16, gt=0, le=4096, description="Stored output per run (head and tail kept)."
    )
    kill_grace_s: float = Field(default=3.0, ge=0, le=60, description="SIGTERM to SIGKILL delay.")
    deny_commands: tuple[str, ...] = Field(
        default=(), description="Regular expressions added to the built-in deny list."
    )
    allow_commands: tuple[str, ...] | None = Field(
        default=None, description="If set, API/automation/AI runs must match one of these."
    )

    integrations: dict[str, IntegrationClient] = Field(
        default_factory=dict,
        description="OAuth clients by provider id ([integrations.github] client_id = ...).",
    )

    automation_debounce_s: float = Field(
        default=2.0, ge=0.05, le=3600, description="File changes gathered into one trigger."
    )
    automation_history_days: float = Field(
        default=14, gt=0, le=3650, description="Automation runs older than this are deleted."
    )
    automation_history_max_runs: int = Field(
        default=10_000, ge=10, le=10_000_000, description="Automation runs kept at most."
    )

    # Token buckets (api/rate_limit.py): each allows ``burst`` requests at
    # once and refills at the rate. Every request takes from its token's
    # bucket (one bucket for all requests that need no token); with a
    # named token, starting a run and making a token also take from a
    # tighter bucket of their own.
    rate_limits: bool = Field(
        default=True, description="Answer 429 to requests past the limits below."
    )
    rate_owner_per_s: float = Field(
        default=200, gt=0, le=1_000_000, description="Requests a second, owner token."
    )
    rate_owner_burst: int = Field(
        default=2000, ge=1, le=10_000_000, description="Requests at once, owner token."
    )
    rate_token_per_s: float = Field(
        default=20, gt=0, le=1_000_000, description="Requests a second, each named token."
    )
    rate_token_burst: int = Field(
        default=200, ge=1, le=10_000_000, description="Requests at once, each named token."
    )
    rate_anonymous_per_s: float = Field(
        default=50,
        gt=0,
        le=1_000_000,
        description="Requests a second, all requests that need no token together.",
    )
    rate_anonymous_burst: int = Field(
        default=500,
        ge=1,
        le=10_000_000,
        description="Requests at once, requests that need no token.",
    )
    rate_run_starts_per_min: float = Field(
        default=120, gt=0, le=1_000_000, description="POST /runs a minute, per named token."
    )
    rate_run_starts_burst: int = Field(
        default=30, ge=1, le=10_000_000, description="POST /runs at once, per named token."
    )
    rate_token_creations_per_min: float = Field(
        default=6, gt=0, le=1_000_000, description="POST /tokens a minute, per named token."
    )
    rate_token_creations_burst: int = Field(
        default=10, ge=1, le=10_000_000, description="POST /tokens at once, per named token."
    )

    update_check: bool = Field(
        default=True,
        description="Check for signed updates at start and daily (built apps only).",
    )
    update_url: str | None = Field(
        default=None,
        max_length=2000,
        description="Another address for the signed update manifest (a mirror); "
        "the key that must sign it comes from the build.",
    )

    # Alerts (diagnostics/alerts.py): one desktop notification and the tray's
    # error state per problem, each kind on or off (core/alert_kinds.py).
    alerts_automation_failed: bool = Field(
        default=True, description="Alert when an automation run fails."
    )
    alerts_service_stopped: bool = Field(
        default=True, description="Alert when a part of the agent stops with an error."
    )
    alerts_disk_full: bool = Field(
        default=True, description="Alert when the data folder's disk is almost full."
    )
    alerts_keyring_locked: bool = Field(
        default=True, description="Alert when the OS keyring the agent uses is locked."
    )
    alerts_integration_reconnect: bool = Field(
        default=True, description="Alert when an integration account needs reconnecting."
    )
    alerts_every_min: float = Field(
        default=15,
        ge=0,
        le=7 * 24 * 60,
        description="At most one alert per problem (kind and subject) in this many minutes.",
    )
    alerts_disk_free_mib: float = Field(
        default=200,
        ge=0,
        le=1024 * 1024,
        description="The data folder's disk counts as full below this much free space.",
    )

    # The assistant's AI provider (assistant/providers/). Its API key is kept
    # in the OS keyring only, never here.
    assistant_provider: Literal["none", "openai_compatible", "anthropic"] = Field(
        default="none", description="Which AI provider plans requests ('none': rules only)."
    )
    assistant_base_url: str | None = Field(
        default=None,
        max_length=2000,
        description="The provider's address (OpenAI-compatible: up to /v1; "
        "empty: the provider's own).",
    )
    assistant_model: str | None = Field(
        default=None, min_length=1, max_length=200, description="The model to ask."
    )
    assistant_structured_output: Literal["json_schema", "json_object", "tools"] = Field(
        default="json_schema",
        description="How an OpenAI-compatible server is asked for a plan: JSON schema, "
        "JSON object with a schema (llama-cpp-python's server), or tools.",
    )

    # What the assistant may read and send to the provider: nothing unless
    # the person allows it (Settings → Assistant).
    assistant_share_tasks: bool = Field(
        default=False, description="The assistant may send open tasks to the AI provider."
    )
    assistant_share_runs: bool = Field(
        default=False,
        description="The assistant may send recent runs and their output's tail to the provider.",
    )
    assistant_share_automations: bool = Field(
        default=False, description="The assistant may send the automations to the provider."
    )
    assistant_context_tokens: int = Field(
        default=3000,
        ge=200,
        le=100_000,
        description="At most this many tokens (estimated) of tasks, runs and automations "
        "go with a request.",
    )
    # Kinds of plan step that run without a person's approval. The names are
    # the assistant's StepKind values (a test keeps the two lists equal).
    assistant_auto_kinds: Annotated[tuple[AssistantStepKind, ...], NoDecode] = Field(
        default=(),
        description="Kinds of plan step that run without approval: shell, http, notify, "
        "task_create, task_update, automation.",
    )

    @field_validator("deny_commands", "allow_commands")
    @classmethod
    def _check_patterns(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for pattern in value or ():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from None
        return value

    @field_validator("update_url")
    @classmethod
    def _check_update_url(cls, value: str | None) -> str | None:
        return value if value is None else check_url(value)

    @field_validator("assistant_base_url")
    @classmethod
    def _check_assistant_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.username:
            raise ValueError(
                f"{value!r} is not a base URL; write http(s)://host[:port]/path, "
                "e.g. http://127.0.0.1:11434/v1"
            )
        return value

    @field_validator("encryption_key")
    @classmethod
    def _check_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _HEX_KEY.fullmatch(value.get_secret_value()):
            raise ValueError("must be exactly 64 hexadecimal characters (a raw 32-byte key)")
        return value

    @field_validator("api_token")
    @classmethod
    def _check_api_token(cls, value: SecretStr | None) -> SecretStr | None:
        # Refused here, at the start: of another shape, the API would refuse
        # it on every request instead (403), with nothing to say why.
        if value is not None and not _OWNER_TOKEN.fullmatch(value.get_secret_value()):
            raise ValueError(OWNER_TOKEN_SHAPE)
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        return split_origins(value) if isinstance(value, str) else value

    @field_validator("assistant_auto_kinds", mode="before")
    @classmethod
    def _split_kinds(cls, value: object) -> object:
        # ATOM_ASSISTANT_AUTO_KINDS=notify,task_create
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _check_origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for origin in value:
            parts = urlsplit(origin)
            if (
                parts.scheme not in ("http", "https")
                or not parts.hostname
                or parts.path
                or parts.query
                or parts.fragment
                or parts.username
            ):
                raise ValueError(
                    f"{origin!r} is not an origin; write scheme://host[:port], "
                    "e.g. https://app.atom.example"
                )
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Command line (init) over environment over the config file."""
        config_file = getattr(init_settings, "init_kwargs", {}).get("config_file")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)


def split_origins(text: str) -> tuple[str, ...]:
    """Origins written as one comma-separated string (environment, config file)."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build :class:`Settings` from command-line ``overrides``, env and file.

    ``environ`` defaults to ``os.environ``; it decides only where the config
    directory is and which source a bad value came from (pydantic-settings
    reads the process environment itself).
    """
    cli = {k: v for k, v in (overrides or {}).items() if v is not None}
    env = os.environ if environ is None else environ
    config_file = config_file_path(cli, env)
    file_values = _read_config_file(config_file)
    try:
        return Settings(**cli, config_file=config_file if file_values is not None else None)
    except ValidationError as exc:
        raise _explain(exc, cli, env, config_file, file_values or {}) from None


def _read_config_file(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"Config file {path} is not valid TOML: {exc}.",
            hint="Fix the file or move it away; every setting is optional.",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Config file {path} cannot be read: {exc}.") from None
    for key in values:
        if key in _NOT_IN_FILE:
            raise ConfigError(
                f"Setting {key!r} cannot be set in the config file {path}, which it locates.",
                hint=f"Use --{key.replace('_', '-')} or {ENV_PREFIX}{key.upper()} instead.",
            )
    return values


def _explain(
    exc: ValidationError,
    cli: Mapping[str, Any],
    env: Mapping[str, str],
    config_file: Path,
    file_values: Mapping[str, Any],
) -> ConfigError:
    env_upper = {k.upper(): v for k, v in env.items()}
    lines = []
    for error in exc.errors():
        key = str(error["loc"][0]) if error["loc"] else "?"
        env_name = f"{ENV_PREFIX}{key.upper()}"
        if key in cli:
            source, value = f"option --{key.replace('_', '-')}", cli[key]
        elif env_name in env_upper:
            source, value = f"environment variable {env_name}", env_upper[env_name]
        elif key in file_values:
            source, value = f"config file {config_file}", file_values[key]
        else:
            source, value = "defaults", error.get("input")
        shown = "(hidden)" if key in _SECRET_FIELDS else repr(value)
        if error["type"] == "extra_forbidden":
            known = ", ".join(sorted(set(Settings.model_fields) - _NOT_IN_FILE))
            lines.append(f"Unknown setting {key!r} in {source}. Known settings: {known}.")
        else:
            message = error["msg"].removeprefix("Value error, ")
            lines.append(f"Invalid setting {key} = {shown} from {source}: {message}.")
    return ConfigError("\n".join(lines))
