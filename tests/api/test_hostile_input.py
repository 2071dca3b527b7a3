"""Intake refuses what could not be stored and read back, with a 422, a stable code and nothing
written: control characters in text, amounts outside the documented pattern or past their bound,
dates outside 1900-01-01..2999-12-31, account numbers no path could route, duplicated JSON keys.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from domain.schedules import MAX_TERMS_DAYS
from tests.api.account_steps import A, balance, charge, open_account, record, refused, version

LARGEST = "9999999999999.99"
PAST_THE_BOUND = "10000000000000.00"


def opening(number: str = "A-1", **extra: Any) -> dict[str, Any]:
    return {
        "account_number": number,
        "name": "Ann",
        "currency": "USD",
        "opened_on": "2026-01-01",
    } | extra


def payment(**extra: Any) -> dict[str, Any]:
    return {
        "amount": "1.00",
        "method": "cash",
        "reference": "desk",
        "received_on": "2026-01-10",
    } | extra


def problem_of(response: Any, code: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    document: dict[str, Any] = response.json()
    assert document["code"] == code, document
    assert document["detail"]
    return document


@pytest.mark.parametrize(
    "name", ["evil\u0000name", "bell\u0007", "del\u007f", "c1\u0085x", "tab\there"]
)
def test_an_account_name_with_a_control_character_is_refused(client: TestClient, name: str) -> None:
    document = problem_of(client.post("/v1/accounts", json=opening(name=name)), "control_character")
    assert document["field"] == "name"
    assert client.get(A).status_code == 404


def test_a_lone_surrogate_in_text_is_refused(client: TestClient) -> None:
    # UTF-8 cannot encode it, so PostgreSQL could not store it.
    body = json.dumps(opening()).replace('"Ann"', '"An\\ud800n"')
    response = client.post(
        "/v1/accounts", content=body, headers={"Content-Type": "application/json"}
    )
    problem_of(response, "invalid_request")


def test_control_characters_are_refused_in_every_free_text_field(client: TestClient) -> None:
    open_account(client)
    charge_body = {
        "code": "VISIT",
        "description": "Visit\u0000",
        "unit_price": "10.00",
        "service_date": "2026-01-05",
    }
    refused(client, "charges", charge_body, "control_character")
    refused(client, "payments", payment(reference="desk\u001b[31m"), "control_character")
    refused(
        client,
        "collection-activities",
        {
            "channel": "call",
            "outcome": "left a message",
            "occurred_on": "2026-01-10",
            "note": "called\u0000",
        },
        "control_character",
    )
    refused(
        client,
        "detail-changes",
        {"name": "Bo\u0000", "effective_on": "2026-01-02"},
        "control_character",
    )


def test_a_multi_line_note_keeps_its_newlines_and_tabs(client: TestClient) -> None:
    open_account(client)
    record(
        client,
        "collection-activities",
        {
            "channel": "call",
            "outcome": "left a message",
            "occurred_on": "2026-01-10",
            "note": "line one\n\tline two",
        },
    )


def test_text_longer_than_its_bound_is_refused(client: TestClient) -> None:
    response = client.post("/v1/accounts", json=opening(name="x" * 201))
    problem_of(response, "invalid_request")


@pytest.mark.parametrize(
    "amount",
    [
        "1e2",
        "1_000",
        " 12.50 ",
        "12.50\n",
        "\u0661\u0662",
        "+5",
        ".5",
        "5.",
        "0x10",
        "NaN",
        "Infinity",
        "-1.00",
        "1,000.00",
        "",
    ],
)
def test_an_amount_outside_the_documented_pattern_is_refused(
    client: TestClient, amount: str
) -> None:
    open_account(client)
    refused(client, "payments", payment(amount=amount), "invalid_request")


def test_an_amount_past_the_bound_is_refused_and_one_within_it_is_taken(
    client: TestClient,
) -> None:
    open_account(client)
    charge_body = {"code": "VISIT", "description": "Visit", "service_date": "2026-01-05"}
    refused(client, "charges", charge_body | {"unit_price": PAST_THE_BOUND}, "amount_out_of_range")
    refused(
        client,
        "charges",
        charge_body | {"unit_price": "9999999999999999.99"},
        "amount_out_of_range",
    )
    charge(client, "ch-1", LARGEST)
    # Within the bound alone, past it together: the account's total is bounded too.
    refused(client, "charges", charge_body | {"unit_price": "0.01"}, "amount_out_of_range")
    record(client, "invoices", {"invoice_number": "INV-1", "issued_on": "2026-01-06"})
    assert balance(client) == LARGEST
    assert client.get(f"{A}/open-items").status_code == 200


def test_a_date_outside_the_sane_range_is_refused(client: TestClient) -> None:
    problem_of(
        client.post("/v1/accounts", json=opening(opened_on="1899-12-31")), "date_out_of_range"
    )
    client.post("/v1/accounts", json=opening(opened_on="1900-01-01")).raise_for_status()
    charge(client, "ch-1", "10.00")
    for issued_on in ("9999-12-31", "3000-01-01"):
        refused(
            client,
            "invoices",
            {"invoice_number": "INV-1", "issued_on": issued_on},
            "date_out_of_range",
        )
    refused(
        client,
        "debit-notes",
        {"note_number": "DN-1", "amount": "1.00", "issued_on": "9999-12-31"},
        "date_out_of_range",
    )
    refused(
        client,
        "invoices",
        {
            "invoice_number": "INV-1",
            "issued_on": "2026-01-06",
            "schedule": [{"due_on": "9999-01-01", "amount": "10.00"}],
        },
        "date_out_of_range",
    )
    # The last day of the range, with the longest terms, is still a date the domain can count.
    record(
        client, "payment-terms-changes", {"net_days": MAX_TERMS_DAYS, "effective_on": "2026-01-02"}
    )
    record(client, "invoices", {"invoice_number": "INV-1", "issued_on": "2999-12-31"})


@pytest.mark.parametrize("number", ["COLON:1", "a", "Z.9_-:x", "9..:", "A" * 64])
def test_every_account_number_taken_at_intake_is_routable(client: TestClient, number: str) -> None:
    client.post("/v1/accounts", json=opening(number)).raise_for_status()
    path = f"/v1/accounts/{number}"
    assert client.get(path).json()["account_number"] == number
    response = client.post(
        f"{path}/charges",
        json={
            "code": "VISIT",
            "description": "Visit",
            "unit_price": "5.00",
            "service_date": "2026-01-05",
        },
    )
    assert response.status_code == 201, response.text
    assert client.get(f"{path}/balance").json()["balance"] == "5.00"
    assert client.get(f"{path}/events").status_code == 200


@pytest.mark.parametrize(
    "number", ["-lead", ".x", "_x", ":x", "a b", "a/b", "é", "A" * 65, "a%3Fb"]
)
def test_an_account_number_outside_the_grammar_is_refused_at_intake(
    client: TestClient, number: str
) -> None:
    problem_of(client.post("/v1/accounts", json=opening(number)), "invalid_request")


def test_a_duplicated_json_key_is_refused_and_names_the_key(client: TestClient) -> None:
    open_account(client)
    before = version(client)
    body = (
        '{"amount": "1.00", "method": "cash", "reference": "desk",'
        ' "received_on": "2026-01-10", "amount": "1000.00"}'
    )
    response = client.post(
        f"{A}/payments", content=body, headers={"Content-Type": "application/json"}
    )
    document = problem_of(response, "duplicate_json_key")
    assert "amount" in document["detail"]
    assert document["field"] == "amount"
    assert version(client) == before


def test_a_duplicated_key_deep_in_the_body_is_refused(client: TestClient) -> None:
    open_account(client)
    charge(client, "ch-1", "100.00")
    body = (
        '{"invoice_number": "INV-1", "issued_on": "2026-01-06", "schedule": ['
        '{"due_on": "2026-02-01", "amount": "50.00"},'
        '{"due_on": "2026-03-01", "amount": "10.00", "amount": "50.00"}]}'
    )
    response = client.post(
        f"{A}/invoices", content=body, headers={"Content-Type": "application/json"}
    )
    problem_of(response, "duplicate_json_key")
    # The same key in two different objects is no duplicate.
    ok = client.post(
        f"{A}/invoices",
        content=body.replace('"amount": "10.00", ', ""),
        headers={"Content-Type": "application/json"},
    )
    assert ok.status_code == 201, ok.text


def test_a_reason_header_with_a_control_character_is_refused_and_nothing_recorded(
    client: TestClient,
) -> None:
    open_account(client)
    before = version(client)
    answer = client.post(
        f"{A}/payments",
        json=payment(),
        # Header bytes arrive as Latin-1: 0x85 is a C1 control character (NEL).
        headers={"X-Reason": b"late\tfee\x85waived"},  # type: ignore[dict-item]
    )
    problem_of(answer, "control_character")
    assert version(client) == before


def test_a_correlation_id_that_is_no_token_is_replaced_not_stored(client: TestClient) -> None:
    answer = client.post(
        "/v1/accounts",
        json=opening(),
        headers={"X-Correlation-Id": b"abc\tdef\x85"},  # type: ignore[dict-item]
    )
    assert answer.status_code == 201, answer.text
    used = answer.headers["X-Correlation-Id"]
    assert used != "abc\tdef\x85"
    assert used.isascii()
    assert used.isprintable()
    events = client.get(f"{A}/events").json()
    assert "\x85" not in json.dumps(events, ensure_ascii=False)
