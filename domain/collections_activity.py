"""Collections: calls, letters and promises to pay, and the dunning level.

Concept
    A coordinator chasing an overdue account records each *collection activity*
    (a call, a letter, an email, ...) with its outcome, any *promise to pay*
    (amount by a date) — *kept* when that much cash is received between the
    promise and its date, *broken* when a sweep after the date finds it short —
    and escalates the account's *dunning level* (reminder, final notice, agency).

Invariants
    - Disputed invoices are excluded from dunning: escalation needs at least one
      overdue, undisputed invoice (:class:`~domain.errors.NothingToDun`).
    - The dunning level only goes up by escalation (0 = none).
    - A promise is kept or broken once, except that reversing a payment that
      counted towards a kept promise takes its cash back: the promise is open
      again if the reversal is dated by its date, broken otherwise.

Vocabulary
    channel: how the customer was contacted; outcome: what came of it; promise to
    pay; dunning level.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Final

from domain.money import Money

CHANNELS: Final[frozenset[str]] = frozenset({"call", "letter", "email", "sms", "visit"})

OPEN: Final = "open"
KEPT: Final = "kept"
BROKEN: Final = "broken"


@dataclass(frozen=True, slots=True)
class CollectionActivity:
    activity_id: str
    channel: str
    outcome: str
    note: str
    occurred_on: date


@dataclass
class PromiseToPay:
    promise_id: str
    amount: Money
    made_on: date
    pay_by: date
    received: Money
    status: str = OPEN
    ended_on: date | None = None
    # Payments whose cash counted towards the promise, so a reversal can take it back.
    payment_ids: list[str] = field(default_factory=list)

    def counts(self, received_on: date) -> bool:
        return self.status == OPEN and self.made_on <= received_on <= self.pay_by
