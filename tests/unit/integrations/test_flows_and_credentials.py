"""Sign-ins under way, and how a request carries each kind of credential."""

from __future__ import annotations

import base64

import pytest

from atom_desktop.integrations.catalogue import load_catalogue
from atom_desktop.integrations.errors import FlowError, retry_delay
from atom_desktop.integrations.flows import FLOW_LIFETIME_S, MAX_FLOWS, PendingFlows
from atom_desktop.integrations.health import account_name, request_auth
from atom_desktop.integrations.oauth import AuthorizationRequest, ClientCredentials, Endpoints


class Clock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _request(state: str) -> AuthorizationRequest:
    return AuthorizationRequest(f"https://id.example/auth?state={state}", state, "v" * 64, "x")


_ENDPOINTS = Endpoints(token="https://id.example/token")
_CLIENT = ClientCredentials("client")


def test_a_state_is_taken_once_then_said_to_be_used() -> None:
    flows = PendingFlows()
    flows.add("acct", _request("s1"), _ENDPOINTS, _CLIENT)

    assert flows.take("s1").account_id == "acct"
    with pytest.raises(FlowError, match="already used"):
        flows.take("s1")
    with pytest.raises(FlowError, match="unknown"):
        flows.take("never-made")


def test_a_flow_lapses_after_ten_minutes() -> None:
    clock = Clock()
    flows = PendingFlows(clock)
    flows.add("old", _request("s-old"), _ENDPOINTS, _CLIENT)
    clock.now += FLOW_LIFETIME_S - 1
    flows.add("new", _request("s-new"), _ENDPOINTS, _CLIENT)
    clock.now += 1

    assert flows.expired_accounts() == ["old"]
    with pytest.raises(FlowError, match="expired"):
        flows.take("s-old")
    assert flows.take("s-new").account_id == "new"


def test_the_table_of_flows_is_bounded() -> None:
    flows = PendingFlows()
    dropped = [
        flows.add(f"a{n}", _request(f"s{n}"), _ENDPOINTS, _CLIENT) for n in range(MAX_FLOWS + 3)
    ]

    assert len(flows) == MAX_FLOWS
    assert [d.account_id for d in dropped if d is not None] == ["a0", "a1", "a2"]
    with pytest.raises(FlowError):
        flows.take("s0")


def test_dropping_an_account_forgets_its_flows() -> None:
    flows = PendingFlows()
    flows.add("acct", _request("s1"), _ENDPOINTS, _CLIENT)
    flows.drop_account("acct")
    with pytest.raises(FlowError):
        flows.take("s1")


def test_each_kind_of_credential_is_placed_as_its_service_wants() -> None:
    catalogue = load_catalogue()
    token = "t0k3n-value-123"

    github = request_auth(catalogue.get("github"), {"access_token": token})
    telegram = request_auth(catalogue.get("telegram"), {"token": token})
    twilio = request_auth(catalogue.get("twilio"), {"key": "AC1234567", "secret": "s3cr3t-value"})
    freshdesk_record = catalogue.get("freshdesk").fill({"domain": "acme"})
    freshdesk = request_auth(freshdesk_record, {"token": token})
    notion = request_auth(catalogue.get("notion"), {"access_token": token})

    assert github.headers == {"Authorization": f"Bearer {token}"}
    assert telegram.headers == {}
    assert telegram.url("https://api.telegram.org/getMe") == (
        f"https://api.telegram.org/bot{token}/getMe"
    )
    pair = base64.b64encode(b"AC1234567:s3cr3t-value").decode()
    assert twilio.headers == {"Authorization": f"Basic {pair}"}
    fixed = freshdesk_record.credential.basic_password
    assert fixed
    key_as_user = base64.b64encode(f"{token}:{fixed}".encode()).decode()
    assert freshdesk.headers == {"Authorization": f"Basic {key_as_user}"}
    assert notion.headers["Authorization"] == f"Bearer {token}"
    assert "Notion-Version" in notion.headers
    # Every secret value is listed for masking; the fixed header is not.
    assert token in github.secret_values
    assert notion.headers["Notion-Version"] not in notion.secret_values


def test_a_credential_with_a_line_break_is_refused() -> None:
    with pytest.raises(Exception, match="line break"):
        request_auth(load_catalogue().get("github"), {"access_token": "abc\r\nX-Evil: 1"})


def test_an_incomplete_credential_is_refused() -> None:
    with pytest.raises(Exception, match="incomplete"):
        request_auth(load_catalogue().get("twilio"), {"key": "AC1234567"})


def test_account_names_are_read_by_dotted_paths() -> None:
    answer = {"user": {"login": "octo"}, "items": [{"name": "first"}], "n": True}

    assert account_name(answer, "user.login") == "octo"
    assert account_name(answer, "items.0.name") == "first"
    assert account_name(answer, "items.5.name") is None
    assert account_name(answer, "n") is None  # a flag is no name
    assert account_name("text", "user") is None


def test_transient_failures_back_off_to_an_hour() -> None:
    delays = [retry_delay(n).total_seconds() for n in (1, 2, 3, 10, 100)]
    assert delays == [30, 60, 120, 3600, 3600]
