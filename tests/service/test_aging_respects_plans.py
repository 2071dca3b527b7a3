"""Aging that respects payment plans: while a plan is kept, its invoices are aged by its
installments (``domain.account.queries.aged_terms``), in the domain, the aging report, the
worklist and ``explain`` alike; once an installment is missed it is past due by its own date,
and when the plan defaults the invoices go back to their own terms. On both engines."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from domain.money import Money
from projections.catalogue import read_models
from projections.collections import worklist
from projections.explain import explain
from projections.reports import aging, aging_lines
from projections.runner import Projector
from services.bootstrap import Runtime
from services.commands import command_models
from tests.support import CLERK, run

TENANT = "acme"
ACCOUNT = "A-1"


def do(runtime: Runtime, command: str, body: dict[str, Any]) -> None:
    run(runtime.app, command_models()[command].model_validate(body), ACCOUNT, TENANT)


def projected(runtime: Runtime) -> None:
    Projector(runtime.app, runtime.db, read_models()).catch_up()


def on_plan(runtime: Runtime) -> None:
    """The issue's example: 300.00 due 31 January; on 20 January a plan of three 100.00
    installments, the first due 15 February."""
    runtime.app.open_account(
        tenant_id=TENANT,
        account_number=ACCOUNT,
        name="Ann",
        currency="USD",
        opened_on=date(2026, 1, 1),
        meta=CLERK,
    )
    do(
        runtime,
        "post_charge",
        {
            "charge_id": "ch-1",
            "code": "LAB",
            "description": "Lab",
            "unit_price": "300.00",
            "service_date": "2026-01-02",
        },
    )
    do(
        runtime,
        "issue_invoice",
        {"invoice_number": "INV-1", "issued_on": "2026-01-05", "due_on": "2026-01-31"},
    )
    do(
        runtime,
        "agree_payment_plan",
        {
            "plan_id": "plan-1",
            "invoice_numbers": ["INV-1"],
            "installments": [
                {"due_on": "2026-02-15", "amount": "100.00"},
                {"due_on": "2026-03-15", "amount": "100.00"},
                {"due_on": "2026-04-15", "amount": "100.00"},
            ],
            "agreed_on": "2026-01-20",
            "default_after_missed": 2,
        },
    )


def buckets(runtime: Runtime, as_of: date, known_at: datetime | None = None) -> dict[str, int]:
    (row,) = aging(runtime.db, TENANT, as_of, known_at=known_at, account_number=ACCOUNT)
    (summed,) = aging(
        runtime.db, TENANT, as_of, known_at=known_at, account_number=ACCOUNT, detail=False
    )
    assert summed.buckets == row.buckets
    return {label: amount for label, amount in row.buckets.items() if amount}


def chased(runtime: Runtime, as_of: date) -> list[tuple[int, int]]:
    return [(r.overdue_minor, r.oldest_days_past_due) for r in worklist(runtime.db, TENANT, as_of)]


def test_a_plan_being_kept_keeps_its_account_out_of_the_past_due_buckets_and_off_the_worklist(
    runtime: Runtime,
) -> None:
    on_plan(runtime)
    projected(runtime)
    account = runtime.app.get_account(TENANT, ACCOUNT)
    feb_10 = date(2026, 2, 10)
    assert buckets(runtime, feb_10) == {"not yet due": 30000}
    assert chased(runtime, feb_10) == []
    assert account.overdue(feb_10) == []
    # Before the plan was agreed the invoice's own terms ruled.
    assert buckets(runtime, date(2026, 1, 19)) == {"not yet due": 30000}
    # Nothing paid by 20 February: the first installment is past due by its own date.
    feb_20 = date(2026, 2, 20)
    assert buckets(runtime, feb_20) == {"not yet due": 20000, "1-30": 10000}
    assert chased(runtime, feb_20) == [(10000, 5)]
    (overdue,) = account.overdue(feb_20)
    assert (overdue.plan_id, overdue.index, overdue.outstanding) == (
        "plan-1",
        0,
        Money("100.00", "USD"),
    )
    lines = aging_lines(runtime.db, TENANT, feb_20, account_number=ACCOUNT)
    assert [(x.plan_id, x.term_index, x.due_on, x.open_minor) for x in lines] == [
        ("plan-1", 0, date(2026, 2, 15), 10000),
        ("plan-1", 1, date(2026, 3, 15), 10000),
        ("plan-1", 2, date(2026, 4, 15), 10000),
    ]
    explained = explain(runtime.db, TENANT, ACCOUNT, "aging:1-30", feb_20)
    assert explained is not None
    assert explained.total_minor == 10000
    assert any("plan-1" in line.note for line in explained.lines)


def test_a_missed_installment_puts_it_on_the_worklist_and_a_default_restores_the_terms(
    runtime: Runtime,
) -> None:
    on_plan(runtime)
    do(
        runtime,
        "receive_payment",
        {
            "payment_id": "P-1",
            "amount": "100.00",
            "method": "cash",
            "reference": "P-1",
            "received_on": "2026-02-14",
        },
    )
    projected(runtime)
    kept = datetime.now(UTC)
    assert buckets(runtime, date(2026, 3, 1)) == {"not yet due": 20000}
    assert chased(runtime, date(2026, 3, 1)) == []
    do(runtime, "sweep", {"as_of": "2026-03-16"})  # the second installment missed
    projected(runtime)
    assert buckets(runtime, date(2026, 3, 16)) == {"not yet due": 10000, "1-30": 10000}
    assert chased(runtime, date(2026, 3, 16)) == [(10000, 1)]
    do(runtime, "default_payment_plan", {"plan_id": "plan-1", "defaulted_on": "2026-03-20"})
    projected(runtime)
    # From the default the invoice is aged by its own terms: due 31 January.
    assert buckets(runtime, date(2026, 3, 20)) == {"31-60": 20000}
    assert chased(runtime, date(2026, 3, 20)) == [(20000, 48)]
    account = runtime.app.get_account(TENANT, ACCOUNT)
    assert [t.outstanding for t in account.overdue(date(2026, 3, 20))] == [Money("200.00", "USD")]
    # The day before the default, the plan still ruled; as known before the default, too.
    assert buckets(runtime, date(2026, 3, 19)) == {"not yet due": 10000, "1-30": 10000}
    assert buckets(runtime, date(2026, 3, 25), known_at=kept) == {
        "not yet due": 10000,
        "1-30": 10000,
    }
