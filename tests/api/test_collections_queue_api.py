"""``GET /v1/reports/worklist`` as a collector's queue: filters, pages, the next-action date and
each row's history; bad input is a 422 with a stable code, and nothing is recorded.

On embedded SQLite and on PostgreSQL (the ``runtime`` fixture).
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from projections.catalogue import read_models
from projections.runner import Projector
from services.bootstrap import Runtime


def _ok(response: Any) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


def _post(client: TestClient, path: str, body: dict[str, Any]) -> None:
    _ok(client.post(path, json=body))


def _queue(client: TestClient, runtime: Runtime) -> None:
    for number, day in [("A-1", "2026-01-10"), ("A-2", "2026-01-20"), ("A-3", "2026-02-01")]:
        _post(
            client,
            "/v1/accounts",
            {"account_number": number, "name": number, "currency": "USD", "opened_on": day},
        )
        charge = {"charge_id": f"ch-{number}", "code": "VISIT", "description": "Visit"}
        _post(
            client,
            f"/v1/accounts/{number}/charges",
            {**charge, "unit_price": "100.00", "service_date": day},
        )
        _post(
            client,
            f"/v1/accounts/{number}/invoices",
            {"invoice_number": f"I-{number}", "issued_on": day},
        )
    for number in ("A-1", "A-2"):
        _post(
            client,
            f"/v1/accounts/{number}/collector-assignments",
            {"collector": "ann", "assigned_on": "2026-03-01"},
        )
    _post(
        client,
        "/v1/accounts/A-1/promises-to-pay",
        {"amount": "50.00", "pay_by": "2026-04-10", "promised_on": "2026-03-20"},
    )
    Projector(runtime.app, runtime.db, read_models()).catch_up()


def test_a_collectors_queue_comes_a_page_at_a_time_with_next_action_and_history(
    client: TestClient, runtime: Runtime
) -> None:
    _queue(client, runtime)
    params: dict[str, Any] = {"as_of": "2026-03-31", "collector": "ann", "limit": 1}
    first = _ok(client.get("/v1/reports/worklist", params=params))
    second = _ok(
        client.get("/v1/reports/worklist", params={**params, "cursor": first["next_cursor"]})
    )
    assert [r["account"] for r in first["rows"] + second["rows"]] == ["A-1", "A-2"]
    assert second["next_cursor"] is None
    a1 = first["rows"][0]
    assert (a1["collector"], a1["next_action_on"]) == ("ann", "2026-04-10")
    assert a1["history"] == [
        {
            "kind": "promise",
            "on": "2026-03-20",
            "id": a1["history"][0]["id"],
            "channel": None,
            "outcome": None,
            "amount": "50.00",
            "pay_by": "2026-04-10",
            "status": "open",
        }
    ]
    assert second["rows"][0]["next_action_on"] == "2026-03-31"
    unassigned = _ok(
        client.get(
            "/v1/reports/worklist", params={"as_of": "2026-03-31", "collector": "unassigned"}
        )
    )
    assert [r["account"] for r in unassigned["rows"]] == ["A-3"]
    assert (
        _ok(client.get("/v1/reports/worklist", params={"as_of": "2026-03-31", "level": 1}))["rows"]
        == []
    )


def test_bad_input_is_refused_with_a_stable_code_and_nothing_recorded(
    client: TestClient, runtime: Runtime
) -> None:
    _queue(client, runtime)
    events_before = runtime.app.recorder.max_notification_id()
    for params, code, field in [
        ({"as_of": "2026-03-31", "collecter": "ann"}, "unknown_parameter", "collecter"),
        ({"as_of": "2026-03-31", "sort": "amount"}, "unknown_sort_key", "sort"),
        ({"as_of": "2026-03-31", "level": "high"}, "invalid_request", "level"),
        ({"as_of": "2026-03-31", "level": 10}, "invalid_request", "level"),
        ({"as_of": "2026-03-31", "cursor": "not-a-cursor"}, "invalid_cursor", "cursor"),
        ({"as_of": "2026-03-31", "limit": 0}, "invalid_request", "limit"),
    ]:
        response = client.get("/v1/reports/worklist", params=params)
        assert response.status_code == (400 if code == "unknown_parameter" else 422), response.text
        problem = response.json()
        assert (problem["code"], problem["field"]) == (code, field), problem
        assert problem["detail"], problem
    first = _ok(client.get("/v1/reports/worklist", params={"as_of": "2026-03-31", "limit": 1}))
    other_listing = client.get(
        "/v1/reports/worklist",
        params={"as_of": "2026-03-30", "limit": 1, "cursor": first["next_cursor"]},
    )
    assert other_listing.json()["code"] == "invalid_cursor"
    assert runtime.app.recorder.max_notification_id() == events_before
