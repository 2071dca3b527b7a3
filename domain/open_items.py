"""Open items: invoices and the other documents a customer owes money on.

Concept
    An *open item* is a receivable document: an invoice issued from charges, a
    debit note, the patient's share of an insurance claim, or the debit left when
    a refunded payment is reversed. Each has a ``total`` and a *due schedule*: one
    or more installment terms (``Term``: due date + amount) that sum to the total.

    What reduces an item — payments, applied credit, credit notes, settlement
    discounts, write-offs — and what re-opens it — payment reversals, write-off
    recoveries — is kept as dated :class:`Movement` records on the item.

Invariants
    - ``0 <= reduced <= total`` and ``outstanding = total − reduced``: nothing is
      ever allocated beyond an item's total.
    - Terms are in due-date order and sum to the total.
    - **Waterfall rule**: the net reduction fills the terms earliest-due first,
      whatever reduced it. So on an invoice of 200 with terms 60/100/40, a payment
      of 40 leaves 20/100/40, and a credit note of 100 then leaves 0/20/40; a
      reversal re-opens the latest-filled term first.
    - A voided item has no movements (voiding is refused once anything is applied).

Vocabulary
    outstanding: what is still owed on an item or term; overdue: outstanding on a
    term whose due date is before the as-of date; applied: reduced by a payment or
    credit; open: outstanding > 0 and not voided.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Final

from domain.money import Money

INVOICE: Final = "invoice"
DEBIT_NOTE: Final = "debit_note"
PATIENT_SHARE: Final = "patient_share"
REVERSAL_DEBIT: Final = "reversal_debit"

OPEN: Final = "open"
VOIDED: Final = "voided"


@dataclass(frozen=True, slots=True)
class Term:
    """One installment of a due schedule."""

    due_on: date
    amount: Money


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """A charge as it is printed on an invoice."""

    charge_id: str
    code: str
    description: str
    quantity: Decimal
    unit_price: Money
    net: Money
    tax: Money


@dataclass(frozen=True, slots=True)
class Movement:
    """A dated change to what is outstanding on an item: ``amount`` > 0 reduces it,
    ``amount`` < 0 re-opens it. ``kind`` says why (payment, credit_note, ...)."""

    effective_on: date
    kind: str
    amount: Money
    reference: str


@dataclass(frozen=True, slots=True)
class TermStatus:
    """A term as a query answers it."""

    index: int
    due_on: date
    amount: Money
    outstanding: Money


def waterfall(terms: Sequence[Term], reduced: Money) -> list[Money]:
    """Outstanding per term when ``reduced`` has been taken off, earliest term first."""
    remaining = reduced
    result: list[Money] = []
    for term in terms:
        taken = term.amount.min(remaining) if remaining.is_positive else remaining - remaining
        remaining = remaining - taken
        result.append(term.amount - taken)
    return result


def net_reduction(movements: Iterable[Movement], currency: str, as_of: date | None) -> Money:
    total = Money.zero(currency)
    for movement in movements:
        if as_of is None or movement.effective_on <= as_of:
            total = total + movement.amount
    return total


@dataclass
class OpenItem:
    """An invoice or other receivable document, with what has moved against it."""

    number: str
    kind: str
    issued_on: date
    currency: str
    total: Money
    subtotal: Money
    tax: Money
    terms: list[Term]
    reduced: Money
    charge_ids: list[str] = field(default_factory=list)
    movements: list[Movement] = field(default_factory=list)
    status: str = OPEN
    voided_on: date | None = None
    disputed: bool = False
    plan_id: str | None = None
    against: str | None = None
    claim_id: str | None = None
    description: str = ""

    @property
    def applied(self) -> Money:
        return self.reduced

    @property
    def outstanding(self) -> Money:
        if self.status == VOIDED:
            return Money.zero(self.currency)
        return self.total - self.applied

    @property
    def is_open(self) -> bool:
        return self.status == OPEN and self.outstanding.is_positive

    @property
    def first_due_on(self) -> date:
        return self.terms[0].due_on

    def reduce(self, movement: Movement) -> None:
        self.movements.append(movement)
        self.reduced = self.applied + movement.amount

    def outstanding_as_of(self, as_of: date | None) -> Money:
        if as_of is None:
            return self.outstanding
        if as_of < self.issued_on or (self.voided_on is not None and self.voided_on <= as_of):
            return Money.zero(self.currency)
        return self.total - net_reduction(self.movements, self.currency, as_of)

    def term_statuses(self, as_of: date | None = None) -> list[TermStatus]:
        # A voided item, or one not yet issued as of the date, owes nothing on any term.
        reduced = self.total - self.outstanding_as_of(as_of)
        return [
            TermStatus(index, term.due_on, term.amount, outstanding)
            for index, (term, outstanding) in enumerate(
                zip(self.terms, waterfall(self.terms, reduced), strict=True)
            )
        ]

    def earliest_open_due_on(self) -> date:
        # The allocation policy asks this of every open item on every payment: plain
        # Decimal arithmetic here keeps a payment O(open items) with a small constant.
        covered = self.reduced.amount
        for term in self.terms:
            covered -= term.amount.amount
            if covered < 0:
                return term.due_on
        return self.terms[-1].due_on
