"""The `ar` command line as a clerk and an auditor script it, on the embedded default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli import app


@pytest.fixture
def ar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("AR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("AR_TENANT", "acme")
    monkeypatch.setenv("AR_ACTOR", "clerk-ann")
    monkeypatch.setenv("AR_LOG_LEVEL", "WARNING")
    return CliRunner()


def _ok(ar: CliRunner, *args: str) -> str:
    result = ar.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_a_clerk_scripts_an_account_and_reads_it_back_as_json(ar: CliRunner) -> None:
    _ok(
        ar, "open-account", "A-1", "--name", "Ann", "--currency", "USD", "--opened-on", "2026-03-01"
    )
    charge = {
        "code": "VISIT",
        "description": "Visit",
        "unit_price": "100.00",
        "service_date": "2026-03-01",
    }
    _ok(ar, "exec", "post_charge", "A-1", json.dumps(charge))
    _ok(
        ar, "exec", "issue_invoice", "A-1", '{"invoice_number": "INV-1", "issued_on": "2026-03-01"}'
    )
    paid = _ok(
        ar, "exec", "receive_payment", "A-1", "--json",
        '{"amount": "30.00", "method": "cash", "reference": "r", "received_on": "2026-03-10"}',
    )  # fmt: skip
    assert json.loads(paid)["recorded"][0]["type"] == "PaymentReceived"

    balance = json.loads(_ok(ar, "balance", "A-1", "--json"))
    assert balance["balance"] == "70.00"
    replay = json.loads(_ok(ar, "replay", "A-1", "--as-of", "2026-03-05", "--json"))
    assert replay["balance"]["balance"] == "100.00"
    assert [e["type"] for e in replay["events"]] == ["Opened", "ChargePosted", "InvoiceIssued"]
    assert replay["open_items"][0]["outstanding"] == "100.00"


def test_a_refused_command_says_why_and_exits_non_zero(ar: CliRunner) -> None:
    _ok(
        ar, "open-account", "A-1", "--name", "Ann", "--currency", "USD", "--opened-on", "2026-03-01"
    )

    too_precise = ar.invoke(
        app,
        [
            "exec",
            "receive_payment",
            "A-1",
            '{"amount": "1.001", "method": "c", "reference": "r", "received_on": "2026-03-02"}',
        ],
    )
    assert too_precise.exit_code == 1
    assert "finer than the smallest unit" in too_precise.output
    unknown = ar.invoke(app, ["exec", "pay_everything", "A-1", "{}"])
    assert unknown.exit_code == 2
    assert "ar commands" in unknown.output
    not_json = ar.invoke(app, ["exec", "post_charge", "A-1", "{oops"])
    assert not_json.exit_code == 2
    assert "not valid JSON" in not_json.output
    missing = ar.invoke(app, ["balance", "NOPE"])
    assert missing.exit_code == 1
    assert "There is no account NOPE" in missing.output
    assert json.loads(_ok(ar, "balance", "A-1", "--json"))["version"] == 1


def test_the_command_list_names_every_command_with_its_fields(ar: CliRunner) -> None:
    listing = json.loads(_ok(ar, "commands", "--json"))
    assert "amount" in listing["receive_payment"]
    assert "invoice_number" in listing["issue_invoice"]
