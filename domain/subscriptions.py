"""Subscriptions: recurring price plans, billed in advance per period, prorated on change.

Concept
    A customer on a *subscription* pays a price per monthly *period*, billed in
    advance by a *billing run* (which posts one recurring charge per period not yet
    billed up to the run's date). Changing plan mid-period, Kill Bill style:

    - ``immediate``: credit the unused part of the old plan for the rest of the
      billed period, and charge the new plan for that same rest; in a period not
      yet billed, the billing run bills the old plan for the days before the
      change and the new plan for the days from it, each prorated;
    - ``next_period``: the new price applies from the next period; nothing prorated.

    Cancelling is ``immediate`` (unused part credited, no further billing; in a
    period not yet billed, the run bills only the days before the cancellation)
    or ``end_of_period`` (no credit; billing stops at the end of the period).

Invariants
    - Periods run from the start date by whole months, anchored on its day
      (Jan 31 → Feb 29 → Mar 31); a period is billed at most once.
    - **Proration rule**: ``price × days remaining / days in period``, rounded to
      the minor unit half-even, each of credit and charge on its own. Days
      remaining count from the change date (inclusive) to the period end
      (exclusive): changing halfway through a 30-day period from 20 to 30 per month
      credits 10.00 and charges 15.00.
    - A part of a period billed by a run is ``price × days in the part / days in
      period``, rounded half-even the same way (1–15 May of a 20.00 plan:
      20 × 15 / 31 = 9.68); its charge id is ``<subscription>/<first day>``.
    - One plan change at a time may wait for a run within an unbilled period
      (:class:`~domain.errors.SubscriptionChangePending`).
    - A proration credit is a charge line with a negative amount, invoiced with
      the next invoice.

Vocabulary
    period, billed until (end of the last billed period), proration, billing run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN
from typing import Final

from domain.money import Money
from domain.schedules import add_months

ACTIVE: Final = "active"
CANCELLED: Final = "cancelled"

IMMEDIATE: Final = "immediate"
NEXT_PERIOD: Final = "next_period"
END_OF_PERIOD: Final = "end_of_period"


@dataclass
class Subscription:
    subscription_id: str
    plan_code: str
    price: Money
    starts_on: date
    billed_until: date
    periods_billed: int = 0
    status: str = ACTIVE
    ends_on: date | None = None
    pending_plan_code: str | None = None
    pending_price: Money | None = None
    pending_from: date | None = None

    def period_start(self, index: int) -> date:
        return add_months(self.starts_on, index, self.starts_on.day)

    def period_containing(self, day: date) -> tuple[date, date]:
        index = (day.year - self.starts_on.year) * 12 + day.month - self.starts_on.month
        index = max(index, 0)
        while self.period_start(index) > day and index > 0:
            index -= 1
        while self.period_start(index + 1) <= day:
            index += 1
        return self.period_start(index), self.period_start(index + 1)


@dataclass(frozen=True, slots=True)
class BilledPeriod:
    """One period of one subscription billed by a run (a recurring charge)."""

    subscription_id: str
    charge_id: str
    plan_code: str
    period_start: date
    period_end: date
    amount: Money


def prorate_part(price: Money, period: tuple[date, date], first: date, end: date) -> Money:
    """The price of the days ``first`` (inclusive) to ``end`` (exclusive) of ``period``."""
    start, period_end = period
    return price.prorate((end - first).days, (period_end - start).days).round_to_minor(
        ROUND_HALF_EVEN
    )


def prorate(price: Money, period: tuple[date, date], from_day: date) -> Money:
    start, end = period
    remaining = (end - from_day).days
    days = (end - start).days
    return price.prorate(remaining, days).round_to_minor(ROUND_HALF_EVEN)
