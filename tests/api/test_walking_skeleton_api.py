"""The walking skeleton over HTTP: open, charge, pay, read the balance; and bad input."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi.testclient import TestClient

PROBLEM = "application/problem+json"


def _open(client: TestClient, number: str = "A-100") -> Any:
    return client.post(
        "/v1/accounts",
        json={
            "account_number": number,
            "name": "Ann Example",
            "currency": "USD",
            "opened_on": "2026-01-01",
        },
    )


def _assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["status"] == status
    assert isinstance(body["detail"], str)
    assert body["detail"].endswith(".") or ":" in body["detail"]
    return body


def test_a_clerk_opens_charges_and_takes_a_payment_then_reads_the_balance(
    client: TestClient,
) -> None:
    opened = _open(client)
    assert opened.status_code == 201, opened.text
    assert opened.json()["balance"] == "0.00"

    charged = client.post(
        "/v1/accounts/A-100/charges",
        json={
            "code": "VISIT",
            "description": "Office visit",
            "quantity": "2",
            "unit_price": "10.00",
            "tax": "1.50",
            "service_date": "2026-01-02",
        },
    )
    assert charged.status_code == 201, charged.text
    paid = client.post(
        "/v1/accounts/A-100/payments",
        json={
            "amount": "5.00",
            "method": "cash",
            "reference": "receipt 1",
            "received_on": "2026-01-03",
        },
        headers={"X-Correlation-Id": "req-42"},
    )
    assert paid.status_code == 201, paid.text
    assert paid.headers["X-Correlation-Id"] == "req-42"

    balance = client.get("/v1/accounts/A-100/balance")
    assert balance.status_code == 200
    assert balance.json() == {
        "account_number": "A-100",
        "currency": "USD",
        "balance": "16.50",
        "unapplied_credit": "5.00",
        "owed_by_insurers": {},
        "version": 3,
        "as_of": None,
        "as_known_at": None,
    }


def test_a_request_without_a_valid_key_is_unauthenticated(client: TestClient) -> None:
    del client.headers["Authorization"]
    _assert_problem(client.get("/v1/accounts/A-100"), 401, "unauthenticated")
    client.headers["Authorization"] = "Bearer ar_000000000000_not-a-real-secret"
    _assert_problem(client.get("/v1/accounts/A-100"), 401, "unauthenticated")


def test_an_unknown_account_is_not_found(client: TestClient) -> None:
    body = _assert_problem(client.get("/v1/accounts/NOPE/balance"), 404, "account_not_found")
    assert body["field"] == "account_number"


def test_an_amount_sent_as_a_json_number_is_refused(client: TestClient) -> None:
    _open(client)
    response = client.post(
        "/v1/accounts/A-100/payments",
        json={"amount": 5.1, "method": "cash", "reference": "r", "received_on": "2026-01-03"},
    )
    body = _assert_problem(response, 422, "invalid_request")
    assert body["field"] == "amount"
    assert client.get("/v1/accounts/A-100").json()["version"] == 1


def test_an_amount_finer_than_a_cent_is_refused_and_nothing_is_recorded(client: TestClient) -> None:
    _open(client)
    response = client.post(
        "/v1/accounts/A-100/payments",
        json={"amount": "5.001", "method": "cash", "reference": "r", "received_on": "2026-01-03"},
    )
    _assert_problem(response, 422, "amount_too_precise")
    assert client.get("/v1/accounts/A-100").json()["version"] == 1


def test_malformed_json_unknown_fields_and_bad_dates_get_problems_not_500(
    client: TestClient,
) -> None:
    _open(client)
    malformed = client.post(
        "/v1/accounts/A-100/payments",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    _assert_problem(malformed, 422, "invalid_request")
    unknown = client.post(
        "/v1/accounts/A-100/payments",
        json={
            "amount": "1.00",
            "method": "cash",
            "reference": "r",
            "received_on": "2026-01-03",
            "colour": "red",
        },
    )
    assert _assert_problem(unknown, 422, "invalid_request")["field"] == "colour"
    bad_date = client.post(
        "/v1/accounts/A-100/payments",
        json={"amount": "1.00", "method": "cash", "reference": "r", "received_on": "the 3rd"},
    )
    assert _assert_problem(bad_date, 422, "invalid_request")["field"] == "received_on"
    negative = client.post(
        "/v1/accounts/A-100/payments",
        json={"amount": "-1.00", "method": "cash", "reference": "r", "received_on": "2026-01-03"},
    )
    assert _assert_problem(negative, 422, "invalid_request")["field"] == "amount"
    assert client.get("/v1/accounts/A-100").json()["version"] == 1


def test_an_oversized_body_is_refused_before_it_is_read(client: TestClient) -> None:
    declared = client.post(
        "/v1/accounts", content=b"x" * 1_000_001, headers={"Content-Type": "application/json"}
    )
    _assert_problem(declared, 413, "body_too_large")

    def chunks() -> Iterator[bytes]:
        yield b'{"account_number": "' + b"x" * 600_000
        yield b"x" * 600_000 + b'"}'

    chunked = client.post(
        "/v1/accounts", content=chunks(), headers={"Content-Type": "application/json"}
    )
    _assert_problem(chunked, 413, "body_too_large")


def test_opening_an_account_twice_is_a_conflict(client: TestClient) -> None:
    assert _open(client).status_code == 201
    _assert_problem(_open(client), 409, "account_already_exists")


def test_the_openapi_document_and_docs_are_published(client: TestClient) -> None:
    spec = client.get("/openapi.json")
    assert spec.status_code == 200
    assert "/v1/accounts/{account_number}/payments" in spec.json()["paths"]
    assert client.get("/docs").status_code == 200


def test_a_retried_request_with_its_idempotency_key_is_answered_once(client: TestClient) -> None:
    _open(client)
    payment = {
        "amount": "5.00",
        "method": "cash",
        "reference": "r",
        "received_on": "2026-01-03",
        "payment_id": "p-1",
    }

    first = client.post(
        "/v1/accounts/A-100/payments", json=payment, headers={"Idempotency-Key": "k-1"}
    )
    again = client.post(
        "/v1/accounts/A-100/payments", json=payment, headers={"Idempotency-Key": "k-1"}
    )

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert client.get("/v1/accounts/A-100").json()["version"] == 2
    changed = client.post(
        "/v1/accounts/A-100/payments",
        json={**payment, "amount": "6.00"},
        headers={"Idempotency-Key": "k-1"},
    )
    assert _assert_problem(changed, 409, "idempotency_key_reused")["field"] == "Idempotency-Key"


def test_the_reason_a_clerk_gives_is_recorded_on_the_event(client: TestClient) -> None:
    _open(client)
    client.post(
        "/v1/accounts/A-100/charges",
        json={
            "charge_id": "c-1",
            "code": "VISIT",
            "description": "Visit",
            "unit_price": "10.00",
            "service_date": "2026-01-02",
        },
    ).raise_for_status()
    voided = client.post(
        "/v1/accounts/A-100/charge-voids",
        json={"charge_id": "c-1", "effective_on": "2026-01-03"},
        headers={"X-Reason": "entered on the wrong patient"},
    )
    assert voided.status_code == 201, voided.text
    events = client.get("/v1/accounts/A-100/events").json()["events"]
    assert events[-1]["type"] == "ChargeVoided"
    assert events[-1]["reason"] == "entered on the wrong patient"
    assert events[-2]["reason"] is None
