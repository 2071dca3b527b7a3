"""Bulk import: accounts, invoices and payments from a CSV file, as clerks' commands.

For moving a book of receivables in from another system. Each row is one fact:

=========  =====================================================================================
kind       columns used (others left empty)
=========  =====================================================================================
account    account, date (opened on), name, currency, [terms_days]
invoice    account, date (issued on), number (invoice number), amount, [due_on], [description]
payment    account, date (received on), number (receipt / payment id), amount, [invoice],
           [method]
=========  =====================================================================================

An invoice row records a charge of its amount and the invoice for it; a payment row with an
``invoice`` is allocated to that invoice, without one oldest-due-first.

Reading a real export (``Dialect``)
    - Text is UTF-8, with or without the byte-order mark spreadsheet programs write (UTF-16
      with its mark too); another encoding is named (``cp1252``).
    - The delimiter (comma, semicolon, tab or pipe) is told by the header: the candidate that
      splits it into the most known columns. ``csv.Sniffer`` is not used: it prefers the comma
      whenever every row carries one, which a semicolon file with decimal commas does.
    - Dates are ISO (2026-01-31) unless a ``strptime`` format is given (``%d.%m.%Y``), for
      every date column or, in a mapping, per column.
    - Amounts have a decimal point, or a decimal comma when asked; thousands separators
      (``1,234.56``, ``1.234,56``, ``1 234,56``, ``1'234.56``) are taken only in groups of three
      and one kind per amount, so ``1,23`` is refused rather than read as 123. What remains is
      held to the API's own amount pattern and bounds (``services.fields``).
    - A mapping file (YAML or JSON, ``Mapping``) imports another system's export as it is: its
      column names to ours, constants for columns it lacks, its words to ours (``Rechnung`` to
      ``invoice``), per-column date formats and the dialect. Its unmapped columns are ignored;
      without a mapping, an unknown column is refused (it is usually a typo).

Invariants
    - A file that cannot be read as a whole (not text in its encoding, no header, a column
      missing or unknown, a bad mapping) is refused with a sentence; nothing is recorded.
    - All or nothing by default: every row is checked before anything is recorded, by its
      fields and then by the business rules, in a rehearsal that applies each row's commands in
      file order to in-memory copies of the accounts (as stored, plus the file's earlier rows),
      saving nothing. One bad row and nothing is recorded. With ``partial`` the rows that pass
      are recorded and the others are not; a row is never half-recorded by the check's choice
      (its commands pass or fail together).
    - Each bad row is reported once, with its line (where the row starts), its cells as read and
      the reason; a row that depends on a refused one (a payment on its invoice) gives its own
      reason.
    - Each row's commands carry idempotency keys made from the row's identity (kind, account,
      number), so importing the same file again records nothing twice; a row changed since it
      was imported under the same identity is refused (the key's request differs).
    - What the check applied is what is recorded: the events it left pending on its copies
      are saved, a chunk of whole accounts (about ``CHUNK`` commands) at a time, with every
      command's key and answer, in ONE transaction through the same recorder as the group
      committer's, so the version check and the closed-period guard inside the insert hold as
      for any command, and the hash chain is the one the check computed. Each event takes its
      transaction's moment as its recording time. Another writer may change an account between
      the check and the recording: the chunk's save then conflicts and stores nothing, and its
      commands go through the committer one by one, judged on the accounts as stored then; a
      row refused there is reported like any other, the report saying it was refused while
      recording.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, Protocol
from uuid import UUID

import yaml
from eventsourcing.persistence import IntegrityError
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from domain.account import Account
from domain.errors import DomainError, PeriodClosed
from domain.money import Money
from domain.periods import Period
from domain.provenance import Provenance
from services.app import Receivables
from services.commands import AccountCommand, IssueInvoice, PostCharge, ReceivePayment
from services.commands import OpenAccount as OpenAccountCommand
from services.errors import (
    AccountAlreadyExists,
    AccountNotFound,
    IdempotencyKeyReused,
    ServiceError,
)
from services.fields import parse_amount
from services.group_commit import Outcome, fingerprint, nothing_was_written
from services.logging import get_logger
from services.period_barriers import Barrier, earliest_dates, read_barrier
from services.recorders import (
    IdempotencyRecord,
    IdempotentPostgresRecorder,
    IdempotentSQLiteRecorder,
)
from services.unreadable import load_account_or_problem
from services.views import account_summary

log = get_logger(__name__)

COLUMNS: Final = (
    "kind",
    "account",
    "date",
    "number",
    "amount",
    "due_on",
    "invoice",
    "method",
    "name",
    "currency",
    "terms_days",
    "description",
)
REQUIRED: Final = ("kind", "account", "date")
DATE_COLUMNS: Final = ("date", "due_on")
KINDS: Final = ("account", "invoice", "payment")
DELIMITERS: Final = (",", ";", "\t", "|")
#: Steps saved in one transaction: large enough that a save costs little per event, small
#: enough that the other writers, queued behind the events table's lock, wait only a moment.
CHUNK = 1_000
#: Commands in flight at once when a chunk goes through the committer: enough for full
#: batches, few enough to keep memory flat.
WINDOW = 2_048
#: Keys looked up in one query while checking which rows were imported before.
_KEYS_PER_QUERY = 500


class ImportFileInvalid(ValueError):
    """The file cannot be imported as it is; nothing was recorded."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"the file cannot be imported: {'; '.join(problems)}")


# --- how the file is written ----------------------------------------------------------------


class Mapping(BaseModel):
    """How another system's export reads as ours: a YAML or JSON file. Their column names to
    ours, a constant for a column the export lacks, their words to ours, and the dialect::

        delimiter: ";"                 # optional: told by the header otherwise
        decimal_comma: true            # optional: 1.234,56
        date_format: "%d.%m.%Y"        # optional: for every date column
        date_formats: {due_on: "%Y-%m-%d"}
        columns: {Kundennr: account, Datum: date, Betrag: amount, Art: kind}
        constants: {currency: EUR}
        values: {kind: {Kunde: account, Rechnung: invoice, Zahlung: payment}}
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: dict[str, str] = {}
    constants: dict[str, str] = {}
    values: dict[str, dict[str, str]] = {}
    date_format: str | None = None
    date_formats: dict[str, str] = {}
    decimal_comma: bool | None = None
    delimiter: str | None = None
    encoding: str | None = None

    @field_validator("columns")
    @classmethod
    def _columns_are_ours(cls, columns: dict[str, str]) -> dict[str, str]:
        _known(columns.values(), "columns maps to")
        twice = sorted({c for c in columns.values() if list(columns.values()).count(c) > 1})
        if twice:
            msg = f"columns maps more than one column to {', '.join(twice)}"
            raise ValueError(msg)
        return columns

    @field_validator("constants", "values")
    @classmethod
    def _keys_are_ours(cls, given: dict[str, Any]) -> dict[str, Any]:
        _known(given, "names")
        return given

    @field_validator("date_formats")
    @classmethod
    def _date_columns(cls, formats: dict[str, str]) -> dict[str, str]:
        other = [c for c in formats if c not in DATE_COLUMNS]
        if other:
            msg = f"date_formats names {', '.join(other)}; the date columns are date, due_on"
            raise ValueError(msg)
        return formats

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, delimiter: str | None) -> str | None:
        if delimiter is not None and len(delimiter) != 1:
            msg = f"delimiter {delimiter!r} is not one character"
            raise ValueError(msg)
        return delimiter

    @model_validator(mode="after")
    def _each_column_once(self) -> Mapping:
        both = sorted(set(self.columns.values()) & set(self.constants))
        if both:
            msg = f"{', '.join(both)} is both a column and a constant"
            raise ValueError(msg)
        return self


def _known(columns: Iterable[str], says: str) -> None:
    unknown = [c for c in columns if c not in COLUMNS]
    if unknown:
        msg = f"{says} {', '.join(unknown)}, not a column; the columns are {', '.join(COLUMNS)}"
        raise ValueError(msg)


def load_mapping(path: Path) -> Mapping:
    """The mapping in ``path`` (``.json``, else YAML); ``ImportFileInvalid`` saying what is
    wrong with it."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as unreadable:
        raise ImportFileInvalid(
            [f"the mapping {path.name} cannot be read ({unreadable})"]
        ) from None
    try:
        document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as bad:
        problem = f"the mapping {path.name} is not JSON: {bad.msg} at line {bad.lineno}"
        raise ImportFileInvalid([problem]) from None
    except yaml.YAMLError as bad:
        mark = getattr(bad, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        what = getattr(bad, "problem", None) or "not YAML"
        raise ImportFileInvalid([f"the mapping {path.name} is not YAML: {what}{where}"]) from None
    try:
        return Mapping.model_validate(document if document is not None else {})
    except ValidationError as bad:
        problems = [f"the mapping {path.name}: {_validation_sentence(e)}" for e in bad.errors()]
        raise ImportFileInvalid(problems) from None


@dataclass(frozen=True, slots=True)
class Dialect:
    """How the file is written. ``None`` for the delimiter: told by the header."""

    encoding: str = "utf-8"
    delimiter: str | None = None
    date_format: str | None = None
    decimal_comma: bool = False
    mapping: Mapping | None = None

    @classmethod
    def of(
        cls,
        mapping: Mapping | None = None,
        *,
        encoding: str | None = None,
        delimiter: str | None = None,
        date_format: str | None = None,
        decimal_comma: bool | None = None,
    ) -> Dialect:
        """The dialect asked for: what is given here, else what the mapping says, else the
        defaults."""
        said = mapping or Mapping()
        return cls(
            encoding=encoding or said.encoding or "utf-8",
            delimiter=delimiter or said.delimiter,
            date_format=date_format or said.date_format,
            decimal_comma=bool(decimal_comma if decimal_comma is not None else said.decimal_comma),
            mapping=mapping,
        )

    def date_format_of(self, column: str) -> str | None:
        if self.mapping is not None and column in self.mapping.date_formats:
            return self.mapping.date_formats[column]
        return self.date_format


_SPACES = " \u00a0\u202f"
# Digits in groups of three after a first group of one to three, all separated alike.
_GROUPED = {
    False: re.compile(rf"([-+]?)([0-9]{{1,3}})(?:([,'{_SPACES}])([0-9]{{3}}(?:\3[0-9]{{3}})*))?"
                      r"(\.[0-9]+)?"),
    True: re.compile(rf"([-+]?)([0-9]{{1,3}})(?:([.'{_SPACES}])([0-9]{{3}}(?:\3[0-9]{{3}})*))?"
                     r"(,[0-9]+)?"),
}  # fmt: skip
_PLAIN_COMMA_DECIMAL = re.compile(r"([-+]?[0-9]+),([0-9]+)")


def _plain_amount(value: str, decimal_comma: bool) -> str:
    """The amount as the API writes it (1234.56), or the value unchanged when it is not an
    amount written with this dialect's separators (the API's check then says why)."""
    if decimal_comma:
        plain = _PLAIN_COMMA_DECIMAL.fullmatch(value)
        if plain is not None:
            return f"{plain[1]}.{plain[2]}"
    grouped = _GROUPED[decimal_comma].fullmatch(value)
    if grouped is None:
        if decimal_comma:
            msg = f"{value!r} is not an amount written with a decimal comma, such as 1.234,56"
            raise ValueError(msg)
        return value
    sign, first, _separator, groups, fraction = grouped.groups()
    digits = first + (groups or "").translate({ord(c): None for c in ",.'" + _SPACES})
    return f"{sign}{digits}{'.' + fraction[1:] if fraction else ''}"


# --- reading the rows -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpenAccount:
    account: str
    name: str
    currency: str
    opened_on: date
    terms_days: int


@dataclass(frozen=True, slots=True)
class Step:
    """One command of a row, with the key that makes it safe to import twice."""

    line: int
    account: str
    key: str
    command: AccountCommand | OpenAccount

    def name_and_params(self) -> tuple[str, dict[str, Any]]:
        """What ``Receivables`` fingerprints the request by, so the check tells a row imported
        before from a changed one exactly as the recording will."""
        if isinstance(self.command, OpenAccount):
            opened = self.command
            return "open_account", {
                "name": opened.name,
                "currency": opened.currency,
                "opened_on": opened.opened_on,
                "payment_terms_days": opened.terms_days,
            }
        command = self.command.with_id(self.key)
        return command.calls, command.model_dump(mode="json")

    def request_sha256(self) -> str:
        name, params = self.name_and_params()
        return fingerprint(name, {"account_number": self.account, **params})


@dataclass(frozen=True, slots=True)
class Row:
    """A row of the file: where it starts, its cells as read, and its commands."""

    line: int
    cells: tuple[str, ...]
    account: str
    steps: tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class RejectedRow:
    line: int
    cells: tuple[str, ...]
    account: str
    reason: str

    def sentence(self) -> str:
        where = f"line {self.line} ({self.account})" if self.account else f"line {self.line}"
        return f"{where}: {self.reason}"


@dataclass
class ReadFile:
    """What reading the file found: the rows to check, and the rows already refused."""

    header: list[str]
    delimiter: str
    rows: list[Row] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)

    @property
    def row_count(self) -> int:
        return len(self.rows) + len(self.rejected)


def decoded(data: bytes, encoding: str) -> str:
    """The file's text; a byte-order mark tells UTF-8 or UTF-16 whatever ``encoding`` says."""
    try:
        named = codecs.lookup(encoding).name
    except LookupError:
        raise ImportFileInvalid(
            [f"there is no encoding {encoding!r} (e.g. utf-8, cp1252)"]
        ) from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif data.startswith(codecs.BOM_UTF8) or named == "utf-8":
        encoding = "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as bad:
        line = data.count(b"\n", 0, bad.start) + 1
        byte = data[bad.start : bad.start + 1].hex()
        raise ImportFileInvalid(
            [
                f"line {line}: the file is not {encoding.removesuffix('-sig')} text"
                f" (byte 0x{byte}); give its encoding, e.g. --encoding cp1252"
            ]
        ) from None


def read_file(text: str, dialect: Dialect) -> ReadFile:
    """Every row's commands, in file order, and the rows refused by their fields;
    ``ImportFileInvalid`` when the file as a whole cannot be read."""
    header_line = next(iter(text.splitlines()), "")
    if not header_line.strip():
        raise ImportFileInvalid(["line 1: the file has no header (the first line is empty)"])
    mapping = dialect.mapping
    expected = set(mapping.columns) if mapping is not None else set(COLUMNS)
    delimiter = dialect.delimiter or _delimiter_of(header_line, expected)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = [cell.strip() for cell in next(reader)]
    except csv.Error as bad:
        raise ImportFileInvalid([f"line 1: the header is not CSV ({bad})"]) from None
    columns = _ours(header, mapping, delimiter)
    read = ReadFile(header=header, delimiter=delimiter)
    currencies: dict[str, str] = {}
    line = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as bad:
            raise ImportFileInvalid(
                [f"line {line}: the file is not CSV from here ({bad})"]
            ) from None
        if not cells or not any(c.strip() for c in cells):
            line = reader.line_num + 1
            continue
        row = _row(cells, columns, mapping)
        account = row.get("account", "")
        try:
            _no_value_without_a_column(cells, header, mapping)
            steps = _row_steps(line, row, currencies, dialect)
        except (ValueError, ValidationError, DomainError) as bad:
            read.rejected.append(RejectedRow(line, tuple(cells), account, _sentence(bad)))
        else:
            read.rows.append(Row(line, tuple(cells), account, tuple(steps)))
        line = reader.line_num + 1
    return read


def _no_value_without_a_column(
    cells: list[str], header: list[str], mapping: Mapping | None
) -> None:
    """A value past the header's end, or (without a mapping) under a column the header leaves
    unnamed, would be dropped unread: the row is refused instead."""
    if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
        msg = f"the row has {len(cells)} cells, the header {len(header)}"
        raise ValueError(msg)
    if mapping is None:
        for position, name in enumerate(header[: len(cells)]):
            if not name and cells[position].strip():
                msg = f"cell {position + 1} has a value, and the header does not name its column"
                raise ValueError(msg)


def _delimiter_of(header_line: str, expected: set[str]) -> str:
    """The candidate that splits the header into the most expected columns (ties: the most
    cells, then the order of ``DELIMITERS``)."""

    def score(delimiter: str) -> tuple[int, int]:
        cells = next(csv.reader([header_line], delimiter=delimiter))
        return sum(c.strip() in expected for c in cells), len(cells)

    return max(DELIMITERS, key=score)


def _ours(header: list[str], mapping: Mapping | None, delimiter: str) -> dict[int, str]:
    """Our column for each position of the header that has one."""
    twice = sorted({c for c in header if c and header.count(c) > 1})
    if twice:
        raise ImportFileInvalid([f"line 1: the header names {', '.join(twice)} more than once"])
    shown = "tab" if delimiter == "\t" else repr(delimiter)
    if mapping is None:
        named = [c for c in header if c]
        if 2 * sum(c in COLUMNS for c in named) <= len(named):
            raise ImportFileInvalid(
                [
                    f"line 1 is not a header (read with the delimiter {shown}): most of it names"
                    f" none of the columns {', '.join(COLUMNS)}; give a mapping for another"
                    " system's export"
                ]
            )
        unknown = [c for c in named if c not in COLUMNS]
        if unknown:
            raise ImportFileInvalid(
                [
                    f"line 1: unknown column(s) {', '.join(unknown)}; known: {', '.join(COLUMNS)}"
                    " (a mapping file imports another system's columns)"
                ]
            )
        columns = {i: c for i, c in enumerate(header) if c}
    else:
        absent = [theirs for theirs in mapping.columns if theirs not in header]
        if absent:
            raise ImportFileInvalid(
                [
                    f"line 1: the header (read with the delimiter {shown}) has no column"
                    f" {', '.join(absent)}, which the mapping names"
                ]
            )
        columns = {header.index(theirs): ours for theirs, ours in mapping.columns.items()}
    given = set(columns.values()) | (set(mapping.constants) if mapping is not None else set())
    missing = [c for c in REQUIRED if c not in given]
    if missing:
        raise ImportFileInvalid([f"line 1: the header has no column {', '.join(missing)}"])
    return columns


def _row(cells: list[str], columns: dict[int, str], mapping: Mapping | None) -> dict[str, str]:
    row = {ours: cells[i].strip() if i < len(cells) else "" for i, ours in columns.items()}
    if mapping is not None:
        row.update(mapping.constants)
        for column, words in mapping.values.items():
            if column in row:
                row[column] = words.get(row[column], row[column])
    return row


def _row_steps(
    line: int, row: dict[str, str], currencies: dict[str, str], dialect: Dialect
) -> list[Step]:
    """The row's commands. ``currencies`` holds the currency of each account opened earlier in
    the file, so an amount finer than its currency allows is caught before anything is sent."""
    kind, account = row.get("kind", ""), row.get("account", "")
    if not account:
        raise ValueError("account is empty")
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    day = _date(row, "date", dialect)
    if kind in ("invoice", "payment") and account in currencies:
        Money(_amount(row, dialect), currencies[account])
    if kind == "account":
        currencies[account] = Money(0, _required(row, "currency")).currency
        # The same model as the API's body, so a row is held to the same fields.
        checked = OpenAccountCommand(
            account_number=account,
            name=_required(row, "name"),
            currency=_required(row, "currency"),
            opened_on=day,
            payment_terms_days=int(row.get("terms_days") or 30),
        )
        opened = OpenAccount(
            account=checked.account_number,
            name=checked.name,
            currency=checked.currency,
            opened_on=checked.opened_on,
            terms_days=checked.payment_terms_days,
        )
        return [Step(line, account, f"import:account:{account}", opened)]
    if kind == "invoice":
        invoice_number = _required(row, "number")
        charge = PostCharge(
            charge_id=f"{invoice_number}-import",
            code="IMPORT",
            description=row.get("description") or f"Imported invoice {invoice_number}",
            unit_price=_amount(row, dialect),
            service_date=day,
        )
        invoice = IssueInvoice(
            invoice_number=invoice_number,
            issued_on=day,
            charge_ids=[charge.charge_id or ""],
            due_on=_date(row, "due_on", dialect) if row.get("due_on") else None,
        )
        key = f"import:invoice:{account}:{invoice_number}"
        return [Step(line, account, f"{key}:charge", charge), Step(line, account, key, invoice)]
    payment_id = _required(row, "number")
    amount = _amount(row, dialect)
    allocated_to = row.get("invoice") or None
    payment = ReceivePayment(
        payment_id=payment_id,
        amount=amount,
        method=row.get("method") or "import",
        reference=f"imported {payment_id}",
        received_on=day,
        allocations={allocated_to: amount} if allocated_to else None,
    )
    return [Step(line, account, f"import:payment:{account}:{payment_id}", payment)]


def _required(row: dict[str, str], column: str) -> str:
    value = row.get(column, "")
    if not value:
        raise ValueError(f"{column} is empty")
    return value


def _date(row: dict[str, str], column: str, dialect: Dialect) -> date:
    value = _required(row, column)
    written = dialect.date_format_of(column)
    try:
        if written is None:
            return date.fromisoformat(value)
        return datetime.strptime(value, written).date()
    except ValueError:
        shape = "YYYY-MM-DD" if written is None else written
        raise ValueError(f"{column} {value!r} is not a date ({shape})") from None


def _amount(row: dict[str, str], dialect: Dialect) -> Decimal:
    value = _required(row, "amount")
    try:
        return parse_amount(_plain_amount(value, dialect.decimal_comma))
    except ValueError as bad:
        hint = ""
        if not dialect.decimal_comma and re.fullmatch(r"[-+]?[0-9.]*,[0-9]{1,2}", value):
            hint = " (a decimal comma? import with --decimal-comma)"
        raise ValueError(f"amount: {bad}{hint}") from None


def _validation_sentence(error: Any) -> str:
    where = ".".join(str(p) for p in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def _sentence(bad: ValueError | ValidationError | DomainError | ServiceError) -> str:
    if isinstance(bad, ValidationError):
        return _validation_sentence(bad.errors()[0])
    return str(bad)


# --- checking against the business rules ---------------------------------------------------


class _Rehearsal:
    """Applies rows' commands as ``Receivables`` would, to in-memory copies of their accounts
    (as stored, plus the rows accepted so far), saving nothing.

    What it mirrors of ``Receivables.submit``/``submit_open_account`` and the committer: an
    account opened twice or missing, the domain's rules, a key on file (or earlier in the file)
    for the same request (already imported: not applied again) or another (refused), and the
    tenant's closed periods (refused, or moved to the first open day when the tenant's policy
    re-dates). The import's commands are never under four-eyes control (a test holds them to
    it), so no approval gate is consulted.

    What it leaves for the recording: each copy with the events of its accepted rows pending,
    each account's new steps in file order (``accepted``), and each new step's request
    fingerprint and answer (``answers``: the body ``Receivables`` would have answered it with).
    """

    def __init__(
        self, app: Receivables, tenant_id: str, meta: Provenance, *, answers: bool = True
    ) -> None:
        self.app = app
        self.tenant_id = tenant_id
        self.meta = meta
        self.barrier: Barrier | None = read_barrier(app.db, tenant_id)
        self.accounts: dict[str, Account | None] = {}
        self.absent: set[str] = set()
        self.accepted: dict[str, list[Step]] = {}
        self.on_file: dict[str, str] = {}
        self.in_file: dict[str, str] = {}
        self.keep_answers = answers
        self.answers: dict[str, str] = {}

    def look_up_keys(self, rows: Sequence[Row]) -> None:
        keys = [step.key for row in rows for step in row.steps]
        for start in range(0, len(keys), _KEYS_PER_QUERY):
            chunk = keys[start : start + _KEYS_PER_QUERY]
            placeholders = ", ".join("?" for _ in chunk)
            found = self.app.db.query(
                "SELECT idempotency_key, request_sha256 FROM idempotency_keys"  # noqa: S608 - only placeholders are joined in
                f" WHERE tenant_id = ? AND idempotency_key IN ({placeholders})",
                [self.tenant_id, *chunk],
            )
            self.on_file.update({r["idempotency_key"]: r["request_sha256"] for r in found})

    def look_up_accounts(self, rows: Sequence[Row]) -> None:
        """Tell, in a few queries for the whole file, which of its accounts are not stored:
        those start empty rather than being read one by one."""
        recorder = self.app.recorder
        if not isinstance(recorder, IdempotentPostgresRecorder | IdempotentSQLiteRecorder):
            return  # each account is read when its first row is checked
        ids = {Account.id_for(self.tenant_id, row.account): row.account for row in rows}
        wanted = list(ids)
        stored: set[UUID] = set()
        for start in range(0, len(wanted), _KEYS_PER_QUERY):
            stored.update(recorder.select_histories(wanted[start : start + _KEYS_PER_QUERY], None))
        for account_id, number in ids.items():
            if account_id not in stored:
                self.accounts[number] = None
                self.absent.add(number)

    def check(self, row: Row) -> tuple[int, int]:
        """Apply the row's commands (new, already imported); ``DomainError``/``ServiceError``
        if a rule refuses one, and then none of them stays applied."""
        copy = self._copy(row.account)
        events_before = len(copy.pending_events) if copy is not None else 0
        fresh: list[Step] = []
        answers: list[str] = []
        already = 0
        shas = [step.request_sha256() for step in row.steps]
        try:
            for step, sha in zip(row.steps, shas, strict=True):
                earlier = self.on_file.get(step.key) or self.in_file.get(step.key)
                if earlier is not None:
                    if earlier != sha:
                        raise IdempotencyKeyReused(step.key)
                    already += 1
                    continue
                before = len(copy.pending_events) if copy is not None else 0
                copy, created_id = self._apply(step, copy)
                fresh.append(step)
                if self.keep_answers:
                    body = account_summary(copy, copy.pending_events[before:], created_id)
                    answers.append(json.dumps(body, separators=(",", ":")))
        except (DomainError, ServiceError):
            after = self.accounts.get(row.account)
            if after is not None and len(after.pending_events) != events_before:
                self._rebuild(row.account)
            raise
        self.accounts[row.account] = copy
        self.accepted.setdefault(row.account, []).extend(fresh)
        self.answers.update(zip((step.key for step in fresh), answers, strict=False))
        for step, sha in zip(row.steps, shas, strict=True):
            self.in_file.setdefault(step.key, sha)
        return len(fresh), already

    def _copy(self, account_number: str) -> Account | None:
        if account_number not in self.accounts:
            account_id = Account.id_for(self.tenant_id, account_number)
            self.accounts[account_number] = load_account_or_problem(
                self.app, account_id, account_number
            )
        return self.accounts[account_number]

    def _rebuild(self, account_number: str) -> None:
        """The copy as stored plus the accepted rows: a refused row may have left events."""
        del self.accounts[account_number]
        copy = None if account_number in self.absent else self._copy(account_number)
        for step in self.accepted.get(account_number, []):
            copy, _ = self._apply(step, copy)
        self.accounts[account_number] = copy

    def _apply(self, step: Step, account: Account | None) -> tuple[Account, str | None]:
        """The account after the step, and the id the step created (as the API answers it)."""
        if isinstance(step.command, OpenAccount):
            if account is not None:
                raise AccountAlreadyExists(step.account)
            opened = step.command
            account = Account.open(
                tenant_id=self.tenant_id,
                account_number=opened.account,
                name=opened.name,
                currency=opened.currency,
                effective_on=opened.opened_on,
                meta=self.meta,
                payment_terms_days=opened.terms_days,
            )
            self.accounts[step.account] = account
            self._refuse_closed_periods(account, 0)
            return account, None
        if account is None:
            raise AccountNotFound(step.account)
        self.accounts[step.account] = account
        before = len(account.pending_events)
        asked = step.command.with_id(step.key)
        command, meta = self._redated_if_allowed(asked)
        command.apply_to(account, meta)
        self._refuse_closed_periods(account, before)
        return account, getattr(asked, asked.id_field) if asked.id_field else None

    def _redated_if_allowed(self, command: AccountCommand) -> tuple[AccountCommand, Provenance]:
        barrier, on = self.barrier, command.effective_date()
        if barrier is None or not barrier.redates or on is None or on > barrier.closed_through:
            return command, self.meta
        note = f"Corrects {Period.of(on)} (dated {on}, in a closed period)"
        reason = f"{note}: {self.meta.reason}" if self.meta.reason else note
        return command.redated(barrier.first_open_day), replace(self.meta, reason=reason)

    def _refuse_closed_periods(self, account: Account, before: int) -> None:
        barrier = self.barrier
        if barrier is None:
            return
        dates = [getattr(e, "effective_on", None) for e in account.pending_events[before:]]
        inside = sorted(d for d in dates if d is not None and d <= barrier.closed_through)
        if inside:
            raise PeriodClosed(
                f"{inside[0]} is in {Period.of(barrier.closed_through)} or earlier, which is"
                f" closed; the first open date is {barrier.first_open_day}.",
                field=None,
            )


# --- the import -----------------------------------------------------------------------------


class Progress(Protocol):
    """Told each phase's size, then each piece done (a progress bar on a terminal)."""

    def start(self, phase: str, total: int) -> None: ...

    def advance(self, done: int = 1) -> None: ...


@dataclass
class ImportReport:
    """What an import found and did. ``commands`` counts the commands of the rows that passed
    the check: ``to_record`` of them new, ``already_imported`` on file from an earlier import;
    ``recorded`` counts what this import recorded."""

    rows: int = 0
    commands: int = 0
    to_record: int = 0
    recorded: int = 0
    already_imported: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    #: Rows refused while recording, although the check passed them (another writer came between).
    refused_while_recording: int = 0
    #: Transactions that each saved a chunk of whole accounts (not counting the committer's).
    transactions: int = 0
    checked_only: bool = False
    partial: bool = False
    header: list[str] = field(default_factory=list)
    delimiter: str = ","

    @property
    def refused(self) -> list[str]:
        return [rejected.sentence() for rejected in self.rejected]

    @property
    def nothing_recorded(self) -> bool:
        """Whether the import recorded nothing because of the check (or was a check only)."""
        return self.checked_only or (bool(self.rejected) and not self.partial)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "commands": self.commands,
            "to_record": self.to_record,
            "recorded": self.recorded,
            "already_imported": self.already_imported,
            "refused": self.refused,
            "rejected": [
                {"line": r.line, "account": r.account, "reason": r.reason} for r in self.rejected
            ],
            "refused_while_recording": self.refused_while_recording,
            "checked_only": self.checked_only,
            "partial": self.partial,
            "nothing_recorded": self.nothing_recorded,
        }

    def write_rejects(self, path: Path) -> None:
        """The refused rows as CSV, in the file's own delimiter: the line where each starts,
        the reason, then its cells under the file's header."""
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out, delimiter=self.delimiter)
            writer.writerow(["line", "reason", *self.header])
            for rejected in sorted(self.rejected, key=lambda r: r.line):
                writer.writerow([rejected.line, rejected.reason, *rejected.cells])


def import_file(
    app: Receivables,
    path: Path,
    *,
    tenant_id: str,
    meta: Provenance,
    dialect: Dialect | None = None,
    partial: bool = False,
    check_only: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Check the file's rows, then record them; see the module's invariants."""
    dialect = dialect or Dialect()
    read = read_file(decoded(path.read_bytes(), dialect.encoding), dialect)
    report = ImportReport(
        rows=read.row_count,
        rejected=list(read.rejected),
        checked_only=check_only,
        partial=partial,
        header=read.header,
        delimiter=read.delimiter,
    )
    rehearsal = _Rehearsal(app, tenant_id, meta, answers=not check_only)
    passed = _checked(rehearsal, read.rows, report, progress)
    report.commands = sum(len(row.steps) for row in passed)
    if report.nothing_recorded:
        return report
    _record(app, rehearsal, passed, tenant_id, meta, report, progress)
    return report


def _checked(
    rehearsal: _Rehearsal, rows: list[Row], report: ImportReport, progress: Progress | None
) -> list[Row]:
    """The rows the business rules accept, in file order; the others join ``report.rejected``."""
    rehearsal.look_up_keys(rows)
    rehearsal.look_up_accounts(rows)
    if progress is not None:
        progress.start("checking", len(rows))
    passed: list[Row] = []
    for row in rows:
        try:
            fresh, already = rehearsal.check(row)
        except (DomainError, ServiceError) as refusal:
            report.rejected.append(RejectedRow(row.line, row.cells, row.account, str(refusal)))
        else:
            passed.append(row)
            report.to_record += fresh
            report.already_imported += already
        if progress is not None:
            progress.advance()
    report.rejected.sort(key=lambda r: r.line)
    return passed


def _record(
    app: Receivables,
    rehearsal: _Rehearsal,
    rows: list[Row],
    tenant_id: str,
    meta: Provenance,
    report: ImportReport,
    progress: Progress | None,
) -> None:
    """Record what the check applied, a chunk of whole accounts per transaction; a chunk whose
    save conflicts (another writer came between) goes through the committer step by step."""
    by_line = {row.line: row for row in rows}
    if progress is not None:
        progress.start("recording", sum(len(s) for s in rehearsal.accepted.values()))
    for chunk in _chunks(rehearsal.accepted):
        steps = [step for account_steps in chunk.values() for step in account_steps]
        if _saved_as_checked(app, rehearsal, chunk):
            report.recorded += len(steps)
            report.transactions += 1
            if progress is not None:
                progress.advance(len(steps))
        else:
            _record_one_by_one(app, steps, by_line, tenant_id, meta, report, progress)
        for account in chunk:
            del rehearsal.accounts[account]  # recorded or redone: the copy is done with
    report.rejected.sort(key=lambda r: r.line)


def _chunks(accepted: dict[str, list[Step]]) -> Iterator[dict[str, list[Step]]]:
    """Whole accounts, in the order the file first names them, about ``CHUNK`` steps a time."""
    chunk: dict[str, list[Step]] = {}
    size = 0
    for account, steps in accepted.items():
        if not steps:
            continue
        if chunk and size + len(steps) > CHUNK:
            yield chunk
            chunk, size = {}, 0
        chunk[account] = steps
        size += len(steps)
    if chunk:
        yield chunk


def _saved_as_checked(
    app: Receivables, rehearsal: _Rehearsal, chunk: dict[str, list[Step]]
) -> bool:
    """Save the events the check left pending on the chunk's accounts, with every step's key
    and answer, in ONE transaction: True once stored. False, with nothing stored, when the
    save conflicts (an account moved, one of the keys or a closed period came in since); the
    store's other failures raise.

    The events take the transaction's moment as their recording time (the hash chain leaves
    it out: it is the store's fact), so an auditor's "as known at" sees them from when they
    were stored, not from when the file was checked."""
    accounts = [account for number in chunk if (account := rehearsal.accounts[number])]
    stamp = datetime.now(UTC)
    recorded_at = stamp.isoformat()
    records = []
    for account in accounts:
        pending: list[Any] = account.pending_events
        pending[:] = [replace(event, timestamp=stamp) for event in pending]
        records += [
            IdempotencyRecord(
                tenant_id=rehearsal.tenant_id,
                key=step.key,
                request_sha256=rehearsal.in_file[step.key],
                status=201,
                response=rehearsal.answers[step.key],
                account_id=str(account.id),
                recorded_at=recorded_at,
            )
            for step in chunk[account.account_number]
        ]
    saved = {account.id: len(account.pending_events) for account in accounts}
    try:
        app.save(*accounts, idempotency=records, period_guard=earliest_dates(accounts))
    except Exception as failure:
        if nothing_was_written(failure):
            return False
        raise
    _take_snapshots(app, accounts, saved, stamp)
    return True


def _take_snapshots(
    app: Receivables, accounts: list[Account], saved: dict[UUID, int], stamp: datetime
) -> None:
    """Snapshot each account whose ``saved`` events crossed a multiple of the committer's
    interval, as the committer does for its batches, with the times the store gave them."""
    if app.snapshots is None:
        return
    interval = app.committer.snapshot_interval
    taken = []
    for account in accounts:
        if account.version // interval > (account.version - saved[account.id]) // interval:
            account.modified_on = stamp
            if account.version == saved[account.id]:
                account._created_on = stamp  # eventsourcing sets it only from the first event
            taken.append(Account.Snapshot.take(account))
    if not taken:
        return
    try:
        app.snapshots.put(taken)
    except IntegrityError:
        pass  # a snapshot at that version is on file
    except Exception as failure:  # the events are stored; a later save snapshots the account
        log.warning("snapshot not saved", error=type(failure).__name__)


def _record_one_by_one(
    app: Receivables,
    steps: list[Step],
    by_line: dict[int, Row],
    tenant_id: str,
    meta: Provenance,
    report: ImportReport,
    progress: Progress | None,
) -> None:
    """Submit each step to the committer, which judges it on its account as stored now: a row
    refused there is reported once, as refused while recording."""
    refused_lines: set[int] = set()
    for step, answer in _submitted(app, steps, tenant_id, meta):
        try:
            outcome = answer.result()
        except (DomainError, ServiceError) as refusal:
            if step.line not in refused_lines:
                refused_lines.add(step.line)
                row = by_line[step.line]
                reason = f"refused while recording (the account changed since the check): {refusal}"
                report.rejected.append(RejectedRow(row.line, row.cells, row.account, reason))
                report.refused_while_recording += 1
        else:
            if outcome.replayed:
                report.already_imported += 1
            else:
                report.recorded += 1
        if progress is not None:
            progress.advance()


def _submitted(
    app: Receivables, steps: Iterable[Step], tenant_id: str, meta: Provenance
) -> Iterator[tuple[Step, Future[Outcome]]]:
    """Submit the steps in order, keeping at most ``WINDOW`` unanswered; yield each with its
    answer, in order."""
    in_flight: list[tuple[Step, Future[Outcome]]] = []
    for step in steps:
        in_flight.append((step, _submit(app, step, tenant_id, meta)))
        if len(in_flight) >= WINDOW:
            yield from in_flight[: WINDOW // 2]
            del in_flight[: WINDOW // 2]
    yield from in_flight


def _submit(app: Receivables, step: Step, tenant_id: str, meta: Provenance) -> Future[Outcome]:
    if isinstance(step.command, OpenAccount):
        opened = step.command
        return app.submit_open_account(
            tenant_id=tenant_id,
            account_number=opened.account,
            name=opened.name,
            currency=opened.currency,
            opened_on=opened.opened_on,
            payment_terms_days=opened.terms_days,
            meta=meta,
            idempotency_key=step.key,
        )
    return app.submit(
        tenant_id=tenant_id,
        account_number=step.account,
        command=step.command,
        meta=meta,
        idempotency_key=step.key,
    )
