"""Charges: what a customer was charged for a service, before it is invoiced.

Concept
    A *charge* is one service line posted to an account: a code, a description,
    a quantity, a unit price, the tax on it and the date of service. A charge is
    *uninvoiced* until an invoice takes it as a line, or *claimed* while it is
    billed to an insurer on a claim. Recurring charges come from subscription
    billing runs; proration credits are charge lines with a negative amount.

Invariants
    - ``net = quantity × unit_price`` exactly (no rounding: a product finer than
      the currency's minor unit is refused), and ``total = net + tax``.
    - A charge is on at most one invoice and at most one open claim; an invoiced
      or claimed charge cannot be voided (credit the invoice instead).
    - A voided charge stays on record, with its void date.

Vocabulary
    line: a charge as it appears on an invoice; uninvoiced: posted, not voided,
    not on an invoice, not on a claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Final

from domain.money import Money

SERVICE: Final = "service"
RECURRING: Final = "recurring"
PRORATION_CREDIT: Final = "proration_credit"
PRORATION_CHARGE: Final = "proration_charge"

POSTED: Final = "posted"
VOIDED: Final = "voided"


@dataclass
class Charge:
    charge_id: str
    code: str
    description: str
    quantity: Decimal
    unit_price: Money
    net: Money
    tax: Money
    service_date: date
    posted_on: date
    kind: str = SERVICE
    status: str = POSTED
    voided_on: date | None = None
    invoice_number: str | None = None
    claim_id: str | None = None
    subscription_id: str | None = None

    @property
    def total(self) -> Money:
        return self.net + self.tax

    @property
    def is_uninvoiced(self) -> bool:
        return self.status == POSTED and self.invoice_number is None and self.claim_id is None


@dataclass(frozen=True, slots=True)
class ChargeLine:
    """A charge as recorded on an event that creates it in bulk (billing runs, proration)."""

    charge_id: str
    code: str
    description: str
    quantity: Decimal
    unit_price: Money
    tax: Money
    service_date: date
    kind: str
    subscription_id: str | None
