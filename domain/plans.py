"""Payment plans: an arrangement to pay what is open on some invoices in installments.

Concept
    A customer who cannot pay in one lump sum agrees a *payment plan*: an
    installment schedule over chosen invoices (e.g. $1,000 over ten months). Cash
    still goes to the invoices; the plan watches them. A renegotiated plan gets
    a new schedule over what is then open; the old schedules stay in its history.

    What reduces the plan's invoices after its schedule took effect counts in
    one of two ways, because only the customer's cash pays an installment:

    - *cash* (payments, applied credit, less their reversals) pays installments
      earliest first: an installment is *paid* when the customer's cash covers
      all of it that is still asked for;
    - *reductions* (credit notes, write-offs, settlement discounts, less
      recoveries and discounts taken back) shrink the schedule from its *last*
      installment backwards: the customer still owes the earliest installments
      as agreed, and the plan ends sooner. A reduced installment is never
      recorded as paid.

    An installment is *missed* when a sweep as of a later date finds it still
    outstanding as of that date (cash and reductions counted by business date,
    so a sweep run late decides as the dates say, not as things stand today).

Invariants
    - A plan covers open, undisputed invoices that are on no other active plan
      (:class:`~domain.errors.PlanOnDisputedInvoice`, :class:`~domain.errors.InvoiceAlreadyOnPlan`).
    - Each schedule sums to the plan's *base*: what was open on its invoices when
      it was agreed or changed (:class:`~domain.errors.ScheduleDoesNotSumToAmount`).
    - *Progress* = base − what is open now on the plan's invoices (never below
      zero, never above the base); installments are covered by progress earliest
      first (the same waterfall rule as invoice terms).
    - When nothing is open on its invoices a plan ends: *completed* when cash (or
      a settlement discount that cash earned) cleared them, *credited* when a
      credit note did, *written_off* when a write-off did (``PaymentPlanClosed``,
      never installments paid). It is *defaulted* when it has missed
      ``default_after_missed`` installments (or the clerk says so).
      A defaulted plan never changes again; a completed one is re-opened
      (``PaymentPlanReopened``) only when a payment on its invoices is reversed
      and leaves something open on them again.

Vocabulary
    base, progress, cash, reduction, installment, missed, defaulted, completed,
    credited, written off (see above).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Final

from domain.money import Money
from domain.open_items import Movement, Term, TermStatus, waterfall

ACTIVE: Final = "active"
COMPLETED: Final = "completed"
DEFAULTED: Final = "defaulted"
CREDITED: Final = "credited"
WRITTEN_OFF: Final = "written_off"

#: Movement kinds that are the customer's cash; every other kind is a reduction.
CASH_KINDS: Final[frozenset[str]] = frozenset({"payment", "credit_applied", "payment_reversal"})


@dataclass(frozen=True, slots=True)
class PlanSchedule:
    effective_on: date
    base: Money
    installments: tuple[Term, ...]
    # How many movements each invoice had when the schedule took effect: what came
    # after counts as cash or reduction. Empty for schedules recorded before this
    # was kept; those count everything taken off their base as cash.
    offsets: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InstallmentProgress:
    """An installment with what cash paid of it and what reductions took off it."""

    index: int
    due_on: date
    amount: Money
    paid: Money
    reduced: Money

    @property
    def outstanding(self) -> Money:
        return self.amount - self.paid - self.reduced

    @property
    def is_paid(self) -> bool:
        """The customer's cash covered all of it still asked for."""
        return self.paid.is_positive and self.outstanding.is_zero

    def as_term_status(self) -> TermStatus:
        return TermStatus(self.index, self.due_on, self.amount, self.outstanding)


def split_movements(movements: Iterable[Movement], currency: str) -> tuple[Money, Money]:
    """(cash, reductions) of ``movements``."""
    cash = Money.zero(currency)
    reductions = Money.zero(currency)
    for movement in movements:
        if movement.kind in CASH_KINDS:
            cash = cash + movement.amount
        else:
            reductions = reductions + movement.amount
    return cash, reductions


def installment_progress(
    schedule: PlanSchedule, cash: Money, reductions: Money
) -> list[InstallmentProgress]:
    """Reductions shrink the schedule from the last installment back; cash pays it from
    the first installment on (each clamped to what the schedule holds)."""
    zero = Money.zero(schedule.base.currency)
    reduced = reductions.max(zero).min(schedule.base)
    paid = cash.max(zero).min(schedule.base - reduced)
    installments = schedule.installments
    left_after_reduction = list(reversed(waterfall(tuple(reversed(installments)), reduced)))
    left_after_cash = waterfall(
        [Term(t.due_on, left) for t, left in zip(installments, left_after_reduction, strict=True)],
        paid,
    )
    return [
        InstallmentProgress(
            index=index,
            due_on=term.due_on,
            amount=term.amount,
            paid=after_reduction - after_cash,
            reduced=term.amount - after_reduction,
        )
        for index, (term, after_reduction, after_cash) in enumerate(
            zip(installments, left_after_reduction, left_after_cash, strict=True)
        )
    ]


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
