"""`ar report` and `ar rebuild` as a reporting job and an operator script them."""

from __future__ import annotations

import csv
import io
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from projections.catalogue import MODELS
from services.cli import app
from services.errors import UnknownEventType

BOOK = (
    "kind,account,date,number,amount,due_on,invoice,name,currency\n"
    "account,R-1,2026-01-01,,,,,Ann,USD\n"
    "account,R-2,2026-01-01,,,,,Bob,USD\n"
    "invoice,R-1,2026-01-05,INV-1,100.00,2026-02-04,,,\n"
    "invoice,R-2,2026-03-01,INV-2,70.00,2026-03-31,,,\n"
    "payment,R-1,2026-01-20,P-1,40.00,,INV-1,,\n"
    "payment,R-2,2026-03-02,P-2,75.00,,,,\n"
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
    return runner


def _ok(ar: CliRunner, *args: str) -> str:
    result = ar.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_the_aging_export_in_csv_has_a_row_per_account_and_a_total(ar: CliRunner) -> None:
    rows = list(
        csv.DictReader(
            io.StringIO(_ok(ar, "report", "aging", "--as-of", "2026-03-20", "--format", "csv"))
        )
    )

    assert [
        (r["account"], r["31-60"], r["not yet due"], r["open"], r["unapplied_credit"]) for r in rows
    ] == [
        ("R-1", "60.00", "0.00", "60.00", "0.00"),
        ("R-2", "0.00", "0.00", "0.00", "5.00"),
        ("TOTAL", "60.00", "0.00", "60.00", "5.00"),
    ]


def _cells(line: str) -> list[str]:
    """A table line's cells as printed: two spaces or more apart."""
    return re.split(r"\s{2,}", line.strip())


def _table(output: str) -> tuple[list[str], list[list[str]], list[list[str]]]:
    """A printed table: its header, its rows, and the total rows under the last rule."""
    lines = output.splitlines()
    assert "\x1b" not in output
    assert all(line == line.rstrip() for line in lines)
    rules = [i for i, line in enumerate(lines) if line and set(line) == {"─"}]
    assert rules[0] == 1, output
    end = rules[1] if len(rules) > 1 else len(lines)
    totals = [_cells(line) for line in lines[end + 1 :] if line] if len(rules) > 1 else []
    return _cells(lines[0]), [_cells(line) for line in lines[2:end]], totals


def test_the_aging_report_for_a_person_is_a_table_with_the_total_row_under_a_rule(
    ar: CliRunner,
) -> None:
    printed = _ok(ar, "report", "aging", "--as-of", "2026-03-20")
    header, rows, totals = _table(printed)

    assert header == [
        "account", "currency", "not yet due", "1-30", "31-60", "61-90", "over 90", "open",
        "unapplied credit", "disputed",
    ]  # fmt: skip
    assert rows == [
        ["R-1", "USD", "0.00", "0.00", "60.00", "0.00", "0.00", "60.00", "0.00", "0.00"],
        ["R-2", "USD", "0.00", "0.00", "0.00", "0.00", "0.00", "0.00", "5.00", "0.00"],
    ]
    assert totals == [
        ["TOTAL", "USD", "0.00", "0.00", "60.00", "0.00", "0.00", "60.00", "5.00", "0.00"]
    ]
    # Amounts are right-aligned: every row's cell ends where its column's heading does.
    lines = printed.splitlines()
    cell_ends = [[m.end() for m in re.finditer(r"\S+(?: \S+)*", lines[i])] for i in (0, 2, 3, 5)]
    for column in range(2, len(header)):
        assert len({ends[column] for ends in cell_ends}) == 1, header[column]


def test_the_other_reports_for_a_person_show_the_same_figures_as_their_exports(
    ar: CliRunner,
) -> None:
    _, detail, _ = _table(_ok(ar, "report", "aging", "--as-of", "2026-03-20", "--detail"))
    assert detail == [
        ["R-1", "INV-1", "1", "2026-01-05", "2026-02-04", "44", "31-60", "60.00", "USD", "no"]
    ]

    header, worklist, _ = _table(_ok(ar, "report", "worklist", "--as-of", "2026-03-20"))
    (chase,) = worklist
    row = dict(zip(header, chase, strict=True))
    assert (row["account"], row["overdue"], row["oldest days past due"]) == ("R-1", "60.00", "44")
    assert (row["promise"], row["plan"]) == ("—", "—")  # nothing is a dash, not a blank

    _, balances, _ = _table(_ok(ar, "report", "trial-balance", "--as-of", "2026-12-31"))
    exported = json.loads(
        _ok(ar, "report", "trial-balance", "--as-of", "2026-12-31", "--format", "json")
    )
    assert balances == [[r["currency"], r["ledger_account"], r["balance"]] for r in exported]

    statement = ["report", "statement", "R-1", "--from", "2026-01-10", "--to", "2026-12-31"]
    _, movements, _ = _table(_ok(ar, *statement))
    assert movements == [
        ["2026-01-10", "opening balance", "—", "—", "100.00"],
        ["2026-01-20", "payments", "P-1", "-40.00", "60.00"],
        ["2026-12-31", "closing balance", "—", "—", "60.00"],
    ]

    explain = ["explain", "R-1", "outstanding:INV-1", "--as-of", "2026-03-15"]
    printed = _ok(ar, *explain)
    _, lines, totals = _table(printed.split("outstanding:INV-1 as of")[0])
    assert [(line[1], line[-1]) for line in lines] == [
        ("InvoiceIssued", "100.00"),
        ("PaymentReceived", "-40.00"),
    ]
    assert totals == [["total", "60.00"]]
    assert printed.endswith("outstanding:INV-1 as of 2026-03-15: 60.00 USD\n")

    header, events, _ = _table(_ok(ar, "report", "audit-trail", "--account", "R-1"))
    assert "event hash" not in header
    assert [dict(zip(header, e, strict=True))["amount"] for e in events] == [
        "0.00",
        "100.00",
        "0.00",
        "-40.00",
    ]


def test_the_aging_total_row_carries_the_disputed_total_as_the_api_does(ar: CliRunner) -> None:
    dispute = '{"invoice_number": "INV-1", "opened_on": "2026-02-10", "description": "Not ordered"}'
    _ok(ar, "exec", "open_dispute", "R-1", dispute)

    rows = json.loads(_ok(ar, "report", "aging", "--as-of", "2026-03-20", "--format", "json"))

    assert [(r["account"], r["disputed"], r["open"]) for r in rows] == [
        ("R-1", "60.00", "60.00"),
        ("R-2", "0.00", "0.00"),
        ("TOTAL", "60.00", "60.00"),
    ]


def test_the_detail_says_why_each_term_is_in_its_bucket(ar: CliRunner) -> None:
    lines = json.loads(
        _ok(ar, "report", "aging", "--as-of", "2026-03-20", "--detail", "--format", "json")
    )
    assert lines == [
        {
            "account": "R-1",
            "item": "INV-1",
            "term": 1,
            "issued_on": "2026-01-05",
            "due_on": "2026-02-04",
            "days_past_due": 44,
            "bucket": "31-60",
            "open": "60.00",
            "currency": "USD",
            "disputed": False,
        }
    ]


def test_the_statement_runs_from_opening_to_closing_balance(ar: CliRunner) -> None:
    document = json.loads(
        _ok(
            ar,
            "report",
            "statement",
            "R-1",
            "--from",
            "2026-01-10",
            "--to",
            "2026-12-31",
            "--format",
            "json",
        )
    )
    assert (document["opening_balance"], document["closing_balance"]) == ("100.00", "60.00")
    assert [(m["movement"], m["amount"]) for m in document["movements"]] == [("payments", "-40.00")]


def test_a_rebuild_gives_the_same_reports(ar: CliRunner) -> None:
    before = _ok(ar, "report", "trial-balance", "--as-of", "2026-12-31", "--format", "json")
    assert f"rebuilt {', '.join(MODELS)} from 8 events" in _ok(ar, "rebuild")
    assert _ok(ar, "report", "trial-balance", "--as-of", "2026-12-31", "--format", "json") == before
    assert sum(Decimal(r["balance"]) for r in json.loads(before)) == 0


def test_bad_report_options_are_refused_with_a_sentence(ar: CliRunner) -> None:
    bad = ar.invoke(app, ["report", "aging", "--as-of", "2026-03-20", "--buckets", "60,30"])
    assert bad.exit_code == 2
    assert "rising whole numbers of days" in bad.output
    # The same limits as the API's: at most 20 buckets.
    many = ",".join(str(days) for days in range(1, 22))
    too_many = ar.invoke(app, ["report", "aging", "--as-of", "2026-03-20", "--buckets", many])
    assert too_many.exit_code == 2
    assert "1 to 20 rising whole numbers of days" in too_many.output
    twenty = ",".join(str(days) for days in range(1, 21))
    _ok(ar, "report", "aging", "--as-of", "2026-03-20", "--buckets", twenty)
    unknown = ar.invoke(app, ["rebuild", "nonsense"])
    assert unknown.exit_code == 2
    assert "no read model nonsense" in unknown.output


def test_the_audit_trail_export_filters_and_carries_the_chain(ar: CliRunner) -> None:
    everything = list(
        csv.DictReader(io.StringIO(_ok(ar, "report", "audit-trail", "--format", "csv")))
    )
    payments = json.loads(
        _ok(
            ar,
            "report",
            "audit-trail",
            "--account",
            "R-1",
            "--event-type",
            "PaymentReceived",
            "--format",
            "json",
        )
    )

    assert len(everything) == 8
    assert [r["previous_hash"] for r in everything if r["account"] == "R-1"][1:] == [
        r["event_hash"] for r in everything if r["account"] == "R-1"
    ][:-1]
    [payment] = payments
    assert (payment["account"], payment["actor"], payment["amount"]) == (
        "R-1",
        "clerk-ann",
        "-40.00",
    )
    assert payment["payload"]["amount"] == {"amount": "40.00", "currency": "USD"}
    assert "(nothing)" in _ok(ar, "report", "audit-trail", "--actor", "clerk-bob")
    assert "(nothing)" in _ok(ar, "report", "audit-trail", "--from", "9999-01-01")
    text = _ok(ar, "report", "audit-trail", "--event-type", "Opened")
    assert "R-2" in text
    assert "event_hash" not in text
    bad = ar.invoke(app, ["report", "audit-trail", "--event-type", "PaymentMade"])
    assert bad.exit_code == 2
    assert UnknownEventType("PaymentMade").message in bad.output
