"""The CLI and the CSV importer refuse what the HTTP API refuses: they share the field types.

Control characters in text, amounts outside the documented pattern or past their bound, and
dates outside 1900-01-01..2999-12-31 are refused before anything is recorded.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.bootstrap import Runtime
from services.cli import app
from services.importer import import_file
from tests.support import CLERK

HEADER = "kind,account,date,number,amount,due_on,invoice,method,name,currency\n"
ACCOUNT = "account,B-1,2026-01-01,,,,,,Ann Book,USD\n"


@pytest.fixture
def ar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("AR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("AR_TENANT", "acme")
    monkeypatch.setenv("AR_ACTOR", "clerk-ann")
    monkeypatch.setenv("AR_LOG_LEVEL", "WARNING")
    return CliRunner()


def _open(ar: CliRunner, number: str, name: str, opened_on: str = "2026-03-01") -> tuple[int, str]:
    args = ["open-account", number, "--name", name, "--currency", "USD", "--opened-on", opened_on]
    result = ar.invoke(app, args)
    return result.exit_code, result.output


def test_the_cli_refuses_a_name_with_a_nul_and_a_date_outside_the_range(ar: CliRunner) -> None:
    code, said = _open(ar, "A-1", "evil\x00name")
    assert code == 1
    assert "control characters" in said
    code, said = _open(ar, "A-1", "Ann", opened_on="1899-12-31")
    assert code == 1
    assert "1900-01-01" in said
    code, said = _open(ar, "COLON/1", "Ann")
    assert code == 1
    assert _open(ar, "A-1", "Ann")[0] == 0
    balance = ar.invoke(app, ["balance", "A-1", "--json"])
    assert balance.exit_code == 0, balance.output


def test_the_cli_refuses_an_amount_outside_the_pattern(ar: CliRunner) -> None:
    assert _open(ar, "A-1", "Ann")[0] == 0
    body = '{"amount": "1e2", "method": "cash", "reference": "r", "received_on": "2026-03-10"}'
    result = ar.invoke(app, ["exec", "receive_payment", "A-1", body])
    assert result.exit_code == 1
    assert "pattern" in result.output


def test_an_import_with_hostile_rows_names_each_and_records_nothing(
    runtime: Runtime, tmp_path: Path
) -> None:
    path = tmp_path / "book.csv"
    path.write_text(
        HEADER
        + ACCOUNT
        + "account,B-2,2026-01-01,,,,,,evil\x00name,USD\n"
        + "invoice,B-1,2026-01-05,INV-1,1e2,,,,,\n"
        + "invoice,B-1,2026-01-05,INV-2, 12.50 ,,,,,\n"
        + "invoice,B-1,2026-01-05,INV-3,\u0661\u0662,,,,,\n"
        + "invoice,B-1,2026-01-05,INV-4,10000000000000.00,,,,,\n"
        + "invoice,B-1,9999-12-31,INV-5,10.00,,,,,\n"
        + "payment,B-1,2026-01-20,R-1,1_000,,,,,\n"
    )
    report = import_file(runtime.app, path, tenant_id="acme", meta=CLERK)
    problems = report.refused
    # A cell's surrounding spaces are the CSV's, not the amount's: line 5 is fine.
    assert [p.split(" (")[0] for p in problems] == [f"line {n}" for n in (3, 4, 6, 7, 8, 9)]
    assert "control characters" in problems[0]
    assert "less than 10,000,000,000,000" in problems[3]
    assert "1900-01-01" in problems[4]
    assert runtime.app.recorder.max_notification_id() in (None, 0)
