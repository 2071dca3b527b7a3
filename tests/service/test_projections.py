"""The read models tie out: the worked cases, the ledger's zero sums, and as-known-at reports.

Each test records commands through the application, runs the projector over the notification
log, and reads the figures back from the tables, on embedded SQLite and on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from projections.catalogue import read_models
from projections.reports import aging, aging_lines, statement, trial_balance
from projections.runner import Projector
from services.bootstrap import Runtime
from services.cli_accounts import command_models
from tests.support import CLERK, run

TENANT = "acme"


def do(runtime: Runtime, command: str, body: dict[str, Any], account: str = "A-1") -> None:
    run(runtime.app, command_models()[command].model_validate(body), account, TENANT)


def opened(runtime: Runtime, account: str = "A-1") -> None:
    runtime.app.open_account(
        tenant_id=TENANT,
        account_number=account,
        name="Ann",
        currency="USD",
        opened_on=date(2026, 1, 1),
        meta=CLERK,
    )


def charged(runtime: Runtime, amount: str, quantity: str = "1", charge_id: str = "ch-1") -> None:
    do(
        runtime,
        "post_charge",
        {
            "charge_id": charge_id,
            "code": "LAB",
            "description": "Lab",
            "quantity": quantity,
            "unit_price": amount,
            "service_date": "2026-01-02",
        },
    )


def invoiced(runtime: Runtime, number: str = "INV-1", **extra: Any) -> None:
    do(runtime, "issue_invoice", {"invoice_number": number, "issued_on": "2026-01-05", **extra})


def paid(runtime: Runtime, amount: str, payment_id: str, on: str = "2026-01-10") -> None:
    do(
        runtime,
        "receive_payment",
        {
            "payment_id": payment_id,
            "amount": amount,
            "method": "cash",
            "reference": payment_id,
            "received_on": on,
        },
    )


def projected(runtime: Runtime) -> Projector:
    projector = Projector(runtime.app, runtime.db, read_models())
    projector.catch_up()
    return projector


def terms_open(runtime: Runtime, as_of: date = date(2026, 12, 31)) -> list[int]:
    return [line.open_minor for line in aging_lines(runtime.db, TENANT, as_of)]


THIRTY_FIFTY_TWENTY = {
    "installments": [
        {"due_in_days": 30, "percent": "30"},
        {"due_in_days": 60, "percent": "50"},
        {"due_in_days": 90, "percent": "20"},
    ]
}


def test_a_payment_of_40_on_terms_30_50_20_of_100_leaves_0_40_20(runtime: Runtime) -> None:
    opened(runtime)
    charged(runtime, "100.00")
    invoiced(runtime, **THIRTY_FIFTY_TWENTY)
    paid(runtime, "40.00", "P-1")
    projected(runtime)

    lines = aging_lines(runtime.db, TENANT, date(2026, 12, 31))
    assert [(line.term_index, line.open_minor) for line in lines] == [(1, 4000), (2, 2000)]


def test_on_quantity_two_paying_40_then_crediting_100_leaves_0_20_40(runtime: Runtime) -> None:
    opened(runtime)
    charged(runtime, "100.00", quantity="2")
    invoiced(runtime, **THIRTY_FIFTY_TWENTY)
    paid(runtime, "40.00", "P-1")
    do(
        runtime,
        "issue_credit_note",
        {
            "note_number": "CN-1",
            "invoice_number": "INV-1",
            "issued_on": "2026-01-12",
            "amount": "100.00",
        },
    )
    projected(runtime)

    assert [
        (line.term_index, line.open_minor)
        for line in aging_lines(runtime.db, TENANT, date(2026, 12, 31))
    ] == [(1, 2000), (2, 4000)]


def test_a_full_credit_note_on_an_unpaid_invoice_leaves_no_open_item(runtime: Runtime) -> None:
    opened(runtime)
    charged(runtime, "100.00")
    invoiced(runtime)
    do(
        runtime,
        "issue_credit_note",
        {"note_number": "CN-1", "invoice_number": "INV-1", "issued_on": "2026-01-12"},
    )
    projected(runtime)

    assert terms_open(runtime) == []
    assert terms_open(runtime, date(2026, 1, 11)) == [10000]  # before the note, it was owed


def test_paying_99_99_of_100_leaves_one_cent_in_its_bucket(runtime: Runtime) -> None:
    opened(runtime)
    charged(runtime, "100.00")
    invoiced(runtime, due_on="2026-02-04")
    paid(runtime, "99.99", "P-1")
    projected(runtime)

    (row,) = aging(runtime.db, TENANT, date(2026, 3, 20))  # 44 days past due
    assert row.buckets == {"not yet due": 0, "1-30": 0, "31-60": 1, "61-90": 0, "over 90": 0}
    assert row.open_minor == 1
    (line,) = row.lines
    assert (line.item_number, line.due_on, line.days_past_due) == ("INV-1", date(2026, 2, 4), 44)


def test_an_overpayment_of_110_on_100_closes_the_invoice_and_leaves_10_of_credit(
    runtime: Runtime,
) -> None:
    opened(runtime)
    charged(runtime, "100.00")
    invoiced(runtime)
    paid(runtime, "110.00", "P-1")
    projected(runtime)

    (row,) = aging(runtime.db, TENANT, date(2026, 3, 1))
    assert (row.open_minor, row.unapplied_credit_minor) == (0, 1000)
    balances = runtime.db.query_one("SELECT * FROM account_balances")
    assert balances is not None
    assert (balances["balance_minor"], balances["unapplied_credit_minor"]) == (-1000, 1000)
    ledger = trial_balance(runtime.db, TENANT, date(2026, 3, 1))["USD"]
    assert (ledger["receivables"], ledger["unapplied_credit"], ledger["cash"]) == (0, -1000, 11000)


def test_a_claim_of_1000_with_co_400_pr_150_and_450_paid_leaves_150_to_the_patient(
    runtime: Runtime,
) -> None:
    opened(runtime)
    charged(runtime, "1000.00")
    do(
        runtime,
        "submit_claim",
        {
            "claim_id": "CLM-1",
            "payer": "ACME Health",
            "charge_ids": ["ch-1"],
            "submitted_on": "2026-01-06",
        },
    )
    do(
        runtime,
        "adjudicate_claim",
        {
            "claim_id": "CLM-1",
            "paid": "450.00",
            "adjustments": [
                {"group": "CO", "reason_code": "45", "amount": "400.00"},
                {"group": "PR", "reason_code": "1", "amount": "150.00"},
            ],
            "adjudicated_on": "2026-02-01",
        },
    )
    do(
        runtime,
        "post_insurer_payment",
        {
            "claim_id": "CLM-1",
            "payment_id": "ERA-1",
            "amount": "450.00",
            "method": "eft",
            "reference": "TRN 9",
            "received_on": "2026-02-03",
        },
    )
    do(
        runtime,
        "post_contractual_adjustment",
        {"claim_id": "CLM-1", "posted_on": "2026-02-03"},
    )
    projected(runtime)

    lines = aging_lines(runtime.db, TENANT, date(2026, 3, 1))
    assert [(line.item_number, line.open_minor) for line in lines] == [("CLM-1-PR", 15000)]
    assert runtime.app.get_account(TENANT, "A-1").owed_by_insurers == {}
    ledger = trial_balance(runtime.db, TENANT, date(2026, 3, 1))["USD"]
    assert ledger["contractual_adjustments"] == 40000
    assert ledger["receivables"] == 15000


def test_the_ledger_balances_and_agrees_with_every_account(runtime: Runtime) -> None:
    for account in ("A-1", "A-2"):
        opened(runtime, account)
    charged(runtime, "120.00")
    invoiced(runtime)
    paid(runtime, "150.00", "P-1")
    do(
        runtime,
        "refund_credit",
        {"amount": "10.00", "method": "cash", "reference": "r", "refunded_on": "2026-01-15"},
    )
    do(
        runtime,
        "post_charge",
        {
            "charge_id": "c2",
            "code": "X",
            "description": "X",
            "unit_price": "50.00",
            "tax": "5.00",
            "service_date": "2026-01-03",
        },
        "A-2",
    )
    projected(runtime)

    per_event = runtime.db.query(
        "SELECT position, SUM(amount_minor) AS debits FROM ledger_lines GROUP BY position"
    )
    assert per_event  # the journal has lines, each balanced by the table's own checks
    tb = trial_balance(runtime.db, TENANT, date(2026, 12, 31))["USD"]
    assert sum(tb.values()) == 0
    assert (tb["revenue"], tb["tax"]) == (-17000, -500)
    for row in runtime.db.query("SELECT * FROM account_balances"):
        account = runtime.app.get_account(TENANT, row["account_number"])
        assert row["balance_minor"] == int(account.balance.amount * 100)
        owed = statement(
            runtime.db, TENANT, row["account_number"], date(2026, 1, 1), date(2026, 12, 31)
        )
        assert owed is not None
        assert owed.closing_minor == row["balance_minor"]


def test_aging_as_known_at_a_moment_ignores_what_was_back_dated_after_it(runtime: Runtime) -> None:
    opened(runtime)
    charged(runtime, "100.00")
    invoiced(runtime, due_on="2026-02-04")
    projected(runtime)
    known_then = datetime.now(UTC)
    report_then = aging(runtime.db, TENANT, date(2026, 3, 31), known_at=known_then)

    paid(runtime, "100.00", "P-late", on="2026-03-01")  # recorded later, effective before 31 March
    projected(runtime)

    assert aging(runtime.db, TENANT, date(2026, 3, 31), known_at=known_then) == report_then
    assert report_then[0].buckets["31-60"] == 10000
    assert aging(runtime.db, TENANT, date(2026, 3, 31)) == []
