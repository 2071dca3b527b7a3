"""Settlement offers and payment plans over HTTP, with the $1,000 settled over ten months."""

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
)


def invoiced(client: TestClient, amount: str) -> None:
    """An account owing ``amount`` on invoice INV-1, issued 2026-01-06."""
    open_account(client)
    record(
        client,
        "charges",
        {
            "charge_id": "ch-1",
            "code": "SURGERY",
            "description": "Day surgery",
            "unit_price": amount,
            "service_date": "2026-01-05",
        },
    )
    record(client, "invoices", {"invoice_number": "INV-1", "issued_on": "2026-01-06"})


def pay(client: TestClient, payment_id: str, amount: str, on: str) -> dict[str, Any]:
    return record(
        client,
        "payments",
        {
            "payment_id": payment_id,
            "amount": amount,
            "method": "card",
            "reference": f"auth {payment_id}",
            "received_on": on,
        },
    )


def monthly(amount: str, dates: list[str]) -> list[dict[str, str]]:
    return [{"due_on": on, "amount": amount} for on in dates]


def plan_of_two(client: TestClient) -> None:
    """Plan P1 over the 600.00 of INV-1: 300.00 on 1 February and 1 March."""
    record(
        client,
        "payment-plans",
        {
            "plan_id": "P1",
            "invoice_numbers": ["INV-1"],
            "installments": monthly("300.00", ["2026-02-01", "2026-03-01"]),
            "agreed_on": "2026-01-10",
        },
    )


TEN_MONTHS = [f"2026-{month:02d}-01" for month in range(2, 12)]


def test_a_thousand_owed_over_ten_months_three_paid_then_settled_with_three_hundred_off(
    client: TestClient,
) -> None:
    invoiced(client, "1000.00")
    plan = record(
        client,
        "payment-plans",
        {
            "plan_id": "P1",
            "invoice_numbers": ["INV-1"],
            "installments": monthly("100.00", TEN_MONTHS),
            "agreed_on": "2026-01-10",
        },
    )
    assert recorded(plan) == ["PaymentPlanAgreed"]
    assert open_items(client)["INV-1"]["plan_id"] == "P1"
    for number, on in enumerate(("2026-02-01", "2026-03-01", "2026-04-01"), start=1):
        paid = pay(client, f"pay-{number}", "100.00", on)
        assert recorded(paid) == ["PaymentReceived", "PlanInstallmentPaid"]
    assert balance(client) == "700.00"

    offer = record(
        client,
        "settlement-offers",
        {
            "offer_id": "S1",
            "invoice_numbers": ["INV-1"],
            "amount_off": "300.00",
            "offered_on": "2026-04-10",
            "expires_on": "2026-04-30",
        },
    )
    assert recorded(offer) == ["SettlementOffered"]
    assert offer["balance"] == "700.00"

    final = pay(client, "pay-4", "400.00", "2026-04-20")
    assert recorded(final) == [
        "PaymentReceived",
        "PlanInstallmentPaid",
        "PlanInstallmentPaid",
        "PlanInstallmentPaid",
        "PlanInstallmentPaid",
        "SettlementDiscountApplied",
        "PaymentPlanCompleted",
    ]
    assert (final["balance"], final["unapplied_credit"]) == ("0.00", "0.00")
    assert balance(client) == "0.00"
    assert open_items(client) == {}


def test_an_offer_to_settle_for_six_hundred_is_met_by_paying_six_hundred(
    client: TestClient,
) -> None:
    invoiced(client, "1000.00")
    record(
        client,
        "settlement-offers",
        {"settle_for": "600.00", "offered_on": "2026-02-01", "expires_on": "2026-02-28"},
    )
    final = pay(client, "pay-1", "600.00", "2026-02-15")
    assert recorded(final) == ["PaymentReceived", "SettlementDiscountApplied"]
    assert final["balance"] == "0.00"


def test_a_settlement_offer_names_one_of_amount_off_or_settle_for_and_leaves_something_to_pay(
    client: TestClient,
) -> None:
    invoiced(client, "1000.00")
    offer = {"offered_on": "2026-02-01", "expires_on": "2026-02-28"}
    refused(
        client,
        "settlement-offers",
        offer | {"amount_off": "100.00", "settle_for": "900.00"},
        "invalid_settlement_terms",
    )
    refused(client, "settlement-offers", offer, "invalid_settlement_terms")
    refused(
        client,
        "settlement-offers",
        offer | {"amount_off": "1000.00"},
        "settlement_discount_too_large",
    )
    refused(
        client,
        "settlement-offers",
        {"amount_off": "100.00", "offered_on": "2026-02-01", "expires_on": "2026-01-31"},
        "invalid_date",
    )


def test_a_withdrawn_offer_no_longer_discounts_the_final_payment(client: TestClient) -> None:
    invoiced(client, "1000.00")
    record(
        client,
        "settlement-offers",
        {
            "offer_id": "S1",
            "amount_off": "300.00",
            "offered_on": "2026-02-01",
            "expires_on": "2026-02-28",
        },
    )
    withdrawn = record(
        client, "settlement-offer-withdrawals", {"offer_id": "S1", "withdrawn_on": "2026-02-05"}
    )
    assert recorded(withdrawn) == ["SettlementOfferWithdrawn"]
    paid = pay(client, "pay-1", "700.00", "2026-02-10")
    assert recorded(paid) == ["PaymentReceived"]
    assert paid["balance"] == "300.00"


def test_an_offer_is_withdrawn_once(client: TestClient) -> None:
    invoiced(client, "1000.00")
    record(
        client,
        "settlement-offers",
        {
            "offer_id": "S1",
            "amount_off": "300.00",
            "offered_on": "2026-02-01",
            "expires_on": "2026-02-28",
        },
    )
    record(client, "settlement-offer-withdrawals", {"offer_id": "S1", "withdrawn_on": "2026-02-05"})
    refused(
        client,
        "settlement-offer-withdrawals",
        {"offer_id": "S1", "withdrawn_on": "2026-02-06"},
        "settlement_offer_not_active",
    )
    refused(
        client,
        "settlement-offer-withdrawals",
        {"offer_id": "S9", "withdrawn_on": "2026-02-06"},
        "unknown_settlement_offer",
    )


def test_a_second_plan_on_the_same_invoice_is_refused(client: TestClient) -> None:
    invoiced(client, "600.00")
    plan_of_two(client)
    second = {
        "plan_id": "P2",
        "invoice_numbers": ["INV-1"],
        "installments": monthly("600.00", ["2026-02-01"]),
        "agreed_on": "2026-01-11",
    }
    problem = refused(client, "payment-plans", second, "invoice_already_on_plan")
    assert problem["field"] == "invoice_numbers"
    refused(client, "payment-plans", second | {"default_after_missed": 0}, "invalid_request")


def test_a_plan_renegotiated_from_two_installments_to_three_is_paid_by_the_new_schedule(
    client: TestClient,
) -> None:
    invoiced(client, "600.00")
    plan_of_two(client)
    changed = record(
        client,
        "payment-plan-changes",
        {
            "plan_id": "P1",
            "installments": monthly("200.00", ["2026-02-01", "2026-03-01", "2026-04-01"]),
            "changed_on": "2026-01-20",
        },
    )
    assert recorded(changed) == ["PaymentPlanChanged"]
    paid = pay(client, "pay-1", "200.00", "2026-02-01")
    assert recorded(paid) == ["PaymentReceived", "PlanInstallmentPaid"]
    assert paid["balance"] == "400.00"


def test_a_renegotiated_schedule_must_add_up_to_what_is_open(client: TestClient) -> None:
    invoiced(client, "600.00")
    plan_of_two(client)
    refused(
        client,
        "payment-plan-changes",
        {
            "plan_id": "P1",
            "installments": monthly("200.00", ["2026-02-01", "2026-03-01"]),
            "changed_on": "2026-01-20",
        },
        "schedule_does_not_sum_to_amount",
    )
    refused(
        client,
        "payment-plan-changes",
        {"plan_id": "P1", "installments": [], "changed_on": "2026-01-20"},
        "invalid_request",
    )


def test_a_plan_declared_defaulted_can_no_longer_be_changed(client: TestClient) -> None:
    invoiced(client, "600.00")
    plan_of_two(client)
    defaulted = record(
        client, "payment-plan-defaults", {"plan_id": "P1", "defaulted_on": "2026-03-15"}
    )
    assert recorded(defaulted) == ["PaymentPlanDefaulted"]
    assert defaulted["balance"] == "600.00"
    refused(
        client,
        "payment-plan-defaults",
        {"plan_id": "P1", "defaulted_on": "2026-03-16"},
        "payment_plan_not_active",
    )
    refused(
        client,
        "payment-plan-changes",
        {
            "plan_id": "P1",
            "installments": monthly("600.00", ["2026-04-01"]),
            "changed_on": "2026-03-16",
        },
        "payment_plan_not_active",
    )
    refused(
        client,
        "payment-plan-defaults",
        {"plan_id": "P9", "defaulted_on": "2026-03-16"},
        "unknown_payment_plan",
    )
