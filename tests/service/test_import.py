"""Bulk import of accounts, invoices and payments from CSV, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from domain.money import Money
from services.bootstrap import Runtime
from services.cli import app as ar_app
from services.importer import ImportReport, import_file
from tests.support import CLERK

HEADER = "kind,account,date,number,amount,due_on,invoice,method,name,currency\n"
BOOK = (
    HEADER
    + "account,B-1,2026-01-01,,,,,,Ann Book,USD\n"
    + "account,B-2,2026-01-01,,,,,,Bob Book,USD\n"
    + "invoice,B-1,2026-01-05,INV-1,100.00,2026-02-04,,,,\n"
    + "invoice,B-1,2026-01-06,INV-2,50.00,,,,,\n"
    + "invoice,B-2,2026-01-07,INV-9,80.00,,,,,\n"
    + "payment,B-1,2026-01-20,R-1,40.00,,INV-2,cheque,,\n"
    + "payment,B-2,2026-01-21,R-2,80.00,,,,,\n"
)


def _write(tmp_path: Path, text: str, name: str = "book.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _import(runtime: Runtime, path: Path, *, partial: bool = False) -> ImportReport:
    return import_file(runtime.app, path, tenant_id="acme", meta=CLERK, partial=partial)


def test_a_book_is_imported_and_importing_it_again_records_nothing(
    runtime: Runtime, tmp_path: Path
) -> None:
    path = _write(tmp_path, BOOK)

    report = _import(runtime, path)

    assert (report.rows, report.commands, report.recorded, report.refused) == (7, 10, 10, [])
    ann = runtime.app.get_account("acme", "B-1")
    assert ann.balance == Money("110.00", "USD")
    assert ann.outstanding("INV-2") == Money("10.00", "USD")  # the payment went where it said
    assert ann.outstanding("INV-1") == Money("100.00", "USD")
    assert runtime.app.get_account("acme", "B-2").balance == Money("0.00", "USD")

    head = runtime.app.recorder.max_notification_id()
    again = _import(runtime, path)
    assert (again.recorded, again.already_imported, again.refused) == (0, 10, [])
    assert runtime.app.recorder.max_notification_id() == head


def test_a_malformed_file_names_every_bad_row_and_records_nothing(
    runtime: Runtime, tmp_path: Path
) -> None:
    path = _write(
        tmp_path,
        HEADER
        + "account,B-1,2026-01-01,,,,,,Ann Book,USD\n"
        + "invoice,B-1,2026-02-30,INV-1,100.00,,,,,\n"
        + "payment,B-1,2026-01-20,R-1,4.005,,,,,\n"
        + "refund,B-1,2026-01-20,R-1,4.00,,,,,\n",
    )

    report = _import(runtime, path)

    assert report.refused == [
        "line 3 (B-1): date '2026-02-30' is not a date (YYYY-MM-DD)",
        "line 4 (B-1): 4.005 USD is finer than the smallest unit of USD (0.01);"
        " amounts are never rounded silently.",
        "line 5 (B-1): kind 'refund' is not one of account, invoice, payment",
    ]
    assert (report.nothing_recorded, report.recorded) == (True, 0)
    assert runtime.app.recorder.max_notification_id() in (None, 0)


def test_a_row_a_business_rule_refuses_records_nothing_unless_partial_and_the_fix_imports_it(
    runtime: Runtime, tmp_path: Path
) -> None:
    broken = (
        HEADER
        + "account,B-1,2026-01-01,,,,,,Ann Book,USD\n"
        + "invoice,B-1,2026-01-05,INV-1,100.00,,,,,\n"
        + "payment,B-1,2026-01-20,R-1,40.00,,INV-404,,,\n"
    )
    whole = _import(runtime, _write(tmp_path, broken))
    assert (whole.recorded, whole.refused) == (0, [whole.rejected[0].sentence()])
    assert runtime.app.recorder.max_notification_id() in (None, 0)

    report = _import(runtime, _write(tmp_path, broken), partial=True)
    assert report.recorded == 3
    assert len(report.refused) == 1
    assert report.refused[0].startswith("line 4 (B-1): ")
    assert "INV-404" in report.refused[0]

    fixed = _import(runtime, _write(tmp_path, broken.replace("INV-404", "INV-1")))
    assert (fixed.recorded, fixed.already_imported, fixed.refused) == (1, 3, [])
    assert runtime.app.get_account("acme", "B-1").balance == Money("60.00", "USD")


def test_a_large_import_is_committed_in_batches(runtime: Runtime, tmp_path: Path) -> None:
    lines = [HEADER]
    for n in range(300):
        lines.append(f"account,L-{n},2026-01-01,,,,,,Customer {n},USD\n")
        lines.append(f"invoice,L-{n},2026-01-05,INV-{n},12.34,,,,,\n")
        lines.append(f"payment,L-{n},2026-01-20,R-{n},2.34,,,,,\n")
    report = _import(runtime, _write(tmp_path, "".join(lines)))

    assert report.recorded == 1_200
    assert runtime.app.committer.batches < report.recorded / 10
    assert runtime.app.get_account("acme", "L-299").balance == Money("10.00", "USD")


def test_the_cli_imports_quietly_in_a_pipe_and_fails_on_a_bad_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("AR_TENANT", "acme")
    monkeypatch.setenv("AR_ACTOR", "clerk-ann")
    monkeypatch.setenv("AR_LOG_LEVEL", "WARNING")
    ar = CliRunner()

    done = ar.invoke(ar_app, ["import", str(_write(tmp_path, BOOK))])
    assert done.exit_code == 0, done.output
    assert done.output == "7 rows, 10 commands: 10 recorded, 0 already imported, 0 refused\n"

    bad = ar.invoke(
        ar_app, ["import", str(_write(tmp_path, HEADER + "invoice,B-1,soon,I,1,,,,,\n"))]
    )
    assert bad.exit_code == 1
    assert "refused: line 2 (B-1): date 'soon' is not a date (YYYY-MM-DD)" in bad.output
    assert "nothing was recorded" in bad.output
