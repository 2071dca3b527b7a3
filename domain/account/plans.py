"""Payment plans: what is open on some invoices, paid in installments over time.

Concept
    A payment plan is an arrangement to pay what is open on some invoices by a
    schedule of installments (see :mod:`domain.plans` for the values and the
    installment arithmetic). The clerk agrees, renegotiates or defaults a plan here;
    what happens to a plan afterwards follows from other facts and is recorded by
    the command that causes it, through :func:`review_plans`: installments paid by
    cash (or re-opened when cash is reversed), and the plan ending once nothing is
    left open on its invoices. The daily sweep records installments missed and
    plans defaulted (see :mod:`domain.account.sweep`).

Invariants
    - An invoice is on at most one active plan; a disputed invoice or one with
      nothing open cannot go on a plan.
    - A schedule's installments sum to what is open on the plan's invoices when it
      is agreed or changed; a changed schedule starts over (nothing paid or missed).
    - Only the customer's cash records an installment paid; a credit note, a
      write-off or a settlement discount shrinks the schedule instead.
    - When nothing is left open, the cause decides how the plan ends: completed by
      cash or by a discount cash earned, closed as credited or written off otherwise.
    - A completed plan whose invoices are re-opened by a reversal is active again,
      unless an invoice has since gone on a newer plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Final

from domain import errors
from domain import plans as plan_rules
from domain.account.core import AccountState, Event
from domain.money import Money
from domain.open_items import Term
from domain.plans import (
    InstallmentProgress,
    PaymentPlan,
    PlanSchedule,
    installment_progress,
    split_movements,
)
from domain.provenance import Provenance
from domain.schedules import check_schedule

# What a command that may end a payment plan did to its invoices (see review_plans).
CASH_CAUSE: Final = "cash"
SETTLEMENT_CAUSE: Final = "settlement"
CREDIT_NOTE_CAUSE: Final = "credit_note"
WRITE_OFF_CAUSE: Final = "write_off"
OTHER_CAUSE: Final = "other"
PLAN_CLOSING_CAUSES: Final[dict[str, str]] = {
    CREDIT_NOTE_CAUSE: plan_rules.CREDITED,
    WRITE_OFF_CAUSE: plan_rules.WRITTEN_OFF,
}

# ================================================================== events


class PaymentPlanAgreed(Event):
    TOPIC = "receivables.account:PaymentPlanAgreed"

    plan_id: str
    invoice_numbers: list[str]
    base: Money
    installments: list[Term]
    default_after_missed: int

    def evolve(self, account: AccountState) -> None:
        account.plans[self.plan_id] = PaymentPlan(
            plan_id=self.plan_id,
            invoice_numbers=list(self.invoice_numbers),
            agreed_on=self.effective_on,
            schedules=[
                PlanSchedule(
                    self.effective_on,
                    self.base,
                    tuple(self.installments),
                    _movement_offsets(account, self.invoice_numbers),
                )
            ],
            default_after_missed=self.default_after_missed,
        )
        for number in self.invoice_numbers:
            account.items[number].plan_id = self.plan_id


class PaymentPlanChanged(Event):
    TOPIC = "receivables.account:PaymentPlanChanged"

    plan_id: str
    base: Money
    installments: list[Term]

    def evolve(self, account: AccountState) -> None:
        plan = account.plans[self.plan_id]
        plan.schedules.append(
            PlanSchedule(
                self.effective_on,
                self.base,
                tuple(self.installments),
                _movement_offsets(account, plan.invoice_numbers),
            )
        )
        plan.paid = []
        plan.missed = []


class PlanInstallmentPaid(Event):
    TOPIC = "receivables.account:PlanInstallmentPaid"

    plan_id: str
    index: int
    due_on: date
    amount: Money

    def evolve(self, account: AccountState) -> None:
        account.plans[self.plan_id].paid.append(self.index)


class PlanInstallmentReopened(Event):
    TOPIC = "receivables.account:PlanInstallmentReopened"

    plan_id: str
    index: int

    def evolve(self, account: AccountState) -> None:
        account.plans[self.plan_id].paid.remove(self.index)


class PlanInstallmentMissed(Event):
    TOPIC = "receivables.account:PlanInstallmentMissed"

    plan_id: str
    index: int
    due_on: date
    outstanding: Money

    def evolve(self, account: AccountState) -> None:
        account.plans[self.plan_id].missed.append(self.index)


class PaymentPlanDefaulted(Event):
    TOPIC = "receivables.account:PaymentPlanDefaulted"

    plan_id: str
    missed_installments: int

    def evolve(self, account: AccountState) -> None:
        _end_plan(account, self.plan_id, plan_rules.DEFAULTED, self.effective_on)


class PaymentPlanCompleted(Event):
    TOPIC = "receivables.account:PaymentPlanCompleted"

    plan_id: str

    def evolve(self, account: AccountState) -> None:
        _end_plan(account, self.plan_id, plan_rules.COMPLETED, self.effective_on)


class PaymentPlanClosed(Event):
    """Nothing is left open on the plan's invoices, but not because the customer paid:
    a credit note (``outcome`` credited) or a write-off (written_off) cleared them."""

    TOPIC = "receivables.account:PaymentPlanClosed"

    plan_id: str
    outcome: str

    def evolve(self, account: AccountState) -> None:
        _end_plan(account, self.plan_id, self.outcome, self.effective_on)


class PaymentPlanReopened(Event):
    """The payment that completed a plan was reversed: the plan is active again."""

    TOPIC = "receivables.account:PaymentPlanReopened"

    plan_id: str

    def evolve(self, account: AccountState) -> None:
        plan = account.plans[self.plan_id]
        plan.status = plan_rules.ACTIVE
        plan.ended_on = None
        for number in plan.invoice_numbers:
            account.items[number].plan_id = self.plan_id


def _movement_offsets(account: AccountState, numbers: Iterable[str]) -> dict[str, int]:
    return {number: len(account.items[number].movements) for number in numbers}


def _end_plan(account: AccountState, plan_id: str, status: str, on: date) -> None:
    plan = account.plans[plan_id]
    plan.status = status
    plan.ended_on = on
    for number in plan.invoice_numbers:
        if account.items[number].plan_id == plan_id:
            account.items[number].plan_id = None


# ================================================================== rules other concepts use


def plan_open(account: AccountState, plan: PaymentPlan, as_of: date | None = None) -> Money:
    return Money.sum(
        (account.items[n].outstanding_as_of(as_of) for n in plan.invoice_numbers), account.currency
    )


def review_plans(account: AccountState, on: date, meta: Provenance, *, cause: str) -> None:
    """Record installments newly paid (or re-opened) and plans now ended.

    Only the customer's cash (``cause`` cash) records an installment paid; a credit
    note, a write-off or a settlement discount reduces the schedule instead. When
    nothing is left open, the cause decides how the plan ends: completed by cash or
    a discount cash earned, closed as credited or written off otherwise.
    """
    for plan in [p for p in account.plans.values() if p.status == plan_rules.ACTIVE]:
        for installment in plan_progress(account, plan):
            if installment.is_paid:
                if cause == CASH_CAUSE and installment.index not in plan.paid:
                    account._trigger(
                        PlanInstallmentPaid,
                        effective_on=on,
                        meta=meta,
                        plan_id=plan.plan_id,
                        index=installment.index,
                        due_on=installment.due_on,
                        amount=installment.paid,
                    )
            elif installment.index in plan.paid:
                account._trigger(
                    PlanInstallmentReopened,
                    effective_on=on,
                    meta=meta,
                    plan_id=plan.plan_id,
                    index=installment.index,
                )
        if plan_open(account, plan).is_zero:
            if cause in PLAN_CLOSING_CAUSES:
                account._trigger(
                    PaymentPlanClosed,
                    effective_on=on,
                    meta=meta,
                    plan_id=plan.plan_id,
                    outcome=PLAN_CLOSING_CAUSES[cause],
                )
            else:
                account._trigger(
                    PaymentPlanCompleted, effective_on=on, meta=meta, plan_id=plan.plan_id
                )


def plan_progress(
    account: AccountState,
    plan: PaymentPlan,
    schedule: PlanSchedule | None = None,
    as_of: date | None = None,
) -> list[InstallmentProgress]:
    """What cash paid and reductions took off each installment of ``schedule`` (the
    current one by default), counting movements effective on or before ``as_of``."""
    schedule = schedule or plan.schedule
    if not schedule.offsets:
        paid = schedule.base - plan_open(account, plan, as_of)
        return installment_progress(schedule, paid, Money.zero(account.currency))
    movements = [
        movement
        for number in plan.invoice_numbers
        for movement in account.items[number].movements[schedule.offsets.get(number, 0) :]
        if as_of is None or movement.effective_on <= as_of
    ]
    cash, reductions = split_movements(movements, account.currency)
    return installment_progress(schedule, cash, reductions)


def reopen_plans(account: AccountState, touched: set[str], on: date, meta: Provenance) -> None:
    """Completed plans over ``touched`` invoices that are open again become active."""
    for plan in account.plans.values():
        if plan.status != plan_rules.COMPLETED or touched.isdisjoint(plan.invoice_numbers):
            continue
        if not plan_open(account, plan).is_positive:
            continue
        if any(account.items[n].plan_id is not None for n in plan.invoice_numbers):
            continue  # an invoice is on a newer plan: that plan carries it now
        account._trigger(PaymentPlanReopened, effective_on=on, meta=meta, plan_id=plan.plan_id)


# ================================================================== commands


class PlanCommands(AccountState):
    """Agreeing, renegotiating and defaulting payment plans."""

    def agree_payment_plan(
        self,
        *,
        plan_id: str,
        invoice_numbers: Sequence[str],
        installments: Sequence[Term],
        agreed_on: date,
        meta: Provenance,
        default_after_missed: int = 2,
    ) -> None:
        """Agree to pay what is open on ``invoice_numbers`` by ``installments``.

        The installments must sum to what is open on those invoices today (see
        :func:`domain.schedules.monthly_installments` to build equal ones).
        """
        self._check_open()
        self._new_id(plan_id, "plan_id", "Payment plan", [self.plans])
        self._check_not_before_opening(agreed_on, "agreed_on")
        if not invoice_numbers:
            raise errors.NothingOpenForPlan(
                "A plan needs at least one invoice.", field="invoice_numbers"
            )
        if default_after_missed < 1:
            raise errors.InvalidSchedule(
                "A plan defaults after one or more missed installments.",
                field="default_after_missed",
            )
        base = Money.zero(self.currency)
        for number in dict.fromkeys(invoice_numbers):
            item = self._live_item(number, "invoice_numbers")
            if item.disputed:
                raise errors.PlanOnDisputedInvoice(
                    f"Invoice {number} is disputed; resolve the dispute before agreeing a plan.",
                    field="invoice_numbers",
                )
            if item.plan_id is not None:
                raise errors.InvoiceAlreadyOnPlan(
                    f"Invoice {number} is already on payment plan {item.plan_id}.",
                    field="invoice_numbers",
                )
            if not item.is_open:
                raise errors.InvoiceNotOpen(
                    f"Nothing is open on invoice {number}.", field="invoice_numbers"
                )
            base = base + item.outstanding
        terms = check_schedule(installments, base, agreed_on, field="installments")
        self._trigger(
            PaymentPlanAgreed,
            effective_on=agreed_on,
            meta=meta,
            plan_id=plan_id,
            invoice_numbers=list(dict.fromkeys(invoice_numbers)),
            base=base,
            installments=terms,
            default_after_missed=default_after_missed,
        )

    def change_payment_plan(
        self, *, plan_id: str, installments: Sequence[Term], changed_on: date, meta: Provenance
    ) -> None:
        """Renegotiate: a new schedule over what is open now (the old one stays in history)."""
        self._check_open()
        plan = self._active_plan(plan_id)
        self._check_not_before_opening(changed_on, "changed_on")
        base = plan_open(self, plan)
        terms = check_schedule(installments, base, changed_on, field="installments")
        self._trigger(
            PaymentPlanChanged,
            effective_on=changed_on,
            meta=meta,
            plan_id=plan_id,
            base=base,
            installments=terms,
        )

    def default_payment_plan(self, *, plan_id: str, defaulted_on: date, meta: Provenance) -> None:
        """Declare a plan defaulted (the clerk's decision; sweeps also do it)."""
        self._check_open()
        plan = self._active_plan(plan_id)
        self._check_not_before_opening(defaulted_on, "defaulted_on")
        self._trigger(
            PaymentPlanDefaulted,
            effective_on=defaulted_on,
            meta=meta,
            plan_id=plan_id,
            missed_installments=len(plan.missed),
        )

    def _active_plan(self, plan_id: str) -> PaymentPlan:
        plan = self.plans.get(plan_id)
        if plan is None:
            raise errors.UnknownPaymentPlan(f"There is no payment plan {plan_id}.", field="plan_id")
        if plan.status != plan_rules.ACTIVE:
            raise errors.PaymentPlanNotActive(
                f"Payment plan {plan_id} is {plan.status}.", field="plan_id"
            )
        return plan
