"""The README's worked example over HTTP: open, charge, invoice, pay part, agree a plan, read."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_a_clerk_invoices_takes_part_payment_and_agrees_a_plan_for_the_rest(
    client: TestClient,
) -> None:
    client.post(
        "/v1/accounts",
        json={"account_number": "A-7", "name": "Ann", "currency": "USD", "opened_on": "2026-01-01"},
    ).raise_for_status()
    client.post(
        "/v1/accounts/A-7/charges",
        json={
            "charge_id": "ch-1",
            "code": "SURGERY",
            "description": "Day surgery",
            "unit_price": "1000.00",
            "service_date": "2026-01-05",
        },
    ).raise_for_status()
    invoiced = client.post(
        "/v1/accounts/A-7/invoices", json={"invoice_number": "INV-1", "issued_on": "2026-01-06"}
    )
    assert invoiced.status_code == 201, invoiced.text
    assert invoiced.json()["recorded"] == [{"type": "InvoiceIssued", "version": 3}]

    paid = client.post(
        "/v1/accounts/A-7/payments",
        json={
            "payment_id": "pay-1",
            "amount": "400.00",
            "method": "card",
            "reference": "auth 1",
            "received_on": "2026-01-10",
        },
    )
    assert paid.status_code == 201, paid.text
    planned = client.post(
        "/v1/accounts/A-7/payment-plans",
        json={
            "plan_id": "PLAN-1",
            "invoice_numbers": ["INV-1"],
            "agreed_on": "2026-01-15",
            "installments": [
                {"due_on": "2026-02-15", "amount": "300.00"},
                {"due_on": "2026-03-15", "amount": "300.00"},
            ],
        },
    )
    assert planned.status_code == 201, planned.text
    assert planned.json()["recorded"][0]["type"] == "PaymentPlanAgreed"

    balance = client.get("/v1/accounts/A-7/balance").json()
    assert balance["balance"] == "600.00"
    assert balance["unapplied_credit"] == "0.00"


def test_a_plan_that_does_not_add_up_is_refused_with_the_rule_it_breaks(client: TestClient) -> None:
    client.post(
        "/v1/accounts",
        json={"account_number": "A-8", "name": "Bo", "currency": "USD", "opened_on": "2026-01-01"},
    ).raise_for_status()
    client.post(
        "/v1/accounts/A-8/charges",
        json={
            "code": "VISIT",
            "description": "Visit",
            "unit_price": "100.00",
            "service_date": "2026-01-05",
        },
    ).raise_for_status()
    client.post(
        "/v1/accounts/A-8/invoices", json={"invoice_number": "INV-1", "issued_on": "2026-01-06"}
    )

    refused = client.post(
        "/v1/accounts/A-8/payment-plans",
        json={
            "plan_id": "P",
            "invoice_numbers": ["INV-1"],
            "agreed_on": "2026-01-15",
            "installments": [{"due_on": "2026-02-15", "amount": "30.00"}],
        },
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "schedule_does_not_sum_to_amount"
    assert client.get("/v1/accounts/A-8").json()["version"] == 3
