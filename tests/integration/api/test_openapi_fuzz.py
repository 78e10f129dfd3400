"""Property-based fuzzing of the OpenAPI schema with the owner token.

Driven through schemathesis' Python API rather than its pytest plugin, which
does not run on this pytest version: each operation's strategy feeds a
hypothesis test that calls the live agent and validates the response.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.integration.api.conftest import LiveAgent

EXAMPLES_PER_OPERATION = 30


def test_no_server_errors_and_responses_match_the_schema(agent: LiveAgent) -> None:
    document = schemathesis.openapi.from_url(f"{agent.base_url}/api/v1/openapi.json")
    # The event stream never ends by design; the SSE and WebSocket tests cover it.
    schema = document.exclude(path="/api/v1/events")
    headers = {"Authorization": f"Bearer {agent.owner_token}"}
    tested = []
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            raise AssertionError(f"the agent's OpenAPI document is invalid: {result.err()}")
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def check(case: schemathesis.Case[Any]) -> None:
            # Not "positive data acceptance": a cursor or id can be valid in
            # the schema's terms and still name nothing (400/404 is right).
            case.call_and_validate(
                headers=headers,
                base_url=agent.base_url,
                excluded_checks=[positive_data_acceptance],
            )

        check()
        tested.append(operation.label)
    assert len(tested) >= 9, tested
