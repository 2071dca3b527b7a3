"""The account's own life over HTTP: its name, the terms of its invoices, its closure."""

from __future__ import annotations

from fastapi.testclient import TestClient

from domain.schedules import MAX_TERMS_DAYS
from tests.api.account_steps import A, open_account, open_items, record, recorded, refused


def charge_and_invoice(client: TestClient, number: str, price: str = "100.00") -> None:
    record(
        client,
        "charges",
        {
            "charge_id": f"ch-{number}",
            "code": "VISIT",
            "description": "Visit",
            "unit_price": price,
            "service_date": "2026-01-05",
        },
    )
    record(client, "invoices", {"invoice_number": number, "issued_on": "2026-01-10"})


def test_the_customer_s_name_is_changed(client: TestClient) -> None:
    open_account(client)
    answer = record(
        client, "detail-changes", {"name": "Ann Example-Smith", "effective_on": "2026-03-01"}
    )
    assert answer["recorded"] == [{"type": "DetailsChanged", "version": 2}]
    assert client.get(A).json()["name"] == "Ann Example-Smith"


def test_a_name_change_to_the_same_name_or_to_nothing_is_refused(client: TestClient) -> None:
    open_account(client)
    refused(
        client, "detail-changes", {"name": "Ann", "effective_on": "2026-03-01"}, "nothing_changed"
    )
    refused(client, "detail-changes", {"name": "", "effective_on": "2026-03-01"}, "invalid_request")
    assert client.get(A).json()["name"] == "Ann"


def test_net_15_terms_make_the_next_invoice_due_15_days_after_issue(client: TestClient) -> None:
    open_account(client)
    charge_and_invoice(client, "INV-1")
    answer = record(client, "payment-terms-changes", {"net_days": 15, "effective_on": "2026-01-08"})
    assert recorded(answer) == ["PaymentTermsChanged"]
    charge_and_invoice(client, "INV-2")
    items = open_items(client)
    assert [t["due_on"] for t in items["INV-1"]["terms"]] == ["2026-02-09"]
    assert [t["due_on"] for t in items["INV-2"]["terms"]] == ["2026-01-25"]


def test_installment_terms_of_30_50_20_split_every_later_invoice(client: TestClient) -> None:
    open_account(client)
    record(
        client,
        "payment-terms-changes",
        {
            "net_days": 30,
            "effective_on": "2026-01-02",
            "installments": [
                {"due_in_days": 0, "percent": "30"},
                {"due_in_days": 30, "percent": "50"},
                {"due_in_days": 60, "percent": "20"},
            ],
        },
    )
    charge_and_invoice(client, "INV-1", "200.00")
    terms = open_items(client)["INV-1"]["terms"]
    assert [(t["due_on"], t["amount"]) for t in terms] == [
        ("2026-01-10", "60.00"),
        ("2026-02-09", "100.00"),
        ("2026-03-11", "40.00"),
    ]


def test_terms_whose_shares_miss_100_percent_or_beyond_the_longest_terms_are_refused(
    client: TestClient,
) -> None:
    open_account(client)
    refused(
        client,
        "payment-terms-changes",
        {
            "net_days": 30,
            "effective_on": "2026-01-02",
            "installments": [
                {"due_in_days": 0, "percent": "50"},
                {"due_in_days": 30, "percent": "49.99"},
            ],
        },
        "schedule_does_not_sum_to_amount",
    )
    refused(
        client,
        "payment-terms-changes",
        {"net_days": MAX_TERMS_DAYS + 1, "effective_on": "2026-01-02"},
        "invalid_request",
    )
    refused(
        client,
        "payment-terms-changes",
        {"net_days": "30", "effective_on": "2026-01-02"},
        "invalid_request",
    )


def test_a_settled_account_is_closed_and_takes_nothing_more(client: TestClient) -> None:
    open_account(client)
    charge_and_invoice(client, "INV-1")
    record(
        client,
        "payments",
        {"amount": "100.00", "method": "cash", "reference": "r", "received_on": "2026-01-20"},
    )
    closed = record(client, "closures", {"effective_on": "2026-01-31"})
    assert recorded(closed) == ["Closed"]
    refused(
        client,
        "detail-changes",
        {"name": "Someone Else", "effective_on": "2026-02-01"},
        "account_closed",
    )
    refused(client, "closures", {"effective_on": "2026-02-01"}, "account_closed")


def test_an_account_that_still_owes_is_not_closed(client: TestClient) -> None:
    open_account(client)
    charge_and_invoice(client, "INV-1")
    problem = refused(client, "closures", {"effective_on": "2026-01-31"}, "account_has_balance")
    assert "100.00" in problem["detail"]
