"""Subscriptions over HTTP: started, billed by runs, changed mid-period with proration, cancelled."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.account_steps import A, balance, open_account, record, recorded, refused


def last_event(client: TestClient) -> dict[str, Any]:
    event: dict[str, Any] = client.get(f"{A}/events", params={"limit": 500}).json()["events"][-1]
    return event


def basic_from_april(client: TestClient) -> None:
    """SUB-1 on "basic" at 20.00 a month from 1 April, April billed (30 days)."""
    open_account(client)
    record(
        client,
        "subscriptions",
        {
            "subscription_id": "SUB-1",
            "plan_code": "basic",
            "price": "20.00",
            "starts_on": "2026-04-01",
        },
    )
    record(client, "billing-runs", {"run_id": "RUN-04", "through": "2026-04-01"})


def test_a_subscription_is_charged_for_each_month_a_billing_run_reaches(
    client: TestClient,
) -> None:
    open_account(client)
    started = record(
        client,
        "subscriptions",
        {"plan_code": "basic", "price": "20.00", "starts_on": "2026-04-01"},
    )
    assert recorded(started) == ["SubscriptionStarted"]
    assert started["balance"] == "0.00"
    run = record(client, "billing-runs", {"run_id": "RUN-1", "through": "2026-06-01"})
    assert recorded(run) == ["BillingRunCompleted"]
    assert run["balance"] == "60.00"
    periods = last_event(client)["payload"]["periods"]
    assert [(p["period_start"], p["amount"]["amount"]) for p in periods] == [
        ("2026-04-01", "20.00"),
        ("2026-05-01", "20.00"),
        ("2026-06-01", "20.00"),
    ]


def test_an_upgrade_from_20_to_30_a_month_halfway_through_credits_10_and_charges_15(
    client: TestClient,
) -> None:
    basic_from_april(client)
    assert balance(client) == "20.00"
    changed = record(
        client,
        "subscription-plan-changes",
        {
            "subscription_id": "SUB-1",
            "plan_code": "plus",
            "price": "30.00",
            "change_on": "2026-04-16",
        },
    )
    assert recorded(changed) == ["SubscriptionPlanChanged"]
    assert changed["balance"] == "25.00"
    proration = last_event(client)["payload"]["proration"]
    assert {line["kind"]: line["unit_price"]["amount"] for line in proration} == {
        "proration_credit": "-10.00",
        "proration_charge": "15.00",
    }
    may = record(client, "billing-runs", {"run_id": "RUN-05", "through": "2026-05-01"})
    assert may["balance"] == "55.00"


def test_a_change_from_the_next_period_is_not_prorated_and_bills_may_at_the_new_price(
    client: TestClient,
) -> None:
    basic_from_april(client)
    changed = record(
        client,
        "subscription-plan-changes",
        {
            "subscription_id": "SUB-1",
            "plan_code": "plus",
            "price": "30.00",
            "change_on": "2026-04-16",
            "timing": "next_period",
        },
    )
    assert changed["balance"] == "20.00"
    may = record(client, "billing-runs", {"run_id": "RUN-05", "through": "2026-05-01"})
    assert may["balance"] == "50.00"


def test_a_plan_change_names_a_known_subscription_and_a_known_timing(client: TestClient) -> None:
    basic_from_april(client)
    change = {"plan_code": "plus", "price": "30.00", "change_on": "2026-04-16"}
    refused(
        client,
        "subscription-plan-changes",
        change | {"subscription_id": "SUB-9"},
        "unknown_subscription",
    )
    refused(
        client,
        "subscription-plan-changes",
        change | {"subscription_id": "SUB-1", "timing": "end_of_period"},
        "invalid_request",
    )
    refused(
        client,
        "subscription-plan-changes",
        change | {"subscription_id": "SUB-1", "change_on": "2026-03-31"},
        "invalid_date",
    )
    assert balance(client) == "20.00"


def test_a_cancellation_today_credits_the_unused_half_of_the_month(client: TestClient) -> None:
    basic_from_april(client)
    cancelled = record(
        client,
        "subscription-cancellations",
        {"subscription_id": "SUB-1", "cancel_on": "2026-04-16", "timing": "immediate"},
    )
    assert recorded(cancelled) == ["SubscriptionCancelled"]
    assert cancelled["balance"] == "10.00"
    may = record(client, "billing-runs", {"run_id": "RUN-05", "through": "2026-05-01"})
    assert may["balance"] == "10.00"


def test_a_cancellation_at_the_end_of_the_period_keeps_april_and_bills_no_more(
    client: TestClient,
) -> None:
    basic_from_april(client)
    cancelled = record(
        client,
        "subscription-cancellations",
        {"subscription_id": "SUB-1", "cancel_on": "2026-04-16"},
    )
    assert cancelled["balance"] == "20.00"
    assert last_event(client)["payload"]["ends_on"] == "2026-05-01"
    may = record(client, "billing-runs", {"run_id": "RUN-05", "through": "2026-06-01"})
    assert may["balance"] == "20.00"
    refused(
        client,
        "subscription-cancellations",
        {"subscription_id": "SUB-1", "cancel_on": "2026-04-20"},
        "subscription_not_active",
    )


def test_a_billing_run_is_recorded_once_under_its_id(client: TestClient) -> None:
    basic_from_april(client)
    refused(
        client,
        "billing-runs",
        {"run_id": "RUN-04", "through": "2026-05-01"},
        "duplicate_billing_run",
    )
    refused(client, "billing-runs", {"through": "2025-12-31"}, "invalid_date")
    assert balance(client) == "20.00"


def test_a_billing_run_without_an_id_retried_with_its_key_is_recorded_once(
    client: TestClient,
) -> None:
    basic_from_april(client)
    first = record(client, "billing-runs", {"through": "2026-05-01"}, key="run-may")
    again = client.post(
        f"{A}/billing-runs", json={"through": "2026-05-01"}, headers={"Idempotency-Key": "run-may"}
    )
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first
    assert first["balance"] == balance(client) == "40.00"
    assert last_event(client)["payload"]["run_id"].startswith("run_")


def test_a_subscription_needs_a_price_above_zero_and_a_start_after_the_opening(
    client: TestClient,
) -> None:
    open_account(client)
    refused(
        client,
        "subscriptions",
        {"plan_code": "basic", "price": "0.00", "starts_on": "2026-04-01"},
        "invalid_request",
    )
    refused(
        client,
        "subscriptions",
        {"plan_code": "basic", "price": "20.00", "starts_on": "2025-12-01"},
        "invalid_date",
    )
