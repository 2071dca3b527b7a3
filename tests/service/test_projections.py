"""The read models tie out: the worked cases, the ledger's zero sums, and as-known-at reports.

Each test records commands through the application, runs the projector over the notification
log, and reads the figures back from the tables, on embedded SQLite and on PostgreSQL. The
scenarios from practice (installment terms, the cent left open, the insurance claim, ...) are
ledgers in ``tests/ledger/``, played against the read models by
``tests/service/test_ledger_scenarios_read_models.py``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from projections.catalogue import read_models
from projections.reports import aging, aging_lines, statement, trial_balance
from projections.runner import Projector
from services.bootstrap import Runtime
from services.commands import command_models
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
