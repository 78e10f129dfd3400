"""The shipped provider catalogue: every record valid, safe to fill in, complete.

The records are data a person never edits, so these tests are what stands
between a typo in ``providers.toml`` and a token sent over http, to the wrong
host, or to no host at all.
"""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from urllib.parse import urlsplit

import pytest

from atom_desktop.core.errors import ConfigError
from atom_desktop.integrations.catalogue import (
    CATALOGUE_FILE,
    GENERIC_OIDC,
    AuthKind,
    Provider,
    load_catalogue,
    parse_catalogue,
)

#: Every service the catalogue must offer, as people name them.
SERVICES = (
    # projects and knowledge
    "Asana",
    "Jira",
    "Monday.com",
    "Notion",
    "Linear",
    "Trello",
    "Airtable",
    "ClickUp",
    # messaging, meetings and mail
    "Slack",
    "WhatsApp",
    "Discord",
    "Microsoft Teams",
    "Telegram",
    "Google Chat",
    "Twilio",
    "Matrix",
    "Messenger",
    "Line",
    "Signal",
    "Zoom",
    "Gmail",
    "Outlook",
    # files
    "Google Drive",
    "Dropbox",
    "OneDrive",
    "Box",
    "SharePoint",
    # customers
    "Salesforce",
    "HubSpot",
    "Zendesk",
    "Freshdesk",
    "Intercom",
    # development
    "GitHub",
    "GitLab",
    "Bitbucket",
    "Figma",
    # commerce
    "Stripe",
    "QuickBooks",
    "Xero",
    "Shopify",
    # voice
    "Deepgram",
    "ElevenLabs",
    "AssemblyAI",
)

#: Every field of a record that holds an address (the whoami one is nested).
URL_FIELDS = (
    "docs",
    "discovery",
    "authorize_url",
    "token_url",
    "refresh_url",
    "revoke_url",
    "device_authorization_url",
)
OAUTH_ADDRESS_FIELDS = tuple(name for name in URL_FIELDS if name != "docs")

#: Values that are fine to fill into any record's parameters.
SAMPLE_VALUES = {"issuer": "https://id.example.com"}
SAMPLE_HOST_PART = "acme"

#: A valid record to spoil one field at a time.
GOOD_RECORD = """
[bad]
name = "Bad"
category = "projects"
auth = "oauth2"
docs = "https://example.com/docs"
authorize_url = "https://example.com/authorize"
token_url = "https://example.com/token"
"""

CATALOGUE = load_catalogue()
PROVIDERS = list(CATALOGUE)


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.casefold()).strip("_")


def filled(provider: Provider) -> Provider:
    values = {name: SAMPLE_VALUES.get(name, SAMPLE_HOST_PART) for name in provider.parameters}
    return provider.fill(values)


def urls_of(provider: Provider) -> dict[str, str]:
    """Every address the record holds, by field name."""
    found = {name: getattr(provider, name) for name in URL_FIELDS if getattr(provider, name)}
    if provider.whoami is not None:
        found["whoami.url"] = provider.whoami.url
    return found


def ids(providers: list[Provider]) -> list[str]:
    return [provider.id for provider in providers]


def test_the_url_field_list_covers_every_address_field_of_the_model() -> None:
    # A new URL field added to Provider must be walked by the https test too.
    address_like = {
        name
        for name in Provider.model_fields
        if name.endswith("_url") or name in {"docs", "discovery"}
    }
    assert address_like == set(URL_FIELDS)


def test_the_shipped_catalogue_loads_every_record() -> None:
    text = resources.files("atom_desktop.integrations").joinpath(CATALOGUE_FILE).read_text()
    tables = tomllib.loads(text)
    assert ids(PROVIDERS) == list(tables)
    assert len(CATALOGUE) == len(tables) >= len(SERVICES) + 1


@pytest.mark.parametrize("service", SERVICES)
def test_every_named_service_has_a_record(service: str) -> None:
    matches = [
        provider
        for provider in PROVIDERS
        if provider.name.casefold() == service.casefold() or provider.id == slug(service)
    ]
    assert len(matches) == 1, f"{service}: {ids(matches)}"


def test_ids_are_unique_slugs_and_the_generic_provider_comes_first() -> None:
    names = ids(PROVIDERS)
    assert len(set(names)) == len(names)
    for provider_id in names:
        assert re.fullmatch(r"[a-z][a-z0-9_]{1,39}", provider_id), provider_id
    assert names[0] == GENERIC_OIDC


def test_a_second_table_with_the_same_id_is_refused() -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse_catalogue(GOOD_RECORD + GOOD_RECORD)


def test_records_are_grouped_by_category() -> None:
    seen: list[str] = []
    for provider in PROVIDERS:
        if not seen or seen[-1] != provider.category:
            assert provider.category not in seen, f"{provider.id} is apart from its group"
            seen.append(provider.category)


@pytest.mark.parametrize("provider", PROVIDERS, ids=ids(PROVIDERS))
def test_every_address_is_https_and_stays_so_when_filled_in(provider: Provider) -> None:
    raw = urls_of(provider)
    assert "docs" in raw
    if provider.is_oauth:
        assert raw.keys() & set(OAUTH_ADDRESS_FIELDS)
    for field, url in raw.items():
        if not url.startswith("{issuer}"):
            assert url.startswith("https://"), f"{provider.id}.{field} = {url}"
    for field, url in urls_of(filled(provider)).items():
        parts = urlsplit(url)
        assert parts.scheme == "https", f"{provider.id}.{field} = {url}"
        assert parts.hostname, f"{provider.id}.{field} = {url}"
        assert "{" not in url and "}" not in url, f"{provider.id}.{field} = {url}"
        assert not parts.username and not parts.password, f"{provider.id}.{field} = {url}"


@pytest.mark.parametrize("provider", PROVIDERS, ids=ids(PROVIDERS))
def test_oauth_records_say_where_to_authorize_and_others_carry_no_oauth(
    provider: Provider,
) -> None:
    if provider.auth is AuthKind.OAUTH2:
        assert provider.discovery or (provider.authorize_url and provider.token_url)
        assert provider.credential.value == "Bearer {token}" or provider.id == "shopify"
        return
    for name in OAUTH_ADDRESS_FIELDS:
        assert getattr(provider, name) is None, f"{provider.id}.{name}"
    assert not provider.pkce
    assert not provider.client_secret_required
    assert not provider.scopes
    assert not provider.authorize_params
    assert not provider.token_params
    assert not provider.refresh_tokens
    assert not provider.rotates_refresh_tokens


@pytest.mark.parametrize("provider", PROVIDERS, ids=ids(PROVIDERS))
def test_every_service_record_can_check_its_credential(provider: Provider) -> None:
    if provider.id == GENERIC_OIDC:
        return  # an unknown issuer has no known "who am I" request
    assert provider.whoami is not None
    if provider.whoami.method == "POST" and provider.whoami.body:
        assert provider.whoami.body.startswith(("{", "null"))


def test_google_records_ask_for_a_refresh_token() -> None:
    google = [
        provider
        for provider in PROVIDERS
        if provider.discovery and "accounts.google.com" in provider.discovery
    ]
    assert ids(google) == ["google_chat", "gmail", "google_drive"]
    for provider in google:
        assert provider.authorize_params == {"access_type": "offline", "prompt": "consent"}
        assert provider.refresh_tokens


def test_a_service_with_a_separate_refresh_address_names_it() -> None:
    figma = CATALOGUE.get("figma")
    assert figma.refresh_url == "https://api.figma.com/v1/oauth/refresh"
    assert figma.refresh_url != figma.token_url


def test_shopify_asks_for_expiring_tokens_at_the_code_exchange() -> None:
    shopify = CATALOGUE.get("shopify")
    assert shopify.token_params == {"expiring": "1"}
    assert shopify.refresh_tokens and shopify.rotates_refresh_tokens


def test_freshdesk_sends_its_key_as_basic_auth_with_the_fixed_password() -> None:
    freshdesk = CATALOGUE.get("freshdesk")
    assert freshdesk.auth is AuthKind.API_KEY
    assert freshdesk.credential.value == "Basic {basic}"
    assert freshdesk.credential.basic_password == "X"


# --- Provider.fill: a value can never move a request to another host --------


@pytest.mark.parametrize(
    "issuer", ["http://127.0.0.1:8080", "http://localhost:9000", "https://id.example.com/"]
)
def test_the_generic_provider_takes_a_local_or_https_issuer(issuer: str) -> None:
    record = CATALOGUE.get(GENERIC_OIDC).fill({"issuer": issuer})
    assert record.discovery == issuer.rstrip("/") + "/.well-known/openid-configuration"
    assert record.parameters == ()


@pytest.mark.parametrize(
    "issuer",
    [
        "http://example.com",
        "http://192.168.1.10:8080",
        "https://user@id.example.com",
        "https://user:pw@id.example.com",
        "https://id.example.com/?tenant=a",
        "https://id.example.com/#top",
        "ftp://id.example.com",
        "id.example.com",
    ],
)
def test_the_generic_provider_refuses_other_issuers(issuer: str) -> None:
    with pytest.raises(ValueError, match=r"must be (a plain|an https://) URL"):
        CATALOGUE.get(GENERIC_OIDC).fill({"issuer": issuer})


def test_a_missing_parameter_is_named() -> None:
    with pytest.raises(ValueError, match="subdomain"):
        CATALOGUE.get("zendesk").fill({"subdomain": "  "})


@pytest.mark.parametrize(
    "value",
    [
        "evil.com/",
        "evil.com/x",
        "acme@evil.com",
        "evil.com:443",
        "acme:x@evil.com",
        "evil.com#",
        "evil.com?",
        "acme\\evil.com",
        "acme evil",
        ".acme",
        "acme-",
        "",
    ],
)
def test_a_host_parameter_refuses_anything_that_could_end_the_host(value: str) -> None:
    with pytest.raises(ValueError, match="subdomain"):
        CATALOGUE.get("zendesk").fill({"subdomain": value})


@pytest.mark.parametrize("value", ["acme", "acme-support", "eu.acme", "Acme2"])
def test_an_accepted_host_parameter_stays_under_the_service_domain(value: str) -> None:
    record = CATALOGUE.get("zendesk").fill({"subdomain": value})
    for field, url in urls_of(record).items():
        if field == "docs":
            continue
        host = urlsplit(url).hostname
        assert host == f"{value.lower()}.zendesk.com", f"{field} = {url}"


@pytest.mark.parametrize(
    "provider",
    [provider for provider in PROVIDERS if provider.parameters],
    ids=ids([provider for provider in PROVIDERS if provider.parameters]),
)
def test_every_parametrised_record_refuses_a_slash_in_a_value(provider: Provider) -> None:
    values = {name: SAMPLE_VALUES.get(name, SAMPLE_HOST_PART) for name in provider.parameters}
    name = provider.parameters[0]
    values[name] = "https://evil.example/x" if name == "issuer" else "evil.example/x"
    if name == "issuer":
        # A full https issuer is what the generic provider is for; a path is fine there.
        assert provider.fill(values).discovery is not None
        return
    with pytest.raises(ValueError, match=name):
        provider.fill(values)


# --- parse_catalogue: a bad record is refused, naming the provider and field ---


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (GOOD_RECORD.replace("https://example.com/token", "http://example.com/token"), "token_url"),
        (GOOD_RECORD + 'colour = "blue"\n', "colour"),
        (GOOD_RECORD + 'refresh_url = "http://example.com/refresh"\n', "refresh_url"),
        (GOOD_RECORD + 'whoami = { url = "http://example.com/me" }\n', "whoami.url"),
        (GOOD_RECORD.replace('"https://example.com/docs"', '"example.com/docs"'), "docs"),
    ],
)
def test_a_bad_field_is_refused_naming_the_provider_and_the_field(text: str, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_catalogue(text, source="test.toml")
    message = str(info.value)
    assert "'bad'" in message
    assert field in message
    assert "test.toml" in message


@pytest.mark.parametrize(
    ("table", "words"),
    [
        (
            'name = "K"\ncategory = "voice"\nauth = "api_key"\ndocs = "https://k.example"\n'
            'token_url = "https://k.example/token"\n',
            "token_url",
        ),
        (
            'name = "K"\ncategory = "voice"\nauth = "api_key"\ndocs = "https://k.example"\n'
            'token_params = { expiring = "1" }\n',
            "token_params",
        ),
        (
            'name = "K"\ncategory = "voice"\nauth = "api_key"\ndocs = "https://k.example"\n'
            'credential = { value = "Basic {basic}" }\n',
            "basic_password",
        ),
        (
            'name = "K"\ncategory = "voice"\nauth = "oauth2"\ndocs = "https://k.example"\n'
            'authorize_url = "https://k.example/authorize"\n',
            "discovery or authorize_url and token_url",
        ),
        (
            'name = "K"\ncategory = "customers"\nauth = "api_key"\n'
            'docs = "https://{subdomain}.k.example"\n',
            "parameters",
        ),
    ],
)
def test_an_inconsistent_record_is_refused_saying_why(table: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_catalogue("[kind]\n" + table)
    assert "'kind'" in str(info.value)
    assert words in str(info.value)


def test_a_key_and_secret_service_may_use_basic_auth_without_a_fixed_password() -> None:
    table = (
        '[pair]\nname = "P"\ncategory = "messaging"\nauth = "key_secret"\n'
        'docs = "https://p.example"\ncredential = { value = "Basic {basic}" }\n'
    )
    assert parse_catalogue(table).get("pair").credential.basic_password is None


def test_a_table_that_is_not_a_table_is_refused() -> None:
    with pytest.raises(ConfigError, match="'stray'"):
        parse_catalogue('stray = "value"\n')
