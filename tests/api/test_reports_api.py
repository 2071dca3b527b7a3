"""The reports over HTTP, read from the read models, and how far behind those are.

The book every test starts from, in tenant acme (clerk-ann records all but the payment)::

    A-1  opened 2026-01-01
         charge  100.00  service 2026-01-05
         INV-1   100.00  issued  2026-01-06, due 2026-02-05 (30 days)
         payment  40.00  received 2026-01-20, by clerk-bob      -> INV-1 open 60.00
    A-2  opened 2026-01-01

and in tenant globex, account G-1, which acme never sees. The API does not project: each test
catches the read models up itself, as ``ar serve``'s projector would.

The worklist and explain tests add to the book on A-1 and A-2 (``_invoiced``), saying what.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient

from projections.catalogue import read_models
from projections.explain import FIGURES
from projections.runner import Projector
from services.api_keys import Role
from services.bootstrap import Runtime

OPEN = {"name": "Ann", "currency": "USD", "opened_on": "2026-01-01"}


def _headers(runtime: Runtime, role: Role, name: str, tenant: str = "acme") -> dict[str, str]:
    issued = runtime.keys.create(name=name, tenant_id=tenant, role=role)
    return {"Authorization": f"Bearer {issued.secret}"}


def _ok(response: Any) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


def _book(client: TestClient, runtime: Runtime) -> dict[str, str]:
    """Record the book; the moments between its steps, for as-known-at and time ranges."""
    _ok(client.post("/v1/accounts", json={"account_number": "A-1", **OPEN}))
    _ok(
        client.post(
            "/v1/accounts/A-1/charges",
            json={
                "code": "VISIT",
                "description": "Visit",
                "unit_price": "100.00",
                "service_date": "2026-01-05",
            },
        )
    )
    _ok(
        client.post(
            "/v1/accounts/A-1/invoices", json={"invoice_number": "INV-1", "issued_on": "2026-01-06"}
        )
    )
    before_payment = datetime.now(UTC).isoformat()
    bob = _headers(runtime, Role.clerk, "clerk-bob")
    _ok(
        client.post(
            "/v1/accounts/A-1/payments",
            json={
                "amount": "40.00",
                "method": "cash",
                "reference": "P-1",
                "received_on": "2026-01-20",
            },
            headers=bob,
        )
    )
    after_payment = datetime.now(UTC).isoformat()
    _ok(client.post("/v1/accounts", json={"account_number": "A-2", **OPEN}))
    globex = _headers(runtime, Role.clerk, "clerk-gil", tenant="globex")
    _ok(client.post("/v1/accounts", json={"account_number": "G-1", **OPEN}, headers=globex))
    return {"before_payment": before_payment, "after_payment": after_payment}


def _record(client: TestClient, account: str, facts: str, body: dict[str, Any]) -> None:
    _ok(client.post(f"/v1/accounts/{account}/{facts}", json=body))


def _invoiced(
    client: TestClient, account: str, number: str, amount: str, on: str, **extra: Any
) -> None:
    """Charge ``amount`` served on the date and invoice it that day (net 30 unless ``extra``)."""
    charge = {"charge_id": f"ch-{number}", "code": "VISIT", "description": "Visit"}
    _record(client, account, "charges", {**charge, "unit_price": amount, "service_date": on})
    _record(client, account, "invoices", {"invoice_number": number, "issued_on": on, **extra})


def _project(runtime: Runtime) -> None:
    Projector(runtime.app, runtime.db, read_models()).catch_up()


def _aging(client: TestClient, **params: Any) -> dict[str, Any]:
    report: dict[str, Any] = _ok(client.get("/v1/reports/aging", params=params))
    return report


def test_aging_puts_what_is_left_of_the_invoice_in_its_bucket_with_a_total(
    client: TestClient, runtime: Runtime
) -> None:
    _book(client, runtime)
    _project(runtime)

    report = _aging(client, as_of="2026-03-31", detail=True)

    assert report["bucket_labels"] == ["not yet due", "1-30", "31-60", "61-90", "over 90"]
    [row] = report["rows"]
    assert row["account_number"] == "A-1"
    assert row["buckets"] == {
        "not yet due": "0.00",
        "1-30": "0.00",
        "31-60": "60.00",
        "61-90": "0.00",
        "over 90": "0.00",
    }
    assert (row["open"], row["unapplied_credit"], row["disputed"]) == ("60.00", "0.00", "0.00")
    assert row["lines"] == [
        {
            "item_number": "INV-1",
            "term": 1,
            "issued_on": "2026-01-06",
            "due_on": "2026-02-05",
            "days_past_due": 54,
            "bucket": "31-60",
            "open": "60.00",
            "disputed": False,
        }
    ]
    assert [(t["currency"], t["buckets"]["31-60"], t["open"]) for t in report["totals"]] == [
        ("USD", "60.00", "60.00")
    ]


def test_aging_by_invoice_date_with_other_buckets_and_before_the_due_date(
    client: TestClient, runtime: Runtime
) -> None:
    _book(client, runtime)
    _project(runtime)

    by_invoice = _aging(client, as_of="2026-03-31", basis="invoice", buckets="10,20")
    not_yet_due = _aging(client, as_of="2026-01-31", account="A-1")

    assert by_invoice["bucket_labels"] == ["not yet due", "1-10", "11-20", "over 20"]
    assert by_invoice["rows"][0]["buckets"]["over 20"] == "60.00"
    assert by_invoice["rows"][0]["lines"] is None  # only with detail=true
    assert not_yet_due["rows"][0]["buckets"]["not yet due"] == "60.00"
    assert _aging(client, as_of="2026-03-31", account="A-2")["rows"] == []


def test_aging_as_known_before_the_payment_still_shows_the_whole_invoice(
    client: TestClient, runtime: Runtime
) -> None:
    moments = _book(client, runtime)
    _project(runtime)

    then = _aging(client, as_of="2026-03-31", as_known_at=moments["before_payment"])
    now = _aging(client, as_of="2026-03-31", as_known_at=moments["after_payment"])

    assert then["rows"][0]["buckets"]["31-60"] == "100.00"
    assert now["rows"][0]["buckets"]["31-60"] == "60.00"
    assert datetime.fromisoformat(then["as_known_at"]) == datetime.fromisoformat(
        moments["before_payment"]
    )


def test_the_trial_balance_sums_to_zero(client: TestClient, runtime: Runtime) -> None:
    _book(client, runtime)
    _project(runtime)

    report = _ok(client.get("/v1/reports/trial-balance", params={"as_of": "2026-03-31"}))
    before_payment = _ok(client.get("/v1/reports/trial-balance", params={"as_of": "2026-01-19"}))

    [usd] = report["currencies"]
    balances = usd["balances"]
    assert (balances["receivables"], balances["cash"], balances["revenue"]) == (
        "60.00",
        "40.00",
        "-100.00",
    )
    assert sum(Decimal(v) for v in balances.values()) == 0
    assert (usd["total_debits"], usd["total_credits"]) == ("100.00", "100.00")
    assert before_payment["currencies"][0]["balances"]["receivables"] == "100.00"


def test_the_statement_runs_from_the_opening_to_the_closing_balance(
    client: TestClient, runtime: Runtime
) -> None:
    _book(client, runtime)
    _project(runtime)

    document = _ok(
        client.get("/v1/reports/statements/A-1", params={"from": "2026-01-10", "to": "2026-03-31"})
    )

    assert (document["opening_balance"], document["closing_balance"]) == ("100.00", "60.00")
    movements = [
        (m["effective_on"], m["event_type"], m["amount"], m["balance"])
        for m in document["movements"]
    ]
    assert movements == [("2026-01-20", "PaymentReceived", "-40.00", "60.00")]
    assert (document["period_from"], document["period_to"]) == ("2026-01-10", "2026-03-31")


def _worklist(client: TestClient, **params: Any) -> dict[str, Any]:
    report: dict[str, Any] = _ok(client.get("/v1/reports/worklist", params=params))
    return report


def test_the_worklist_puts_the_larger_amount_days_first_and_leaves_out_what_is_disputed(
    client: TestClient, runtime: Runtime
) -> None:
    """As of 2026-03-31: A-1 owes 60.00 of INV-1, 54 days late (60 × 54 = 3240), and 500.00 of
    INV-3, disputed; A-2 owes 200.00 of INV-2, due 2026-03-03, 28 days late (200 × 28 = 5600),
    has been called, promised 150.00 and dunned once."""
    _book(client, runtime)
    _invoiced(client, "A-1", "INV-3", "500.00", "2026-01-10")
    _record(
        client,
        "A-1",
        "disputes",
        {"dispute_id": "D-1", "invoice_number": "INV-3", "opened_on": "2026-01-20"},
    )
    _invoiced(client, "A-2", "INV-2", "200.00", "2026-02-01")
    _record(client, "A-2", "dunning-escalations", {"level": 1, "escalated_on": "2026-03-10"})
    _record(
        client,
        "A-2",
        "collection-activities",
        {"channel": "call", "outcome": "Will pay in April", "occurred_on": "2026-03-20"},
    )
    _record(
        client,
        "A-2",
        "promises-to-pay",
        {"amount": "150.00", "pay_by": "2026-04-15", "promised_on": "2026-03-20"},
    )
    _project(runtime)

    report = _worklist(client, as_of="2026-03-31")

    without_history = [{k: v for k, v in row.items() if k != "history"} for row in report["rows"]]
    assert without_history == [
        {
            "account": "A-2",
            "name": "Ann",
            "currency": "USD",
            "overdue": "200.00",
            "oldest_days_past_due": 28,
            "priority": "5600.00",
            "disputed": "0.00",
            "last_contact": {"on": "2026-03-20", "channel": "call", "outcome": "Will pay in April"},
            "open_promise": {"amount": "150.00", "pay_by": "2026-04-15"},
            "plan_status": None,
            "dunning_level": 1,
            "collector": None,
            "next_action_on": "2026-04-15",
        },
        {
            "account": "A-1",
            "name": "Ann",
            "currency": "USD",
            "overdue": "60.00",
            "oldest_days_past_due": 54,
            "priority": "3240.00",
            "disputed": "500.00",
            "last_contact": None,
            "open_promise": None,
            "plan_status": None,
            "dunning_level": 0,
            "collector": None,
            "next_action_on": "2026-03-31",
        },
    ]
    # Each row's latest calls and promises, newest first (the promise's id was made for it).
    a2_history, a1_history = (row["history"] for row in report["rows"])
    assert [(h["kind"], h["on"]) for h in a2_history] == [
        ("promise", "2026-03-20"),
        ("activity", "2026-03-20"),
    ]
    assert (a2_history[0]["amount"], a2_history[0]["pay_by"]) == ("150.00", "2026-04-15")
    assert a1_history == []
    assert (report["as_of"], report["as_known_at"], report["currency"]) == (
        "2026-03-31",
        None,
        None,
    )
    assert report["as_of_position"] == _trail(client)["events"][-1]["position"]
    assert _worklist(client, as_of="2026-03-31", currency="USD")["rows"] == report["rows"]
    assert _worklist(client, as_of="2026-03-31", currency="EUR")["rows"] == []
    # Before INV-2 fell due, only A-1 was late.
    assert [r["account"] for r in _worklist(client, as_of="2026-03-03")["rows"]] == ["A-1"]


def test_the_worklist_as_known_before_the_payment_chases_the_whole_invoice(
    client: TestClient, runtime: Runtime
) -> None:
    moments = _book(client, runtime)
    _project(runtime)

    [then] = _worklist(client, as_of="2026-03-31", as_known_at=moments["before_payment"])["rows"]

    assert (then["account"], then["overdue"], then["priority"]) == ("A-1", "100.00", "5400.00")


def _explain(client: TestClient, account: str, figure: str, **params: Any) -> dict[str, Any]:
    found: dict[str, Any] = _ok(
        client.get(f"/v1/reports/explain/{account}", params={"figure": figure, **params})
    )
    return found


def _events(found: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    return [
        (e["event_type"], e["effective_on"], e["reference"], e["note"], e["amount"])
        for e in found["events"]
    ]


THIRTY_FIFTY_TWENTY = {
    "installments": [
        {"due_in_days": 30, "percent": "30"},
        {"due_in_days": 60, "percent": "50"},
        {"due_in_days": 90, "percent": "20"},
    ]
}


def _instalments_paid_in_part(client: TestClient) -> None:
    """On A-2: INV-2 of 100.00 issued 2026-01-06 in terms 30.00 due 2026-02-05, 50.00 due
    2026-03-07 and 20.00 due 2026-04-06; 40.00 paid on 2026-01-20 fills the first term and 10.00
    of the second, leaving 0.00, 40.00 and 20.00 open."""
    _invoiced(client, "A-2", "INV-2", "100.00", "2026-01-06", **THIRTY_FIFTY_TWENTY)
    _record(
        client,
        "A-2",
        "payments",
        {
            "payment_id": "P-2",
            "amount": "40.00",
            "method": "cash",
            "reference": "receipt 2",
            "received_on": "2026-01-20",
        },
    )


def test_what_is_outstanding_on_an_invoice_is_its_total_less_the_payment(
    client: TestClient, runtime: Runtime
) -> None:
    _book(client, runtime)
    _instalments_paid_in_part(client)
    _project(runtime)

    found = _explain(client, "A-2", "outstanding:INV-2", as_of="2026-03-31")

    assert _events(found) == [
        ("InvoiceIssued", "2026-01-06", "INV-2", "issued", "100.00"),
        ("PaymentReceived", "2026-01-20", "P-2", "payment", "-40.00"),
    ]
    assert (found["account"], found["currency"], found["figure"], found["as_of"]) == (
        "A-2",
        "USD",
        "outstanding:INV-2",
        "2026-03-31",
    )
    assert found["total"] == "60.00"
    assert found["events"][0]["position"] < found["events"][1]["position"]
    assert found["as_of_position"] == _trail(client)["events"][-1]["position"]


def test_an_aging_bucket_is_explained_by_its_terms_and_each_payments_share(
    client: TestClient, runtime: Runtime
) -> None:
    _book(client, runtime)
    _instalments_paid_in_part(client)
    _project(runtime)

    found = _explain(client, "A-2", "aging:1-30", as_of="2026-03-31")
    aged = _aging(client, as_of="2026-03-31", account="A-2")["rows"][0]["buckets"]

    assert _events(found) == [
        ("InvoiceIssued", "2026-01-06", "INV-2", "term 2 due 2026-03-07: issued", "50.00"),
        ("PaymentReceived", "2026-01-20", "P-2", "term 2 due 2026-03-07: payment", "-10.00"),
    ]
    assert found["total"] == aged["1-30"] == "40.00"
    for buckets in ("30,60,90", "10,20"):
        day = {"as_of": "2026-03-31", "buckets": buckets}
        [row] = _aging(client, account="A-2", **day)["rows"]
        for label, amount in row["buckets"].items():
            assert _explain(client, "A-2", f"aging:{label}", **day)["total"] == amount, label


def _trail(client: TestClient, **params: Any) -> dict[str, Any]:
    page: dict[str, Any] = _ok(client.get("/v1/reports/audit-trail", params=params))
    return page


def _types(page: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["account_number"], e["event_type"]) for e in page["events"]]


def test_the_audit_trail_filters_by_account_actor_event_type_and_time(
    client: TestClient, runtime: Runtime
) -> None:
    moments = _book(client, runtime)
    _project(runtime)

    assert _types(_trail(client)) == [
        ("A-1", "Opened"),
        ("A-1", "ChargePosted"),
        ("A-1", "InvoiceIssued"),
        ("A-1", "PaymentReceived"),
        ("A-2", "Opened"),
    ]  # and nothing of globex's
    assert _types(_trail(client, account="A-2")) == [("A-2", "Opened")]
    assert _types(_trail(client, actor="clerk-bob")) == [("A-1", "PaymentReceived")]
    assert _types(_trail(client, event_type="InvoiceIssued")) == [("A-1", "InvoiceIssued")]
    assert _types(
        _trail(
            client, recorded_from=moments["before_payment"], recorded_to=moments["after_payment"]
        )
    ) == [("A-1", "PaymentReceived")]
    assert _types(_trail(client, effective_from="2026-01-05", effective_to="2026-01-06")) == [
        ("A-1", "ChargePosted"),
        ("A-1", "InvoiceIssued"),
    ]


def test_an_audit_row_carries_who_why_when_how_much_and_its_chain_link(
    client: TestClient, runtime: Runtime
) -> None:
    _book(client, runtime)
    _project(runtime)

    events = _trail(client, account="A-1")["events"]
    payment = events[3]

    assert payment["actor"] == "clerk-bob"
    assert (payment["effective_on"], payment["currency"]) == ("2026-01-20", "USD")
    assert payment["balance_effect"] == "-40.00"
    assert payment["payload"]["amount"] == {"amount": "40.00", "currency": "USD"}
    assert payment["account_version"] == 4
    assert payment["correlation_id"]
    assert datetime.fromisoformat(payment["recorded_at"]) <= datetime.now(UTC)
    assert [e["previous_hash"] for e in events[1:]] == [e["event_hash"] for e in events[:-1]]
    assert events[0]["previous_hash"] == "0" * 64


def test_the_audit_trail_pages_by_position(client: TestClient, runtime: Runtime) -> None:
    _book(client, runtime)
    _project(runtime)
    everything = _trail(client)["events"]

    pages = [_trail(client, limit=2)]
    while pages[-1]["next_cursor"] is not None:
        pages.append(_trail(client, limit=2, cursor=pages[-1]["next_cursor"]))

    assert [len(p["events"]) for p in pages] == [2, 2, 1]
    assert [e for p in pages for e in p["events"]] == everything
    assert _trail(client, after=everything[-1]["position"]) == {
        "as_of_position": pages[0]["as_of_position"],
        "events": [],
        "next_cursor": None,
    }


def test_projection_lag_is_what_was_recorded_and_not_yet_projected(
    client: TestClient, runtime: Runtime
) -> None:
    _book(client, runtime)

    behind = _ok(client.get("/v1/projections"))
    stale = _aging(client, as_of="2026-03-31")
    _project(runtime)
    current = _ok(client.get("/v1/projections"))
    fresh = _aging(client, as_of="2026-03-31")

    head = behind["head_position"]
    assert head >= 6  # acme's six events and globex's one (PostgreSQL's ids may skip)
    assert {p["name"] for p in behind["projections"]} >= {
        "account_balances",
        "open_items",
        "ledger",
        "audit_trail",
    }
    assert all((p["position"], p["behind"]) == (0, head) for p in behind["projections"])
    assert (stale["as_of_position"], stale["rows"]) == (0, [])

    assert current["head_position"] == head
    assert all((p["position"], p["behind"]) == (head, 0) for p in current["projections"])
    assert fresh["as_of_position"] == head
    assert fresh["rows"][0]["open"] == "60.00"
    assert _trail(client)["as_of_position"] == head
    # No relay has run here: everything recorded is still to be published.
    assert current["relay"] == {"name": "kafka relay", "position": 0, "behind": head}


def test_a_reporter_reads_reports_but_neither_commands_nor_reads_account_events(
    client: TestClient, runtime: Runtime
) -> None:
    _book(client, runtime)
    _project(runtime)
    reporter = _headers(runtime, Role.reporter, "reporter-1")
    admin = _headers(runtime, Role.admin, "admin-1")
    reports = [
        ("/v1/reports/aging", {"as_of": "2026-03-31"}),
        ("/v1/reports/trial-balance", {"as_of": "2026-03-31"}),
        ("/v1/reports/statements/A-1", {"from": "2026-01-01", "to": "2026-03-31"}),
        ("/v1/reports/audit-trail", {}),
        ("/v1/reports/worklist", {"as_of": "2026-03-31"}),
        ("/v1/reports/explain/A-1", {"figure": "balance", "as_of": "2026-03-31"}),
    ]

    for path, params in reports:
        assert client.get(path, params=params, headers=reporter).status_code == 200, path
        assert client.get(path, params=params, headers=admin).status_code == 403, path
        assert client.get(path, params=params, headers={"Authorization": ""}).status_code == 401
    assert client.get("/v1/projections", headers=reporter).status_code == 200
    assert client.get("/v1/projections", headers=admin).status_code == 200
    pay = client.post(
        "/v1/accounts/A-1/payments",
        json={"amount": "1.00", "method": "cash", "reference": "r", "received_on": "2026-01-21"},
        headers=reporter,
    )
    assert pay.status_code == 403
    assert pay.json()["code"] == "forbidden"
    assert client.get("/v1/accounts/A-1/events", headers=reporter).status_code == 403


def test_a_report_never_shows_another_tenants_accounts(
    client: TestClient, runtime: Runtime
) -> None:
    _book(client, runtime)
    _project(runtime)
    globex = _headers(runtime, Role.reporter, "reporter-g", tenant="globex")

    statement = client.get(
        "/v1/reports/statements/A-1",
        params={"from": "2026-01-01", "to": "2026-03-31"},
        headers=globex,
    )
    assert statement.json()["code"] == "account_not_found"
    trail = _ok(client.get("/v1/reports/audit-trail", headers=globex))
    assert _types(trail) == [("G-1", "Opened")]
    aging = _ok(client.get("/v1/reports/aging", params={"as_of": "2026-03-31"}, headers=globex))
    assert aging["rows"] == []
    worklist = _ok(
        client.get("/v1/reports/worklist", params={"as_of": "2026-03-31"}, headers=globex)
    )
    assert worklist["rows"] == []
    explained = client.get(
        "/v1/reports/explain/A-1",
        params={"figure": "balance", "as_of": "2026-03-31"},
        headers=globex,
    )
    assert (explained.status_code, explained.json()["code"]) == (404, "account_not_found")


def _refused(client: TestClient, path: str, params: dict[str, Any]) -> tuple[int, str, str]:
    response = client.get(path, params=params)
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["detail"]
    return response.status_code, problem["code"], problem["field"]


def test_bad_report_queries_are_refused_with_a_code_and_the_field(
    client: TestClient, runtime: Runtime
) -> None:
    _book(client, runtime)
    _project(runtime)
    aging, statement, trail, worklist, explain = (
        "/v1/reports/aging",
        "/v1/reports/statements/A-1",
        "/v1/reports/audit-trail",
        "/v1/reports/worklist",
        "/v1/reports/explain/A-1",
    )
    period = {"from": "2026-01-01", "to": "2026-03-31"}
    day = {"as_of": "2026-03-31"}

    cases = {
        (aging, "missing as_of"): ({}, (422, "invalid_request", "as_of")),
        (aging, "falling buckets"): (
            {"as_of": "2026-03-31", "buckets": "60,30"},
            (422, "invalid_buckets", "buckets"),
        ),
        (aging, "words for buckets"): (
            {"as_of": "2026-03-31", "buckets": "thirty"},
            (422, "invalid_buckets", "buckets"),
        ),
        (aging, "a zero bucket"): (
            {"as_of": "2026-03-31", "buckets": "0,30"},
            (422, "invalid_buckets", "buckets"),
        ),
        (aging, "an unknown basis"): (
            {"as_of": "2026-03-31", "basis": "age"},
            (422, "invalid_request", "basis"),
        ),
        (aging, "a moment past the year 9999 in UTC"): (
            {"as_of": "2026-03-31", "as_known_at": "9999-12-31T23:00:00-05:00"},
            (422, "moment_out_of_range", "as_known_at"),
        ),
        (statement, "a period running backwards"): (
            {"from": "2026-03-31", "to": "2026-01-01"},
            (422, "invalid_range", "to"),
        ),
        (statement.replace("A-1", "NOPE"), "an unknown account"): (
            period,
            (404, "account_not_found", "account_number"),
        ),
        (trail, "an unknown event type"): (
            {"event_type": "PaymentMade"},
            (422, "unknown_event_type", "event_type"),
        ),
        (trail, "a negative cursor"): ({"after": -1}, (422, "invalid_request", "after")),
        (trail, "a cursor past 2**53"): ({"after": 2**63}, (422, "invalid_request", "after")),
        (trail, "an empty page"): ({"limit": 0}, (422, "invalid_request", "limit")),
        (trail, "too long a page"): ({"limit": 1001}, (422, "invalid_request", "limit")),
        (trail, "a time range running backwards"): (
            {"recorded_from": "2026-02-01T00:00:00Z", "recorded_to": "2026-01-01T00:00:00Z"},
            (422, "invalid_range", "recorded_to"),
        ),
        (trail, "a control character in the actor"): (
            {"actor": "ann\x00"},
            (422, "invalid_request", "actor"),
        ),
        (worklist, "missing as_of"): ({}, (422, "invalid_request", "as_of")),
        (worklist, "a currency in lower case"): (
            {**day, "currency": "usd"},
            (422, "invalid_request", "currency"),
        ),
        (explain, "missing figure"): (day, (422, "invalid_request", "figure")),
        (explain, "an unknown figure"): (
            {**day, "figure": "owed"},
            (422, "unknown_figure", "figure"),
        ),
        (explain, "an item never issued"): (
            {**day, "figure": "outstanding:INV-9"},
            (422, "unknown_figure", "figure"),
        ),
        (explain, "a bucket not among the buckets"): (
            {**day, "figure": "aging:1-30", "buckets": "10,20"},
            (422, "unknown_figure", "figure"),
        ),
        (explain, "falling buckets"): (
            {**day, "figure": "aging:1-30", "buckets": "60,30"},
            (422, "invalid_buckets", "buckets"),
        ),
        (explain, "a control character in the figure"): (
            {**day, "figure": "outstanding:INV-1\x00"},
            (422, "invalid_request", "figure"),
        ),
        (explain.replace("A-1", "NOPE"), "an unknown account"): (
            {**day, "figure": "balance"},
            (404, "account_not_found", "account_number"),
        ),
    }
    for (path, case), (params, expected) in cases.items():
        assert _refused(client, path, params) == expected, case


def test_an_unknown_figure_is_refused_with_the_figures_there_are(
    client: TestClient, runtime: Runtime
) -> None:
    _book(client, runtime)
    _project(runtime)

    figure = client.get("/v1/reports/explain/A-1", params={"figure": "owed", "as_of": "2026-03-31"})
    bucket = client.get(
        "/v1/reports/explain/A-1", params={"figure": "aging:1-10", "as_of": "2026-03-31"}
    )

    assert figure.json()["detail"] == f"no figure 'owed'; the figures are {', '.join(FIGURES)}"
    assert bucket.json()["detail"] == (
        "no aging bucket '1-10'; the buckets are not yet due, 1-30, 31-60, 61-90, over 90"
    )
