"""Cash over HTTP: payments and reversals, credit applied and refunded, write-offs recovered."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.account_steps import (
    A,
    balance,
    charge,
    invoice,
    open_account,
    open_items,
    record,
    recorded,
    refused,
)


def pay(client: TestClient, payment_id: str, amount: str, **extra: Any) -> dict[str, Any]:
    body = {
        "payment_id": payment_id,
        "amount": amount,
        "method": "cheque",
        "reference": f"cheque {payment_id}",
        "received_on": "2026-01-10",
    }
    return record(client, "payments", body | extra)


def invoiced_hundred(client: TestClient) -> None:
    """An account owing 100.00 on invoice INV-1."""
    open_account(client)
    charge(client, "ch-1", "100.00")
    invoice(client, "INV-1")


def test_a_payment_split_by_the_clerk_pays_each_invoice_its_share(client: TestClient) -> None:
    open_account(client)
    charge(client, "ch-1", "100.00")
    invoice(client, "INV-1", charge_ids=["ch-1"])
    charge(client, "ch-2", "50.00")
    invoice(client, "INV-2", charge_ids=["ch-2"])
    answer = pay(client, "pay-1", "80.00", allocations={"INV-1": "30.00", "INV-2": "50.00"})
    assert recorded(answer) == ["PaymentReceived"]
    assert answer["balance"] == "70.00"
    items = open_items(client)
    assert items["INV-1"]["outstanding"] == "70.00"
    assert "INV-2" not in items


def test_a_payment_kept_unapplied_stays_as_credit(client: TestClient) -> None:
    invoiced_hundred(client)
    answer = pay(client, "pay-1", "30.00", allocation_policy="none")
    assert (answer["balance"], answer["unapplied_credit"]) == ("70.00", "30.00")
    assert open_items(client)["INV-1"]["outstanding"] == "100.00"


def test_a_payment_split_beyond_an_invoice_or_by_an_unknown_policy_is_refused(
    client: TestClient,
) -> None:
    invoiced_hundred(client)
    refused(
        client,
        "payments",
        {
            "amount": "120.00",
            "method": "cash",
            "reference": "r",
            "received_on": "2026-01-10",
            "allocations": {"INV-1": "120.00"},
        },
        "allocation_exceeds_open_amount",
    )
    refused(
        client,
        "payments",
        {
            "amount": "10.00",
            "method": "cash",
            "reference": "r",
            "received_on": "2026-01-10",
            "allocation_policy": "newest_first",
        },
        "invalid_request",
    )


def test_a_returned_cheque_reopens_what_it_paid(client: TestClient) -> None:
    invoiced_hundred(client)
    pay(client, "pay-1", "100.00")
    assert balance(client) == "0.00"
    answer = record(
        client,
        "payment-reversals",
        {"payment_id": "pay-1", "reason_code": "NSF", "reversed_on": "2026-01-15"},
    )
    assert recorded(answer) == ["PaymentReversed"]
    assert balance(client) == "100.00"
    assert open_items(client)["INV-1"]["outstanding"] == "100.00"


def test_a_payment_is_reversed_once_and_not_before_it_was_received(client: TestClient) -> None:
    invoiced_hundred(client)
    pay(client, "pay-1", "100.00")
    refused(
        client,
        "payment-reversals",
        {"payment_id": "pay-1", "reason_code": "NSF", "reversed_on": "2026-01-09"},
        "invalid_date",
    )
    record(
        client,
        "payment-reversals",
        {"payment_id": "pay-1", "reason_code": "NSF", "reversed_on": "2026-01-15"},
    )
    refused(
        client,
        "payment-reversals",
        {"payment_id": "pay-1", "reason_code": "NSF", "reversed_on": "2026-01-16"},
        "payment_already_reversed",
    )
    assert balance(client) == "100.00"


def test_an_overpayment_is_refunded_and_leaves_nothing_on_the_account(client: TestClient) -> None:
    invoiced_hundred(client)
    paid = pay(client, "pay-1", "150.00")
    assert (paid["balance"], paid["unapplied_credit"]) == ("-50.00", "50.00")
    answer = record(
        client,
        "refunds",
        {"amount": "50.00", "method": "cheque", "reference": "chq 77", "refunded_on": "2026-01-12"},
    )
    assert recorded(answer) == ["CreditRefunded"]
    assert (answer["balance"], answer["unapplied_credit"]) == ("0.00", "0.00")


def test_a_refund_larger_than_the_credit_is_refused(client: TestClient) -> None:
    invoiced_hundred(client)
    pay(client, "pay-1", "150.00")
    problem = refused(
        client,
        "refunds",
        {"amount": "50.01", "method": "cheque", "reference": "r", "refunded_on": "2026-01-12"},
        "insufficient_credit",
    )
    assert problem["field"] == "amount"
    assert client.get(f"{A}/balance").json()["unapplied_credit"] == "50.00"


def test_credit_on_the_account_is_applied_to_an_invoice_issued_later(client: TestClient) -> None:
    open_account(client)
    pay(client, "pay-1", "60.00")
    charge(client, "ch-1", "100.00")
    invoice(client, "INV-1")
    assert open_items(client)["INV-1"]["outstanding"] == "100.00"
    answer = record(client, "credit-applications", {"applied_on": "2026-01-11"})
    assert recorded(answer) == ["CreditApplied"]
    assert (answer["balance"], answer["unapplied_credit"]) == ("40.00", "0.00")
    assert open_items(client)["INV-1"]["outstanding"] == "40.00"


def test_credit_is_applied_as_the_clerk_splits_it(client: TestClient) -> None:
    open_account(client)
    pay(client, "pay-1", "60.00")
    charge(client, "ch-1", "100.00")
    invoice(client, "INV-1")
    answer = record(
        client,
        "credit-applications",
        {"applied_on": "2026-01-11", "allocations": {"INV-1": "25.00"}},
    )
    assert (answer["balance"], answer["unapplied_credit"]) == ("40.00", "35.00")
    assert open_items(client)["INV-1"]["outstanding"] == "75.00"


def test_credit_cannot_be_applied_when_there_is_none(client: TestClient) -> None:
    invoiced_hundred(client)
    refused(client, "credit-applications", {"applied_on": "2026-01-11"}, "insufficient_credit")
    assert balance(client) == "100.00"


def test_bad_debt_is_written_off_in_part_then_in_full(client: TestClient) -> None:
    invoiced_hundred(client)
    part = record(
        client,
        "write-offs",
        {"invoice_number": "INV-1", "amount": "30.00", "written_off_on": "2026-06-30"},
    )
    assert recorded(part) == ["WrittenOff"]
    assert part["balance"] == "70.00"
    rest = record(client, "write-offs", {"invoice_number": "INV-1", "written_off_on": "2026-07-31"})
    assert rest["balance"] == "0.00"
    assert open_items(client) == {}


def test_a_write_off_larger_than_what_is_open_is_refused(client: TestClient) -> None:
    invoiced_hundred(client)
    refused(
        client,
        "write-offs",
        {"invoice_number": "INV-1", "amount": "100.01", "written_off_on": "2026-06-30"},
        "write_off_exceeds_open",
    )
    refused(
        client,
        "write-offs",
        {"invoice_number": "INV-404", "written_off_on": "2026-06-30"},
        "unknown_invoice",
    )


def test_written_off_debt_is_recovered_and_then_paid(client: TestClient) -> None:
    invoiced_hundred(client)
    record(
        client,
        "write-offs",
        {"write_off_id": "WO-1", "invoice_number": "INV-1", "written_off_on": "2026-06-30"},
    )
    recovered = record(
        client,
        "write-off-recoveries",
        {"write_off_id": "WO-1", "amount": "60.00", "recovered_on": "2026-08-01"},
    )
    assert recorded(recovered) == ["WriteOffRecovered"]
    assert recovered["balance"] == "60.00"
    assert open_items(client)["INV-1"]["outstanding"] == "60.00"
    paid = pay(client, "pay-1", "60.00", received_on="2026-08-01")
    assert (paid["balance"], paid["unapplied_credit"]) == ("0.00", "0.00")


def test_a_recovery_beyond_what_was_written_off_is_refused(client: TestClient) -> None:
    invoiced_hundred(client)
    record(
        client,
        "write-offs",
        {
            "write_off_id": "WO-1",
            "invoice_number": "INV-1",
            "amount": "40.00",
            "written_off_on": "2026-06-30",
        },
    )
    refused(
        client,
        "write-off-recoveries",
        {"write_off_id": "WO-1", "amount": "40.01", "recovered_on": "2026-08-01"},
        "recovery_exceeds_write_off",
    )
    refused(
        client,
        "write-off-recoveries",
        {"write_off_id": "WO-9", "amount": "1.00", "recovered_on": "2026-08-01"},
        "unknown_write_off",
    )
    assert balance(client) == "60.00"
