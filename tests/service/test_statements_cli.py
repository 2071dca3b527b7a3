"""``ar statements``: statement runs from the command line, on SQLite, against a real SMTP
server on loopback.

The tenant is the five accounts of ``tests.api.test_document_runs_api`` (e-mailed, two
printed, one failing for want of an address, one with nothing to state); the assertions read
what left: the message the SMTP server took, and the print batch written to a file.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from services.bootstrap import Runtime
from services.cli import app as cli
from services.cli_statements import Delivery
from services.documents.runs import DELIVERIES
from tests.api.test_document_runs_api import (
    AS_OF,
    CLOSING,
    EMAIL,
    attached_pdf,
    cover_rows,
    print_batch_pages,
    seed_tenant,
)
from tests.service.test_verify_and_explain import same_store
from tests.smtp_server import SmtpServer, smtp_server_fixture  # noqa: F401

AS = ["--tenant", "acme", "--actor", "ops-olga"]


@pytest.fixture
def ar(
    sqlite_runtime: Runtime, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> CliRunner:
    seed_tenant(sqlite_runtime, smtp_server)
    same_store(sqlite_runtime, monkeypatch)
    return CliRunner()


def shown(result: Result) -> dict[str, str]:
    """The summary's labelled values (``label  value`` lines) as a mapping."""
    pairs = (re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in result.stdout.splitlines())
    return {pair[0]: pair[1] for pair in pairs if len(pair) == 2}


def as_json(ar: CliRunner, *args: str) -> Any:
    result = ar.invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_run_delivers_each_account_once_and_writes_the_print_batch(
    ar: CliRunner, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    batch = tmp_path / "batch.pdf"

    first = ar.invoke(cli, ["statements", "run", "--as-of", AS_OF, *AS, "--print-to", str(batch)])

    assert first.exit_code == 1, first.output  # an account failed; the others were done
    summary = shown(first)
    figures = ("accounts", "done", "skipped", "failed", "emailed", "printed")
    assert {key: summary[key] for key in figures} == {
        "accounts": "5",
        "done": "3",
        "skipped": "1",
        "failed": "1",
        "emailed": "1",
        "printed": "2",
    }
    assert (summary["kind"], summary["as of"]) == ("statement", AS_OF)
    assert "accounts that failed (resume retries them):" in first.stdout
    (failure,) = [line for line in first.stdout.splitlines() if line.startswith("S-4")]
    assert failure.split()[1] == "no_billing_address"
    assert "no billing address" in failure
    assert "print batch: 2 documents written to" in first.stdout

    run_id = summary["run"]
    shown_items = as_json(ar, "statements", "show", run_id, "--tenant", "acme", "--items")
    items = {item["account_number"]: item for item in shown_items["items"]}
    assert (
        hashlib.sha256(attached_pdf(smtp_server.only.message)).hexdigest()
        == (items["S-1"]["pdf_sha256"])
    )
    assert smtp_server.only.rcpt_tos == (EMAIL,)
    cover, *statements = print_batch_pages(batch.read_bytes())
    assert cover_rows(cover) == [("1", "S-2"), ("2", "S-3")]
    for page, closing in zip(statements, CLOSING.values(), strict=True):
        assert f"Balance on Apr 15, 2026 {closing}" in page

    again = ar.invoke(cli, ["statements", "run", "--as-of", AS_OF, *AS])
    assert again.exit_code == 1, again.output
    assert shown(again)["run"] == run_id
    assert "run asked before: resumed, nothing done twice" in again.stdout
    assert len(smtp_server.received) == 1

    table = ar.invoke(cli, ["statements", "show", run_id, "--tenant", "acme", "--items"])
    assert table.exit_code == 0, table.output
    rows = {
        line.split()[0]: line.split()[1:] for line in table.stdout.splitlines() if line[:2] == "S-"
    }
    assert rows["S-5"][:2] == ["skipped", "—"]
    assert "nothing_to_state" in rows["S-5"]
    assert rows["S-2"][:2] == ["done", "print"]
    listed = ar.invoke(cli, ["statements", "list", "--tenant", "acme"])
    assert listed.exit_code == 0, listed.output
    assert [line.split()[0] for line in listed.stdout.splitlines()[2:]] == [run_id]

    reprint = tmp_path / "reprint.pdf"
    printed = ar.invoke(
        cli, ["statements", "print", run_id, "--tenant", "acme", "--out", str(reprint)]
    )
    assert printed.exit_code == 0, printed.output
    assert print_batch_pages(reprint.read_bytes()) == [cover, *statements]


def test_a_refused_recipient_fails_that_account_and_resume_sends_it_later(
    ar: CliRunner, smtp_server: SmtpServer
) -> None:
    smtp_server.refuse_recipients.add(EMAIL)

    result = ar.invoke(cli, ["statements", "run", "--as-of", AS_OF, *AS, "--json"])

    assert result.exit_code == 1, result.output
    run = json.loads(result.stdout)
    assert (run["done"], run["printed"]) == (2, 2)
    assert [(f["account_number"], f["code"]) for f in run["failures"]] == [
        ("S-1", "smtp_refused"),
        ("S-4", "no_billing_address"),
    ]
    assert smtp_server.received == []

    smtp_server.refuse_recipients.clear()
    resumed = ar.invoke(cli, ["statements", "resume", run["run_id"], *AS])
    assert resumed.exit_code == 1, resumed.output  # S-4 still has no address
    assert (shown(resumed)["emailed"], shown(resumed)["failed"]) == ("1", "1")
    assert smtp_server.only.rcpt_tos == (EMAIL,)


def test_a_run_with_no_failure_exits_zero_and_refusals_say_why(
    ar: CliRunner, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    batch = tmp_path / "none.pdf"
    produced = ar.invoke(
        cli,
        [
            "statements",
            "run",
            "--as-of",
            AS_OF,
            *AS,
            "--delivery",
            "none",
            "--print-to",
            str(batch),
        ],
    )
    assert produced.exit_code == 0, produced.output
    assert (shown(produced)["done"], shown(produced)["skipped"]) == ("4", "1")
    assert "nothing printed" in produced.stderr
    assert not batch.exists()
    assert smtp_server.connections == 0
    run_id = shown(produced)["run"]

    nothing = ar.invoke(
        cli, ["statements", "print", run_id, "--tenant", "acme", "--out", str(batch)]
    )
    assert nothing.exit_code == 1
    assert "has no printed document" in nothing.stderr
    unknown = ar.invoke(cli, ["statements", "show", "no-such-run", "--tenant", "acme"])
    assert unknown.exit_code == 1
    assert "There is no document run no-such-run." in unknown.stderr
    elsewhere = ar.invoke(cli, ["statements", "resume", run_id, "--tenant", "zeta"])
    assert elsewhere.exit_code == 1
    assert f"There is no document run {run_id}." in elsewhere.stderr
    later = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    future = ar.invoke(cli, ["statements", "run", "--as-of", later, *AS])
    assert future.exit_code == 1
    assert "has not come yet" in future.stderr
    backwards = ar.invoke(cli, ["statements", "run", "--as-of", AS_OF, "--from", "2026-04-16", *AS])
    assert backwards.exit_code == 1
    assert "after its end" in backwards.stderr
    assert (
        ar.invoke(cli, ["statements", "run", "--as-of", AS_OF, *AS, "--delivery", "fax"]).exit_code
        == 2
    )


def test_the_deliveries_offered_are_the_runs_deliveries() -> None:
    assert tuple(d.value for d in Delivery) == DELIVERIES
