"""``ar approvals`` and ``ar periods``: the controls from the command line, on embedded SQLite
and on PostgreSQL: set the policy, see a write-off held back by ``ar exec``, list the queue,
approve it in another name, read the auditor's sample, close and reopen a period."""

from __future__ import annotations

import json
from datetime import date

import pytest
from typer.testing import CliRunner

from services.bootstrap import Runtime
from services.cli import app as cli
from services.close_day import CloseOfDay
from tests.controls.controls_story import ACCOUNT, TENANT, clock_at, open_and_invoice
from tests.service.test_verify_and_explain import same_store

MAKER = ["--tenant", TENANT, "--actor", "clerk-ann"]
CHECKER = ["--tenant", TENANT, "--actor", "approver-bea"]


@pytest.fixture
def ar(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    same_store(runtime, monkeypatch)
    open_and_invoice(runtime)
    return CliRunner()


def test_a_write_off_is_held_back_listed_and_approved_in_another_name(ar: CliRunner) -> None:
    policy = ar.invoke(
        cli,
        [
            "approvals",
            "set-policy",
            "--rule",
            "write_off:USD:500.00",
            "--tenant",
            TENANT,
            "--actor",
            "admin-ops",
            "--json",
        ],
    )
    assert policy.exit_code == 0, policy.output
    assert json.loads(policy.output)["rules"] == [
        {"command": "write_off", "currency": "USD", "above": "500.00"}
    ]
    body = {
        "write_off_id": "wo-1",
        "invoice_number": "INV-1",
        "written_off_on": "2026-03-09",
        "amount": "600.00",
    }
    held = ar.invoke(cli, ["exec", "write_off", ACCOUNT, json.dumps(body), *MAKER, "--json"])
    assert held.exit_code == 0, held.output
    request = json.loads(held.output)["approval_request"]
    assert request["status"] == "pending"

    listed = ar.invoke(
        cli, ["approvals", "list", "--status", "pending", "--tenant", TENANT, "--json"]
    )
    assert listed.exit_code == 0, listed.output
    assert [r["request_id"] for r in json.loads(listed.output)] == [request["request_id"]]

    own = ar.invoke(cli, ["approvals", "approve", ACCOUNT, request["request_id"], *MAKER])
    assert own.exit_code == 1
    assert "another approver must approve it" in own.output

    approved = ar.invoke(cli, ["approvals", "approve", ACCOUNT, request["request_id"], *CHECKER])
    assert approved.exit_code == 0, approved.output
    assert "approved: write_off of 600.00 USD on A-1" in approved.output
    assert "balance now 400.00" in approved.output

    today = date.today().isoformat()
    sample = ar.invoke(
        cli,
        ["approvals", "decisions", "--from", today, "--to", today, "--tenant", TENANT, "--json"],
    )
    assert sample.exit_code == 0, sample.output
    (decision,) = json.loads(sample.output)
    assert (decision["maker"], decision["checker"]) == ("clerk-ann", "approver-bea")


def test_a_rejection_without_a_reason_is_refused_by_the_cli(ar: CliRunner) -> None:
    refused = ar.invoke(cli, ["approvals", "reject", ACCOUNT, "apr_x", *CHECKER])
    assert refused.exit_code == 2  # --reason is required


def test_a_bad_rule_is_refused_with_a_sentence(ar: CliRunner) -> None:
    refused = ar.invoke(
        cli,
        [
            "approvals",
            "set-policy",
            "--rule",
            "write_off:USD:lots",
            "--tenant",
            TENANT,
            "--actor",
            "admin-ops",
        ],
    )
    assert refused.exit_code == 1
    assert "COMMAND:CURRENCY:AMOUNT" in refused.output
    unknown = ar.invoke(
        cli,
        [
            "approvals",
            "set-policy",
            "--rule",
            "receive_payment:USD:1",
            "--tenant",
            TENANT,
            "--actor",
            "admin-ops",
        ],
    )
    assert unknown.exit_code == 1
    assert "cannot be put under approval" in unknown.output


def test_a_period_is_closed_listed_and_reopened_from_the_cli(
    ar: CliRunner, runtime: Runtime
) -> None:
    CloseOfDay(runtime, clock=clock_at(date(2026, 4, 10))).close(
        TENANT, date(2026, 2, 28), started_by="ops"
    )
    open_days = ar.invoke(
        cli, ["periods", "close", "2026-03", "--tenant", TENANT, "--actor", "ops"]
    )
    assert open_days.exit_code == 1
    assert "close the days through 2026-03-31 first" in open_days.output
    closed = ar.invoke(
        cli, ["periods", "close", "2026-02", "--tenant", TENANT, "--actor", "ops", "--json"]
    )
    assert closed.exit_code == 0, closed.output
    (view,) = json.loads(closed.output)
    assert (view["period"], view["closed_through"], len(view["seal"])) == (
        "2026-02",
        "2026-02-28",
        64,
    )
    back_dated = {"amount": "1.00", "method": "cash", "reference": "r", "received_on": "2026-02-20"}
    refused = ar.invoke(cli, ["exec", "receive_payment", ACCOUNT, json.dumps(back_dated), *MAKER])
    assert refused.exit_code == 1
    assert "first open date is 2026-03-01" in refused.output
    reopened = ar.invoke(cli, ["periods", "reopen", "2026-02", "--reason", "late bank", *CHECKER])
    assert reopened.exit_code == 0, reopened.output
    listed = ar.invoke(cli, ["periods", "list", "--tenant", TENANT, "--json"])
    assert json.loads(listed.output) == []
    verified = ar.invoke(cli, ["verify"])
    assert verified.exit_code == 0, verified.output
