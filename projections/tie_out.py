"""The tie-out: the AR control account, the aging and the account balances agree, as of a date.

An auditor asks that what the general ledger says customers owe equals what the aging report
ages and what the accounts' balances add up to. Three figures, per account and currency, from
three read models, under the same cut (``as_of`` a business date, ``known_at`` a recording
time, as the other reports take):

- **control**: the AR control account — the ledger's ``receivables`` less its
  ``unapplied_credit`` (debits less credits of both), from ``ledger_lines`` effective by the date
  (``projections.ledger``). The general-ledger journal posts exactly these lines, so it is the
  balance of the GL accounts the chart maps those two to.
- **aging**: the aging report's open total less the unapplied credit beside it
  (``projections.reports.aging``, the same query ``ar report aging`` runs), plus what is owed
  on no aged item (**not aged**): charges not yet billed and what insurers still owe on claims,
  which the caller works out from the account's own events
  (``domain.general_ledger.owed_not_aged``) for the accounts whose aging and control differ.
- **balances**: the account's ``balance_minor`` in ``account_balances``. That row holds the
  balance after every event recorded; as of an earlier date (or known at an earlier moment)
  the movements the ledger dates after the date (or recorded after the moment) are taken off.

The report *ties out* when control = aging + not aged = balances for every account and
currency. Each account where they are not is a :class:`Difference`, with the figures on each
side and the events behind the account's balance as of the date (``projections.explain``:
position, type, date, reference, amount), so the auditor can see which event one side has and
another has not. Without the not-aged figure (no caller to work it out), an unbilled charge or
an open claim is a difference of the aging side, with its events.

Amounts are integer minor units with their currency; callers format them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from projections.database import Database
from projections.explain import ExplanationLine, explain
from projections.ledger import RECEIVABLES, UNAPPLIED_CREDIT
from projections.reports import aging, known_at_text

#: The models the three figures come from (the report says how far the slowest had read).
TIE_OUT_MODELS = ("ledger", "open_items", "account_balances")

_OWED = f"('{RECEIVABLES}', '{UNAPPLIED_CREDIT}')"
#: A ledger line's effect on what is owed: debits to the control account less credits to it.
_EFFECT = (
    f"(CASE WHEN l.debit_account IN {_OWED} THEN l.amount_minor ELSE 0 END)"
    f" - (CASE WHEN l.credit_account IN {_OWED} THEN l.amount_minor ELSE 0 END)"
)


@dataclass(frozen=True)
class Figures:
    """The three figures of one account (or of a currency's total)."""

    control_minor: int = 0
    aging_minor: int = 0
    balances_minor: int = 0
    #: Owed on no aged item (unbilled charges, insurers' shares of claims); the aging's side.
    not_aged_minor: int = 0

    @property
    def ties_out(self) -> bool:
        aged_side = self.aging_minor + self.not_aged_minor
        return self.control_minor == aged_side == self.balances_minor

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            self.control_minor + other.control_minor,
            self.aging_minor + other.aging_minor,
            self.balances_minor + other.balances_minor,
            self.not_aged_minor + other.not_aged_minor,
        )


@dataclass(frozen=True)
class Difference:
    """An account whose figures disagree, with the events behind its balance."""

    account_number: str
    currency: str
    figures: Figures
    events: list[ExplanationLine]


@dataclass
class TieOut:
    as_of: date
    known_at: datetime | None
    #: Per currency, the three figures over every account.
    totals: dict[str, Figures] = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)

    @property
    def ties_out(self) -> bool:
        return not self.differences and all(f.ties_out for f in self.totals.values())


#: What an account owes on no aged item as of the date, as known at the moment, in minor units.
NotAged = Callable[[str, date, datetime | None], int]


def tie_out(
    db: Database,
    tenant_id: str,
    as_of: date,
    *,
    known_at: datetime | None = None,
    not_aged: NotAged | None = None,
) -> TieOut:
    """The tenant's tie-out as of ``as_of``, as known at ``known_at`` (now: None); with
    ``not_aged``, each account whose aging and control differ is asked what it owes on no
    aged item."""
    day, known = as_of.isoformat(), known_at_text(known_at)
    figures: dict[tuple[str, str], Figures] = {}

    def add(account: str, currency: str, found: Figures) -> None:
        key = (account, currency)
        figures[key] = figures.get(key, Figures()) + found

    for row in db.query(
        f"SELECT b.account_number, l.currency, SUM({_EFFECT}) AS owed"
        " FROM ledger_lines l JOIN account_balances b ON b.account_id = l.account_id"
        " WHERE l.tenant_id = ? AND l.effective_on <= ? AND l.recorded_at <= ?"
        " GROUP BY b.account_number, l.currency",
        (tenant_id, day, known),
    ):
        add(row["account_number"], row["currency"], Figures(control_minor=int(row["owed"])))
    for aged in aging(db, tenant_id, as_of, known_at=known_at, detail=False):
        net = aged.open_minor - aged.unapplied_credit_minor
        add(aged.account_number, aged.currency, Figures(aging_minor=net))
    for row in db.query(
        "SELECT b.account_number, b.currency, b.balance_minor - COALESCE(("
        f"  SELECT SUM({_EFFECT}) FROM ledger_lines l WHERE l.account_id = b.account_id"
        "  AND (l.effective_on > ? OR l.recorded_at > ?)), 0) AS balance"
        " FROM account_balances b WHERE b.tenant_id = ?",
        (day, known, tenant_id),
    ):
        add(row["account_number"], row["currency"], Figures(balances_minor=int(row["balance"])))

    report = TieOut(as_of, known_at)
    for (account, currency), found in sorted(figures.items()):
        if not_aged is not None and found.control_minor != found.aging_minor:
            found = found + Figures(not_aged_minor=not_aged(account, as_of, known_at))
        report.totals[currency] = report.totals.get(currency, Figures()) + found
        if found.ties_out:
            continue
        explained = explain(db, tenant_id, account, "balance", as_of, known_at=known_at)
        events = [] if explained is None else explained.lines
        report.differences.append(Difference(account, currency, found, events))
    report.totals = dict(sorted(report.totals.items()))
    return report
