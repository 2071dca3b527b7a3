"""Cash: payments received and applied, unapplied credit applied and refunded, reversals.

Concept
    A payment is cash received from the customer (see :mod:`domain.payments`). It is
    applied to open items by the clerk's split or by an allocation policy (see
    :mod:`domain.allocation`); what is not applied stays on the account as unapplied
    credit, which can later be applied or refunded. A payment that did not clear
    (returned cheque, chargeback) is reversed.

    Cash decides more than what it pays: the follow-on facts are recorded by the
    same command, after its main event and in this order — installments paid (or
    re-opened), a settlement discount earned (or taken back when its payment is
    reversed), a plan completed (or re-opened), a promise to pay kept (or re-opened,
    or broken). The rules live with their concepts (:mod:`domain.account.plans`,
    :mod:`domain.account.settlement`, :mod:`domain.account.collections`); this module
    calls them.

Invariants
    - Nothing is applied beyond what is open on an item, nor beyond what the cash or
      the credit holds.
    - Credit is used oldest payment first, and only credit from cash received on or
      before the date it is used or refunded.
    - A reversal re-opens everything its payment paid and removes its unapplied
      credit; what of it was already refunded becomes a debit the customer owes
      (``<payment_id>-REV``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from domain import errors, ledger
from domain.account.collections import reopen_promises, review_promises
from domain.account.core import AccountState, Event, require_text
from domain.account.plans import (
    CASH_CAUSE,
    OTHER_CAUSE,
    SETTLEMENT_CAUSE,
    reopen_plans,
    review_plans,
)
from domain.account.settlement import (
    SettlementDiscountApplied,
    SettlementDiscountReversed,
    active_offers,
    discounts_earned_with,
    status_of_reinstated_offer,
)
from domain.allocation import EXPLICIT, OLDEST_DUE_FIRST, allocate_by_policy, check_explicit
from domain.money import Money
from domain.open_items import REVERSAL_DEBIT, Movement, OpenItem, Term
from domain.payments import Allocation, CreditApplication, CreditDraw, Payment, draw_credit
from domain.provenance import Provenance

# ================================================================== events


class PaymentReceived(Event):
    TOPIC = "receivables.account:PaymentReceived"

    payment_id: str
    amount: Money
    method: str
    reference: str
    allocations: list[Allocation]
    allocation_policy: str

    def evolve(self, account: AccountState) -> None:
        applied = Money.sum((a.amount for a in self.allocations), self.amount.currency)
        payment = Payment(
            payment_id=self.payment_id,
            amount=self.amount,
            method=self.method,
            reference=self.reference,
            received_on=self.effective_on,
            unapplied=self.amount - applied,
            refunded=Money.zero(self.amount.currency),
        )
        account.payments[self.payment_id] = payment
        for allocation in self.allocations:
            account._move_item(
                allocation.invoice_number,
                Movement(self.effective_on, "payment", allocation.amount, self.payment_id),
            )
            payment.allocations[allocation.invoice_number] = allocation.amount
        account.credit = account.credit + payment.unapplied
        for promise in account.promises.values():
            if promise.counts(self.effective_on):
                promise.received = promise.received + self.amount
                promise.payment_ids.append(self.payment_id)
        account._post(self.effective_on, ledger.PAYMENTS, self.amount, self.payment_id)


class CreditApplied(Event):
    TOPIC = "receivables.account:CreditApplied"

    applications: list[CreditApplication]
    allocation_policy: str

    def evolve(self, account: AccountState) -> None:
        for application in self.applications:
            payment = account.payments[application.payment_id]
            payment.unapplied = payment.unapplied - application.amount
            number = application.invoice_number
            payment.allocations[number] = (
                payment.allocations.get(number, Money.zero(account.currency)) + application.amount
            )
            account._move_item(
                number,
                Movement(
                    self.effective_on, "credit_applied", application.amount, payment.payment_id
                ),
            )
            account.credit = account.credit - application.amount


class PaymentReversed(Event):
    TOPIC = "receivables.account:PaymentReversed"

    payment_id: str
    amount: Money
    reason_code: str
    reopened: list[Allocation]
    credit_removed: Money
    debit_number: str | None
    debit_amount: Money
    claim_id: str | None

    def evolve(self, account: AccountState) -> None:
        payment = account.payments[self.payment_id]
        payment.reversed_on = self.effective_on
        for promise in account.promises.values():
            if self.payment_id in promise.payment_ids:
                promise.payment_ids.remove(self.payment_id)
                promise.received = promise.received - self.amount
        for allocation in self.reopened:
            account._move_item(
                allocation.invoice_number,
                Movement(
                    self.effective_on, "payment_reversal", -allocation.amount, self.payment_id
                ),
            )
        payment.allocations = {}
        account.credit = account.credit - self.credit_removed
        payment.unapplied = payment.unapplied - self.credit_removed
        if self.claim_id is not None:
            account.claims[self.claim_id].reduce(
                Movement(self.effective_on, "payment_reversal", -self.amount, self.payment_id)
            )
        if self.debit_number is not None:
            account._add_item(
                OpenItem(
                    number=self.debit_number,
                    kind=REVERSAL_DEBIT,
                    issued_on=self.effective_on,
                    currency=self.amount.currency,
                    total=self.debit_amount,
                    subtotal=self.debit_amount,
                    tax=Money.zero(self.amount.currency),
                    terms=[Term(self.effective_on, self.debit_amount)],
                    reduced=Money.zero(self.amount.currency),
                    description=f"refunded credit of reversed payment {self.payment_id}",
                )
            )
        account._post(self.effective_on, ledger.REVERSALS, self.amount, self.payment_id)


class CreditRefunded(Event):
    TOPIC = "receivables.account:CreditRefunded"

    refund_id: str
    amount: Money
    method: str
    reference: str
    draws: list[CreditDraw]

    def evolve(self, account: AccountState) -> None:
        account.refunds[self.refund_id] = self.amount
        for draw in self.draws:
            payment = account.payments[draw.payment_id]
            payment.unapplied = payment.unapplied - draw.amount
            payment.refunded = payment.refunded + draw.amount
        account.credit = account.credit - self.amount
        account._post(self.effective_on, ledger.REFUNDS, self.amount, self.refund_id)


# ================================================================== commands


class CashCommands(AccountState):
    """Payments, credit applied and refunded, reversals, and what cash decides."""

    def receive_payment(
        self,
        *,
        payment_id: str,
        amount: Money,
        method: str,
        reference: str,
        received_on: date,
        meta: Provenance,
        allocations: Mapping[str, Money] | None = None,
        allocation_policy: str = OLDEST_DUE_FIRST,
    ) -> None:
        """Record cash received from the customer and apply it.

        With ``allocations`` the clerk's split is checked and used; otherwise the
        named ``allocation_policy`` chooses (``oldest_due_first`` by default,
        ``none`` to leave it all as credit). Whatever is not applied stays on the
        account as unapplied credit. Follow-on facts are recorded in the same
        command: plan installments paid, a settlement discount earned, a plan
        completed, a promise to pay kept.
        """
        self._check_open()
        self._new_id(payment_id, "payment_id", "Payment", [self.payments])
        require_text(method, "method", "The payment method")
        self._check_not_before_opening(received_on, "received_on")
        self._check_money(amount, "amount")
        self._check_room(ledger.PAYMENTS, amount, "amount")
        chosen, policy = self._choose_allocations(amount, allocations, allocation_policy)
        self._trigger(
            PaymentReceived,
            effective_on=received_on,
            meta=meta,
            payment_id=payment_id,
            amount=amount,
            method=method,
            reference=reference,
            allocations=chosen,
            allocation_policy=policy,
        )
        self._after_cash(received_on, meta, chosen)
        review_promises(self, received_on, meta)

    def _choose_allocations(
        self, available: Money, allocations: Mapping[str, Money] | None, policy: str
    ) -> tuple[list[Allocation], str]:
        if allocations is not None:
            return check_explicit(available, allocations, self.items), EXPLICIT
        open_items = (self.items[number] for number in self.open_items)
        return allocate_by_policy(policy, available, open_items), policy

    def apply_credit(
        self,
        *,
        applied_on: date,
        meta: Provenance,
        allocations: Mapping[str, Money] | None = None,
        allocation_policy: str = OLDEST_DUE_FIRST,
    ) -> None:
        """Apply unapplied credit to open items (oldest payment's credit used first).

        Only credit from cash received on or before ``applied_on`` can be applied.
        """
        self._check_open()
        self._check_not_before_opening(applied_on, "applied_on")
        if not self.credit.is_positive:
            raise errors.InsufficientCredit("There is no unapplied credit on this account.")
        available = self._credit_received_by(applied_on, "applied_on")
        chosen, policy = self._choose_allocations(available, allocations, allocation_policy)
        if not chosen:
            raise errors.NothingChanged("There is nothing open to apply the credit to.")
        applications: list[CreditApplication] = []
        for allocation in chosen:
            left = self._credit_left_after(applications, applied_on)
            for draw in draw_credit(left, allocation.amount):
                applications.append(
                    CreditApplication(draw.payment_id, allocation.invoice_number, draw.amount)
                )
        self._trigger(
            CreditApplied,
            effective_on=applied_on,
            meta=meta,
            applications=applications,
            allocation_policy=policy,
        )
        self._after_cash(applied_on, meta, chosen)

    def _credit_received_by(self, on: date, field: str) -> Money:
        """Unapplied credit from cash received on or before ``on``; refuses when all of the
        credit comes from cash received later (credit cannot be used before it exists)."""
        available = Money.sum(
            (p.unapplied for p in self.payments.values() if p.received_on <= on), self.currency
        )
        if not available.is_positive:
            first = min(p.received_on for p in self.payments.values() if p.unapplied.is_positive)
            raise errors.InvalidDate(
                f"The unapplied credit on this account comes from cash received on {first} or "
                f"later; it cannot be used on {on}, before it was received.",
                field=field,
            )
        return available

    def _credit_left_after(
        self, applications: Sequence[CreditApplication], received_by: date
    ) -> dict[str, Payment]:
        """Payments received by ``received_by`` with credit left once ``applications`` are
        taken (a light what-if copy)."""
        taken: dict[str, Money] = {}
        for application in applications:
            taken[application.payment_id] = (
                taken.get(application.payment_id, Money.zero(self.currency)) + application.amount
            )
        left: dict[str, Payment] = {}
        for payment in self.payments.values():
            if payment.unapplied.is_positive and payment.received_on <= received_by:
                remaining = payment.unapplied - taken.get(
                    payment.payment_id, Money.zero(self.currency)
                )
                left[payment.payment_id] = Payment(
                    payment.payment_id,
                    payment.amount,
                    payment.method,
                    payment.reference,
                    payment.received_on,
                    remaining,
                    payment.refunded,
                )
        return left

    def refund_credit(
        self,
        *,
        refund_id: str,
        amount: Money,
        method: str,
        reference: str,
        refunded_on: date,
        meta: Provenance,
    ) -> None:
        """Pay unapplied credit back to the customer."""
        self._check_open()
        self._new_id(refund_id, "refund_id", "Refund", [self.refunds])
        self._check_money(amount, "amount")
        require_text(method, "method", "The refund method")
        self._check_not_before_opening(refunded_on, "refunded_on")
        if amount > self.credit:
            raise errors.InsufficientCredit(
                f"A refund of {amount} is more than the {self.credit} of unapplied credit.",
                field="amount",
            )
        available = self._credit_received_by(refunded_on, "refunded_on")
        if amount > available:
            raise errors.InvalidDate(
                f"Only {available} of the unapplied credit comes from cash received by "
                f"{refunded_on}; a refund of {amount} on that date would pay back cash not yet "
                "received.",
                field="refunded_on",
            )
        received = {
            number: payment
            for number, payment in self.payments.items()
            if payment.received_on <= refunded_on
        }
        self._check_room(ledger.REFUNDS, amount, "amount")
        self._trigger(
            CreditRefunded,
            effective_on=refunded_on,
            meta=meta,
            refund_id=refund_id,
            amount=amount,
            method=method,
            reference=reference,
            draws=draw_credit(received, amount),
        )

    def reverse_payment(
        self, *, payment_id: str, reason_code: str, reversed_on: date, meta: Provenance
    ) -> None:
        """Reverse a payment that did not clear (returned cheque, chargeback).

        Everything it paid is re-opened, its unapplied credit is removed, and any
        of it already refunded becomes a debit the customer owes
        (``<payment_id>-REV``). What it triggered is undone as follow-on facts: a
        settlement discount earned on invoices it paid is put back
        (``SettlementDiscountReversed``), a plan it completed is active again
        (``PaymentPlanReopened``), installments it paid are re-opened, and a
        promise to pay it kept is open again (``PromiseToPayReopened``) or, past
        the promised date, broken.
        """
        self._check_open()
        payment = self.payments.get(payment_id)
        if payment is None:
            raise errors.UnknownPayment(f"There is no payment {payment_id}.", field="payment_id")
        if payment.is_reversed:
            raise errors.PaymentAlreadyReversed(
                f"Payment {payment_id} was already reversed on {payment.reversed_on}.",
                field="payment_id",
            )
        require_text(reason_code, "reason_code", "A reason code")
        self._check_not_before_opening(reversed_on, "reversed_on")
        if reversed_on < payment.received_on:
            raise errors.InvalidDate(
                f"A payment received on {payment.received_on} cannot be reversed earlier.",
                field="reversed_on",
            )
        payment_allocations = dict(payment.allocations)
        discounts = discounts_earned_with(self, payment_allocations)
        debit_number: str | None = None
        if payment.refunded.is_positive:
            debit_number = f"{payment_id}-REV"
            self._new_id(debit_number, "invoice_number", "Invoice", [self.items, self.notes])
        self._check_room(ledger.REVERSALS, payment.amount, "payment_id")
        self._trigger(
            PaymentReversed,
            effective_on=reversed_on,
            meta=meta,
            payment_id=payment_id,
            amount=payment.amount,
            reason_code=reason_code,
            reopened=[Allocation(n, a) for n, a in payment.allocations.items()],
            credit_removed=payment.unapplied,
            debit_number=debit_number,
            debit_amount=payment.refunded,
            claim_id=payment.claim_id,
        )
        touched = set(payment_allocations)
        for offer_id, applications in discounts:
            touched.update(a.invoice_number for a in applications)
            self._trigger(
                SettlementDiscountReversed,
                effective_on=reversed_on,
                meta=meta,
                offer_id=offer_id,
                amount=Money.sum((a.amount for a in applications), self.currency),
                applications=applications,
                offer_status=status_of_reinstated_offer(self, self.offers[offer_id], reversed_on),
            )
        reopen_plans(self, touched, reversed_on, meta)
        review_plans(self, reversed_on, meta, cause=OTHER_CAUSE)
        reopen_promises(self, reversed_on, meta)

    # ---------------------------------------------------------------- follow-on facts

    def _after_cash(self, on: date, meta: Provenance, applied: Sequence[Allocation]) -> None:
        """Cash (``applied``) was applied on ``on``: record what follows from it, in this
        order — installments paid, a settlement discount earned, a plan completed."""
        review_plans(self, on, meta, cause=CASH_CAUSE)
        cash: dict[str, Money] = {}
        for allocation in applied:
            number = allocation.invoice_number
            cash[number] = cash.get(number, Money.zero(self.currency)) + allocation.amount
        for offer in active_offers(self):
            # Offers recorded before duplicates were refused may name an invoice twice.
            numbers = list(dict.fromkeys(offer.invoice_numbers))
            cash_to_offer = Money.sum((cash[n] for n in numbers if n in cash), self.currency)
            if not cash_to_offer.is_positive:
                continue
            open_now = Money.sum((self.items[n].outstanding for n in numbers), self.currency)
            if offer.is_met(open_now, cash_to_offer, on):
                # The discount takes exactly what is open: no item ever goes below zero.
                applications = [
                    Allocation(n, self.items[n].outstanding)
                    for n in numbers
                    if self.items[n].outstanding.is_positive
                ]
                self._trigger(
                    SettlementDiscountApplied,
                    effective_on=on,
                    meta=meta,
                    offer_id=offer.offer_id,
                    amount=open_now,
                    applications=applications,
                )
                review_plans(self, on, meta, cause=SETTLEMENT_CAUSE)
