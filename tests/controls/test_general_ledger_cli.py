"""``ar tenant set-chart-of-accounts``, ``ar gl export|show|exports|journal`` and ``ar gl
tie-out`` as a finance team scripts them, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.bootstrap import Runtime
from services.cli import app as cli
from tests.controls.general_ledger_story import CHART_BODY, TENANT, paid, seed_story


@pytest.fixture
def ar(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """``ar`` on the runtime's own store, as the tenant's auditor."""
    if runtime.settings.database_url is not None:
        monkeypatch.setenv("AR_DATABASE_URL", runtime.settings.database_url.get_secret_value())
    monkeypatch.setenv("AR_DATA_DIR", str(runtime.settings.data_dir))
    monkeypatch.setenv("AR_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("AR_TENANT", TENANT)
    monkeypatch.setenv("AR_ACTOR", "auditor-1")
    return CliRunner()


@pytest.fixture
def chart_file(tmp_path: Path) -> Path:
    path = tmp_path / "chart.json"
    path.write_text(json.dumps(CHART_BODY))
    return path


def ok(ar: CliRunner, *args: str) -> str:
    result = ar.invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_seed_storys_export_ties_out_and_is_given_again_byte_for_byte(
    runtime: Runtime, ar: CliRunner, chart_file: Path, tmp_path: Path
) -> None:
    seed_story(runtime)
    assert "1200" in ok(ar, "tenant", "set-chart-of-accounts", str(chart_file))

    first = tmp_path / "march.csv"
    made = ar.invoke(cli, ["gl", "export", "--period", "2026-03", "--output", str(first)])
    assert made.exit_code == 0, made.output
    assert "GL export 1: summary journal of 2026-03, 4 lines" in made.stderr
    summary = {row["gl_account"]: row for row in csv.DictReader(io.StringIO(first.read_text()))}
    assert (summary["1000"]["debit"], summary["4900"]["debit"]) == ("700.00", "300.00")
    assert summary["4000"]["credit"] == "1000.00"
    assert summary["1200"]["debit"] == summary["1200"]["credit"] == "1000.00"
    tied = ok(ar, "gl", "tie-out", "--as-of", "2026-03-31", "--format", "json")
    assert json.loads(tied)["ties_out"] is True
    assert json.loads(tied)["totals"]["USD"]["control"] == "0.00"

    paid(runtime, "25.00", "pay-late", "2026-03-25")
    assert ok(ar, "gl", "show", "1").encode() == first.read_bytes()
    assert ok(ar, "gl", "export", "--number", "1").encode() == first.read_bytes()
    detailed = json.loads(
        ok(ar, "gl", "export", "--period", "2026-03", "--detailed", "--format", "json")
    )
    assert detailed["number"] == 2
    assert "pay-late" in {line["reference"] for line in detailed["lines"]}
    listed = json.loads(ok(ar, "gl", "exports", "--format", "json"))
    assert [(e["number"], e["detail"]) for e in listed] == [(2, "detailed"), (1, "summary")]


def test_a_tie_out_that_does_not_tie_out_exits_non_zero_naming_the_events(
    runtime: Runtime, ar: CliRunner
) -> None:
    seed_story(runtime)
    ok(ar, "gl", "tie-out", "--as-of", "2026-03-31")
    runtime.db.execute(
        "UPDATE account_balances SET balance_minor = 500 WHERE account_number = 'A-100'"
    )

    result = ar.invoke(cli, ["gl", "tie-out", "--as-of", "2026-03-31"])

    assert result.exit_code == 1
    assert "does NOT tie out" in result.stdout
    assert "SettlementDiscountApplied" in result.stdout


def test_bad_asks_end_with_a_sentence_and_record_nothing(
    runtime: Runtime, ar: CliRunner, tmp_path: Path
) -> None:
    seed_story(runtime)
    no_chart = ar.invoke(cli, ["gl", "export", "--period", "2026-03"])
    assert no_chart.exit_code == 1
    assert "has no chart of accounts" in no_chart.stderr

    unmapped = tmp_path / "unmapped.json"
    accounts = dict(CHART_BODY["accounts"])
    del accounts["bad_debt"]
    unmapped.write_text(json.dumps({"accounts": accounts}))
    refused = ar.invoke(cli, ["tenant", "set-chart-of-accounts", str(unmapped)])
    assert refused.exit_code == 1
    assert "bad_debt unmapped" in refused.stderr
    assert ok(ar, "tenant", "chart-of-accounts", "--json").strip() == "null"

    chart = tmp_path / "chart.json"
    chart.write_text(json.dumps(CHART_BODY))
    ok(ar, "tenant", "set-chart-of-accounts", str(chart))
    for args, says in [
        (["gl", "export", "--period", "2026-3"], "YYYY-MM"),
        (["gl", "export", "--period", "2099-01"], "has not begun"),
        (["gl", "show", "9"], "no GL export 9"),
    ]:
        result = ar.invoke(cli, args)
        assert result.exit_code == 1, args
        assert says in result.stderr
    assert json.loads(ok(ar, "gl", "exports", "--format", "json")) == []
    assert ar.invoke(cli, ["gl", "export"]).exit_code == 2
