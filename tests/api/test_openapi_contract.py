"""The HTTP contract: what the OpenAPI document says, and what every route does alike.

Operation ids are readable and unique; every refusal an operation gives is documented as a
problem; a query parameter a route does not take is refused on every route, not ignored; a date
is taken in ISO 8601 only; a method a path does not take is answered 405 with every method it
does; an account's events carry their place in the store's log.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.api.app import create_app
from services.api_keys import Role
from services.bootstrap import Runtime


@pytest.fixture
def http(sqlite_runtime: Runtime) -> Iterator[TestClient]:
    """A clerk's client on SQLite: the contract is the HTTP layer's, whatever the engine."""
    key = sqlite_runtime.keys.create(name="clerk-ann", tenant_id="acme", role=Role.clerk)
    with TestClient(create_app(sqlite_runtime), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {key.secret}"
        yield client


@pytest.fixture
def document(http: TestClient) -> dict[str, Any]:
    answer = http.get("/openapi.json")
    assert answer.status_code == 200
    spec: dict[str, Any] = answer.json()
    return spec


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), path, operation


def test_operation_ids_are_the_endpoints_names_in_camel_case_and_unique(
    document: dict[str, Any],
) -> None:
    ids = {(method, path): op["operationId"] for method, path, op in operations(document)}

    assert ids[("POST", "/v1/accounts/{account_number}/payments")] == "receivePayment"
    assert ids[("POST", "/v1/accounts/{account_number}/charges")] == "postCharge"
    assert ids[("POST", "/v1/accounts")] == "openAccount"
    assert ids[("GET", "/v1/accounts")] == "listAccounts"
    assert ids[("GET", "/v1/accounts/{account_number}/events")] == "getEvents"
    assert ids[("GET", "/v1/reports/aging")] == "getAging"
    assert ids[("GET", "/v1/accounts/{account_number}/statement.pdf")] == (
        "getStatementDocumentPdf"
    )
    assert ids[("GET", "/v1/statement-runs/{run_id}")] == "getStatementRun"
    assert ids[("GET", "/v1/document-runs/{run_id}")] == "getDocumentRun"
    assert len(set(ids.values())) == len(ids)
    assert [i for i in ids.values() if not re.fullmatch(r"[a-z]+(?:[A-Z0-9][a-z0-9]*)*", i)] == []


def test_every_refusal_is_a_documented_problem_with_an_example_of_its_status(
    document: dict[str, Any],
) -> None:
    assert "HTTPValidationError" not in str(document)
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "code"}
    for method, path, operation in operations(document):
        responses = operation["responses"]
        assert "400" in responses, (method, path)
        if operation.get("security"):
            assert {"401", "503"} <= set(responses), (method, path)
        for status, answer in responses.items():
            if int(status) < 400:
                continue
            content = answer["content"]
            assert list(content) == ["application/problem+json"], (method, path, status)
            body = content["application/problem+json"]
            assert body["schema"] == {"$ref": "#/components/schemas/Problem"}
            examples = [e["value"] for e in body["examples"].values()]
            assert examples, f"{method} {path} documents {status} without an example"
            assert {e["status"] for e in examples} == {int(status)}, (method, path, status)
            assert all(e["detail"] and e["code"] for e in examples)


def test_a_command_documents_its_conflicts_rules_and_roles(document: dict[str, Any]) -> None:
    payment = document["paths"]["/v1/accounts/{account_number}/payments"]["post"]["responses"]

    assert sorted(payment) == ["201", "202", "400", "401", "403", "404", "409", "413", "422", "503"]
    codes = {
        status: set(answer["content"]["application/problem+json"]["examples"])
        for status, answer in payment.items()
        if int(status) >= 400
    }
    assert codes["400"] == {"unknown_parameter", "repeated_parameter"}
    assert codes["404"] == {"account_not_found"}
    assert {"idempotency_key_reused", "concurrent_update"} <= codes["409"]
    assert {"invalid_request", "duplicate_json_key"} <= codes["422"]
    assert codes["503"] == {"database_unavailable", "service_stopping"}
    assert payment["403"]["description"] == "Only a clerk key may do this."
    # What the shape of a route does not tell, the route declares.
    day = document["paths"]["/v1/days/{day}"]["get"]["responses"]
    assert set(day["404"]["content"]["application/problem+json"]["examples"]) == {"day_not_closed"}


def _get_routes(document: dict[str, Any]) -> list[tuple[str, set[str]]]:
    """Every GET route, its path filled in, with the query parameters it declares."""
    filled = {"account_number": "A-1", "day": "2026-03-31", "number": "1", "period": "2026-03"}
    routes = []
    for method, path, operation in operations(document):
        if method != "GET":
            continue
        params = operation.get("parameters", [])
        url = re.sub(r"\{(\w+)\}", lambda m: filled.get(m.group(1), "x"), path)
        routes.append((url, {p["name"] for p in params if p["in"] == "query"}))
    return routes


def test_a_query_parameter_a_route_does_not_take_is_refused_on_every_route(
    http: TestClient, document: dict[str, Any]
) -> None:
    routes = _get_routes(document)
    assert len(routes) > 50
    for url, declared in routes:
        for unknown in ("currency", "limit", "curency"):
            if unknown in declared:
                continue
            answer = http.get(url, params={unknown: "10"})
            assert answer.status_code == 400, (url, unknown, answer.text)
            problem = answer.json()
            assert (problem["code"], problem["field"]) == ("unknown_parameter", unknown), url
            assert answer.headers["content-type"] == "application/problem+json"
            assert repr(unknown) in problem["detail"]


def test_a_query_parameter_given_twice_is_refused_and_the_sentence_names_what_is_taken(
    http: TestClient,
) -> None:
    twice = http.get("/v1/accounts/A-1/events", params=[("limit", "1"), ("limit", "2")])
    misspelt = http.get("/v1/accounts/A-1/balance", params={"as_off": "2026-03-31"})
    none_taken = http.get("/v1/keys", params={"limit": "10"})

    assert (twice.status_code, twice.json()["code"]) == (400, "repeated_parameter")
    assert twice.json()["field"] == "limit"
    assert misspelt.json()["detail"] == (
        "'as_off' is not a parameter of this request; it takes as_of, as_known_at."
    )
    assert none_taken.json()["detail"].endswith("it takes none.")


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/v1/accounts/A-1/balance?as_of=0", "as_of"),
        ("/v1/accounts/A-1/balance?as_of=2026-3-1", "as_of"),
        ("/v1/accounts/A-1/balance?as_known_at=0.5", "as_known_at"),
        ("/v1/accounts/A-1/statement.pdf?to=0", "to"),
        ("/v1/days/0", "day"),
    ],
)
def test_a_date_or_moment_not_in_iso_8601_is_refused(
    http: TestClient, url: str, field: str
) -> None:
    answer = http.get(url)

    assert answer.status_code == 422, answer.text
    assert (answer.json()["code"], answer.json()["field"]) == ("invalid_request", field)


def test_a_date_in_a_body_given_as_a_number_is_refused(http: TestClient) -> None:
    answer = http.post(
        "/v1/accounts",
        json={"account_number": "A-1", "name": "Ann", "currency": "USD", "opened_on": 0},
    )

    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "opened_on"


def test_a_method_a_path_does_not_take_is_answered_with_every_method_it_takes(
    http: TestClient,
) -> None:
    keys = http.delete("/v1/keys")
    deposits = http.put("/v1/remittances/deposits")

    assert keys.status_code == 405
    assert set(keys.headers["allow"].split(", ")) == {"GET", "POST"}
    assert keys.json()["code"] == "method_not_allowed"
    assert deposits.headers["allow"] == "POST"


def test_an_accounts_events_carry_their_place_in_the_stores_log(runtime: Runtime) -> None:
    key = runtime.keys.create(name="clerk-ann", tenant_id="acme", role=Role.clerk)
    with TestClient(create_app(runtime)) as client:
        client.headers["Authorization"] = f"Bearer {key.secret}"
        for number in ("A-1", "A-2"):
            client.post(
                "/v1/accounts",
                json={
                    "account_number": number,
                    "name": "Ann",
                    "currency": "USD",
                    "opened_on": "2026-03-01",
                },
            ).raise_for_status()
        # A-2's events come between A-1's in the log.
        for number in ("A-1", "A-2", "A-1"):
            client.post(
                f"/v1/accounts/{number}/charges",
                json={
                    "code": "V",
                    "description": "Visit",
                    "unit_price": "10.00",
                    "service_date": "2026-03-02",
                },
            ).raise_for_status()

        first = client.get("/v1/accounts/A-1/events").json()["events"]
        other = client.get("/v1/accounts/A-2/events").json()["events"]
        paged = client.get("/v1/accounts/A-1/events", params={"cursor": 1, "limit": 1}).json()

    notifications = runtime.app.recorder.select_notifications(start=1, limit=100)
    logged = {(str(n.originator_id), n.originator_version): n.id for n in notifications}
    for event in first + other:
        assert event["position"] == logged[(event["account_id"], event["account_version"])]
    assert [e["position"] for e in first] == sorted(e["position"] for e in first)
    assert first[1]["position"] < other[1]["position"] < first[2]["position"]
    assert paged["events"][0]["position"] == first[1]["position"]
