"""Sign-ins under way: each ``state`` is bound to one flow, used once, and expires.

The loopback callback needs no API token (the browser cannot send one):
``state`` is its guard. It is 43 random characters, known only to the agent
and the provider; it is taken from the table at its first use, so a replayed
callback finds nothing; and it lapses after :data:`FLOW_LIFETIME_S`. A
state that ended is remembered for a while, so the person is told "already
used" or "expired" rather than "unknown".
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from atom_desktop.integrations.errors import Failure, FlowError
from atom_desktop.integrations.oauth import AuthorizationRequest, ClientCredentials, Endpoints

#: RFC 6749 10.12 leaves it open; ten minutes is enough to sign in and short
#: enough that an old link in the browser's history is useless.
FLOW_LIFETIME_S = 600.0
#: Sign-ins under way at once; the oldest is dropped beyond this, so a page
#: that starts flows in a loop cannot grow the agent's memory.
MAX_FLOWS = 64
_REMEMBERED_ENDED = 256


@dataclass(frozen=True, slots=True)
class Flow:
    """One sign-in: the account it completes and what its token request needs."""

    account_id: str
    request: AuthorizationRequest
    endpoints: Endpoints
    client: ClientCredentials
    started_at: float


class PendingFlows:
    """The table of sign-ins under way, by ``state``."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._flows: OrderedDict[str, Flow] = OrderedDict()
        # States that ended, and how: "used" or "expired".
        self._ended: OrderedDict[str, str] = OrderedDict()

    def add(
        self,
        account_id: str,
        request: AuthorizationRequest,
        endpoints: Endpoints,
        client: ClientCredentials,
    ) -> Flow | None:
        """Remember a new flow; returns the flow dropped to make room, if any."""
        self._expire()
        dropped = None
        if len(self._flows) >= MAX_FLOWS:
            _, dropped = self._flows.popitem(last=False)
        flow = Flow(account_id, request, endpoints, client, self._clock())
        self._flows[request.state] = flow
        return dropped

    def take(self, state: str) -> Flow:
        """The flow of ``state``, removed for good; FlowError when there is none."""
        self._expire()
        flow = self._flows.pop(state, None)
        if flow is not None:
            self._remember(state, "used")
            return flow
        ended = self._ended.get(state)
        if ended == "used":
            raise FlowError(
                "This sign-in link was already used.",
                failure=Failure.DENIED,
                hint="Start connecting again from the app.",
            )
        if ended == "expired":
            raise FlowError(
                "This sign-in expired: it was not finished within 10 minutes.",
                failure=Failure.DENIED,
                hint="Start connecting again from the app.",
            )
        raise FlowError(
            "This sign-in is unknown to the agent (sign-ins end when the agent restarts).",
            failure=Failure.DENIED,
            hint="Start connecting again from the app.",
        )

    def drop_account(self, account_id: str) -> None:
        """Forget every flow of an account (it was deleted or connected otherwise)."""
        for state in [s for s, f in self._flows.items() if f.account_id == account_id]:
            del self._flows[state]

    def has_account(self, account_id: str) -> bool:
        """Whether a sign-in of the account is under way."""
        return any(f.account_id == account_id for f in self._flows.values())

    def expired_accounts(self) -> list[str]:
        """Accounts whose flows have lapsed since the last call (removed now)."""
        return self._expire()

    def __len__(self) -> int:
        return len(self._flows)

    def _expire(self) -> list[str]:
        cutoff = self._clock() - FLOW_LIFETIME_S
        lapsed = [s for s, f in self._flows.items() if f.started_at <= cutoff]
        accounts = []
        for state in lapsed:
            accounts.append(self._flows.pop(state).account_id)
            self._remember(state, "expired")
        return accounts

    def _remember(self, state: str, how: str) -> None:
        self._ended[state] = how
        while len(self._ended) > _REMEMBERED_ENDED:
            self._ended.popitem(last=False)
