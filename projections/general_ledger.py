"""The ledger's postings of a period, read for the general-ledger journal.

The journal (``domain.general_ledger``) is made from the ``ledger_lines`` of the ledger read
model (``projections.ledger``), each with its account's number from ``account_balances``.
A journal is cut by a *high-water mark*: the last position (event in the store's log) both
models had applied when it was made. Rows are only ever inserted there, one set per event and
always the same for the same event (a rebuild writes them again identically), so the postings
of a period up to a mark are the same whenever they are read again — even after later events,
back-dated into the period, added rows of their own (their positions are past the mark).

Invariant: :func:`high_water_mark` never names a position whose postings are not all in the
tables; :func:`period_postings` reads nothing past the mark it is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from domain.general_ledger import LedgerPosting
from domain.money import Money, from_minor_units
from domain.periods import Period
from projections.database import Database
from projections.runner import tracked_positions

#: The read models a journal reads, which must both have applied an event for its postings
#: to be read with their account numbers.
JOURNAL_MODELS = ("ledger", "account_balances")


def high_water_mark(db: Database) -> int:
    """The last position every model the journal reads has applied (0: none yet)."""
    positions = tracked_positions(db)
    return min(positions.get(name, 0) for name in JOURNAL_MODELS)


@dataclass(frozen=True)
class PostingsRead:
    """A period's postings up to a mark, and the accounts whose number was not found (their
    ``account_balances`` row missing: a read model rebuilt or altered under the journal)."""

    postings: list[LedgerPosting]
    accounts_unnamed: list[str]


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def period_postings(db: Database, tenant_id: str, period: Period, through: int) -> PostingsRead:
    """Every ledger posting of the tenant effective in ``period`` at a position up to
    ``through``, by date and position."""
    rows = db.query(
        "SELECT l.position, l.line, l.account_id, b.account_number, l.event_type,"
        " l.effective_on, l.debit_account, l.credit_account, l.amount_minor, l.currency,"
        " l.category, l.reference"
        " FROM ledger_lines l LEFT JOIN account_balances b ON b.account_id = l.account_id"
        " WHERE l.tenant_id = ? AND l.effective_on >= ? AND l.effective_on <= ?"
        " AND l.position <= ?"
        " ORDER BY l.effective_on, l.position, l.line",
        (tenant_id, period.first_day.isoformat(), period.last_day.isoformat(), through),
    )
    postings = []
    unnamed = []
    for row in rows:
        if row["account_number"] is None:
            unnamed.append(str(row["account_id"]))
            continue
        currency = str(row["currency"])
        postings.append(
            LedgerPosting(
                position=int(row["position"]),
                line=int(row["line"]),
                account_number=str(row["account_number"]),
                event_type=str(row["event_type"]),
                effective_on=_as_date(row["effective_on"]),
                debit_account=str(row["debit_account"]),
                credit_account=str(row["credit_account"]),
                amount=Money(from_minor_units(int(row["amount_minor"]), currency), currency),
                category=str(row["category"]),
                reference=str(row["reference"]),
            )
        )
    return PostingsRead(postings, sorted(set(unnamed)))
