"""Bank deposits: the bank's own lines, matched to the payers' remittances they pay.

A payer's remittance is one payment (:mod:`domain.remittance`): its amount, its effective date
and its trace number, which an EFT carries in its addenda (the reassociation trace) and a
cheque as its number. The bank statement says what actually arrived. The finance team imports
the statement's deposit lines (CSV, :func:`read_bank_lines`) and the reconciliation
(:meth:`Deposits.reconciliation`) puts each remittance beside the deposit that paid it:

- **matched**: a deposit with the remittance's trace number and its amount; or, for a deposit
  line without a trace, the one deposit of exactly the amount within
  :data:`DATE_WINDOW_DAYS` of the remittance's date that no other remittance claims;
- **differing**: a deposit with the remittance's trace number but another amount (the sentence
  says by how much);
- **remittances without a deposit** and **deposits without a remittance**.

Invariants:

- A file of bank lines is checked whole before anything is kept: one malformed line (a date,
  an amount that is not a positive decimal of the currency, a missing column) and nothing is
  imported; every such line is reported with its number.
- Importing the same file again keeps nothing twice: a line's id is made from its content and
  its place among identical lines of the file (two equal deposits on one day stay two).
- Bank lines are kept as the bank stated them; the match is computed when asked, never stored,
  so a remittance or a deposit arriving later changes the report and nothing else.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Final

from domain.errors import DomainError
from domain.money import Money, check_within_bound, from_minor_units, to_minor_units
from domain.schedules import EARLIEST_DATE, LATEST_DATE
from services.fields import parse_amount

if TYPE_CHECKING:
    from services.bootstrap import Runtime

#: How far apart a remittance's date and an untraced deposit's may be and still match.
DATE_WINDOW_DAYS: Final = 5
COLUMNS: Final = ("date", "amount", "trace", "description", "currency")


class BankLinesInvalid(ValueError):
    """The file of bank lines cannot be imported as it is; nothing was kept."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        first = problems[0] if problems else "no lines"
        super().__init__(f"The bank lines are refused, nothing was imported: {first}.")


@dataclass(frozen=True, slots=True)
class BankLine:
    deposit_id: str
    bank_date: date
    amount: Money
    trace_number: str
    description: str


def read_bank_lines(text: str, tenant_id: str) -> list[BankLine]:
    """The file's deposit lines, each checked; ``BankLinesInvalid`` lists every bad one."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    if not {"date", "amount"} <= set(header):
        raise BankLinesInvalid(
            [
                f"line 1: the header must name the columns date and amount (and may name "
                f"{', '.join(COLUMNS[2:])}); it names {', '.join(header) or 'nothing'}"
            ]
        )
    unknown = sorted(set(header) - set(COLUMNS))
    if unknown:
        raise BankLinesInvalid([f"line 1: unknown column(s) {', '.join(unknown)}"])
    lines: list[BankLine] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(reader, start=2):
        values = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
        if None in row:
            problems.append(f"line {number}: more values than columns")
            continue
        try:
            line = _line(values, tenant_id, seen)
        except (ValueError, DomainError) as bad:
            problems.append(f"line {number}: {bad}")
            continue
        lines.append(line)
    if problems:
        raise BankLinesInvalid(problems)
    if not lines:
        raise BankLinesInvalid(["the file holds no deposit line"])
    return lines


def _line(values: dict[str, str], tenant_id: str, seen: dict[str, int]) -> BankLine:
    try:
        bank_date = date.fromisoformat(values.get("date", ""))
    except ValueError:
        raise ValueError(f"date {values.get('date')!r} is not a date (YYYY-MM-DD)") from None
    if not EARLIEST_DATE <= bank_date <= LATEST_DATE:
        raise ValueError(f"date {bank_date} is outside {EARLIEST_DATE}..{LATEST_DATE}")
    currency = values.get("currency") or "USD"
    amount = Money(parse_amount(values.get("amount", "")), currency)
    check_within_bound(amount, "amount")
    if not amount.is_positive:
        raise ValueError("a deposit's amount must be more than zero")
    trace = values.get("trace", "")
    description = values.get("description", "")
    for text in (trace, description):
        if any(ord(c) < 32 or c == "\x7f" for c in text):
            raise ValueError("it holds a control character")
    content = "\x1f".join(
        (tenant_id, bank_date.isoformat(), str(amount.amount), currency, trace, description)
    )
    occurrence = seen.get(content, 0)
    seen[content] = occurrence + 1
    digest = hashlib.sha256(f"{content}\x1f{occurrence}".encode()).hexdigest()[:24]
    return BankLine(f"dep-{digest}", bank_date, amount, trace, description)


@dataclass(frozen=True)
class ImportedLines:
    lines: int
    new: int

    @property
    def already_imported(self) -> int:
        return self.lines - self.new


class Deposits:
    """The tenant's bank deposit lines and their reconciliation with the remittances."""

    def __init__(self, runtime: Runtime) -> None:
        self.db = runtime.db

    def import_lines(self, text: str, *, tenant_id: str, imported_on: date) -> ImportedLines:
        lines = read_bank_lines(text, tenant_id)
        rows = [
            (
                line.deposit_id,
                tenant_id,
                line.bank_date.isoformat(),
                to_minor_units(line.amount),
                line.amount.currency,
                line.trace_number,
                line.description,
                imported_on.isoformat(),
            )
            for line in lines
        ]
        ids = [line.deposit_id for line in lines]
        known = _known(self.db, ids)
        with self.db.transaction() as c:
            c.executemany(
                self.db.sql(
                    "INSERT INTO bank_deposits VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (deposit_id) DO NOTHING"
                ),
                rows,
            )
        return ImportedLines(lines=len(lines), new=len(set(ids) - known))

    def reconciliation(self, tenant_id: str) -> dict[str, Any]:
        """Each remittance beside its deposit (see the module's docstring)."""
        remittances = self.db.query(
            "SELECT remittance_id, payer_name, trace_number, currency, payment_minor,"
            " effective_on FROM remittances WHERE tenant_id = ?"
            " ORDER BY effective_on, remittance_id",
            (tenant_id,),
        )
        deposits = self.db.query(
            "SELECT deposit_id, bank_date, amount_minor, currency, trace_number, description"
            " FROM bank_deposits WHERE tenant_id = ? ORDER BY bank_date, deposit_id",
            (tenant_id,),
        )
        by_trace: dict[str, list[dict[str, Any]]] = {}
        for deposit in deposits:
            if deposit["trace_number"]:
                by_trace.setdefault(deposit["trace_number"], []).append(deposit)
        used: set[str] = set()
        matched, differing, lonely = [], [], []
        waiting = []
        for remittance in remittances:
            candidates = [
                d
                for d in by_trace.get(remittance["trace_number"], [])
                if d["deposit_id"] not in used and d["currency"] == remittance["currency"]
            ]
            exact = [d for d in candidates if d["amount_minor"] == remittance["payment_minor"]]
            if exact:
                used.add(exact[0]["deposit_id"])
                matched.append(_pair(remittance, exact[0], "trace number"))
            elif candidates:
                used.add(candidates[0]["deposit_id"])
                differing.append(_pair(remittance, candidates[0], "trace number"))
            else:
                waiting.append(remittance)
        for remittance in waiting:
            when = date.fromisoformat(str(remittance["effective_on"]))
            near = [
                d
                for d in deposits
                if not d["trace_number"]
                and d["deposit_id"] not in used
                and d["currency"] == remittance["currency"]
                and d["amount_minor"] == remittance["payment_minor"]
                and abs((date.fromisoformat(str(d["bank_date"])) - when).days) <= DATE_WINDOW_DAYS
            ]
            if len(near) == 1:
                used.add(near[0]["deposit_id"])
                matched.append(_pair(remittance, near[0], "amount and date"))
            else:
                lonely.append(_remittance(remittance))
        unclaimed = [_deposit(d) for d in deposits if d["deposit_id"] not in used]
        return {
            "matched": matched,
            "differing": differing,
            "remittances_without_deposit": lonely,
            "deposits_without_remittance": unclaimed,
            "counts": {
                "matched": len(matched),
                "differing": len(differing),
                "remittances_without_deposit": len(lonely),
                "deposits_without_remittance": len(unclaimed),
            },
        }


def _known(db: Any, ids: Sequence[str]) -> set[str]:
    """Which of these deposit ids are already kept."""
    found: set[str] = set()
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), 500):
        chunk = unique[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        rows = db.query(
            f"SELECT deposit_id FROM bank_deposits WHERE deposit_id IN ({marks})",  # noqa: S608
            chunk,
        )
        found.update(str(r["deposit_id"]) for r in rows)
    return found


def _money(minor: int, currency: str) -> str:
    return str(from_minor_units(int(minor), currency))


def _remittance(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "remittance_id": row["remittance_id"],
        "payer_name": row["payer_name"],
        "trace_number": row["trace_number"],
        "effective_on": str(row["effective_on"]),
        "currency": row["currency"],
        "payment": _money(row["payment_minor"], row["currency"]),
    }


def _deposit(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "deposit_id": row["deposit_id"],
        "bank_date": str(row["bank_date"]),
        "currency": row["currency"],
        "amount": _money(row["amount_minor"], row["currency"]),
        "trace_number": row["trace_number"],
        "description": row["description"],
    }


def _pair(remittance: dict[str, Any], deposit: dict[str, Any], by: str) -> dict[str, Any]:
    difference = int(deposit["amount_minor"]) - int(remittance["payment_minor"])
    paid, banked = _remittance(remittance), _deposit(deposit)
    pair: dict[str, Any] = {"remittance": paid, "deposit": banked, "matched_by": by}
    if difference:
        currency = remittance["currency"]
        pair["difference"] = _money(difference, currency)
        pair["sentence"] = (
            f"the bank deposited {banked['amount']}, the remittance pays {paid['payment']}: "
            f"{_money(abs(difference), currency)} {'more' if difference > 0 else 'less'}"
        )
    return pair
