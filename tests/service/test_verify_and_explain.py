"""ar verify catches what was altered by hand; ar explain shows the events behind a figure.

Verify rebuilds every read model into scratch tables and compares them with the live ones,
and walks every account's hash chain: a live table edited by hand and a stored event altered
by hand are both reported, with the account, figure, expected and found values and the events
involved. Explain lists events whose amounts add up to the figure the reports show.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
from typer.testing import CliRunner

from projections.database import events_table
from projections.explain import UnknownFigure, explain
from projections.reports import aging
from projections.verify import SCRATCH_PREFIX, verify
from services.bootstrap import Runtime
from services.cli import app as cli
from tests.service.test_projections import (
    TENANT,
    THIRTY_FIFTY_TWENTY,
    charged,
    do,
    invoiced,
    opened,
    paid,
    projected,
)


def same_store(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the ``ar`` command at the runtime's own store."""
    if runtime.settings.database_url is not None:
        monkeypatch.setenv("AR_DATABASE_URL", runtime.settings.database_url.get_secret_value())
    monkeypatch.setenv("AR_DATA_DIR", str(runtime.settings.data_dir))
    monkeypatch.setenv("AR_LOG_LEVEL", "WARNING")


def story(runtime: Runtime) -> None:
    """A-1: 100.00 invoiced in terms 30/50/20 (due Feb 4, Mar 6, Apr 5), 40.00 paid Jan 10.
    A-2: 50.00 invoiced, paid 60.00 (10.00 of credit)."""
    opened(runtime)
    charged(runtime, "100.00")
    invoiced(runtime, **THIRTY_FIFTY_TWENTY)
    paid(runtime, "40.00", "p-1")
    opened(runtime, "A-2")
    do(
        runtime,
        "post_charge",
        {
            "charge_id": "ch-9",
            "code": "LAB",
            "description": "Lab",
            "quantity": "1",
            "unit_price": "50.00",
            "service_date": "2026-01-02",
        },
        account="A-2",
    )
    do(runtime, "issue_invoice", {"invoice_number": "INV-9", "issued_on": "2026-01-05"}, "A-2")
    do(
        runtime,
        "receive_payment",
        {
            "payment_id": "p-9",
            "amount": "60.00",
            "method": "cash",
            "reference": "p-9",
            "received_on": "2026-01-20",
        },
        "A-2",
    )
    projected(runtime)


def test_a_faithful_store_verifies_clean_and_leaves_no_scratch_tables(runtime: Runtime) -> None:
    story(runtime)
    result = verify(runtime.app, runtime.db)
    assert result.discrepancies == []
    assert (result.accounts, result.events) == (2, 8)
    leftovers = runtime.db.query(
        "SELECT projection FROM projection_tracking WHERE projection LIKE ?",
        (SCRATCH_PREFIX + "%",),
    )
    assert leftovers == []
    assert verify(runtime.app, runtime.db).ok  # the scratch tables were dropped: again is fine


def test_a_live_table_edited_by_hand_is_reported_with_the_events_behind_the_figure(
    runtime: Runtime,
) -> None:
    story(runtime)
    runtime.db.execute("UPDATE account_balances SET paid_minor = 4100 WHERE account_number = 'A-1'")
    runtime.db.execute(
        "DELETE FROM ledger_lines WHERE event_type = 'PaymentReceived'"
        " AND account_id = (SELECT account_id FROM account_balances"
        " WHERE account_number = 'A-2')"
    )
    result = verify(runtime.app, runtime.db)
    paid_position = runtime.db.query_one(
        "SELECT position FROM audit_trail WHERE event_type = 'PaymentReceived'"
        " AND account_number = 'A-1'"
    )
    assert paid_position is not None
    by_figure = {(d.table, d.account, d.figure): d for d in result.discrepancies}
    edited = by_figure[("account_balances", f"{TENANT}/A-1", "paid_minor")]
    assert (edited.expected, edited.found) == ("4000", "4100")
    assert edited.events == str(paid_position["position"])
    missing = [d for d in result.discrepancies if d.figure == "missing row"]
    # The payment of 60.00 on 50.00 made two lines: 50.00 off receivables, 10.00 to credit.
    assert {(d.table, d.account) for d in missing} == {("ledger_lines", f"{TENANT}/A-2")}
    assert len(missing) == 2
    assert len(result.discrepancies) == 3


def _alter_stored_event(runtime: Runtime, topic_suffix: str, old: bytes, new: bytes) -> None:
    table = events_table(runtime.app)
    rows = runtime.db.query(f"SELECT state FROM {table} WHERE topic LIKE ?", (f"%{topic_suffix}",))
    (state,) = [bytes(r["state"]) for r in rows if old in bytes(r["state"])]
    runtime.db.execute(
        f"UPDATE {table} SET state = ? WHERE state = ?", (state.replace(old, new), state)
    )


def test_a_stored_event_altered_by_hand_breaks_its_chain_and_its_figures(
    runtime: Runtime,
) -> None:
    story(runtime)
    _alter_stored_event(runtime, "PaymentReceived", b'"40.00"', b'"4.00"')
    result = verify(runtime.app, runtime.db)
    chain = [d for d in result.discrepancies if d.table == "stored events"]
    assert [(d.key, d.figure) for d in chain] == [("version 4", "content_altered")]
    by_figure = {
        (d.table, d.figure): d for d in result.discrepancies if d.account == f"{TENANT}/A-1"
    }
    # The rebuild believes the altered event; the live tables still say what was recorded.
    assert (
        by_figure[("account_balances", "paid_minor")].expected,
        by_figure[("account_balances", "paid_minor")].found,
    ) == ("400", "4000")
    assert (
        by_figure[("account_balances", "balance_minor")].expected,
        by_figure[("account_balances", "balance_minor")].found,
    ) == ("9600", "6000")


def test_an_event_that_no_longer_decodes_is_reported_not_raised(runtime: Runtime) -> None:
    story(runtime)
    _alter_stored_event(runtime, "PaymentReceived", b'"40.00"', b'"forty"')
    result = verify(runtime.app, runtime.db)
    assert [d.figure for d in result.discrepancies] == ["unreadable"]


def test_ar_verify_exits_non_zero_and_prints_each_discrepancy(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    same_store(runtime, monkeypatch)
    story(runtime)
    clean = CliRunner().invoke(cli, ["verify", "--format", "json"])
    assert clean.exit_code == 0, clean.output
    runtime.db.execute("UPDATE open_item_terms SET amount_minor = 1 WHERE term_index = 2")
    dirty = CliRunner().invoke(cli, ["verify", "--format", "csv"])
    assert dirty.exit_code == 1
    assert "open_item_terms" in dirty.stdout
    assert ",amount_minor,2000,1," in dirty.stdout


def test_explain_lists_the_events_that_add_up_to_each_figure(runtime: Runtime) -> None:
    story(runtime)
    as_of = date(2026, 3, 15)

    def total(figure: str, on: date = as_of) -> tuple[int, list[tuple[str, int]]]:
        found = explain(runtime.db, TENANT, "A-1", figure, on)
        assert found is not None
        return found.total_minor, [(line.event_type, line.amount_minor) for line in found.lines]

    assert total("outstanding:INV-1") == (
        6000,
        [("InvoiceIssued", 10000), ("PaymentReceived", -4000)],
    )
    assert total("outstanding:INV-1", date(2026, 1, 9)) == (10000, [("InvoiceIssued", 10000)])
    assert total("paid") == (4000, [("PaymentReceived", 4000)])
    assert total("charged") == (10000, [("ChargePosted", 10000)])
    assert total("invoiced") == (10000, [("InvoiceIssued", 10000)])
    assert total("balance")[0] == 6000
    # 40 paid fills the first term (30) and 10 of the second: 40 of it is 1-30 days late on
    # March 15 (due March 6), 20 is not yet due (April 5), nothing is 31-60 (due February 4).
    assert total("aging:1-30") == (4000, [("InvoiceIssued", 5000), ("PaymentReceived", -1000)])
    assert total("aging:not yet due") == (2000, [("InvoiceIssued", 2000)])
    assert total("aging:31-60") == (0, [])
    for basis in ("due", "invoice"):
        (row,) = aging(runtime.db, TENANT, as_of, account_number="A-1", basis=basis)
        explained = {}
        for label in row.buckets:
            found = explain(runtime.db, TENANT, "A-1", f"aging:{label}", as_of, basis=basis)
            assert found is not None
            explained[label] = found.total_minor
        assert row.buckets == explained, basis
    credit = explain(runtime.db, TENANT, "A-2", "unapplied_credit", as_of)
    assert credit is not None
    assert (credit.total_minor, [line.event_type for line in credit.lines]) == (
        1000,
        ["PaymentReceived"],
    )


def test_explain_refuses_a_figure_it_does_not_know(runtime: Runtime) -> None:
    story(runtime)
    with pytest.raises(UnknownFigure, match="no figure 'profit'"):
        explain(runtime.db, TENANT, "A-1", "profit", date(2026, 3, 1))
    with pytest.raises(UnknownFigure, match="no aging bucket '1-45'"):
        explain(runtime.db, TENANT, "A-1", "aging:1-45", date(2026, 3, 1))
    with pytest.raises(UnknownFigure, match="no item INV-404"):
        explain(runtime.db, TENANT, "A-1", "outstanding:INV-404", date(2026, 3, 1))
    assert explain(runtime.db, TENANT, "Z-9", "balance", date(2026, 3, 1)) is None


def test_ar_explain_prints_the_events_and_their_sum(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    same_store(runtime, monkeypatch)
    story(runtime)
    args = ["explain", "A-1", "outstanding:INV-1", "--tenant", TENANT, "--as-of", "2026-03-15"]
    shown = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert shown.exit_code == 0, shown.output
    document = json.loads(shown.stdout)
    assert document["total"] == "60.00"
    assert [e["amount"] for e in document["events"]] == ["100.00", "-40.00"]
    text = CliRunner().invoke(cli, args)
    assert "outstanding:INV-1 as of 2026-03-15: 60.00 USD" in text.stdout
    unknown = CliRunner().invoke(
        cli, ["explain", "A-1", "profit", "--tenant", TENANT, "--as-of", "2026-03-15"]
    )
    assert unknown.exit_code == 2
    assert "no figure 'profit'" in unknown.stderr


def _aging_figures(
    runtime: Runtime, as_of: date, basis: str, buckets: tuple[int, ...], *, detail: bool
) -> list[tuple[str, dict[str, int], int, int]]:
    rows = aging(runtime.db, TENANT, as_of, basis=basis, buckets=buckets, detail=detail)
    return [(r.account_number, r.buckets, r.unapplied_credit_minor, r.disputed_minor) for r in rows]


def more_story(runtime: Runtime) -> None:
    """A-3: 80.00 invoiced, disputed, 20.00 paid then reversed, the dispute resolved, 30.00
    paid. A-4: 45.00 invoiced and voided."""
    for account, amount, invoice in (("A-3", "80.00", "INV-3"), ("A-4", "45.00", "INV-4")):
        opened(runtime, account)
        do(
            runtime,
            "post_charge",
            {
                "charge_id": f"ch-{account}",
                "code": "LAB",
                "description": "Lab",
                "quantity": "1",
                "unit_price": amount,
                "service_date": "2026-01-02",
            },
            account=account,
        )
        do(
            runtime,
            "issue_invoice",
            {"invoice_number": invoice, "issued_on": "2026-01-05"},
            account,
        )
    do(
        runtime,
        "open_dispute",
        {
            "dispute_id": "d-1",
            "invoice_number": "INV-3",
            "description": "Not ordered",
            "opened_on": "2026-02-10",
        },
        "A-3",
    )
    for payment_id, amount, on in (("p-31", "20.00", "2026-02-15"),):
        do(
            runtime,
            "receive_payment",
            {
                "payment_id": payment_id,
                "amount": amount,
                "method": "cheque",
                "reference": payment_id,
                "received_on": on,
            },
            "A-3",
        )
    do(
        runtime,
        "reverse_payment",
        {"payment_id": "p-31", "reason_code": "NSF", "reversed_on": "2026-02-20"},
        "A-3",
    )
    do(
        runtime,
        "resolve_dispute",
        {"dispute_id": "d-1", "outcome": "rejected", "resolved_on": "2026-03-01"},
        "A-3",
    )
    do(
        runtime,
        "receive_payment",
        {
            "payment_id": "p-32",
            "amount": "30.00",
            "method": "cash",
            "reference": "p-32",
            "received_on": "2026-03-05",
        },
        "A-3",
    )
    do(runtime, "void_invoice", {"invoice_number": "INV-4", "effective_on": "2026-01-20"}, "A-4")
    projected(runtime)


@pytest.mark.parametrize("basis", ["due", "invoice"])
def test_aging_summed_by_the_database_equals_aging_summed_from_its_lines(
    runtime: Runtime, basis: str
) -> None:
    story(runtime)
    more_story(runtime)
    days = [date(2026, 1, 1), date(2026, 2, 4), date(2026, 2, 5), date(2026, 2, 12)]
    days += [date(2026, 3, 6), date(2026, 3, 5)]
    days += [date(2026, 5, 1), date(2027, 1, 1), date(1, 1, 2)]
    for as_of in days:
        for buckets in ((30, 60, 90), (1, 45), (7,)):
            summed = _aging_figures(runtime, as_of, basis, buckets, detail=False)
            lined = _aging_figures(runtime, as_of, basis, buckets, detail=True)
            assert summed == lined, (as_of, buckets)
    (row,) = aging(runtime.db, TENANT, date(2026, 3, 15), account_number="A-1", detail=False)
    assert row.lines == []
    assert row.open_minor == 6000
    # As known now, the report's own read model answers alone.
    latest = {
        r.account_number: (r.open_minor, r.disputed_minor)
        for r in aging(runtime.db, TENANT, date(2026, 6, 1), detail=False)
    }
    assert latest == {"A-1": (6000, 0), "A-2": (0, 0), "A-3": (5000, 0)}
    runtime.db.execute("UPDATE open_item_aging SET open_minor = open_minor + 1")
    assert (
        aging(runtime.db, TENANT, date(2026, 6, 1), account_number="A-1", detail=False)[
            0
        ].open_minor
        > 6000
    )
