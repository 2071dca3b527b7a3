"""Payment plans: an arrangement to pay what is open on some invoices in installments.

Concept
    A customer who cannot pay in one lump sum agrees a *payment plan*: an
    installment schedule over chosen invoices (e.g. $1,000 over ten months). Cash
    still goes to the invoices; the plan watches them. An installment is *paid*
    when the plan's progress covers it, *missed* when a sweep on a later date
    finds it still outstanding after its due date. A renegotiated plan gets a new
    schedule over what is then open; the old schedules stay in its history.

Invariants
    - A plan covers open, undisputed invoices that are on no other active plan
      (:class:`~domain.errors.PlanOnDisputedInvoice`, :class:`~domain.errors.InvoiceAlreadyOnPlan`).
    - Each schedule sums to the plan's *base*: what was open on its invoices when
      it was agreed or changed (:class:`~domain.errors.ScheduleDoesNotSumToAmount`).
    - *Progress* = base − what is open now on the plan's invoices (never below
      zero, never above the base); installments are covered by progress earliest
      first (the same waterfall rule as invoice terms).
    - A plan is completed when nothing is open on its invoices, and defaulted when
      it has missed ``default_after_missed`` installments (or the clerk says so).
      A defaulted plan never changes again; a completed one is re-opened
      (``PaymentPlanReopened``) only when a payment on its invoices is reversed
      and leaves something open on them again.

Vocabulary
    base, progress, installment, missed, defaulted, completed (see above).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Final

from domain.money import Money
from domain.open_items import Term, TermStatus, waterfall

ACTIVE: Final = "active"
COMPLETED: Final = "completed"
DEFAULTED: Final = "defaulted"


@dataclass(frozen=True, slots=True)
class PlanSchedule:
    effective_on: date
    base: Money
    installments: tuple[Term, ...]


@dataclass
class PaymentPlan:
    plan_id: str
    invoice_numbers: list[str]
    agreed_on: date
    schedules: list[PlanSchedule]
    default_after_missed: int
    status: str = ACTIVE
    paid: list[int] = field(default_factory=list)
    missed: list[int] = field(default_factory=list)
    ended_on: date | None = None

    @property
    def schedule(self) -> PlanSchedule:
        return self.schedules[-1]

    def schedule_as_of(self, as_of: date | None) -> PlanSchedule | None:
        if as_of is None:
            return self.schedule
        in_force = [s for s in self.schedules if s.effective_on <= as_of]
        return in_force[-1] if in_force else None


def installment_statuses(schedule: PlanSchedule, open_now: Money) -> list[TermStatus]:
    progress = (schedule.base - open_now).max(Money.zero(open_now.currency)).min(schedule.base)
    outstanding = waterfall(schedule.installments, progress)
    return [
        TermStatus(index, term.due_on, term.amount, left)
        for index, (term, left) in enumerate(zip(schedule.installments, outstanding, strict=True))
    ]
