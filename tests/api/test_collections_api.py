"""Collections over HTTP: disputes, contacts, promises to pay, dunning, and the daily sweep."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.account_steps import (
    balance,
    open_account,
    open_items,
    record,
    recorded,
    refused,
    version,
)


def invoiced(client: TestClient) -> None:
    """An account owing 600.00 on INV-1, issued 2026-01-06 and due 2026-02-05 (net 30)."""
    open_account(client)
    record(
        client,
        "charges",
        {
            "charge_id": "ch-1",
            "code": "SURGERY",
            "description": "Day surgery",
            "unit_price": "600.00",
            "service_date": "2026-01-05",
        },
    )
    record(client, "invoices", {"invoice_number": "INV-1", "issued_on": "2026-01-06"})


def pay(client: TestClient, amount: str, on: str) -> dict[str, Any]:
    return record(
        client,
        "payments",
        {"amount": amount, "method": "card", "reference": "auth", "received_on": on},
    )


def test_a_disputed_invoice_is_marked_until_the_dispute_is_resolved(client: TestClient) -> None:
    invoiced(client)
    opened = record(
        client,
        "disputes",
        {
            "dispute_id": "D-1",
            "invoice_number": "INV-1",
            "opened_on": "2026-01-20",
            "description": "Billed twice for the same day",
        },
    )
    assert recorded(opened) == ["DisputeOpened"]
    assert open_items(client)["INV-1"]["disputed"] is True
    resolved = record(
        client,
        "dispute-resolutions",
        {"dispute_id": "D-1", "outcome": "rejected", "resolved_on": "2026-01-25"},
    )
    assert recorded(resolved) == ["DisputeResolved"]
    assert open_items(client)["INV-1"]["disputed"] is False
    assert balance(client) == "600.00"


def test_an_invoice_is_disputed_once_and_a_dispute_resolved_with_a_known_outcome(
    client: TestClient,
) -> None:
    invoiced(client)
    record(
        client,
        "disputes",
        {"dispute_id": "D-1", "invoice_number": "INV-1", "opened_on": "2026-01-20"},
    )
    refused(
        client,
        "disputes",
        {"dispute_id": "D-2", "invoice_number": "INV-1", "opened_on": "2026-01-21"},
        "invoice_already_disputed",
    )
    problem = refused(
        client,
        "dispute-resolutions",
        {"dispute_id": "D-1", "outcome": "maybe", "resolved_on": "2026-01-25"},
        "invalid_request",
    )
    assert problem["field"] == "outcome"
    refused(
        client,
        "dispute-resolutions",
        {"dispute_id": "D-9", "outcome": "upheld", "resolved_on": "2026-01-25"},
        "unknown_dispute",
    )


def test_a_call_made_to_collect_is_recorded_without_changing_what_is_owed(
    client: TestClient,
) -> None:
    invoiced(client)
    before = version(client)
    answer = record(
        client,
        "collection-activities",
        {
            "channel": "call",
            "outcome": "Left a message",
            "occurred_on": "2026-02-10",
            "note": "Mobile number on file",
        },
    )
    assert answer["recorded"] == [{"type": "CollectionActivityRecorded", "version": before + 1}]
    assert answer["balance"] == "600.00"


def test_a_contact_by_an_unknown_channel_or_a_repeated_id_is_refused(client: TestClient) -> None:
    invoiced(client)
    activity = {"activity_id": "ACT-1", "outcome": "No answer", "occurred_on": "2026-02-10"}
    refused(client, "collection-activities", activity | {"channel": "fax"}, "invalid_request")
    record(client, "collection-activities", activity | {"channel": "letter"})
    refused(
        client,
        "collection-activities",
        activity | {"channel": "email"},
        "duplicate_collection_record",
    )


def test_a_promise_to_pay_is_kept_by_the_payment_it_promised(client: TestClient) -> None:
    invoiced(client)
    promised = record(
        client,
        "promises-to-pay",
        {"amount": "200.00", "pay_by": "2026-02-28", "promised_on": "2026-02-10"},
    )
    assert recorded(promised) == ["PromiseToPayMade"]
    paid = pay(client, "200.00", "2026-02-20")
    assert recorded(paid) == ["PaymentReceived", "PromiseToPayKept"]
    assert paid["balance"] == "400.00"


def test_a_promise_short_of_its_amount_by_its_date_is_found_broken_by_the_sweep(
    client: TestClient,
) -> None:
    invoiced(client)
    record(
        client,
        "promises-to-pay",
        {"amount": "200.00", "pay_by": "2026-02-28", "promised_on": "2026-02-10"},
    )
    assert recorded(pay(client, "150.00", "2026-02-20")) == ["PaymentReceived"]
    swept = record(client, "sweeps", {"as_of": "2026-03-01"})
    assert recorded(swept) == ["PromiseToPayBroken"]
    assert swept["balance"] == "450.00"


def test_a_promise_due_before_it_was_made_is_refused(client: TestClient) -> None:
    invoiced(client)
    refused(
        client,
        "promises-to-pay",
        {"amount": "200.00", "pay_by": "2026-02-09", "promised_on": "2026-02-10"},
        "invalid_date",
    )
    refused(
        client,
        "promises-to-pay",
        {"amount": "0", "pay_by": "2026-02-28", "promised_on": "2026-02-10"},
        "invalid_request",
    )


def test_dunning_is_raised_once_an_invoice_is_overdue_and_only_upwards(
    client: TestClient,
) -> None:
    invoiced(client)
    refused(
        client, "dunning-escalations", {"level": 1, "escalated_on": "2026-02-05"}, "nothing_to_dun"
    )
    escalated = record(client, "dunning-escalations", {"level": 1, "escalated_on": "2026-02-06"})
    assert recorded(escalated) == ["DunningEscalated"]
    refused(
        client,
        "dunning-escalations",
        {"level": 1, "escalated_on": "2026-02-20"},
        "invalid_dunning_level",
    )
    record(client, "dunning-escalations", {"level": 2, "escalated_on": "2026-02-20"})
    refused(
        client,
        "dunning-escalations",
        {"level": True, "escalated_on": "2026-02-21"},
        "invalid_request",
    )


def test_a_disputed_invoice_is_not_dunned(client: TestClient) -> None:
    invoiced(client)
    record(client, "disputes", {"invoice_number": "INV-1", "opened_on": "2026-01-20"})
    refused(
        client, "dunning-escalations", {"level": 1, "escalated_on": "2026-03-01"}, "nothing_to_dun"
    )


def test_a_sweep_after_a_missed_installment_defaults_a_plan_that_allows_none_missed(
    client: TestClient,
) -> None:
    invoiced(client)
    record(
        client,
        "payment-plans",
        {
            "plan_id": "P1",
            "invoice_numbers": ["INV-1"],
            "installments": [
                {"due_on": "2026-02-01", "amount": "300.00"},
                {"due_on": "2026-03-01", "amount": "300.00"},
            ],
            "agreed_on": "2026-01-10",
            "default_after_missed": 1,
        },
    )
    swept = record(client, "sweeps", {"as_of": "2026-02-02"})
    assert recorded(swept) == ["PlanInstallmentMissed", "PaymentPlanDefaulted"]
    assert swept["balance"] == "600.00"
    again = record(client, "sweeps", {"as_of": "2026-02-03"})
    assert again["recorded"] == []
    assert again["version"] == swept["version"]


def test_a_sweep_after_an_offer_expires_records_it_lapsed(client: TestClient) -> None:
    invoiced(client)
    record(
        client,
        "settlement-offers",
        {"amount_off": "100.00", "offered_on": "2026-02-01", "expires_on": "2026-02-28"},
    )
    assert record(client, "sweeps", {"as_of": "2026-02-28"})["recorded"] == []
    swept = record(client, "sweeps", {"as_of": "2026-03-01"})
    assert recorded(swept) == ["SettlementOfferLapsed"]
    paid = pay(client, "500.00", "2026-03-02")
    assert recorded(paid) == ["PaymentReceived"]
    assert paid["balance"] == "100.00"


def test_a_sweep_before_the_account_was_opened_is_refused(client: TestClient) -> None:
    invoiced(client)
    refused(client, "sweeps", {"as_of": "2025-12-31"}, "invalid_date")
    refused(client, "sweeps", {"as_of": "yesterday"}, "invalid_request")
