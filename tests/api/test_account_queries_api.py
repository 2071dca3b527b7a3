"""Reading an account over HTTP: balance and open items as of a date, as known at a moment,
and the event history a page at a time."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient


def _setup(client: TestClient) -> None:
    client.post(
        "/v1/accounts",
        json={"account_number": "A-1", "name": "Ann", "currency": "USD", "opened_on": "2026-03-01"},
    ).raise_for_status()
    client.post(
        "/v1/accounts/A-1/charges",
        json={
            "code": "VISIT",
            "description": "Visit",
            "unit_price": "100.00",
            "service_date": "2026-03-01",
        },
    ).raise_for_status()
    client.post(
        "/v1/accounts/A-1/invoices",
        json={"invoice_number": "INV-1", "issued_on": "2026-03-01", "due_on": "2026-03-31"},
    ).raise_for_status()


def test_a_report_as_of_march_as_known_in_april_does_not_change_after_a_back_dated_payment(
    client: TestClient,
) -> None:
    _setup(client)
    known_then = datetime.now(UTC).isoformat()
    before = client.get("/v1/accounts/A-1/balance", params={"as_of": "2026-03-31"}).json()
    client.post(
        "/v1/accounts/A-1/payments",
        json={
            "amount": "40.00",
            "method": "cash",
            "reference": "late",
            "received_on": "2026-03-20",
        },
    ).raise_for_status()

    now = client.get("/v1/accounts/A-1/balance", params={"as_of": "2026-03-31"}).json()
    then = client.get(
        "/v1/accounts/A-1/balance", params={"as_of": "2026-03-31", "as_known_at": known_then}
    ).json()

    assert before["balance"] == then["balance"] == "100.00"
    assert now["balance"] == "60.00"
    assert then["version"] == 3
    assert now["unapplied_credit"] is None  # a current figure, not given as of a date
    items = client.get("/v1/accounts/A-1/open-items", params={"as_of": "2026-03-31"}).json()[
        "items"
    ]
    assert [(i["number"], i["outstanding"]) for i in items] == [("INV-1", "60.00")]
    assert items[0]["terms"] == [
        {"due_on": "2026-03-31", "amount": "100.00", "outstanding": "60.00"}
    ]


def test_the_event_history_pages_by_cursor_and_shows_who_did_what(client: TestClient) -> None:
    _setup(client)
    first = client.get("/v1/accounts/A-1/events", params={"limit": 2}).json()
    assert [e["type"] for e in first["events"]] == ["Opened", "ChargePosted"]
    assert first["next_cursor"] == 2
    second = client.get(
        "/v1/accounts/A-1/events", params={"limit": 2, "cursor": first["next_cursor"]}
    ).json()
    assert [e["type"] for e in second["events"]] == ["InvoiceIssued"]
    assert second["next_cursor"] is None
    event = second["events"][0]
    assert event["actor"] == "clerk-ann"
    assert event["previous_hash"] == first["events"][1]["event_hash"]
    assert event["payload"]["invoice_number"] == "INV-1"


def test_bad_query_values_are_refused_clearly(client: TestClient) -> None:
    _setup(client)
    bad_date = client.get("/v1/accounts/A-1/balance", params={"as_of": "31/03/2026"})
    assert bad_date.status_code == 422
    assert bad_date.json()["field"] == "as_of"
    bad_limit = client.get("/v1/accounts/A-1/events", params={"limit": 0})
    assert bad_limit.status_code == 422
    assert client.get("/v1/accounts/NOPE/events").json()["code"] == "account_not_found"


def test_a_cursor_beyond_any_version_is_refused_not_a_server_error(client: TestClient) -> None:
    _setup(client)
    huge = client.get("/v1/accounts/A-1/events", params={"cursor": 2**63})
    assert huge.status_code == 422
    assert huge.json()["field"] == "cursor"
    past_the_end = client.get("/v1/accounts/A-1/events", params={"cursor": 2**53}).json()
    assert past_the_end == {"events": [], "next_cursor": None}
