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

Invariants:

- The whole file is read and checked before anything is recorded: one malformed row (a bad
  date, an amount finer than its account's currency allows, an unknown kind) and nothing is
  imported; every such row is reported with its line number.
- Each row's commands carry idempotency keys made from the row's identity (kind, account,
  number), so importing the same file again — after a crash, or after fixing refused rows —
  records nothing twice: rows already imported are answered from their keys.
- A row that a business rule refuses (a payment allocated to an unknown invoice) is reported
  with its line and sentence; the rows the rules accept are recorded.
- Rows are submitted in file order without waiting for each answer, so the group committer
  saves them in large batches; one account's rows are applied in file order.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from domain.errors import DomainError
from domain.money import Money
from domain.provenance import Provenance
from services.app import Receivables
from services.commands import AccountCommand, IssueInvoice, PostCharge, ReceivePayment
from services.commands import OpenAccount as OpenAccountCommand
from services.errors import ServiceError
from services.fields import parse_amount
from services.group_commit import Outcome

COLUMNS = (
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
#: Commands in flight at once: enough for full batches, few enough to keep memory flat.
WINDOW = 2_048


class ImportFileInvalid(ValueError):
    """The file cannot be imported as it is; nothing was recorded."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} row(s) cannot be imported; nothing was recorded")


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


@dataclass
class ImportReport:
    rows: int = 0
    commands: int = 0
    recorded: int = 0
    already_imported: int = 0
    refused: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "commands": self.commands,
            "recorded": self.recorded,
            "already_imported": self.already_imported,
            "refused": self.refused,
        }


def read_steps(source: TextIO) -> tuple[int, list[Step]]:
    """Every row's commands, in file order; raises ``ImportFileInvalid`` listing every bad row."""
    reader = csv.DictReader(source)
    missing = [c for c in ("kind", "account", "date") if c not in (reader.fieldnames or [])]
    if missing:
        raise ImportFileInvalid([f"line 1: the header has no column {', '.join(missing)}"])
    unknown = [c for c in reader.fieldnames or [] if c not in COLUMNS]
    if unknown:
        raise ImportFileInvalid(
            [f"line 1: unknown column(s) {', '.join(unknown)}; known: {', '.join(COLUMNS)}"]
        )
    steps: list[Step] = []
    problems: list[str] = []
    currencies: dict[str, str] = {}
    rows = 0
    for row in reader:
        rows += 1
        line = reader.line_num
        try:
            cells = {k: (v or "").strip() for k, v in row.items() if k}
            steps.extend(_row_steps(line, cells, currencies))
        except (ValueError, ValidationError, DomainError) as bad:
            problems.append(f"line {line}: {_sentence(bad)}")
    if problems:
        raise ImportFileInvalid(problems)
    return rows, steps


def _row_steps(line: int, row: dict[str, str], currencies: dict[str, str]) -> list[Step]:
    """The row's commands. ``currencies`` holds the currency of each account opened earlier in
    the file, so an amount finer than its currency allows is caught before anything is sent."""
    kind, account = row.get("kind", ""), row.get("account", "")
    if not account:
        raise ValueError("account is empty")
    day = _date(row, "date")
    if kind in ("invoice", "payment") and account in currencies:
        Money(_amount(row), currencies[account])
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
            unit_price=_amount(row),
            service_date=day,
        )
        invoice = IssueInvoice(
            invoice_number=invoice_number,
            issued_on=day,
            charge_ids=[charge.charge_id or ""],
            due_on=_date(row, "due_on") if row.get("due_on") else None,
        )
        key = f"import:invoice:{account}:{invoice_number}"
        return [Step(line, account, f"{key}:charge", charge), Step(line, account, key, invoice)]
    if kind == "payment":
        payment_id = _required(row, "number")
        amount = _amount(row)
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
    raise ValueError(f"kind {kind!r} is not one of account, invoice, payment")


def _required(row: dict[str, str], column: str) -> str:
    value = row.get(column, "")
    if not value:
        raise ValueError(f"{column} is empty")
    return value


def _date(row: dict[str, str], column: str) -> date:
    value = _required(row, column)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{column} {value!r} is not a date (YYYY-MM-DD)") from None


def _amount(row: dict[str, str]) -> Decimal:
    value = _required(row, "amount")
    try:
        return parse_amount(value)
    except ValueError as bad:
        raise ValueError(f"amount: {bad}") from None


def _sentence(bad: ValueError | ValidationError | DomainError) -> str:
    if isinstance(bad, ValidationError):
        first = bad.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"{where}: {first['msg']}" if where else str(first["msg"])
    return str(bad)


def import_file(
    app: Receivables,
    path: Path,
    *,
    tenant_id: str,
    meta: Provenance,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import the file's rows as commands; see the module's invariants."""
    with path.open(newline="", encoding="utf-8") as source:
        rows, steps = read_steps(source)
    report = ImportReport(rows=rows, commands=len(steps))
    for step, answer in _submitted(app, steps, tenant_id, meta):
        try:
            outcome = answer.result()
        except (DomainError, ServiceError) as refusal:
            report.refused.append(f"line {step.line} ({step.account}): {refusal}")
        else:
            if outcome.replayed:
                report.already_imported += 1
            else:
                report.recorded += 1
        if progress is not None:
            progress(1)
    return report


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
