"""Payments: money received, where it was applied, and what is left as credit.

Concept
    A *payment* is cash received from the customer (or from an insurer, against a
    claim). Its amount is *applied* to open items (an *allocation* per item); what
    is not applied stays on the account as *unapplied credit*, to be applied later
    or refunded. A reversed payment (returned cheque, chargeback) re-opens what it
    paid.

Invariants
    - ``amount = Σ allocations + unapplied + refunded`` for a live payment; each
      part is ≥ 0.
    - Unapplied credit is drawn first-in first-out (oldest payment first) when it
      is applied or refunded, and which payment it came from is recorded on the
      event, so reversing a payment knows exactly what to undo.
    - Credit is never used before the cash behind it was received: applying or
      refunding credit on a date draws only on payments received on or before
      it (:class:`~domain.errors.InvalidDate` when none was), as a reversal is
      never dated before its payment.
    - A reversed payment is never reversed twice; after reversal its parts are zero.

Vocabulary
    allocation: the part of a payment applied to one item; unapplied credit:
    received but not applied; refund: credit paid back to the customer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Final

from domain.money import Money

CUSTOMER: Final = "customer"


@dataclass(frozen=True, slots=True)
class Allocation:
    """Part of a payment (or of credit) applied to one open item."""

    invoice_number: str
    amount: Money


@dataclass(frozen=True, slots=True)
class CreditDraw:
    """Unapplied credit taken from one payment (for a credit application or a refund)."""

    payment_id: str
    amount: Money


@dataclass
class Payment:
    payment_id: str
    amount: Money
    method: str
    reference: str
    received_on: date
    unapplied: Money
    refunded: Money
    allocations: dict[str, Money] = field(default_factory=dict)
    payer: str = CUSTOMER
    claim_id: str | None = None
    reversed_on: date | None = None

    @property
    def is_reversed(self) -> bool:
        return self.reversed_on is not None


@dataclass(frozen=True, slots=True)
class CreditApplication:
    """Unapplied credit of one payment applied to one open item."""

    payment_id: str
    invoice_number: str
    amount: Money


def draw_credit(payments: dict[str, Payment], amount: Money) -> list[CreditDraw]:
    """Take ``amount`` of unapplied credit from payments, oldest payment first."""
    remaining = amount
    draws: list[CreditDraw] = []
    for payment in payments.values():
        if not remaining.is_positive:
            break
        if payment.unapplied.is_positive:
            taken = payment.unapplied.min(remaining)
            draws.append(CreditDraw(payment.payment_id, taken))
            remaining = remaining - taken
    return draws
