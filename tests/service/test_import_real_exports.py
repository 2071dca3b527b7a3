"""Imports from real exports: another system's file as it is, checked whole before anything is
recorded (or, with ``partial``, recording what passes), every bad row named once.

The export in ``tests/fixtures/imports/`` is what an accounting program's "open items" export
looks like: a byte-order mark, semicolons, CRLF line ends, day-first dates, decimal commas with
thousands separators, its own column names and words, and a column of its own we do not need.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from domain.approvals import CONTROLLED_COMMANDS
from domain.money import Money
from services.bootstrap import Runtime
from services.cli import app as ar_app
from services.cli_import import ProgressBar
from services.commands import IssueInvoice, PostCharge
from services.importer import (
    Dialect,
    ImportFileInvalid,
    ImportReport,
    Mapping,
    Step,
    decoded,
    import_file,
    load_mapping,
    read_file,
)
from tests.conftest import REPO
from tests.support import CLERK

EXPORTS = REPO / "tests/fixtures/imports"
HEADER = "kind,account,date,number,amount,due_on,invoice,method,name,currency\n"
BOOK = (
    HEADER
    + "account,B-1,2026-01-01,,,,,,Ann Book,USD\n"
    + "invoice,B-1,2026-01-05,INV-1,100.00,,,,,\n"
    + "payment,B-1,2026-01-20,R-1,40.00,,INV-1,,,\n"
)


def _write(tmp_path: Path, text: str, name: str = "book.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _import(runtime: Runtime, path: Path, **options: object) -> ImportReport:
    return import_file(runtime.app, path, tenant_id="acme", meta=CLERK, **options)  # type: ignore[arg-type]


def _head(runtime: Runtime) -> int:
    return runtime.app.recorder.max_notification_id() or 0


@pytest.fixture
def ar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("AR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("AR_TENANT", "acme")
    monkeypatch.setenv("AR_ACTOR", "clerk-ann")
    monkeypatch.setenv("AR_LOG_LEVEL", "WARNING")
    return CliRunner()


# --- another system's export, as it is ------------------------------------------------------


def test_a_bom_semicolon_day_first_decimal_comma_export_imports_with_a_mapping(
    runtime: Runtime,
) -> None:
    mapping = load_mapping(EXPORTS / "buchhaltung-mapping.yaml")
    export = EXPORTS / "buchhaltung-export.csv"
    assert export.read_bytes().startswith(b"\xef\xbb\xbf")

    report = _import(runtime, export, dialect=Dialect.of(mapping))

    assert (report.rows, report.commands, report.recorded, report.rejected) == (7, 10, 10, [])
    anna = runtime.app.get_account("acme", "K-1001")
    assert (anna.name, anna.currency) == ("Anna Müller", "EUR")
    assert anna.outstanding("RE-2026-001") == Money("234.56", "EUR")  # 1.234,56 less 1.000,00
    assert anna.outstanding("RE-2026-002") == Money("99.90", "EUR")
    assert anna.items["RE-2026-001"].first_due_on == date(2026, 2, 4)
    jorg = runtime.app.get_account("acme", "K-1002")
    assert jorg.balance == Money("2000.00", "EUR")  # 2 500,00 less 500,00

    head = _head(runtime)
    again = _import(runtime, export, dialect=Dialect.of(mapping))
    assert (again.recorded, again.already_imported, again.rejected) == (0, 10, [])
    assert _head(runtime) == head


def test_the_cli_imports_the_export_with_its_mapping(ar: CliRunner) -> None:
    export = str(EXPORTS / "buchhaltung-export.csv")
    mapping = str(EXPORTS / "buchhaltung-mapping.yaml")

    checked = ar.invoke(ar_app, ["import", export, "--mapping", mapping, "--dry-run"])
    assert checked.exit_code == 0, checked.output
    assert checked.output == (
        "7 rows, 10 commands checked: 10 to record, 0 already imported, 0 refused;"
        " nothing was recorded (--dry-run)\n"
    )
    done = ar.invoke(ar_app, ["import", export, "--mapping", mapping])
    assert done.exit_code == 0, done.output
    assert done.output == "7 rows, 10 commands: 10 recorded, 0 already imported, 0 refused\n"
    balance = ar.invoke(ar_app, ["balance", "K-1002", "--json"])
    assert '"balance": "2000.00"' in balance.output


def test_options_on_the_command_line_read_a_file_without_a_mapping(
    ar: CliRunner, tmp_path: Path
) -> None:
    path = tmp_path / "book.csv"
    path.write_bytes(
        b"\xef\xbb\xbfkind\taccount\tdate\tnumber\tamount\tname\tcurrency\r\n"
        b"account\tD-1\t31/12/2025\t\t\tDee\tUSD\r\n"
        b"invoice\tD-1\t02/01/2026\tI-1\t1,234.50\t\t\r\n"
    )
    done = ar.invoke(ar_app, ["import", str(path), "--date-format", "%d/%m/%Y"])
    assert done.exit_code == 0, done.output
    shown = ar.invoke(ar_app, ["balance", "D-1", "--json"])
    assert '"balance": "1234.50"' in shown.output

    iso = ar.invoke(ar_app, ["import", str(path)])
    assert iso.exit_code == 1
    assert "refused: line 2 (D-1): date '31/12/2025' is not a date (YYYY-MM-DD)" in iso.output


@pytest.mark.parametrize(
    ("written", "decimal_comma", "amount"),
    [
        ("1.234,56", True, "1234.56"),
        ("1 234,56", True, "1234.56"),
        ("1\u00a0234,56", True, "1234.56"),
        ("1\u202f234\u202f567,5", True, "1234567.5"),
        ("12,5", True, "12.5"),
        ("1.234", True, "1234"),
        ("1,234.56", False, "1234.56"),
        ("1'234.56", False, "1234.56"),
        ("1 234 567.00", False, "1234567.00"),
        ("99.90", False, "99.90"),
    ],
)
def test_amounts_are_read_with_their_separators(
    written: str, decimal_comma: bool, amount: str
) -> None:
    text = HEADER + f'invoice,A-1,2026-01-05,I-1,"{written}",,,,,\n'
    read = read_file(text, Dialect(decimal_comma=decimal_comma))
    assert read.rejected == []
    [charge, _invoice] = read.rows[0].steps
    assert isinstance(charge.command, PostCharge)
    assert str(charge.command.unit_price) == amount


@pytest.mark.parametrize(
    ("written", "decimal_comma", "said"),
    [
        ("1,23", False, "(a decimal comma? import with --decimal-comma)"),
        ("1,2345.00", False, "is not a decimal string"),
        ("1.234.56", False, "is not a decimal string"),
        ("1.234,567,8", True, "is not an amount written with a decimal comma"),
        ("1.23", True, "is not an amount written with a decimal comma"),
        (
            "1.234 567,00",
            True,
            "is not an amount written with a decimal comma",
        ),  # one kind of separator an amount
        ("1e2", False, "is not a decimal string"),
    ],
)
def test_an_amount_whose_separators_do_not_fit_is_refused_not_guessed(
    written: str, decimal_comma: bool, said: str
) -> None:
    text = HEADER + f'invoice,A-1,2026-01-05,I-1,"{written}",,,,,\n'
    read = read_file(text, Dialect(decimal_comma=decimal_comma))
    assert read.rows == []
    [rejected] = read.rejected
    assert rejected.line == 2
    assert rejected.reason.startswith("amount: ")
    assert said in rejected.reason


@pytest.mark.parametrize(
    ("header", "delimiter"),
    [
        ("kind;account;date;amount", ";"),
        ("kind\taccount\tdate\tamount", "\t"),
        ("kind|account|date|amount", "|"),
        ("kind,account,date,amount", ","),
    ],
)
def test_the_header_tells_the_delimiter_even_when_every_row_has_decimal_commas(
    header: str, delimiter: str
) -> None:
    rows = "".join(
        f'payment{delimiter}A-1{delimiter}2026-01-0{n}{delimiter}"1,5{n}"\n' for n in range(1, 9)
    )
    read = read_file(f"{header}\n{rows}", Dialect(decimal_comma=True))
    assert read.delimiter == delimiter


def test_utf16_with_its_mark_and_another_named_encoding_are_read() -> None:
    text = "kind\taccount\tname\n"
    assert decoded(text.encode("utf-16"), "utf-8") == text
    assert decoded("José".encode("cp1252"), "cp1252") == "José"
    with pytest.raises(ImportFileInvalid) as invalid:
        decoded(b"kind,account\naccount,Jos\xe9\n", "utf-8")
    assert invalid.value.problems == [
        "line 2: the file is not utf-8 text (byte 0xe9); give its encoding, e.g. --encoding cp1252"
    ]


# --- all or nothing, or what passes --------------------------------------------------------


def _book_with_bad_rows(runtime: Runtime, tmp_path: Path) -> Path:
    """Three accounts' rows; line 4 pays an invoice that does not exist, and line 7 opens an
    account that is already open, in another currency."""
    runtime.app.open_account(
        tenant_id="acme",
        account_number="E-1",
        name="Elsewhere",
        currency="EUR",
        opened_on=date(2026, 1, 1),
        meta=CLERK,
    )
    return _write(
        tmp_path,
        HEADER
        + "account,B-1,2026-01-01,,,,,,Ann Book,USD\n"
        + "invoice,B-1,2026-01-05,INV-1,100.00,,,,,\n"
        + "payment,B-1,2026-01-20,R-1,40.00,,INV-404,,,\n"
        + "account,B-2,2026-01-01,,,,,,Bob Book,USD\n"
        + "invoice,B-2,2026-01-07,INV-9,80.00,,,,,\n"
        + "account,E-1,2026-01-01,,,,,,Elsewhere,USD\n"
        + "payment,B-2,2026-01-21,R-2,80.00,,,,,\n",
    )


def test_one_row_a_business_rule_refuses_and_nothing_is_recorded(
    runtime: Runtime, tmp_path: Path
) -> None:
    path = _book_with_bad_rows(runtime, tmp_path)
    head = _head(runtime)

    report = _import(runtime, path)

    assert report.nothing_recorded
    assert report.recorded == 0
    assert _head(runtime) == head
    assert [(r.line, r.account) for r in report.rejected] == [(4, "B-1"), (7, "E-1")]
    assert "INV-404" in report.rejected[0].reason
    assert report.rejected[1].reason == "Account E-1 is already open."
    assert (report.commands, report.to_record) == (7, 7)


def test_with_partial_the_rows_that_pass_are_recorded_and_the_rejects_file_names_the_others(
    runtime: Runtime, tmp_path: Path
) -> None:
    path = _book_with_bad_rows(runtime, tmp_path)

    report = _import(runtime, path, partial=True)
    report.write_rejects(tmp_path / "rejects.csv")

    assert (report.recorded, report.refused_while_recording) == (7, 0)
    assert runtime.app.get_account("acme", "B-1").balance == Money("100.00", "USD")
    assert runtime.app.get_account("acme", "B-2").balance == Money("0.00", "USD")
    assert runtime.app.get_account("acme", "E-1").currency == "EUR"
    with (tmp_path / "rejects.csv").open(newline="") as rejects:
        rows = list(csv.reader(rejects))
    assert rows[0] == ["line", "reason", *HEADER.strip().split(",")]
    assert [(r[0], r[2], r[3], r[5]) for r in rows[1:]] == [
        ("4", "payment", "B-1", "R-1"),
        ("7", "account", "E-1", ""),
    ]
    assert "INV-404" in rows[1][1]

    # The fixed row alone is what the file records when imported again.
    fixed = path.read_text().replace("INV-404", "INV-1").replace("E-1,2026", "E-2,2026")
    again = _import(runtime, _write(tmp_path, fixed))
    assert (again.recorded, again.already_imported, again.rejected) == (2, 7, [])
    assert runtime.app.get_account("acme", "B-1").outstanding("INV-1") == Money("60.00", "USD")


def test_a_row_is_checked_as_a_whole_so_with_partial_none_of_a_refused_row_is_recorded(
    runtime: Runtime, tmp_path: Path
) -> None:
    # INV-1 is issued already (by a clerk, not the import): the row's charge would pass, its
    # invoice not; the row is refused whole and the next row sees the account without it.
    path = _write(tmp_path, HEADER + "account,B-1,2026-01-01,,,,,,Ann Book,USD\n")
    _import(runtime, path)
    runtime.app.execute(
        tenant_id="acme",
        account_number="B-1",
        command=PostCharge(code="X", description="x", unit_price="5.00", service_date="2026-01-02"),
        meta=CLERK,
    )
    account = runtime.app.get_account("acme", "B-1")
    runtime.app.execute(
        tenant_id="acme",
        account_number="B-1",
        command=IssueInvoice(
            invoice_number="INV-1", issued_on=date(2026, 1, 2), charge_ids=list(account.charges)
        ),
        meta=CLERK,
    )
    rows = (
        HEADER
        + "invoice,B-1,2026-01-05,INV-1,100.00,,,,,\n"
        + "invoice,B-1,2026-01-06,INV-2,30.00,,,,,\n"
        + "payment,B-1,2026-01-20,R-1,35.00,,,,,\n"
    )

    report = _import(runtime, _write(tmp_path, rows, "more.csv"), partial=True)

    assert [r.line for r in report.rejected] == [2]
    account = runtime.app.get_account("acme", "B-1")
    assert "INV-1-import" not in account.charges
    assert account.balance == Money("0.00", "USD")  # 5.00 + 30.00 - 35.00


def test_a_row_changed_since_it_was_imported_is_refused_by_the_check(
    runtime: Runtime, tmp_path: Path
) -> None:
    _import(runtime, _write(tmp_path, BOOK))
    changed = BOOK.replace("INV-1,100.00", "INV-1,120.00")

    report = _import(runtime, _write(tmp_path, changed), check_only=True)

    assert [r.line for r in report.rejected] == [3]
    assert "already used for a different request" in report.rejected[0].reason
    assert report.already_imported == 2


def test_each_bad_row_is_reported_once(ar: CliRunner, tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        HEADER
        + "account,B-1,2026-01-01,,,,,,Ann Book,USD\n"
        + "invoice,B-1,2026-01-05,INV-1,1.001,,,,,\n"  # finer than a cent: its fields
        + "invoice,B-1,2026-01-05,INV-2,10.00,,,,,\n"
        + "invoice,B-1,2026-01-06,INV-2,10.00,,,,,\n"  # the same row twice: imported once
        + "payment,B-1,2026-01-20,R-1,5.00,,INV-1,,,\n"  # its invoice was refused
        + "payment,B-1,2026-01-20,R-2,5.00,,INV-404,,,\n",  # a business rule
    )
    rejects = tmp_path / "rejects.csv"

    result = ar.invoke(ar_app, ["import", str(path), "--rejects", str(rejects)])

    assert result.exit_code == 1
    refused = [line for line in result.output.splitlines() if line.startswith("refused: ")]
    assert [line.split(":")[1] for line in refused] == [
        " line 3 (B-1)",
        " line 5 (B-1)",
        " line 6 (B-1)",
        " line 7 (B-1)",
    ]
    assert "nothing was recorded" in result.output
    lines = [row[0] for row in csv.reader(rejects.open(newline=""))]
    assert lines == ["line", "3", "5", "6", "7"]


def test_a_dry_run_checks_and_records_nothing(runtime: Runtime, tmp_path: Path) -> None:
    head = _head(runtime)
    report = _import(runtime, _write(tmp_path, BOOK), check_only=True)
    assert (report.commands, report.to_record, report.recorded, report.rejected) == (4, 4, 0, [])
    assert _head(runtime) == head


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ("", "line 1: the file has no header (the first line is empty)"),
        (
            "account,B-1,2026-01-01,,,,,,Ann,USD\n",
            "line 1 is not a header (read with the delimiter ','): most of it names none of the columns",
        ),
        ("kind,account,date,amount,colour\n", "line 1: unknown column(s) colour"),
        ("kind,account,amount\n", "line 1: the header has no column date"),
        ("kind,account,date,date\n", "line 1: the header names date more than once"),
        ('kind,account,date\n"account,B-1\n', "line 2: the file is not CSV from here"),
    ],
    ids=["empty", "no header", "unknown column", "missing column", "twice", "quote"],
)
def test_a_malformed_file_is_refused_with_a_sentence_and_exit_1(
    ar: CliRunner, tmp_path: Path, written: str, said: str
) -> None:
    result = ar.invoke(ar_app, ["import", str(_write(tmp_path, written))])
    assert result.exit_code == 1
    assert f"error: {said}" in result.output
    assert result.output.endswith("error: the file cannot be imported; nothing was recorded\n")


def test_a_value_under_a_column_the_header_does_not_name_refuses_its_row() -> None:
    read = read_file("kind,account,date,\naccount,B-1,2026-01-01,x\n", Dialect())
    assert [(r.line, r.reason) for r in read.rejected] == [
        (2, "cell 4 has a value, and the header does not name its column")
    ]
    # An empty cell there (a trailing delimiter, as many exports write) is no value.
    [empty] = read_file("kind,account,date,\naccount,B-1,2026-01-01,\n", Dialect()).rejected
    assert empty.reason == "currency is empty"


@pytest.mark.parametrize(
    ("mapping", "said"),
    [
        ("columns: {Typ: colour}\n", "columns maps to colour, not a column"),
        ("columns: [kind]\n", "columns: Input should be a valid dictionary"),
        ("colums: {Typ: kind}\n", "colums: Extra inputs are not permitted"),
        ("columns: {Typ: kind\n", "is not YAML"),
        ("columns: {A: kind, B: kind}\n", "columns maps more than one column to kind"),
        (
            "columns: {A: kind}\nconstants: {kind: invoice}\n",
            "kind is both a column and a constant",
        ),
        ("date_formats: {amount: '%d'}\n", "date_formats names amount"),
    ],
)
def test_a_mapping_that_does_not_make_sense_is_refused_with_a_sentence(
    tmp_path: Path, mapping: str, said: str
) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text(mapping)
    with pytest.raises(ImportFileInvalid) as invalid:
        load_mapping(path)
    assert any(said in problem for problem in invalid.value.problems), invalid.value.problems


def test_a_mapping_names_a_column_the_export_does_not_have(tmp_path: Path) -> None:
    mapping = Mapping(columns={"Typ": "kind", "Konto": "account", "Datum": "date"})
    with pytest.raises(ImportFileInvalid) as invalid:
        read_file("Typ;Kto;Datum\n", Dialect.of(mapping))
    assert invalid.value.problems == [
        "line 1: the header (read with the delimiter ';') has no column Konto, which the mapping names"
    ]


def test_a_json_mapping_reads_like_a_yaml_one(tmp_path: Path) -> None:
    path = tmp_path / "mapping.json"
    path.write_text('{"columns": {"Typ": "kind"}, "decimal_comma": true, "delimiter": ";"}')
    assert load_mapping(path) == Mapping(columns={"Typ": "kind"}, decimal_comma=True, delimiter=";")


# --- a big file, and what a person sees -----------------------------------------------------


def test_one_bad_row_at_the_end_of_a_big_file_records_nothing(
    runtime: Runtime, tmp_path: Path
) -> None:
    """Every row is checked before anything is recorded, however far the bad one comes (how
    fast the check is, is for ``make bench``, not a timed assertion)."""
    lines = [HEADER]
    for n in range(1_000):
        lines.append(f"account,L-{n},2026-01-01,,,,,,Customer {n},USD\n")
        lines.append(f"invoice,L-{n},2026-01-05,INV-{n},12.34,,,,,\n")
        lines.append(f"payment,L-{n},2026-01-20,R-{n},2.34,,INV-{n},,,\n")
    lines.append("payment,L-999,2026-01-21,R-X,1.00,,INV-404,,,\n")
    path = _write(tmp_path, "".join(lines))
    head = _head(runtime)

    report = _import(runtime, path)

    assert (report.rows, [r.line for r in report.rejected]) == (3_001, [3_002])
    assert _head(runtime) == head


class _Phases:
    def __init__(self) -> None:
        self.seen: list[tuple[str, int, int]] = []

    def start(self, phase: str, total: int) -> None:
        self.seen.append((phase, total, 0))

    def advance(self, done: int = 1) -> None:
        phase, total, so_far = self.seen[-1]
        self.seen[-1] = (phase, total, so_far + done)


def test_the_progress_is_told_each_phase_with_its_total(runtime: Runtime, tmp_path: Path) -> None:
    phases = _Phases()
    _import(runtime, _write(tmp_path, BOOK), progress=phases)
    assert phases.seen == [("checking", 3, 3), ("recording", 4, 4)]


def test_the_progress_bar_shows_the_count_of_the_total_and_the_time_left() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100, color_system=None)
    with ProgressBar(console) as bar:
        bar.start("checking", 3_000)
        bar.advance(1_200)
        console.file.flush()
        bar._progress.refresh()
    shown = out.getvalue()
    assert "checking" in shown
    assert "1200/3000" in shown
    assert "-:--:--" in shown or "0:00:0" in shown


def test_the_import_sends_no_command_under_four_eyes_control() -> None:
    # The check applies the rows without the approval gate; it may only because none is held.
    steps = read_file(BOOK, Dialect()).rows
    sent = {step.name_and_params()[0] for row in steps for step in row.steps}
    assert sent == {"open_account", "post_charge", "issue_invoice", "receive_payment"}
    assert sent.isdisjoint(CONTROLLED_COMMANDS)
    assert all(isinstance(s, Step) for row in steps for s in row.steps)
