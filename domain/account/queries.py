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

Vocabulary
    balance (everything owed, by the customer and insurers, less unapplied
    credit), customer balance, outstanding, overdue, unapplied credit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from domain import errors
from domain.account.claims import find_claim
from domain.account.core import AccountState
from domain.account.plans import plan_progress
from domain.money import Money
from domain.open_items import VOIDED, TermStatus


@dataclass(frozen=True, slots=True)
class OverdueTerm:
    """A term of an open item that is past due as of a date."""

    invoice_number: str
    index: int
    due_on: date
    outstanding: Money
    days_overdue: int
    disputed: bool
    plan_id: str | None


def overdue_terms(account: AccountState, as_of: date) -> list[OverdueTerm]:
    """Terms due before ``as_of`` with something outstanding as of that date, oldest first.

    Disputed items are listed (flagged) — they are excluded from dunning, not hidden.
    """
    result: list[OverdueTerm] = []
    for item in account.items.values():
        if item.issued_on > as_of or item.status == VOIDED:
            continue
        for status in item.term_statuses(as_of):
            if status.due_on < as_of and status.outstanding.is_positive:
                result.append(
                    OverdueTerm(
                        invoice_number=item.number,
                        index=status.index,
                        due_on=status.due_on,
                        outstanding=status.outstanding,
                        days_overdue=(as_of - status.due_on).days,
                        disputed=item.disputed,
                        plan_id=item.plan_id,
                    )
                )
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

    def overdue(self, as_of: date) -> list[OverdueTerm]:
        """Terms due before ``as_of`` with something outstanding as of that date, oldest first.

        Disputed items are listed (flagged) — they are excluded from dunning, not hidden.
        """
        return overdue_terms(self, as_of)
