"""Settlement offers: a discount for paying the rest by a date.

Concept
    To close a debt, the coordinator offers a *settlement*: take an amount off
    (``amount_off``), or accept a smaller sum (``settle_for``), if the remainder
    is paid by the *expiry* date. The discount is not given up front: it is
    applied — as its own event, ``SettlementDiscountApplied`` — only when cash
    (a payment, or unapplied credit applied) is applied *to the offer's
    invoices*, dated on or after the offer and on or before the expiry (a
    back-dated payment received before the offer never earns it), and that cash brings what is open
    on them down to the discount. Cash applied elsewhere, a credit note or a
    write-off never earns it, even if what is open is already that low. After the expiry a sweep records the offer as lapsed;
    the clerk can also withdraw it. Reversing a payment on the offer's invoices
    takes an applied discount back (``SettlementDiscountReversed``): the offer
    stands again until its expiry, or lapses if the reversal is dated after it.

Invariants
    - ``0 < discount < open`` when offered (a 100% discount is a write-off,
      not a settlement: :class:`~domain.errors.SettlementDiscountTooLarge`).
    - Exactly one of ``amount_off`` / ``settle_for`` is given.
    - An invoice is on at most one active offer, and named once on it: repeated
      numbers are collapsed, so its open amount is counted once.
    - The discount applied is what remains open (≤ the offered discount),
      spread over the offer's invoices as each one's outstanding amount.

Vocabulary
    remainder: open − discount, what the customer must pay; expiry: the last day
    cash counts; lapsed: expired unmet; withdrawn: taken back by the clerk.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final

from domain.money import Money

ACTIVE: Final = "active"
APPLIED: Final = "applied"
LAPSED: Final = "lapsed"
WITHDRAWN: Final = "withdrawn"


@dataclass
class SettlementOffer:
    offer_id: str
    invoice_numbers: list[str]
    discount: Money
    settle_for: Money | None
    open_when_made: Money
    made_on: date
    expires_on: date
    status: str = ACTIVE
    ended_on: date | None = None

    def is_met(self, open_now: Money, cash_applied: Money, on: date) -> bool:
        """``cash_applied`` to the offer's invoices on ``on`` has just brought what is
        open on them down to the discount, in time."""
        return (
            self.status == ACTIVE
            and self.made_on <= on <= self.expires_on
            and cash_applied.is_positive
            and open_now.is_positive
            and open_now <= self.discount
            and open_now + cash_applied > self.discount
        )
