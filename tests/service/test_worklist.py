"""The collections worklist: who to chase first, and what was last done about them.

Each test records commands through the application, projects them, and reads the worklist as
of a business date (and as known at a moment), on embedded SQLite and on PostgreSQL. Priority
is amount-days: Σ open (dollars) × days past due over undisputed overdue terms.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from projections.catalogue import read_models
from projections.collections import WorklistRow, worklist
from projections.runner import Projector
from services.bootstrap import Runtime
from services.cli import app
from services.commands import command_models
from tests.support import CLERK, run

TENANT = "acme"


def do(runtime: Runtime, command: str, body: dict[str, Any], account: str) -> None:
    run(runtime.app, command_models()[command].model_validate(body), account, TENANT)


def opened(runtime: Runtime, account: str, name: str, currency: str = "USD") -> None:
    runtime.app.open_account(
        tenant_id=TENANT,
        account_number=account,
        name=name,
        currency=currency,
        opened_on=date(2026, 1, 1),
        meta=CLERK,
    )


def owing(runtime: Runtime, account: str, invoice: str, amount: str, due_on: str) -> None:
    """An invoice of ``amount`` issued on 5 January, due in one term on ``due_on``."""
    do(
        runtime,
        "post_charge",
        {
            "charge_id": f"ch-{invoice}",
            "code": "LAB",
            "description": "Lab",
            "unit_price": amount,
            "service_date": "2026-01-02",
        },
        account,
    )
    do(
        runtime,
        "issue_invoice",
        {
            "invoice_number": invoice,
            "issued_on": "2026-01-05",
            "charge_ids": [f"ch-{invoice}"],
            "due_on": due_on,
        },
        account,
    )


def paid(runtime: Runtime, account: str, amount: str, payment_id: str, on: str) -> None:
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
        account,
    )


def contacted(
    runtime: Runtime, account: str, activity_id: str, channel: str, outcome: str, on: str
) -> None:
    do(
        runtime,
        "record_collection_activity",
        {"activity_id": activity_id, "channel": channel, "outcome": outcome, "occurred_on": on},
        account,
    )


def promised(
    runtime: Runtime, account: str, promise_id: str, amount: str, pay_by: str, on: str
) -> None:
    do(
        runtime,
        "record_promise_to_pay",
        {"promise_id": promise_id, "amount": amount, "pay_by": pay_by, "promised_on": on},
        account,
    )


def swept(runtime: Runtime, account: str, as_of: str) -> None:
    do(runtime, "sweep", {"as_of": as_of}, account)


def projected(runtime: Runtime) -> None:
    Projector(runtime.app, runtime.db, read_models()).catch_up()


def ranking(
    runtime: Runtime, as_of: date, currency: str | None = None
) -> list[tuple[str, str, int, int, Decimal, int]]:
    """(account, currency, overdue, oldest days past due, priority, disputed) in worklist order."""
    return [
        (
            r.account_number,
            r.currency,
            r.overdue_minor,
            r.oldest_days_past_due,
            r.priority,
            r.disputed_minor,
        )
        for r in worklist(runtime.db, TENANT, as_of, currency=currency)
    ]


def test_accounts_are_ranked_by_amount_days_then_oldest_then_number_within_currency(
    runtime: Runtime,
) -> None:
    for account, name, currency in [
        ("A-1", "Ann", "USD"),
        ("A-2", "Bob", "USD"),
        ("A-3", "Cy", "USD"),
        ("A-4", "Di", "USD"),
        ("A-5", "Eve", "EUR"),
    ]:
        opened(runtime, account, name, currency)
    owing(runtime, "A-1", "INV-1", "100.00", "2026-03-01")  # 30 days late on 31 March: 3000
    owing(runtime, "A-2", "INV-2", "50.00", "2026-01-31")  # 59 days late: 2950
    owing(runtime, "A-2", "INV-3", "20.00", "2026-03-30")  # 1 day late: 20
    owing(runtime, "A-3", "INV-4", "300.00", "2026-03-21")  # 10 days late: 3000, ties with A-1
    owing(runtime, "A-4", "INV-5", "500.00", "2026-04-30")  # not yet due
    owing(runtime, "A-5", "INV-6", "10.00", "2026-03-30")  # euros are never compared to dollars
    projected(runtime)

    assert ranking(runtime, date(2026, 3, 31)) == [
        ("A-5", "EUR", 1000, 1, Decimal("10.00"), 0),
        ("A-1", "USD", 10000, 30, Decimal("3000.00"), 0),
        ("A-3", "USD", 30000, 10, Decimal("3000.00"), 0),
        ("A-2", "USD", 7000, 59, Decimal("2970.00"), 0),
    ]
    assert [r[0] for r in ranking(runtime, date(2026, 3, 31), currency="USD")] == [
        "A-1",
        "A-3",
        "A-2",
    ]
    # On 1 March only A-2's first invoice is late (29 days); A-1's falls due that very day.
    assert ranking(runtime, date(2026, 3, 1)) == [("A-2", "USD", 5000, 29, Decimal("1450.00"), 0)]
    assert [r.name for r in worklist(runtime.db, TENANT, date(2026, 3, 31))] == [
        "Eve",
        "Ann",
        "Cy",
        "Bob",
    ]


def test_a_disputed_invoice_is_left_out_of_the_overdue_amount_and_the_priority(
    runtime: Runtime,
) -> None:
    opened(runtime, "A-1", "Ann")
    opened(runtime, "A-2", "Bob")
    owing(runtime, "A-1", "INV-1", "100.00", "2026-03-01")
    owing(runtime, "A-1", "INV-2", "40.00", "2026-03-11")
    owing(runtime, "A-2", "INV-3", "80.00", "2026-03-01")
    for account, dispute, invoice in [("A-1", "D-1", "INV-1"), ("A-2", "D-2", "INV-3")]:
        do(
            runtime,
            "open_dispute",
            {"dispute_id": dispute, "invoice_number": invoice, "opened_on": "2026-03-10"},
            account,
        )
    do(
        runtime,
        "resolve_dispute",
        {"dispute_id": "D-2", "outcome": "rejected", "resolved_on": "2026-04-10"},
        "A-2",
    )
    projected(runtime)

    # Before the disputes both accounts are chased for everything overdue.
    assert ranking(runtime, date(2026, 3, 5)) == [
        ("A-1", "USD", 10000, 4, Decimal("400.00"), 0),
        ("A-2", "USD", 8000, 4, Decimal("320.00"), 0),
    ]
    # While disputed: A-1 only for INV-2 (40 × 20 days); A-2, with nothing else late, is absent.
    assert ranking(runtime, date(2026, 3, 31)) == [
        ("A-1", "USD", 4000, 20, Decimal("800.00"), 10000),
    ]
    # The rejected dispute puts A-2 back: 80 × 45 days.
    assert ranking(runtime, date(2026, 4, 15)) == [
        ("A-2", "USD", 8000, 45, Decimal("3600.00"), 0),
        ("A-1", "USD", 4000, 35, Decimal("1400.00"), 10000),
    ]


def test_last_contact_promise_plan_status_and_dunning_level_are_shown_as_of_the_date(
    runtime: Runtime,
) -> None:
    opened(runtime, "A-1", "Ann")
    owing(runtime, "A-1", "INV-1", "300.00", "2026-02-01")
    contacted(runtime, "A-1", "act-1", "call", "no answer", "2026-02-10")
    do(runtime, "escalate_dunning", {"level": 1, "escalated_on": "2026-02-15"}, "A-1")
    contacted(runtime, "A-1", "act-2", "letter", "final notice sent", "2026-02-20")
    promised(runtime, "A-1", "ptp-1", "100.00", "2026-03-01", "2026-02-20")
    swept(runtime, "A-1", "2026-03-02")  # ptp-1 broken
    do(runtime, "escalate_dunning", {"level": 2, "escalated_on": "2026-03-05"}, "A-1")
    do(
        runtime,
        "agree_payment_plan",
        {
            "plan_id": "plan-1",
            "invoice_numbers": ["INV-1"],
            "installments": [
                {"due_on": "2026-03-31", "amount": "100.00"},
                {"due_on": "2026-04-30", "amount": "100.00"},
                {"due_on": "2026-05-31", "amount": "100.00"},
            ],
            "agreed_on": "2026-03-10",
            "default_after_missed": 2,
        },
        "A-1",
    )
    swept(runtime, "A-1", "2026-04-01")  # the first installment missed
    promised(runtime, "A-1", "ptp-2", "100.00", "2026-04-15", "2026-04-02")
    paid(runtime, "A-1", "100.00", "P-1", "2026-04-10")  # pays the first installment, keeps ptp-2
    swept(runtime, "A-1", "2026-05-01")  # the second missed: two missed, the plan defaults
    # Recorded last, dated between the call and the letter: the last contact only from 11 to 19 Feb.
    contacted(runtime, "A-1", "act-3", "email", "sent statement", "2026-02-11")
    projected(runtime)

    def seen(as_of: date) -> tuple[Any, ...]:
        (row,) = worklist(runtime.db, TENANT, as_of)
        return (
            row.overdue_minor,
            row.oldest_days_past_due,
            row.last_contact_on,
            row.last_contact_channel,
            row.last_contact_outcome,
            row.promise_id,
            row.promise_minor,
            row.promise_pay_by,
            row.plan_id,
            row.plan_status,
            row.dunning_level,
        )

    assert seen(date(2026, 2, 5)) == (30000, 4, None, None, None, None, None, None, None, None, 0)
    assert seen(date(2026, 2, 10)) == (
        30000,
        9,
        date(2026, 2, 10),
        "call",
        "no answer",
        None,
        None,
        None,
        None,
        None,
        0,
    )
    assert seen(date(2026, 2, 12)) == (
        30000,
        11,
        date(2026, 2, 11),
        "email",
        "sent statement",
        None,
        None,
        None,
        None,
        None,
        0,
    )
    assert seen(date(2026, 2, 25)) == (
        30000,
        24,
        date(2026, 2, 20),
        "letter",
        "final notice sent",
        "ptp-1",
        10000,
        date(2026, 3, 1),
        None,
        None,
        1,
    )
    letter = (date(2026, 2, 20), "letter", "final notice sent")
    assert seen(date(2026, 3, 4)) == (30000, 31, *letter, None, None, None, None, None, 1)
    assert seen(date(2026, 3, 5)) == (30000, 32, *letter, None, None, None, None, None, 2)
    # A plan being kept ages the invoice by its installments: nothing is overdue to chase.
    assert worklist(runtime.db, TENANT, date(2026, 3, 15)) == []
    # The first installment (100.00, due 31 March) missed: overdue by it, and by its date.
    assert seen(date(2026, 4, 5)) == (
        10000,
        5,
        *letter,
        "ptp-2",
        10000,
        date(2026, 4, 15),
        "plan-1",
        "missed",
        2,
    )
    # The missed installment was made good on 10 April, and the payment kept ptp-2: the plan
    # is kept again, so the account is off the worklist.
    assert worklist(runtime.db, TENANT, date(2026, 4, 12)) == []
    # Defaulted on 1 May: the invoice is aged by its own terms again (due 1 February).
    assert seen(date(2026, 5, 5)) == (
        20000,
        93,
        *letter,
        None,
        None,
        None,
        "plan-1",
        "defaulted",
        2,
    )


def test_a_plans_status_follows_its_changes_in_the_order_they_were_recorded(
    runtime: Runtime,
) -> None:
    opened(runtime, "A-1", "Ann")
    owing(runtime, "A-1", "INV-1", "300.00", "2026-02-01")
    do(
        runtime,
        "agree_payment_plan",
        {
            "plan_id": "plan-1",
            "invoice_numbers": ["INV-1"],
            "installments": [
                {"due_on": "2026-03-31", "amount": "100.00"},
                {"due_on": "2026-04-30", "amount": "100.00"},
                {"due_on": "2026-05-31", "amount": "100.00"},
            ],
            "agreed_on": "2026-03-10",
            "default_after_missed": 3,
        },
        "A-1",
    )
    swept(runtime, "A-1", "2026-04-01")  # the first installment missed
    paid(runtime, "A-1", "100.00", "P-1", "2026-04-10")  # ... made good
    do(
        runtime,
        "reverse_payment",
        {"payment_id": "P-1", "reason_code": "NSF", "reversed_on": "2026-04-20"},
        "A-1",
    )  # ... missed again
    projected(runtime)
    before_p2 = datetime.now(UTC)
    paid(runtime, "A-1", "100.00", "P-2", "2026-04-15")  # recorded last: made good on 15 April
    projected(runtime)

    def status(as_of: date, known_at: datetime | None = None) -> str | None:
        # A plan being kept keeps its account off the worklist (None).
        rows = worklist(runtime.db, TENANT, as_of, known_at=known_at)
        return rows[0].plan_status if rows else None

    assert [status(date(2026, 4, d)) for d in (5, 12, 18, 25)] == [
        "missed",
        None,
        None,
        None,  # P-2, recorded after the reversal, pays the installment again
    ]
    assert status(date(2026, 4, 25), known_at=before_p2) == "missed"


def test_of_several_open_promises_the_one_due_first_is_shown(runtime: Runtime) -> None:
    opened(runtime, "A-1", "Ann")
    owing(runtime, "A-1", "INV-1", "300.00", "2026-02-01")
    promised(runtime, "A-1", "ptp-1", "200.00", "2026-04-30", "2026-04-01")
    promised(runtime, "A-1", "ptp-2", "50.00", "2026-04-20", "2026-04-02")
    paid(runtime, "A-1", "60.00", "P-1", "2026-04-10")  # keeps ptp-2; 60 of ptp-1's 200
    do(
        runtime,
        "reverse_payment",
        {"payment_id": "P-1", "reason_code": "NSF", "reversed_on": "2026-04-14"},
        "A-1",
    )  # ptp-2 open again
    swept(runtime, "A-1", "2026-04-21")  # ptp-2 broken
    swept(runtime, "A-1", "2026-05-01")  # ptp-1 broken
    projected(runtime)

    def promise(as_of: date) -> tuple[str | None, int | None, date | None]:
        (row,) = worklist(runtime.db, TENANT, as_of)
        return (row.promise_id, row.promise_minor, row.promise_pay_by)

    assert [promise(date(2026, m, d)) for m, d in ((4, 5), (4, 12), (4, 15), (4, 22), (5, 2))] == [
        ("ptp-2", 5000, date(2026, 4, 20)),
        ("ptp-1", 20000, date(2026, 4, 30)),
        ("ptp-2", 5000, date(2026, 4, 20)),
        ("ptp-1", 20000, date(2026, 4, 30)),
        (None, None, None),
    ]


def test_the_worklist_as_known_at_a_moment_ignores_what_was_back_dated_after_it(
    runtime: Runtime,
) -> None:
    opened(runtime, "A-1", "Ann")
    opened(runtime, "A-2", "Bob")
    owing(runtime, "A-1", "INV-1", "100.00", "2026-03-01")
    owing(runtime, "A-2", "INV-2", "60.00", "2026-02-01")
    contacted(runtime, "A-1", "act-1", "call", "no answer", "2026-03-20")
    projected(runtime)
    known_then = datetime.now(UTC)
    as_of = date(2026, 3, 31)
    then = worklist(runtime.db, TENANT, as_of, known_at=known_then)
    assert then == [
        WorklistRow("A-2", "Bob", "USD", 6000, 58, Decimal("3480.00"), 0, next_action_on=as_of),
        WorklistRow(
            "A-1",
            "Ann",
            "USD",
            10000,
            30,
            Decimal("3000.00"),
            0,
            last_contact_on=date(2026, 3, 20),
            last_contact_channel="call",
            last_contact_outcome="no answer",
            next_action_on=as_of,
        ),
    ]

    # Recorded later, all dated before 31 March.
    paid(runtime, "A-2", "60.00", "P-late", "2026-03-15")
    contacted(runtime, "A-1", "act-2", "visit", "will pay", "2026-03-25")
    promised(runtime, "A-1", "ptp-1", "100.00", "2026-04-10", "2026-03-25")
    do(runtime, "escalate_dunning", {"level": 2, "escalated_on": "2026-03-26"}, "A-1")
    projected(runtime)

    assert worklist(runtime.db, TENANT, as_of, known_at=known_then) == then
    assert worklist(runtime.db, TENANT, as_of) == [
        WorklistRow(
            "A-1",
            "Ann",
            "USD",
            10000,
            30,
            Decimal("3000.00"),
            0,
            dunning_level=2,
            last_contact_on=date(2026, 3, 25),
            last_contact_channel="visit",
            last_contact_outcome="will pay",
            promise_id="ptp-1",
            promise_minor=10000,
            promise_pay_by=date(2026, 4, 10),
            next_action_on=date(2026, 4, 10),
        )
    ]


BOOK = (
    "kind,account,date,number,amount,due_on,invoice,name,currency\n"
    "account,R-1,2026-01-01,,,,,Ann,USD\n"
    "account,R-2,2026-01-01,,,,,Bob,USD\n"
    "invoice,R-1,2026-01-05,INV-1,100.00,2026-02-04,,,\n"
    "invoice,R-2,2026-03-01,INV-2,70.00,2026-03-31,,,\n"
    "payment,R-1,2026-01-20,P-1,40.00,,INV-1,,\n"
)


@pytest.fixture
def ar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("AR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("AR_TENANT", "acme")
    monkeypatch.setenv("AR_ACTOR", "clerk-ann")
    monkeypatch.setenv("AR_LOG_LEVEL", "WARNING")
    runner = CliRunner()
    book = tmp_path / "book.csv"
    book.write_text(BOOK)
    assert runner.invoke(app, ["import", str(book)]).exit_code == 0
    for command, body in [
        (
            "record_collection_activity",
            {
                "activity_id": "act-1",
                "channel": "call",
                "outcome": "promised to pay",
                "occurred_on": "2026-03-10",
            },
        ),
        (
            "record_promise_to_pay",
            {
                "promise_id": "ptp-1",
                "amount": "60.00",
                "pay_by": "2026-03-31",
                "promised_on": "2026-03-10",
            },
        ),
    ]:
        result = runner.invoke(app, ["exec", command, "R-1", json.dumps(body)])
        assert result.exit_code == 0, result.output
    return runner


def _ok(ar: CliRunner, *args: str) -> str:
    result = ar.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


R1_ON_20_MARCH = {
    "account": "R-1",
    "name": "Ann",
    "currency": "USD",
    "overdue": "60.00",
    "oldest_days_past_due": 44,
    "priority": "2640.00",
    "disputed": "0.00",
    "last_contact_on": "2026-03-10",
    "last_contact_channel": "call",
    "last_contact_outcome": "promised to pay",
    "promise": "60.00",
    "promise_pay_by": "2026-03-31",
    "plan": "",
    "plan_status": "",
    "dunning_level": 0,
    "collector": "",
    "next_action_on": "2026-03-31",
}
R1_HISTORY = [
    {
        "kind": "promise",
        "on": "2026-03-10",
        "id": "ptp-1",
        "channel": None,
        "outcome": None,
        "amount": "60.00",
        "pay_by": "2026-03-31",
        "status": "open",
    },
    {
        "kind": "activity",
        "on": "2026-03-10",
        "id": "act-1",
        "channel": "call",
        "outcome": "promised to pay",
        "amount": None,
        "pay_by": None,
        "status": None,
    },
]


def test_the_worklist_exports_as_json_and_csv(ar: CliRunner) -> None:
    as_json = json.loads(_ok(ar, "report", "worklist", "--as-of", "2026-03-20", "--format", "json"))
    assert as_json == {"rows": [{**R1_ON_20_MARCH, "history": R1_HISTORY}], "next_cursor": None}

    as_csv = list(
        csv.DictReader(
            io.StringIO(_ok(ar, "report", "worklist", "--as-of", "2026-03-20", "--format", "csv"))
        )
    )
    assert as_csv == [
        {
            **{k: str(v) for k, v in R1_ON_20_MARCH.items()},
            "history": "2026-03-10 promise 60.00 by 2026-03-31: open; "
            "2026-03-10 call: promised to pay",
        }
    ]


def test_the_worklist_command_takes_a_date_and_a_currency(ar: CliRunner) -> None:
    before_the_call = json.loads(
        _ok(ar, "report", "worklist", "--as-of", "2026-03-05", "--format", "json")
    )["rows"]
    assert [
        (r["account"], r["priority"], r["last_contact_on"], r["promise"]) for r in before_the_call
    ] == [("R-1", "1740.00", "", "")]
    assert (
        json.loads(
            _ok(
                ar,
                "report",
                "worklist",
                "--as-of",
                "2026-03-20",
                "--currency",
                "EUR",
                "--format",
                "json",
            )
        )["rows"]
        == []
    )
