"""The controls over HTTP: the approval policy, the 202 of a held-back command, the approvers'
queue and decisions, the auditor's sample, closed periods; and who may do each (a role
matrix); on embedded SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.api.app import create_app
from services.api_keys import Role
from services.bootstrap import Runtime
from services.close_day import CloseOfDay
from tests.controls.controls_story import TENANT, clock_at

MARCH_10 = date(2026, 3, 10)
POLICY = {
    "rules": [
        {"command": "write_off", "currency": "USD", "above": "500.00"},
        {"command": "refund_credit", "currency": "USD", "above": "0"},
    ],
    "expires_after_days": 7,
}
WRITE_OFF = {"write_off_id": "wo-1", "invoice_number": "INV-1", "written_off_on": "2026-03-09"}


class Office:
    """One HTTP client, with a key per person: who sends a request is the key it carries."""

    def __init__(self, runtime: Runtime, http: TestClient) -> None:
        self.runtime = runtime
        self.http = http
        self.keys: dict[str, dict[str, str]] = {}
        for name, role in (
            ("clerk-ann", Role.clerk),
            ("clerk-cal", Role.clerk),
            ("approver-bea", Role.approver),
            ("approver-dan", Role.approver),
            ("auditor-eve", Role.auditor),
            ("admin-ops", Role.admin),
            ("reporter-rex", Role.reporter),
        ):
            issued = runtime.keys.create(name=name, tenant_id=TENANT, role=role)
            self.keys[name] = {"Authorization": f"Bearer {issued.secret}"}

    def post(self, who: str, path: str, body: Any = None, **headers: str) -> Any:
        return self.http.post(path, json=body, headers={**self.keys[who], **headers})

    def put(self, who: str, path: str, body: Any) -> Any:
        return self.http.put(path, json=body, headers=self.keys[who])

    def get(self, who: str, path: str, **params: str) -> Any:
        """A read; the read models (which ``ar serve``'s projector keeps) brought up to date."""
        self.runtime.projector().catch_up()
        return self.http.get(path, params=params, headers=self.keys[who])


@pytest.fixture
def office(runtime: Runtime) -> Iterator[Office]:
    runtime.app.clock = clock_at(MARCH_10)
    with TestClient(create_app(runtime), raise_server_exceptions=False) as http:
        office = Office(runtime, http)
        assert office.put("admin-ops", "/v1/tenant/approval-policy", POLICY).status_code == 200
        opened = {
            "account_number": "A-1",
            "name": "Ann",
            "currency": "USD",
            "opened_on": "2026-01-02",
        }
        assert office.post("clerk-ann", "/v1/accounts", opened).status_code == 201
        charge = {
            "charge_id": "ch-1",
            "code": "S",
            "description": "Surgery",
            "quantity": "1",
            "unit_price": "1000.00",
            "service_date": "2026-01-05",
        }
        assert office.post("clerk-ann", "/v1/accounts/A-1/charges", charge).status_code == 201
        invoice = {"invoice_number": "INV-1", "issued_on": "2026-01-06", "due_on": "2026-02-05"}
        assert office.post("clerk-ann", "/v1/accounts/A-1/invoices", invoice).status_code == 201
        yield office


def balance(office: Office) -> str:
    return str(office.get("clerk-ann", "/v1/accounts/A-1/balance").json()["balance"])


def test_a_held_back_write_off_is_accepted_then_approved_by_another_key(office: Office) -> None:
    held = office.post(
        "clerk-ann",
        "/v1/accounts/A-1/write-offs",
        {**WRITE_OFF, "amount": "600.00"},
        **{"X-Reason": "Customer bankrupt"},
    )
    assert held.status_code == 202, held.text
    request = held.json()["approval_request"]
    assert (request["status"], request["amount"], request["maker"]) == (
        "pending",
        "600.00",
        "clerk-ann",
    )
    assert balance(office) == "1000.00"
    queue = office.get("approver-bea", "/v1/approval-requests", status="pending").json()
    assert [(r["request_id"], r["account_number"], r["reason"]) for r in queue] == [
        (request["request_id"], "A-1", "Customer bankrupt")
    ]
    path = f"/v1/accounts/A-1/approval-requests/{request['request_id']}"
    approved = office.post("approver-bea", f"{path}/approval")
    assert approved.status_code == 200, approved.text
    assert approved.json()["approval_request"]["status"] == "approved"
    assert balance(office) == "400.00"
    again = office.post("approver-dan", f"{path}/approval")
    assert (again.status_code, again.json()["code"]) == (409, "approval_already_decided")
    assert office.get("approver-bea", "/v1/approval-requests", status="pending").json() == []

    sample = office.get(
        "auditor-eve", "/v1/reports/approvals", **{"from": "2026-03-01", "to": "2026-03-31"}
    )
    assert sample.status_code == 200, sample.text
    (decision,) = sample.json()["decisions"]
    assert (decision["maker"], decision["checker"], decision["status"]) == (
        "clerk-ann",
        "approver-bea",
        "approved",
    )
    assert sample.json()["own_decisions"] == 0
    assert len(decision["events"]) == 2


def test_the_maker_cannot_decide_and_a_clerk_cannot_approve(office: Office) -> None:
    request = office.post(
        "clerk-ann", "/v1/accounts/A-1/write-offs", {**WRITE_OFF, "amount": "600.00"}
    ).json()["approval_request"]
    path = f"/v1/accounts/A-1/approval-requests/{request['request_id']}"
    for who in ("clerk-ann", "clerk-cal", "auditor-eve", "admin-ops"):
        refused = office.post(who, f"{path}/approval")
        assert (refused.status_code, refused.json()["code"]) == (403, "forbidden"), who
    # An approver key named like the maker is the maker: refused by the domain.
    same_name = office.runtime.keys.create(name="clerk-ann", tenant_id=TENANT, role=Role.approver)
    own = office.http.post(
        f"{path}/approval", headers={"Authorization": f"Bearer {same_name.secret}"}
    )
    assert (own.status_code, own.json()["code"]) == (403, "own_approval_request")
    assert balance(office) == "1000.00"


def test_a_rejection_needs_a_reason_and_records_nothing_else(office: Office) -> None:
    request = office.post(
        "clerk-ann", "/v1/accounts/A-1/write-offs", {**WRITE_OFF, "amount": "600.00"}
    ).json()["approval_request"]
    path = f"/v1/accounts/A-1/approval-requests/{request['request_id']}"
    missing = office.post("approver-bea", f"{path}/rejection", {})
    assert missing.status_code == 422
    rejected = office.post("approver-bea", f"{path}/rejection", {"reason": "Pays next week"})
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["approval_request"]["decision_reason"] == "Pays next week"
    assert balance(office) == "1000.00"
    late = office.post("approver-dan", f"{path}/approval")
    assert (late.status_code, late.json()["code"]) == (409, "approval_already_decided")


def test_an_expired_request_reads_expired_and_cannot_be_approved(office: Office) -> None:
    request = office.post(
        "clerk-ann", "/v1/accounts/A-1/write-offs", {**WRITE_OFF, "amount": "600.00"}
    ).json()["approval_request"]
    listed = office.get("approver-bea", "/v1/approval-requests", as_of="2026-03-18").json()
    assert [r["status"] for r in listed] == ["expired"]
    path = f"/v1/accounts/A-1/approval-requests/{request['request_id']}"
    late = office.post("approver-bea", f"{path}/approval", {"decided_on": "2026-03-18"})
    assert (late.status_code, late.json()["code"]) == (409, "approval_expired")
    unknown = office.post("approver-bea", "/v1/accounts/A-1/approval-requests/apr_nope/approval")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_approval_request")


def test_periods_close_by_admin_or_approver_and_reopen_by_an_approver_only(office: Office) -> None:
    CloseOfDay(office.runtime, clock=clock_at(MARCH_10)).close(
        TENANT, date(2026, 2, 28), started_by="ops"
    )
    open_days = office.post("admin-ops", "/v1/periods/2026-03/close")
    assert (open_days.status_code, open_days.json()["code"]) == (422, "period_has_open_days")
    assert office.post("clerk-ann", "/v1/periods/2026-02/close").status_code == 403
    closed = office.post("admin-ops", "/v1/periods/2026-02/close")
    assert closed.status_code == 201, closed.text
    assert closed.json()["closed_through"] == "2026-02-28"
    assert [p["period"] for p in office.get("auditor-eve", "/v1/periods").json()] == ["2026-02"]

    payment = {"amount": "10.00", "method": "cash", "reference": "r", "received_on": "2026-02-20"}
    refused = office.post("clerk-ann", "/v1/accounts/A-1/payments", payment)
    assert (refused.status_code, refused.json()["code"]) == (409, "period_closed")
    assert "first open date is 2026-03-01" in refused.json()["detail"]

    assert (
        office.post(
            "admin-ops", "/v1/periods/2026-02/reopening", {"reason": "late bank"}
        ).status_code
        == 403
    )
    no_reason = office.post("approver-bea", "/v1/periods/2026-02/reopening", {})
    assert no_reason.status_code == 422
    reopened = office.post("approver-bea", "/v1/periods/2026-02/reopening", {"reason": "late bank"})
    assert reopened.status_code == 201, reopened.text
    assert reopened.json()["closed_through"] is None
    assert office.post("clerk-ann", "/v1/accounts/A-1/payments", payment).status_code == 201


def test_the_backdating_policy_posts_a_correction_on_the_first_open_day(office: Office) -> None:
    CloseOfDay(office.runtime, clock=clock_at(MARCH_10)).close(
        TENANT, date(2026, 2, 28), started_by="ops"
    )
    assert (
        office.put("admin-ops", "/v1/tenant/backdating", {"policy": "first_open_day"}).status_code
        == 200
    )
    assert office.post("approver-bea", "/v1/periods/2026-02/close").status_code == 201
    payment = {"amount": "10.00", "method": "cash", "reference": "r", "received_on": "2026-02-20"}
    assert office.post("clerk-ann", "/v1/accounts/A-1/payments", payment).status_code == 201
    bad = office.put("admin-ops", "/v1/tenant/backdating", {"policy": "sometimes"})
    assert bad.status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        {"rules": [{"command": "receive_payment", "currency": "USD", "above": "1"}]},
        {"rules": [{"command": "write_off", "currency": "USD", "above": "-1"}]},
        {"rules": [{"command": "write_off", "currency": "usd", "above": "1"}]},
        {"rules": [], "expires_after_days": 0},
        {"rules": [{"command": "write_off", "currency": "USD", "above": "1"}] * 2},
    ],
)
def test_a_policy_that_makes_no_sense_is_refused_with_nothing_recorded(
    office: Office, body: Any
) -> None:
    refused = office.put("admin-ops", "/v1/tenant/approval-policy", body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"]
    assert office.get("admin-ops", "/v1/tenant/approval-policy").json() == POLICY | {
        "rules": [{**r} for r in POLICY["rules"]]
    }


@pytest.mark.parametrize(
    ("who", "policy", "queue", "sample"),
    [
        ("clerk-ann", 403, 200, 200),
        ("approver-bea", 403, 200, 200),
        ("auditor-eve", 403, 200, 200),
        ("admin-ops", 200, 403, 403),
        ("reporter-rex", 403, 403, 403),
    ],
)
def test_who_may_set_the_policy_read_the_queue_and_the_sample(
    office: Office, who: str, policy: int, queue: int, sample: int
) -> None:
    assert office.put(who, "/v1/tenant/approval-policy", POLICY).status_code == policy
    assert office.get(who, "/v1/approval-requests").status_code == queue
    assert (
        office.get(
            who, "/v1/reports/approvals", **{"from": "2026-03-01", "to": "2026-03-31"}
        ).status_code
        == sample
    )
    posted = office.post(
        who,
        "/v1/accounts/A-1/payments",
        {"amount": "1.00", "method": "cash", "reference": "r", "received_on": "2026-03-10"},
    )
    assert posted.status_code == (201 if who.startswith("clerk") else 403)
