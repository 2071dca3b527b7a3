"""The tie-out, on SQLite and PostgreSQL: the AR control account, the aging total and the sum of
the account balances agree as of any date — on the seed story and on a richer one (a plan, an
insurance claim, a write-off, a credit) — and a read model row altered under them is shown as a
difference with the events behind the account."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient

from projections.tie_out import Figures
from projections.tie_out import tie_out as tie_out_read_models
from services.api.app import create_app
from services.api_keys import Role
from services.bootstrap import Runtime
from services.general_ledger import tie_out
from tests.controls.general_ledger_story import TENANT, do, opened, paid, projected, seed_story
from tests.documents_story import record_story


def richer_story(runtime: Runtime) -> None:
    """The seed story on A-100; the documents' story on A-1001 (a plan of ten installments,
    three paid, a settlement offer, an insurance claim adjudicated, paid and adjusted, the
    patient's share open); on B-7 a bill written off in part and an overpayment held as
    credit."""
    seed_story(runtime)
    record_story(runtime.app, tenant_id=TENANT)
    opened(runtime, "B-7")
    do(
        runtime,
        "post_charge",
        {
            "charge_id": "ch-7",
            "code": "LAB",
            "description": "Lab work",
            "unit_price": "400.00",
            "service_date": "2026-02-10",
        },
        "B-7",
    )
    do(runtime, "issue_invoice", {"invoice_number": "INV-7", "issued_on": "2026-02-11"}, "B-7")
    do(
        runtime,
        "write_off",
        {
            "write_off_id": "WO-1",
            "invoice_number": "INV-7",
            "amount": "150.00",
            "written_off_on": "2026-03-15",
        },
        "B-7",
    )
    paid(runtime, "300.00", "pay-7", "2026-03-18", "B-7")  # 50.00 more than is open
    projected(runtime)


def test_the_seed_story_ties_out_on_every_date(runtime: Runtime) -> None:
    seed_story(runtime)
    projected(runtime)

    for day, owed in [("2026-03-01", 0), ("2026-03-10", 100000), ("2026-03-31", 0)]:
        report = tie_out(runtime.app, TENANT, date.fromisoformat(day))
        assert report.ties_out, (day, report)
        assert report.totals.get("USD", Figures()) == Figures(owed, owed, owed)


def test_a_richer_story_ties_out_as_of_each_month_end_and_as_known_before_a_payment(
    runtime: Runtime,
) -> None:
    richer_story(runtime)
    before = datetime.now(UTC)
    paid(runtime, "40.00", "pay-back", "2026-03-12", "B-7")  # back-dated, known only now
    projected(runtime)

    for day in ("2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30", "2026-12-31"):
        report = tie_out(runtime.app, TENANT, date.fromisoformat(day))
        assert report.ties_out, (day, report.differences)
    then = tie_out(runtime.app, TENANT, date(2026, 3, 31), known_at=before)
    now = tie_out(runtime.app, TENANT, date(2026, 3, 31))
    assert then.ties_out
    assert then.totals["USD"].control_minor - now.totals["USD"].control_minor == 4000


def test_what_an_insurer_owes_on_a_claim_is_owed_not_aged_and_ties_out_as_such(
    runtime: Runtime,
) -> None:
    richer_story(runtime)
    # CLM-1 was adjudicated on 2 March, paid (450.00) and adjusted (400.00) on 9 March.
    day = date(2026, 3, 5)

    report = tie_out(runtime.app, TENANT, day)

    assert report.ties_out, report.differences
    assert report.totals["USD"].not_aged_minor == 85000
    # The read models alone do not know what the claim holds: it is a difference of the aging.
    (difference,) = tie_out_read_models(runtime.db, TENANT, day).differences
    assert difference.account_number == "A-1001"
    figures = difference.figures
    assert figures.control_minor == figures.balances_minor
    assert figures.control_minor - figures.aging_minor == 85000
    assert ("ChargePosted", "ch-2") in {(e.event_type, e.reference) for e in difference.events}


def test_an_altered_balance_row_is_a_difference_listed_with_the_events_behind_it(
    runtime: Runtime,
) -> None:
    richer_story(runtime)
    runtime.db.execute(
        "UPDATE account_balances SET balance_minor = balance_minor + 1234"
        " WHERE account_number = 'B-7'"
    )

    report = tie_out(runtime.app, TENANT, date(2026, 3, 31))

    assert not report.ties_out
    (difference,) = report.differences
    assert (difference.account_number, difference.currency) == ("B-7", "USD")
    assert difference.figures.balances_minor - difference.figures.control_minor == 1234
    assert difference.figures.control_minor == difference.figures.aging_minor == -5000
    events = [
        (event.event_type, event.reference, event.amount_minor) for event in difference.events
    ]
    assert events[0] == ("ChargePosted", "ch-7", 40000)
    assert ("WrittenOff", "WO-1", -15000) in events
    assert sum(event.amount_minor for event in difference.events) == -5000
    assert report.totals["USD"].balances_minor - report.totals["USD"].control_minor == 1234


def test_a_lost_ledger_line_is_a_difference_of_the_control_account(runtime: Runtime) -> None:
    seed_story(runtime)
    projected(runtime)
    runtime.db.execute("DELETE FROM ledger_lines WHERE event_type = 'SettlementDiscountApplied'")

    report = tie_out(runtime.app, TENANT, date(2026, 3, 31))

    (difference,) = report.differences
    assert difference.figures == Figures(control_minor=30000, aging_minor=0, balances_minor=0)
    assert [event.event_type for event in difference.events] == [
        "ChargePosted",
        "PaymentReceived",
    ]


@pytest.fixture
def http(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        issued = runtime.keys.create(name="auditor-1", tenant_id=TENANT, role=Role.auditor)
        client.headers["Authorization"] = f"Bearer {issued.secret}"
        yield client


def test_the_tie_out_over_http_ties_out_then_shows_the_difference(
    runtime: Runtime, http: TestClient
) -> None:
    richer_story(runtime)

    tied = http.get("/v1/gl/tie-out", params={"as_of": "2026-03-31"})
    assert tied.status_code == 200, tied.text
    body = tied.json()
    assert body["ties_out"] is True
    assert body["differences"] == []
    assert body["totals"]["USD"]["control"] == body["totals"]["USD"]["aging"]
    # The aging's read model drifts: a paid account shows a term still open.
    runtime.db.execute(
        "INSERT INTO open_item_aging (account_id, item_number, plan_id, term_index, valid_from,"
        " valid_to, tenant_id, account_number, currency, issued_on, due_on, open_minor, disputed)"
        " SELECT account_id, 'X-1', '', 0, '2026-01-01', '9999-12-31', tenant_id, account_number,"
        " currency, '2026-01-01', '2026-01-31', 100, 0 FROM account_balances"
        " WHERE account_number = 'A-100'"
    )

    differs = http.get("/v1/gl/tie-out", params={"as_of": "2026-03-31"}).json()
    assert differs["ties_out"] is False
    (difference,) = differs["differences"]
    assert difference["account_number"] == "A-100"
    assert difference["figures"]["control"] == "0.00"
    assert difference["figures"]["aging"] != "0.00"
    assert {e["event_type"] for e in difference["events"]} >= {"ChargePosted", "PaymentReceived"}
    bad = http.get("/v1/gl/tie-out", params={"as_of": "2026-02-30"})
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_request")
