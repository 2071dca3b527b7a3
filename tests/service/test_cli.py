"""The `ar` command line as a clerk and an auditor script it, on the embedded default."""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.core import TyperGroup
from typer.testing import CliRunner

from domain.schedules import MAX_TERMS_DAYS
from services.api_keys import Role
from services.cli import KeyRole, app
from services.cli_render import Column, show, table
from services.errors import Forbidden, a_or_an
from tests.conftest import REPO


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
    assert "amount" in listing["receive_payment"]["fields"]
    assert "invoice_number" in listing["issue_invoice"]["fields"]


# --- what a person reads --------------------------------------------------------------------


def _values(output: str) -> dict[str, str]:
    """Labelled values as printed: a label, two spaces or more, the value."""
    found: dict[str, str] = {}
    for line in output.splitlines():
        label, *value = re.split(r"\s{2,}", line.strip(), maxsplit=1)
        if value:
            found.setdefault(label, value[0])
    return found


def _rows(output: str, first: str) -> list[list[str]]:
    """The table rows whose first cell is ``first``, cell by cell (two spaces or more apart)."""
    cells = [re.split(r"\s{2,}", line.strip()) for line in output.splitlines()]
    return [row for row in cells if row[0] == first]


def _plain(output: str) -> None:
    """No escape codes, no trailing spaces, no Python reprs."""
    assert "\x1b" not in output
    assert all(line == line.rstrip() for line in output.splitlines())
    for repr_mark in ("None", "[{", "{'", "'}", "[]", "{}"):
        assert repr_mark not in output, output


def test_a_clerk_reads_labelled_values_and_tables_not_python_reprs(ar: CliRunner) -> None:
    opened = _ok(
        ar, "open-account", "A-1", "--name", "Ann", "--currency", "USD", "--opened-on", "2026-03-01"
    )
    _plain(opened)
    assert _values(opened)["account number"] == "A-1"
    assert _values(opened)["created id"] == "—"
    assert _values(opened)["balance"] == "0.00"
    charge = {
        "code": "V",
        "description": "Visit",
        "unit_price": "100.00",
        "service_date": "2026-03-01",
    }
    charged = _ok(ar, "exec", "post_charge", "A-1", json.dumps(charge))
    _plain(charged)
    assert _rows(charged, "ChargePosted") == [["ChargePosted", "2"]]
    assert _values(charged)["created id"].startswith("ch_")
    _ok(
        ar, "exec", "issue_invoice", "A-1", '{"invoice_number": "INV-1", "issued_on": "2026-03-01"}'
    )
    _ok(
        ar, "exec", "receive_payment", "A-1",
        '{"amount": "30.00", "method": "cash", "reference": "r", "received_on": "2026-03-10"}',
    )  # fmt: skip

    balance = _ok(ar, "balance", "A-1")
    _plain(balance)
    assert (_values(balance)["balance"], _values(balance)["unapplied credit"]) == ("70.00", "0.00")
    assert _values(balance)["as of"] == "—"

    replay = _ok(ar, "replay", "A-1", "--as-of", "2026-03-05")
    _plain(replay)
    assert _values(replay)["balance"] == "100.00"
    assert _rows(replay, "INV-1") == [["INV-1", "invoice", "2026-03-31", "100.00"]]
    assert _rows(replay, "total") == [["total", "100.00"]]
    assert [row[1:3] for row in _rows(replay, "1") + _rows(replay, "2") + _rows(replay, "3")] == [
        ["2026-03-01", "Opened"],
        ["2026-03-01", "ChargePosted"],
        ["2026-03-01", "InvoiceIssued"],
    ]

    listing = _ok(ar, "commands")
    _plain(listing)
    assert ["receive_payment", "amount", "amount", "yes", "--amount"] in _rows(
        listing, "receive_payment"
    )


def test_an_operator_reads_keys_and_projection_status_as_tables(ar: CliRunner) -> None:
    secret = _ok(ar, "keys", "create", "--name", "ops", "--role", "clerk")  # AR_TENANT's
    key_id = secret.strip().split("_")[1]  # the secret alone, for a script to keep
    listing = _ok(ar, "keys", "list")
    _plain(listing)
    header, _rule, *rows = listing.splitlines()
    assert header.split() == ["key", "id", "role", "name", "created", "status", "revoked"]
    ((_, role, name, created, status, revoked),) = _rows(listing, key_id)
    assert (role, name, status, revoked) == ("clerk", "ops", "live", "—")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", created)  # to the second
    assert header.index("role") == rows[0].index("clerk")  # aligned
    assert _ok(ar, "keys", "list", "--tenant", "nobody") == "tenant nobody has no keys\n"
    assert _ok(ar, "keys", "revoke", key_id) == f"revoked {key_id}\n"

    _ok(
        ar, "open-account", "A-1", "--name", "Ann", "--currency", "USD", "--opened-on", "2026-03-01"
    )
    status = _ok(ar, "project", "--status")
    _plain(status)
    assert _rows(status, "account_balances") == [["account_balances", "0", "1", "1"]]
    assert status.endswith("no parked accounts\n")


def test_the_audit_trail_shows_business_fields_not_the_event_librarys(ar: CliRunner) -> None:
    _ok(
        ar, "open-account", "A-1", "--name", "Ann", "--currency", "USD", "--opened-on", "2026-03-01"
    )
    (opened,) = json.loads(_ok(ar, "report", "audit-trail", "--format", "json"))
    assert opened["payload"] == {
        "account_number": "A-1",
        "currency": "USD",
        "name": "Ann",
        "payment_terms_days": 30,
        "tenant_id": "acme",
    }


def test_messages_put_an_before_a_vowel() -> None:
    assert str(Forbidden("auditor", ("admin",))) == (
        "An auditor key cannot do this; it needs an admin key."
    )
    assert str(Forbidden("reporter", ("clerk",))) == (
        "A reporter key cannot do this; it needs a clerk key."
    )
    assert [a_or_an(w) for w in ("invoice", "plan-agreement", "open_dispute")] == [
        "an invoice",
        "a plan-agreement",
        "an open_dispute",
    ]


def test_payment_terms_go_as_far_as_the_domain_allows(ar: CliRunner) -> None:
    opening = ["--name", "Ann", "--currency", "USD", "--opened-on", "2026-03-01"]
    longest = ["--payment-terms-days", str(MAX_TERMS_DAYS)]
    _ok(ar, "open-account", "A-1", *opening, *longest)
    too_long = ar.invoke(
        app, ["open-account", "A-2", *opening, "--payment-terms-days", str(MAX_TERMS_DAYS + 1)]
    )
    assert too_long.exit_code == 2


def test_ar_version_prints_the_installed_version(ar: CliRunner) -> None:
    assert _ok(ar, "--version") == version("receivables") + "\n"


# --- starting quickly -----------------------------------------------------------------------

# Not pydantic itself: typer uses it to parse a command's options. Our models are RUNTIME's.
HEAVY = {"eventsourcing", "psycopg", "kafka", "projections", "structlog", "uvicorn", "fastapi"}
RUNTIME = {"services.app", "services.bootstrap", "services.commands", "services.settings"}


def _modules_loaded_by_ar(*args: str) -> set[str]:
    """The modules a fresh ``ar <args>`` has imported by the time it is done."""
    script = (
        "import sys\n"
        "from services.cli import app\n"
        "try:\n"
        "    app(sys.argv[1:], prog_name='ar')\n"
        "except SystemExit as done:\n"
        "    assert done.code in (0, None), done.code\n"
        "print(' '.join(sys.modules), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, check=True, cwd=REPO
    )
    return set(done.stderr.split())


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("--version",),
        ("balance", "--help"),
        ("project", "--help"),
        ("accounts", "search", "--help"),
        ("report", "aging", "--help"),
        ("verify", "--help"),
    ],
    ids=" ".join,
)
def test_help_and_version_load_neither_the_store_nor_the_application(args: tuple[str]) -> None:
    loaded = _modules_loaded_by_ar(*args)
    assert sorted(m for m in loaded if m.split(".")[0] in HEAVY) == []
    assert sorted(loaded & RUNTIME) == []


@pytest.mark.parametrize("args", [("--help",), ("report", "aging", "--help")], ids=" ".join)
def test_help_is_drawn_without_the_markdown_and_traceback_renderers(args: tuple[str]) -> None:
    loaded = _modules_loaded_by_ar(*args)
    unused = {"markdown_it", "pygments", "rich.markdown", "rich.traceback", "rich.syntax"}
    assert sorted(m for m in loaded if m in unused or m.split(".")[0] in unused) == []


def test_each_commands_summary_in_the_listing_is_one_unbroken_line() -> None:
    # typer's rich help keeps a docstring's line breaks: a summary broken in two shows so.
    groups = [typer.main.get_command(app)]
    while groups:
        group = groups.pop()
        assert isinstance(group, TyperGroup)
        for name, command in group.commands.items():
            summary = inspect.cleandoc(command.help or "").split("\n\n")[0]
            assert "\n" not in summary, name
            if isinstance(command, TyperGroup):
                groups.append(command)


def test_the_key_roles_offered_are_the_key_stores_roles() -> None:
    assert [role.value for role in KeyRole] == [role.value for role in Role]


def test_ar_help_lists_every_command_in_order(ar: CliRunner) -> None:
    listed = ar.invoke(app, ["--help"]).output
    names = re.findall(r"^│ (\S+)\s", listed, flags=re.MULTILINE)
    assert [n for n in names if not n.startswith("-")] == [
        "serve", "project", "relay", "migrate", "open-account", "exec", "commands", "balance",
        "replay", "import", "close-day", "rebuild", "verify", "explain", "accounts", "tenant",
        "gl", "report", "remittances", "documents", "statements", "approvals", "periods",
        "keys",
    ]  # fmt: skip
    # The typed commands are made when asked for (services.cli_typed): the help points to them.
    words = " ".join(listed.split())
    assert "ar receive-payment A-1 --amount" in words
    assert "ar commands lists them" in words


# --- the rendering ------------------------------------------------------------------------


def test_a_table_right_aligns_amounts_and_totals_them_per_currency(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rows: list[dict[str, Any]] = [
        {"account": "A-1", "currency": "USD", "open": "10.50", "note": None},
        {"account": "A-2", "currency": "EUR", "open": "1.00", "note": "[red]late[/red]"},
        {"account": "A-10", "currency": "USD", "open": "0.25", "note": True},
    ]
    columns: list[Column | str] = ["account", "currency", Column("open", amount=True), "note"]
    show(table(columns, rows, totals=True, per="currency"))
    printed = capsys.readouterr().out
    _plain(printed)
    lines = printed.splitlines()
    assert lines[0].split() == ["account", "currency", "open", "note"]
    assert lines[2].split() == ["A-1", "USD", "10.50", "—"]
    assert lines[3].split() == ["A-2", "EUR", "1.00", "[red]late[/red]"]  # text, not markup
    assert lines[4].split() == ["A-10", "USD", "0.25", "yes"]
    assert [line.split() for line in lines[6:]] == [
        ["total", "USD", "10.75"],
        ["total", "EUR", "1.00"],
    ]
    amounts_end = {
        line.index(amount) + len(amount)
        for line, amount in zip(lines[2:5], ("10.50", "1.00", "0.25"), strict=True)
    }
    assert len(amounts_end) == 1  # right-aligned


def test_an_empty_listing_is_a_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    show(table(["account"], [], empty="no accounts"))
    assert capsys.readouterr().out == "no accounts\n"


def test_a_report_gives_its_own_total_rows(capsys: pytest.CaptureFixture[str]) -> None:
    rows = [{"account": "A-1", "open": "1.50"}, {"account": "A-2", "open": "2.50"}]
    total = {"account": "TOTAL", "open": "4.00"}
    show(table(["account", Column("open", amount=True)], rows, totals=[total]))
    lines = capsys.readouterr().out.splitlines()
    assert set(lines[4]) == {"─"}
    assert lines[5].split() == ["TOTAL", "4.00"]
