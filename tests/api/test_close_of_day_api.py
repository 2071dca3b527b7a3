"""Close of day and the dunning policy over HTTP, on SQLite and on PostgreSQL.

The tenant's today is 30 April 2026 (a fixed clock): every account below is dated before it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from domain.tenant import Tenant
from services.api.app import create_app
from services.api_keys import Role
from services.bootstrap import Runtime
from services.close_day import CloseOfDay
from services.tenants import TenantSettings

NOW = datetime(2026, 4, 30, 12, 0, tzinfo=UTC)
LADDER = [
    {"days_past_due": 15, "action": "reminder"},
    {"days_past_due": 30, "action": "second_notice"},
    {"days_past_due": 60, "action": "collections"},
]


@dataclass
class Clients:
    runtime: Runtime
    clerk: TestClient
    admin: TestClient

    def head(self) -> int:
        return self.runtime.app.recorder.max_notification_id() or 0


@pytest.fixture
def http(runtime: Runtime) -> Iterator[Clients]:
    clerk = runtime.keys.create(name="clerk-ann", tenant_id="acme", role=Role.clerk)
    admin = runtime.keys.create(name="admin-bea", tenant_id="acme", role=Role.admin)
    app = create_app(runtime)
    app.state.close_of_day = CloseOfDay(runtime, clock=lambda: NOW)
    app.state.tenant_settings = TenantSettings(runtime.app, clock=lambda: NOW)
    with (
        TestClient(app, raise_server_exceptions=False) as clerk_client,
        TestClient(app, raise_server_exceptions=False) as admin_client,
    ):
        clerk_client.headers["Authorization"] = f"Bearer {clerk.secret}"
        admin_client.headers["Authorization"] = f"Bearer {admin.secret}"
        yield Clients(runtime, clerk_client, admin_client)


def post(client: TestClient, path: str, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
    response = client.post(path, json=body)
    assert response.status_code == status, response.text
    answer: dict[str, Any] = response.json()
    return answer


def owing(client: TestClient, number: str, due_on: str) -> None:
    """Account ``number`` owing 100.00 on invoice I-<number>, due on ``due_on``."""
    post(
        client,
        "/v1/accounts",
        {"account_number": number, "name": number, "currency": "USD", "opened_on": "2026-01-01"},
    )
    post(
        client,
        f"/v1/accounts/{number}/charges",
        {
            "charge_id": "c1",
            "code": "VISIT",
            "description": "Visit",
            "unit_price": "100.00",
            "service_date": "2026-01-02",
        },
    )
    post(
        client,
        f"/v1/accounts/{number}/invoices",
        {"invoice_number": f"I-{number}", "issued_on": "2026-01-02", "due_on": due_on},
    )


def close(http: Clients, day: str, status: int = 201) -> dict[str, Any]:
    return post(http.admin, f"/v1/days/{day}/close", {}, status)


def events(client: TestClient, number: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client.get(f"/v1/accounts/{number}/events").json()["events"]
    return found


def test_a_day_closes_once_across_the_accounts_with_something_due(http: Clients) -> None:
    put = http.admin.put(
        "/v1/tenant/dunning-policy", json={"levels": LADDER, "effective_on": "2026-01-01"}
    )
    assert put.status_code == 201, put.text
    owing(http.clerk, "A-1", "2026-02-01")  # 28 days past due on 1 March: a reminder
    owing(http.clerk, "A-2", "2026-04-01")  # not due yet
    owing(http.clerk, "A-3", "2026-02-10")
    post(
        http.clerk,
        "/v1/accounts/A-3/promises-to-pay",
        {
            "promise_id": "P1",
            "amount": "100.00",
            "pay_by": "2026-02-25",
            "promised_on": "2026-02-11",
        },
    )

    closed = close(http, "2026-03-01")
    assert closed["recorded"] is True
    (day,) = closed["days"]
    assert day["business_date"] == "2026-03-01"
    assert day["policy_version"] == 1
    assert (day["accounts_due"], day["accounts_failed"]) == (2, 0)
    assert (day["promises_broken"], day["dunning_escalated"]) == (1, 2)
    last = events(http.clerk, "A-1")[-1]
    assert last["type"] == "DunningEscalated"
    assert last["actor"] == "close-of-day"
    assert last["correlation_id"] == "close-of-day:acme:2026-03-01"
    assert "started by admin-bea" in last["reason"]
    assert [e["type"] for e in events(http.clerk, "A-2")][-1] == "InvoiceIssued"

    head = http.head()
    again = close(http, "2026-03-01", status=200)
    assert again["recorded"] is False
    assert again["days"][0]["closed_now"] is False
    assert again["days"][0]["dunning_escalated"] == 2  # what the close recorded then
    assert http.head() == head  # nothing new in the store

    read = http.clerk.get("/v1/days/2026-03-01")
    assert read.status_code == 200
    assert read.json()["promises_broken"] == 1
    assert http.clerk.get("/v1/days/2026-03-02").json()["code"] == "day_not_closed"


def test_missed_days_are_closed_in_order_and_a_level_resets_once_paid(http: Clients) -> None:
    http.admin.put(
        "/v1/tenant/dunning-policy", json={"levels": LADDER, "effective_on": "2026-01-01"}
    )
    owing(http.clerk, "A-1", "2026-02-01")
    close(http, "2026-02-16")  # 15 days past due: a reminder
    caught_up = close(http, "2026-03-04")
    days = [day["business_date"] for day in caught_up["days"]]
    assert days[0] == "2026-02-17"
    assert days[-1] == "2026-03-04"
    assert len(days) == 16
    assert sum(day["dunning_escalated"] for day in caught_up["days"]) == 1  # 3 March: level 2
    post(
        http.clerk,
        "/v1/accounts/A-1/payments",
        {"amount": "100.00", "method": "card", "reference": "r", "received_on": "2026-03-05"},
    )
    reset = close(http, "2026-03-05")
    assert reset["totals"]["dunning_reset"] == 1
    assert events(http.clerk, "A-1")[-1]["type"] == "DunningReset"


def test_bad_input_is_refused_with_a_code_and_nothing_recorded(http: Clients) -> None:
    owing(http.clerk, "A-1", "2026-02-01")
    head = http.head()
    future = close(http, "2026-05-01", status=422)
    assert future["code"] == "day_in_future"
    assert future["field"] == "date"
    not_increasing = http.admin.put(
        "/v1/tenant/dunning-policy",
        json={
            "levels": [
                {"days_past_due": 30, "action": "reminder"},
                {"days_past_due": 20, "action": "final_notice"},
            ]
        },
    )
    assert not_increasing.status_code == 422
    assert not_increasing.json()["code"] == "invalid_dunning_policy"
    assert "increasing" in not_increasing.json()["detail"]
    milder = http.admin.put(
        "/v1/tenant/dunning-policy",
        json={
            "levels": [
                {"days_past_due": 10, "action": "final_notice"},
                {"days_past_due": 20, "action": "reminder"},
            ]
        },
    )
    assert milder.json()["code"] == "invalid_dunning_policy"
    zone = http.admin.put(
        "/v1/tenant/close-schedule", json={"at": "18:00", "time_zone": "Mars/Base"}
    )
    assert (zone.status_code, zone.json()["code"]) == (422, "invalid_time_zone")
    assert (
        http.admin.put(
            "/v1/tenant/close-schedule", json={"at": "24:00", "time_zone": "UTC"}
        ).status_code
        == 422
    )
    assert http.head() == head
    assert http.clerk.get("/v1/tenant/dunning-policy").json()["code"] == "no_dunning_policy"


def test_a_catch_up_longer_than_a_year_is_done_in_steps(http: Clients) -> None:
    close(http, "2025-01-01")  # the first close may be any day
    head = http.head()
    too_long = close(http, "2026-04-30", status=422)
    assert too_long["code"] == "catch_up_too_long"
    assert "Close through 2026-01-02 first" in too_long["detail"]
    assert http.head() == head
    assert len(close(http, "2026-01-02")["days"]) == 366
    # The tenant was snapshotted on the way (every 100 events) and reads back as its events say.
    tenant_id = Tenant.id_for("acme")
    app = http.runtime.app
    assert app.snapshots is not None
    assert next(iter(app.snapshots.get(tenant_id, desc=True, limit=1))).originator_version == 300
    replayed: Any = None
    for event in app.events.get(tenant_id):
        replayed = event.mutate(replayed)
    loaded = app.repository.get(tenant_id)
    assert loaded.__dict__ == replayed.__dict__


def test_the_policy_in_force_on_a_date_is_answerable_and_closed_days_stay_as_they_were(
    http: Clients,
) -> None:
    first = http.admin.put(
        "/v1/tenant/dunning-policy", json={"levels": LADDER, "effective_on": "2026-01-01"}
    )
    assert first.json()["version"] == 1
    same = http.admin.put("/v1/tenant/dunning-policy", json={"levels": LADDER})
    assert (same.status_code, same.json()["version"]) == (200, 1)  # nothing new
    close(http, "2026-03-01")
    backdated = http.admin.put(
        "/v1/tenant/dunning-policy", json={"levels": LADDER[:1], "effective_on": "2026-03-01"}
    )
    assert backdated.json()["code"] == "dunning_policy_backdated"
    second = http.admin.put("/v1/tenant/dunning-policy", json={"levels": LADDER[:1]})
    assert second.status_code == 201
    assert (second.json()["version"], second.json()["effective_on"]) == (2, "2026-04-30")
    on_a_date = http.clerk.get("/v1/tenant/dunning-policy", params={"as_of": "2026-03-01"}).json()
    assert on_a_date["version"] == 1
    assert on_a_date["set_by"] == "admin-bea"
    assert len(on_a_date["levels"]) == 3
    assert http.clerk.get("/v1/tenant/dunning-policy").json()["version"] == 2
    versions = http.clerk.get("/v1/tenant/dunning-policy/versions").json()
    assert [v["version"] for v in versions] == [1, 2]


def test_only_an_admin_closes_a_day_or_changes_the_settings(http: Clients) -> None:
    assert http.clerk.post("/v1/days/2026-03-01/close").json()["code"] == "forbidden"
    assert http.clerk.put("/v1/tenant/dunning-policy", json={"levels": LADDER}).status_code == 403
    assert (
        http.clerk.put(
            "/v1/tenant/close-schedule", json={"at": "18:00", "time_zone": "UTC"}
        ).status_code
        == 403
    )


def test_a_close_schedule_is_set_read_and_stopped(http: Clients) -> None:
    assert http.clerk.get("/v1/tenant/close-schedule").json() is None
    put = http.admin.put(
        "/v1/tenant/close-schedule", json={"at": "18:30", "time_zone": "America/New_York"}
    )
    assert put.status_code == 200, put.text
    schedule = http.clerk.get("/v1/tenant/close-schedule").json()
    assert schedule["at"] == "18:30"
    assert schedule["time_zone"] == "America/New_York"
    assert schedule["today"] == "2026-04-30"  # 08:00 in New York
    assert http.admin.delete("/v1/tenant/close-schedule").status_code == 204
    assert http.clerk.get("/v1/tenant/close-schedule").json() is None


def test_the_collectors_queue_after_a_close_of_day_shows_broken_promises_and_spares_kept_plans(
    http: Clients,
) -> None:
    """The office's day end to end: the close breaks a promise and steps dunning by the policy;
    the worklist then shows the broken promise in the row's history and the day the next level
    falls due, and leaves out an account whose plan is being kept until an installment is
    missed."""
    http.admin.put(
        "/v1/tenant/dunning-policy", json={"levels": LADDER, "effective_on": "2026-01-01"}
    )
    owing(http.clerk, "A-1", due_on="2026-02-01")
    post(
        http.clerk,
        "/v1/accounts/A-1/promises-to-pay",
        {"amount": "50.00", "pay_by": "2026-02-20", "promised_on": "2026-02-10"},
    )
    owing(http.clerk, "A-2", due_on="2026-02-01")
    post(
        http.clerk,
        "/v1/accounts/A-2/payment-plans",
        {
            "plan_id": "P-1",
            "invoice_numbers": ["I-A-2"],
            "installments": [
                {"due_on": "2026-03-01", "amount": "50.00"},
                {"due_on": "2026-04-01", "amount": "50.00"},
            ],
            "agreed_on": "2026-02-05",
        },
    )

    close(http, "2026-02-21")
    http.runtime.projector().catch_up()

    def worklist(as_of: str) -> list[dict[str, Any]]:
        response = http.clerk.get("/v1/reports/worklist", params={"as_of": as_of})
        assert response.status_code == 200, response.text
        rows: list[dict[str, Any]] = response.json()["rows"]
        return rows

    rows = worklist("2026-02-21")
    assert [row["account"] for row in rows] == ["A-1"]
    a1 = rows[0]
    assert [(h["kind"], h["status"]) for h in a1["history"] if h["kind"] == "promise"] == [
        ("promise", "broken")
    ]
    # 20 days past due took A-1 to the reminder (15 days); the second notice falls due at 30.
    assert a1["dunning_level"] == 1
    assert a1["next_action_on"] == "2026-03-03"

    # Once A-2 misses its first installment, it is on the queue by that installment alone.
    late = {row["account"]: row for row in worklist("2026-03-05")}
    assert late["A-2"]["overdue"] == "50.00"
    assert late["A-2"]["oldest_days_past_due"] == 4
