"""Steps the HTTP tests share: open account A-1, record a fact on it, read its figures.

``record`` expects the fact to be recorded (201); ``refused`` expects a 422 with a given code
and checks the account's version did not move, so nothing was half-written.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

A = "/v1/accounts/A-1"


def open_account(client: TestClient) -> None:
    client.post(
        "/v1/accounts",
        json={"account_number": "A-1", "name": "Ann", "currency": "USD", "opened_on": "2026-01-01"},
    ).raise_for_status()


def record(
    client: TestClient, facts: str, body: dict[str, Any], key: str | None = None
) -> dict[str, Any]:
    headers = {"Idempotency-Key": key} if key else {}
    response = client.post(f"{A}/{facts}", json=body, headers=headers)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def recorded(answer: dict[str, Any]) -> list[str]:
    return [event["type"] for event in answer["recorded"]]


def version(client: TestClient) -> int:
    current: int = client.get(A).json()["version"]
    return current


def refused(client: TestClient, facts: str, body: dict[str, Any], code: str) -> dict[str, Any]:
    """Post a command that must be refused with ``code``, and check nothing was recorded."""
    before = version(client)
    response = client.post(f"{A}/{facts}", json=body)
    assert response.status_code == 422, response.text
    problem: dict[str, Any] = response.json()
    assert problem["code"] == code, problem
    assert version(client) == before
    return problem


def balance(client: TestClient) -> str:
    figure: str = client.get(f"{A}/balance").json()["balance"]
    return figure


def open_items(client: TestClient) -> dict[str, dict[str, Any]]:
    return {item["number"]: item for item in client.get(f"{A}/open-items").json()["items"]}


def charge(client: TestClient, charge_id: str, price: str, on: str = "2026-01-05") -> None:
    record(
        client,
        "charges",
        {
            "charge_id": charge_id,
            "code": "VISIT",
            "description": f"Visit {charge_id}",
            "unit_price": price,
            "service_date": on,
        },
    )


def invoice(client: TestClient, number: str, **extra: Any) -> dict[str, Any]:
    return record(client, "invoices", {"invoice_number": number, "issued_on": "2026-01-06"} | extra)
