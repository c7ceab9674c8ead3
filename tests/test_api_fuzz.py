"""A bounded schema-driven fuzz run (schemathesis) over the served OpenAPI schema: no 500, no crash."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.api_helpers import API_KEY, MODEL, ApiServer, api_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """A server with a small context, so that generations the fuzzer gets through stay short."""
    args = ("--api-key", API_KEY, "--n-ctx", "256", "--threads", "1")
    with api_server(tmp_path_factory.mktemp("api-fuzz"), *args) as server:
        yield server


@pytest.fixture(scope="module")
def served_schema(fuzz_server: ApiServer) -> schemathesis.BaseSchema:
    """The OpenAPI schema as the server publishes it."""
    return schemathesis.openapi.from_url(fuzz_server.url + "/openapi.json", headers={"x-api-key": API_KEY})


def check_case(case: schemathesis.Case, server: ApiServer) -> None:
    """Send one generated request; the answer must not be a 500, and errors have OpenAI's shape."""
    if isinstance(case.body, dict) and "model" in case.body and case.operation.path != "/v1/embeddings":
        case.body["model"] = MODEL  # reach the generation code, not just the unknown-model check
        for field in ("max_tokens", "max_completion_tokens"):  # keep generations short; other fields stay fuzzed
            value = case.body.get(field)
            if isinstance(value, int) and not isinstance(value, bool) and value > 8:
                case.body[field] = 8
        case.body.setdefault("max_tokens", 8)
    response = case.call(base_url=server.url, headers={"x-api-key": API_KEY}, timeout=120)
    assert response.status_code < 500, (case.operation.path, case.body, response.text)
    content_type = response.headers.get("content-type", [""])[0]  # schemathesis keeps every value of a header
    if response.status_code >= 400 and content_type.startswith("application/json"):
        assert set(response.json()) == {"error"}, response.text
    assert server.server.process.poll() is None, server.log()


def test_no_request_makes_the_server_fail(served_schema: schemathesis.BaseSchema, fuzz_server: ApiServer) -> None:
    operations = [result.ok() for result in served_schema.get_all_operations()]
    assert len(operations) >= 8
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
        )
        def run(case: schemathesis.Case) -> None:
            check_case(case, fuzz_server)

        run()


def test_server_still_answers_after_the_fuzz(fuzz_server: ApiServer) -> None:
    health = httpx.get(fuzz_server.url + "/health").json()
    assert health["status"] == "ok" and health["queued"] == 0
