"""Queries: what the account says about itself, at any date, without changing it.

Concept
    Balances (everything owed; what the customer owes; what insurers owe),
    unapplied credit, the ledger's tallies, what is outstanding on an item, a term or
    a plan installment, and what is overdue. Queries read state and the dated
    movements on it; they never record anything. The balance itself is on
    :class:`~domain.account.core.AccountState`, which keeps it with the ledger.

Invariants
    - ``balance`` = the ledger equation; ``customer_balance`` = ``balance`` − what
      insurers owe.
    - As-of queries count only movements effective on or before the date.
    - Overdue terms are listed oldest first; disputed items are listed (flagged) —
      they are excluded from dunning, not hidden.
    - What is open is aged by the item's own terms, except while a payment plan over it
      is being kept (in force as of the date): then by the plan's installments
      (:func:`aged_terms` states the rule). Overdue, aging and the worklist all age so.

Vocabulary
    balance (everything owed, by the customer and insurers, less unapplied
    credit), customer balance, outstanding, overdue, unapplied credit.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

from domain import errors
from domain.account.claims import find_claim
from domain.account.core import AccountState
from domain.account.plans import plan_progress
from domain.money import Money
from domain.open_items import TermStatus
from domain.plans import PaymentPlan


@dataclass(frozen=True, slots=True)
class OverdueTerm:
    """A term of an open item that is past due as of a date: one of the item's own terms, or
    (``plan_id`` set) the part of a payment plan's installment ``index`` that falls on it."""

    invoice_number: str
    index: int
    due_on: date
    outstanding: Money
    days_overdue: int
    disputed: bool
    plan_id: str | None


@dataclass(frozen=True, slots=True)
class AgedTerm:
    """What is open on an item as of a date and the date it is aged by: one of the item's
    own terms (``plan_id`` None, ``index`` the term's), or its part of installment ``index``
    of the payment plan ``plan_id`` in force over it."""

    invoice_number: str
    index: int
    due_on: date
    outstanding: Money
    plan_id: str | None


def plan_in_force(account: AccountState, invoice_number: str, as_of: date) -> PaymentPlan | None:
    """The payment plan that ages the invoice as of the date: agreed on or before it, and not
    defaulted, closed or completed by it (the latest agreed, should two be)."""
    found = None
    for plan in account.plans.values():  # in the order they were agreed
        if (
            invoice_number in plan.invoice_numbers
            and plan.agreed_on <= as_of
            and (plan.ended_on is None or plan.ended_on > as_of)
        ):
            found = plan
    return found


def disputed_as_of(account: AccountState, invoice_number: str, as_of: date) -> bool:
    """Whether a dispute on the item was open as of the date."""
    return any(
        d.invoice_number == invoice_number
        and d.opened_on <= as_of
        and not (d.resolved_on is not None and d.resolved_on <= as_of)
        for d in account.disputes.values()
    )


def _plan_terms(
    account: AccountState, plan: PaymentPlan, numbers: list[str], as_of: date
) -> list[AgedTerm]:
    """The open amounts of the plan's ``numbers``, taken in the plan's order, fill the
    outstanding of its installments in force as of the date, earliest first; what is left
    when they are full (only when cash was reversed beyond the schedule) is aged with the
    last installment."""
    schedule = plan.schedule_as_of(as_of)
    if schedule is None:  # pragma: no cover - a plan agreed by the date has a schedule
        return []
    installments = plan_progress(account, plan, schedule, as_of)
    last = len(installments) - 1
    result: list[AgedTerm] = []
    index, room = 0, installments[0].outstanding
    for number in numbers:
        left = account.items[number].outstanding_as_of(as_of)
        while left.is_positive:
            taken = left if index == last else left.min(room)
            if taken.is_positive:
                due_on = installments[index].due_on
                result.append(AgedTerm(number, index, due_on, taken, plan.plan_id))
                left, room = left - taken, room - taken
            if index < last and not room.is_positive:
                index += 1
                room = installments[index].outstanding
    return result


def aged_terms(
    account: AccountState, as_of: date, only: Collection[str] | None = None
) -> list[AgedTerm]:
    """What is open as of ``as_of`` on each item issued by then, by the date it is aged by;
    with ``only``, on those items alone, which must hold every invoice of each plan that
    covers one of them (a plan ages its invoices together), and then each is aged exactly as
    it is among all the account's items.

    **Payment plans.** An invoice covered by a plan in force as of the date (agreed on or
    before it; not defaulted, closed, credited, written off or completed by it) is aged by
    the plan's installments, not by its own terms: each installment of the schedule in force
    on the date keeps what cash and reductions effective by then leave of it
    (:func:`~domain.account.plans.plan_progress`), with its own due date, and the plan's
    invoices' open amounts, in the plan's order, fill those installments earliest first. A
    missed installment is so past due by its own due date. From the day the plan ends, its
    invoices are aged by their own terms again. Every other item is aged by its own terms
    (the waterfall rule), open until the day it is voided.
    """
    governed: dict[str, list[str]] = {}
    plans: dict[str, PaymentPlan] = {}
    result: list[AgedTerm] = []
    wanted = None if only is None else set(only)
    for item in account.items.values():
        if wanted is not None and item.number not in wanted:
            continue
        if item.issued_on > as_of:
            continue
        plan = plan_in_force(account, item.number, as_of)
        if plan is not None:
            governed.setdefault(plan.plan_id, []).append(item.number)
            plans[plan.plan_id] = plan
            continue
        result += [
            AgedTerm(item.number, s.index, s.due_on, s.outstanding, None)
            for s in item.term_statuses(as_of)
        ]
    for plan_id, numbers in governed.items():
        plan = plans[plan_id]
        ordered = [n for n in plan.invoice_numbers if n in numbers]
        result += _plan_terms(account, plan, ordered, as_of)
    return result


def overdue_terms(account: AccountState, as_of: date) -> list[OverdueTerm]:
    """What is past due as of ``as_of`` (aged as :func:`aged_terms` says), oldest first.

    An item voided after the date is overdue until its void; the dispute flag is whether a
    dispute was open on the date. Disputed items are listed (flagged) — they are excluded
    from dunning, not hidden.
    """
    result = [
        OverdueTerm(
            invoice_number=term.invoice_number,
            index=term.index,
            due_on=term.due_on,
            outstanding=term.outstanding,
            days_overdue=(as_of - term.due_on).days,
            disputed=disputed_as_of(account, term.invoice_number, as_of),
            plan_id=term.plan_id,
        )
        for term in aged_terms(account, as_of)
        if term.due_on < as_of and term.outstanding.is_positive
    ]
    result.sort(key=lambda t: (t.due_on, t.invoice_number, t.index))
    return result


class AccountQueries(AccountState):
    """The account's queries (``balance`` is on the state itself)."""

    @property
    def unapplied_credit(self) -> Money:
        return self.credit

    @property
    def owed_by_insurers(self) -> dict[str, Money]:
        """What each payer still owes on submitted claims."""
        owed: dict[str, Money] = {}
        for claim in self.claims.values():
            if claim.owed_by_payer.is_positive:
                owed[claim.payer] = (
                    owed.get(claim.payer, Money.zero(self.currency)) + claim.owed_by_payer
                )
        return owed

    @property
    def customer_balance(self) -> Money:
        """What the customer (the patient) owes: the balance less what insurers owe."""
        return self.balance - Money.sum(self.owed_by_insurers.values(), self.currency)

    def balance_as_of(self, as_of: date) -> Money:
        """The balance from movements effective on or before ``as_of``."""
        balance = Money.zero(self.currency)
        for entry in self.entries:
            if entry.effective_on <= as_of:
                balance = balance + entry.balance_effect
        return balance

    def ledger_totals(self) -> dict[str, Money]:
        """Per-category tallies of the balance equation (see :mod:`domain.ledger`)."""
        return dict(self.tallies)

    def outstanding(self, invoice_number: str, as_of: date | None = None) -> Money:
        """What is still owed on an invoice (or note, or patient share), now or as of a date."""
        return self._item(invoice_number).outstanding_as_of(as_of)

    def installments(self, invoice_number: str, as_of: date | None = None) -> list[TermStatus]:
        """Outstanding per due term of an invoice (the waterfall rule, earliest term first)."""
        return self._item(invoice_number).term_statuses(as_of)

    def plan_installments(self, plan_id: str, as_of: date | None = None) -> list[TermStatus]:
        """Outstanding per installment of a payment plan's schedule in force as of a date."""
        plan = self.plans.get(plan_id)
        if plan is None:
            raise errors.UnknownPaymentPlan(f"There is no payment plan {plan_id}.", field="plan_id")
        schedule = plan.schedule_as_of(as_of)
        if schedule is None:
            return []
        return [i.as_term_status() for i in plan_progress(self, plan, schedule, as_of)]

    def claim_outstanding(self, claim_id: str, as_of: date | None = None) -> Money:
        """What the payer still owes on a claim."""
        return find_claim(self, claim_id).owed_by_payer_as_of(as_of)

    def open_invoice_numbers(self) -> list[str]:
        return list(self.open_items)

    def uninvoiced_charge_ids(self) -> list[str]:
        return list(self.uninvoiced)

    def aged(self, as_of: date, only: Collection[str] | None = None) -> list[AgedTerm]:
        """What is open as of the date on each item (or on ``only`` those, with every
        invoice of their plans), by the date it is aged by (a payment plan's installments
        while the plan is kept; see :func:`aged_terms`)."""
        return aged_terms(self, as_of, only)

    def overdue(self, as_of: date) -> list[OverdueTerm]:
        """What is past due as of ``as_of``, oldest first (see :func:`overdue_terms`).

        Disputed items are listed (flagged) — they are excluded from dunning, not hidden.
        """
        return overdue_terms(self, as_of)
