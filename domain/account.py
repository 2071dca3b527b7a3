"""The Account aggregate: one customer account of one tenant, and every fact on it.

Concept
    An *account* is where a billing coordinator records what a customer was
    charged, what they were invoiced, what they paid and every arrangement made
    about it. Its state is only ever changed by its own events, each an immutable
    fact nested here in the past tense (``Account.ChargePosted``); commands are
    imperative methods (``post_charge``) that check every rule first and then
    trigger one or more events. Nothing is half-recorded: a broken rule raises a
    :class:`~domain.errors.DomainError` before any event is triggered.

Invariants
    - The id is deterministic: ``uuid5(ACCOUNT_NAMESPACE, [tenant_id, account_number])``.
    - Every event carries its business date ``effective_on``, the caller's
      ``actor``/``reason``/``correlation_id``, and the hash chain fields
      ``previous_hash``/``event_hash`` (see :mod:`domain.hash_chain`).
    - Event topics are stable strings ``receivables.account:<Event>``, not module
      paths, so code can move without breaking stored events.
    - ``apply`` methods are deterministic (no clock, no policy): any choice a
      policy made is on the event.
    - Balance = the signed sum of ledger tallies (see :mod:`domain.ledger`) =
      Σ outstanding on open items + Σ owed by insurers on claims + Σ uninvoiced
      charges − unapplied credit.
    - The account's state is made of Money, dates, Decimals, strings, lists, dicts
      and the dataclasses listed in :mod:`domain.transcodings`, so snapshots work.

Commands (each takes ``meta: Provenance`` and a business date; all refuse with a
:class:`~domain.errors.DomainError` before recording anything)
    account: ``open``, ``change_details``, ``change_payment_terms``, ``close``;
    charges: ``post_charge``, ``void_charge``; documents: ``issue_invoice``,
    ``void_invoice``, ``issue_credit_note``, ``issue_debit_note``; cash:
    ``receive_payment``, ``apply_credit``, ``refund_credit``, ``reverse_payment``;
    bad debt: ``write_off``, ``recover_write_off``; settlement:
    ``offer_settlement``, ``withdraw_settlement_offer``; plans:
    ``agree_payment_plan``, ``change_payment_plan``, ``default_payment_plan``;
    subscriptions: ``start_subscription``, ``change_subscription_plan``,
    ``cancel_subscription``, ``run_billing``; insurance: ``submit_claim``,
    ``adjudicate_claim``, ``post_insurer_payment``, ``post_contractual_adjustment``,
    ``deny_claim``, ``appeal_claim``, ``resubmit_claim``; disputes and collections:
    ``open_dispute``, ``resolve_dispute``, ``record_collection_activity``,
    ``record_promise_to_pay``, ``escalate_dunning``; the daily ``sweep``.

    Follow-on facts are recorded by the command that causes them, after its main
    event: installments paid or re-opened, a settlement discount earned (or taken
    back when its payment is reversed), a plan completed (or re-opened), a promise
    kept.

Vocabulary
    balance (everything owed, by the customer and insurers, less unapplied
    credit), customer balance, outstanding, overdue, unapplied credit; see the
    modules for each concept: money, charges, open_items, schedules, payments,
    allocation, ledger, plans, settlement, claims, subscriptions, hash_chain.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar, Final
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain import claims as claim_rules
from domain import collections_activity as collection
from domain import disputes as dispute_rules
from domain import errors, ledger, plans, settlement, subscriptions
from domain.allocation import EXPLICIT, OLDEST_DUE_FIRST, allocate_by_policy, check_explicit
from domain.charges import PRORATION_CHARGE, PRORATION_CREDIT, RECURRING, Charge, ChargeLine
from domain.claims import Claim, ClaimAdjustment
from domain.collections_activity import CollectionActivity, PromiseToPay
from domain.disputes import Dispute
from domain.hash_chain import GENESIS_HASH, compute_hash
from domain.ledger import LedgerEntry
from domain.money import Money, check_currency, check_within_bound
from domain.open_items import (
    DEBIT_NOTE,
    INVOICE,
    PATIENT_SHARE,
    REVERSAL_DEBIT,
    VOIDED,
    InvoiceLine,
    Movement,
    OpenItem,
    Term,
    TermStatus,
)
from domain.payments import (
    Allocation,
    CreditApplication,
    CreditDraw,
    Payment,
    draw_credit,
)
from domain.plans import (
    InstallmentProgress,
    PaymentPlan,
    PlanSchedule,
    installment_progress,
    split_movements,
)
from domain.provenance import Provenance
from domain.schedules import (
    InstallmentShare,
    add_days,
    check_schedule,
    check_shares,
    normalize_shares,
    split_by_shares,
)
from domain.settlement import SettlementOffer
from domain.subscriptions import BilledPeriod, Subscription
from domain.write_offs import WriteOff

#: Fixed namespace of account ids; never change it, ids derive from it.
ACCOUNT_NAMESPACE: Final = UUID("5b0c6a52-1f0e-4d55-9d3e-7c1e0a4b8f21")

OPEN: Final = "open"
CLOSED: Final = "closed"

#: Bounds of a charge's quantity, so that quantity × unit price is always exact.
MAX_QUANTITY_DIGITS: Final = 18
MAX_QUANTITY: Final = 10**12
#: The most periods one billing run charges, over all subscriptions: years of monthly catch-up,
#: never the thousands a mistyped ``through`` date would bill.
MAX_PERIODS_PER_RUN: Final = 366

# What a command that may end a payment plan did to its invoices (see _review_plans).
CASH_CAUSE: Final = "cash"
SETTLEMENT_CAUSE: Final = "settlement"
CREDIT_NOTE_CAUSE: Final = "credit_note"
WRITE_OFF_CAUSE: Final = "write_off"
OTHER_CAUSE: Final = "other"
PLAN_CLOSING_CAUSES: Final[dict[str, str]] = {
    CREDIT_NOTE_CAUSE: plans.CREDITED,
    WRITE_OFF_CAUSE: plans.WRITTEN_OFF,
}


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


def _require_text(value: str, field: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise errors.MissingValue(f"{what} is required.", field=field)
    return value


def _require_date(value: date, field: str) -> date:
    if not isinstance(value, date):
        raise errors.MissingValue(f"The {field.replace('_', ' ')} must be a date.", field=field)
    return value


def _require_quantity(value: Decimal | int, field: str = "quantity") -> Decimal:
    if isinstance(value, float):
        raise errors.FloatAmountRefused(
            "A quantity must be given as a decimal, not a floating-point number.", field=field
        )
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise errors.InvalidQuantity("A quantity must be a decimal number.", field=field)
    quantity = Decimal(value)
    if not quantity.is_finite() or quantity <= 0:
        raise errors.InvalidQuantity("A quantity must be more than zero.", field=field)
    if len(quantity.as_tuple().digits) > MAX_QUANTITY_DIGITS or quantity >= MAX_QUANTITY:
        raise errors.InvalidQuantity(
            f"A quantity has at most {MAX_QUANTITY_DIGITS} significant digits and is less "
            f"than {MAX_QUANTITY:,}.",
            field=field,
        )
    return quantity


def _check_terms_days(days: int) -> None:
    if isinstance(days, bool) or not isinstance(days, int) or days < 0 or days > 3650:
        raise errors.InvalidPaymentTerms(
            "Payment terms must be a whole number of days between 0 and 3650.",
            field="payment_terms_days",
        )


class Account(Aggregate):
    """One customer account of one tenant."""

    TOPIC = "receivables.account:Account"

    # ================================================================== events

    class Event(Aggregate.Event):
        """Base of every account event: business date, provenance, hash chain."""

        TOPIC: ClassVar[str]

        effective_on: date
        actor: str
        reason: str | None
        correlation_id: str
        previous_hash: str
        event_hash: str

        def apply(self, aggregate: Account) -> None:
            self.evolve(aggregate)
            aggregate.last_event_hash = self.event_hash

        def evolve(self, account: Account) -> None:
            """Change the account's state; overridden by each event."""

    # ---------------------------------------------------------------- account

    class Opened(Event, Aggregate.Created):
        TOPIC = "receivables.account:Opened"

        tenant_id: str
        account_number: str
        name: str
        currency: str
        payment_terms_days: int

    # The library looks for a "Created" class; ours is called Opened.
    Created = Opened

    class DetailsChanged(Event):
        TOPIC = "receivables.account:DetailsChanged"

        name: str

        def evolve(self, account: Account) -> None:
            account.name = self.name

    class PaymentTermsChanged(Event):
        TOPIC = "receivables.account:PaymentTermsChanged"

        net_days: int
        installments: list[InstallmentShare]

        def evolve(self, account: Account) -> None:
            account.payment_terms_days = self.net_days
            account.installment_shares = list(self.installments)

    class Closed(Event):
        TOPIC = "receivables.account:Closed"

        def evolve(self, account: Account) -> None:
            account.status = CLOSED
            account.closed_on = self.effective_on

    # ---------------------------------------------------------------- charges

    class ChargePosted(Event):
        TOPIC = "receivables.account:ChargePosted"

        charge_id: str
        code: str
        description: str
        quantity: Decimal
        unit_price: Money
        net: Money
        tax: Money
        service_date: date

        def evolve(self, account: Account) -> None:
            account.charges[self.charge_id] = Charge(
                charge_id=self.charge_id,
                code=self.code,
                description=self.description,
                quantity=self.quantity,
                unit_price=self.unit_price,
                net=self.net,
                tax=self.tax,
                service_date=self.service_date,
                posted_on=self.effective_on,
            )
            account.uninvoiced[self.charge_id] = True
            account._post(self.effective_on, ledger.CHARGES, self.net + self.tax, self.charge_id)

    class ChargeVoided(Event):
        TOPIC = "receivables.account:ChargeVoided"

        charge_id: str
        amount: Money

        def evolve(self, account: Account) -> None:
            charge = account.charges[self.charge_id]
            charge.status = "voided"
            charge.voided_on = self.effective_on
            account.uninvoiced.pop(self.charge_id, None)
            account._post(self.effective_on, ledger.CHARGES, -self.amount, self.charge_id)

    # ---------------------------------------------------------------- invoices

    class InvoiceIssued(Event):
        TOPIC = "receivables.account:InvoiceIssued"

        invoice_number: str
        lines: list[InvoiceLine]
        subtotal: Money
        tax: Money
        total: Money
        terms: list[Term]

        def evolve(self, account: Account) -> None:
            charge_ids = [line.charge_id for line in self.lines]
            account._add_item(
                OpenItem(
                    number=self.invoice_number,
                    kind=INVOICE,
                    issued_on=self.effective_on,
                    currency=self.total.currency,
                    total=self.total,
                    subtotal=self.subtotal,
                    tax=self.tax,
                    terms=list(self.terms),
                    reduced=Money.zero(self.total.currency),
                    charge_ids=charge_ids,
                )
            )
            for charge_id in charge_ids:
                account.charges[charge_id].invoice_number = self.invoice_number
                account.uninvoiced.pop(charge_id, None)

    class InvoiceVoided(Event):
        TOPIC = "receivables.account:InvoiceVoided"

        invoice_number: str

        def evolve(self, account: Account) -> None:
            item = account.items[self.invoice_number]
            item.status = VOIDED
            item.voided_on = self.effective_on
            account.open_items.pop(self.invoice_number, None)
            for charge_id in item.charge_ids:
                account.charges[charge_id].invoice_number = None
                account.uninvoiced[charge_id] = True
            if item.kind == DEBIT_NOTE:
                account._post(self.effective_on, ledger.DEBIT_NOTES, -item.total, item.number)

    class CreditNoteIssued(Event):
        TOPIC = "receivables.account:CreditNoteIssued"

        note_number: str
        invoice_number: str
        amount: Money
        description: str

        def evolve(self, account: Account) -> None:
            account.notes[self.note_number] = self.invoice_number
            account._move_item(
                self.invoice_number,
                Movement(self.effective_on, "credit_note", self.amount, self.note_number),
            )
            account._post(self.effective_on, ledger.CREDITS, self.amount, self.note_number)

    class DebitNoteIssued(Event):
        TOPIC = "receivables.account:DebitNoteIssued"

        note_number: str
        amount: Money
        due_on: date
        description: str
        against_invoice: str | None

        def evolve(self, account: Account) -> None:
            account.notes[self.note_number] = self.against_invoice or self.note_number
            account._add_item(
                OpenItem(
                    number=self.note_number,
                    kind=DEBIT_NOTE,
                    issued_on=self.effective_on,
                    currency=self.amount.currency,
                    total=self.amount,
                    subtotal=self.amount,
                    tax=Money.zero(self.amount.currency),
                    terms=[Term(self.due_on, self.amount)],
                    reduced=Money.zero(self.amount.currency),
                    against=self.against_invoice,
                    description=self.description,
                )
            )
            account._post(self.effective_on, ledger.DEBIT_NOTES, self.amount, self.note_number)

    # ---------------------------------------------------------------- payments

    class PaymentReceived(Event):
        TOPIC = "receivables.account:PaymentReceived"

        payment_id: str
        amount: Money
        method: str
        reference: str
        allocations: list[Allocation]
        allocation_policy: str

        def evolve(self, account: Account) -> None:
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

        def evolve(self, account: Account) -> None:
            for application in self.applications:
                payment = account.payments[application.payment_id]
                payment.unapplied = payment.unapplied - application.amount
                number = application.invoice_number
                payment.allocations[number] = (
                    payment.allocations.get(number, Money.zero(account.currency))
                    + application.amount
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

        def evolve(self, account: Account) -> None:
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

        def evolve(self, account: Account) -> None:
            account.refunds[self.refund_id] = self.amount
            for draw in self.draws:
                payment = account.payments[draw.payment_id]
                payment.unapplied = payment.unapplied - draw.amount
                payment.refunded = payment.refunded + draw.amount
            account.credit = account.credit - self.amount
            account._post(self.effective_on, ledger.REFUNDS, self.amount, self.refund_id)

    # ---------------------------------------------------------------- write-offs

    class WrittenOff(Event):
        TOPIC = "receivables.account:WrittenOff"

        write_off_id: str
        invoice_number: str
        amount: Money

        def evolve(self, account: Account) -> None:
            account.write_offs[self.write_off_id] = WriteOff(
                write_off_id=self.write_off_id,
                invoice_number=self.invoice_number,
                amount=self.amount,
                written_off_on=self.effective_on,
                recovered=Money.zero(self.amount.currency),
            )
            account._move_item(
                self.invoice_number,
                Movement(self.effective_on, "write_off", self.amount, self.write_off_id),
            )
            account._post(self.effective_on, ledger.WRITE_OFFS, self.amount, self.write_off_id)

    class WriteOffRecovered(Event):
        TOPIC = "receivables.account:WriteOffRecovered"

        write_off_id: str
        invoice_number: str
        amount: Money

        def evolve(self, account: Account) -> None:
            write_off = account.write_offs[self.write_off_id]
            write_off.recovered = write_off.recovered + self.amount
            account._move_item(
                self.invoice_number,
                Movement(self.effective_on, "write_off_recovery", -self.amount, self.write_off_id),
            )
            account._post(self.effective_on, ledger.RECOVERIES, self.amount, self.write_off_id)

    # ---------------------------------------------------------------- settlement

    class SettlementOffered(Event):
        TOPIC = "receivables.account:SettlementOffered"

        offer_id: str
        invoice_numbers: list[str]
        discount: Money
        settle_for: Money | None
        open_when_made: Money
        expires_on: date

        def evolve(self, account: Account) -> None:
            account.offers[self.offer_id] = SettlementOffer(
                offer_id=self.offer_id,
                invoice_numbers=list(self.invoice_numbers),
                discount=self.discount,
                settle_for=self.settle_for,
                open_when_made=self.open_when_made,
                made_on=self.effective_on,
                expires_on=self.expires_on,
            )

    class SettlementOfferWithdrawn(Event):
        TOPIC = "receivables.account:SettlementOfferWithdrawn"

        offer_id: str

        def evolve(self, account: Account) -> None:
            account._end_offer(self.offer_id, settlement.WITHDRAWN, self.effective_on)

    class SettlementOfferLapsed(Event):
        TOPIC = "receivables.account:SettlementOfferLapsed"

        offer_id: str

        def evolve(self, account: Account) -> None:
            account._end_offer(self.offer_id, settlement.LAPSED, self.effective_on)

    class SettlementDiscountApplied(Event):
        TOPIC = "receivables.account:SettlementDiscountApplied"

        offer_id: str
        amount: Money
        applications: list[Allocation]

        def evolve(self, account: Account) -> None:
            for application in self.applications:
                account._move_item(
                    application.invoice_number,
                    Movement(
                        self.effective_on, "settlement_discount", application.amount, self.offer_id
                    ),
                )
            account._end_offer(self.offer_id, settlement.APPLIED, self.effective_on)
            account._post(self.effective_on, ledger.DISCOUNTS, self.amount, self.offer_id)

    class SettlementDiscountReversed(Event):
        """The payment that earned a discount was reversed: the discount is put back on
        the invoices and the offer stands again (``offer_status`` active) or, past its
        expiry, lapses."""

        TOPIC = "receivables.account:SettlementDiscountReversed"

        offer_id: str
        amount: Money
        applications: list[Allocation]
        offer_status: str

        def evolve(self, account: Account) -> None:
            for application in self.applications:
                account._move_item(
                    application.invoice_number,
                    Movement(
                        self.effective_on,
                        "settlement_discount_reversal",
                        -application.amount,
                        self.offer_id,
                    ),
                )
            offer = account.offers[self.offer_id]
            offer.status = self.offer_status
            offer.ended_on = None if self.offer_status == settlement.ACTIVE else self.effective_on
            account._post(self.effective_on, ledger.DISCOUNTS, -self.amount, self.offer_id)

    # ---------------------------------------------------------------- payment plans

    class PaymentPlanAgreed(Event):
        TOPIC = "receivables.account:PaymentPlanAgreed"

        plan_id: str
        invoice_numbers: list[str]
        base: Money
        installments: list[Term]
        default_after_missed: int

        def evolve(self, account: Account) -> None:
            account.plans[self.plan_id] = PaymentPlan(
                plan_id=self.plan_id,
                invoice_numbers=list(self.invoice_numbers),
                agreed_on=self.effective_on,
                schedules=[
                    PlanSchedule(
                        self.effective_on,
                        self.base,
                        tuple(self.installments),
                        account._movement_offsets(self.invoice_numbers),
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

        def evolve(self, account: Account) -> None:
            plan = account.plans[self.plan_id]
            plan.schedules.append(
                PlanSchedule(
                    self.effective_on,
                    self.base,
                    tuple(self.installments),
                    account._movement_offsets(plan.invoice_numbers),
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

        def evolve(self, account: Account) -> None:
            account.plans[self.plan_id].paid.append(self.index)

    class PlanInstallmentReopened(Event):
        TOPIC = "receivables.account:PlanInstallmentReopened"

        plan_id: str
        index: int

        def evolve(self, account: Account) -> None:
            account.plans[self.plan_id].paid.remove(self.index)

    class PlanInstallmentMissed(Event):
        TOPIC = "receivables.account:PlanInstallmentMissed"

        plan_id: str
        index: int
        due_on: date
        outstanding: Money

        def evolve(self, account: Account) -> None:
            account.plans[self.plan_id].missed.append(self.index)

    class PaymentPlanDefaulted(Event):
        TOPIC = "receivables.account:PaymentPlanDefaulted"

        plan_id: str
        missed_installments: int

        def evolve(self, account: Account) -> None:
            account._end_plan(self.plan_id, plans.DEFAULTED, self.effective_on)

    class PaymentPlanCompleted(Event):
        TOPIC = "receivables.account:PaymentPlanCompleted"

        plan_id: str

        def evolve(self, account: Account) -> None:
            account._end_plan(self.plan_id, plans.COMPLETED, self.effective_on)

    class PaymentPlanClosed(Event):
        """Nothing is left open on the plan's invoices, but not because the customer paid:
        a credit note (``outcome`` credited) or a write-off (written_off) cleared them."""

        TOPIC = "receivables.account:PaymentPlanClosed"

        plan_id: str
        outcome: str

        def evolve(self, account: Account) -> None:
            account._end_plan(self.plan_id, self.outcome, self.effective_on)

    class PaymentPlanReopened(Event):
        """The payment that completed a plan was reversed: the plan is active again."""

        TOPIC = "receivables.account:PaymentPlanReopened"

        plan_id: str

        def evolve(self, account: Account) -> None:
            plan = account.plans[self.plan_id]
            plan.status = plans.ACTIVE
            plan.ended_on = None
            for number in plan.invoice_numbers:
                account.items[number].plan_id = self.plan_id

    # ---------------------------------------------------------------- subscriptions

    class SubscriptionStarted(Event):
        TOPIC = "receivables.account:SubscriptionStarted"

        subscription_id: str
        plan_code: str
        price: Money

        def evolve(self, account: Account) -> None:
            account.subscriptions[self.subscription_id] = Subscription(
                subscription_id=self.subscription_id,
                plan_code=self.plan_code,
                price=self.price,
                starts_on=self.effective_on,
                billed_until=self.effective_on,
            )

    class SubscriptionPlanChanged(Event):
        TOPIC = "receivables.account:SubscriptionPlanChanged"

        subscription_id: str
        plan_code: str
        price: Money
        timing: str
        applies_from: date
        proration: list[ChargeLine]

        def evolve(self, account: Account) -> None:
            subscription = account.subscriptions[self.subscription_id]
            # An immediate change in a period not yet billed waits for the billing run,
            # which bills the old plan up to the change and the new one from it.
            if (
                self.timing == subscriptions.IMMEDIATE
                and self.applies_from < subscription.billed_until
            ):
                subscription.plan_code = self.plan_code
                subscription.price = self.price
                subscription.pending_plan_code = None
                subscription.pending_price = None
                subscription.pending_from = None
            else:
                subscription.pending_plan_code = self.plan_code
                subscription.pending_price = self.price
                subscription.pending_from = self.applies_from
            account._add_charge_lines(self.proration, self.effective_on)

    class SubscriptionCancelled(Event):
        TOPIC = "receivables.account:SubscriptionCancelled"

        subscription_id: str
        timing: str
        ends_on: date
        proration: list[ChargeLine]

        def evolve(self, account: Account) -> None:
            subscription = account.subscriptions[self.subscription_id]
            subscription.status = subscriptions.CANCELLED
            subscription.ends_on = self.ends_on
            account._add_charge_lines(self.proration, self.effective_on)

    class BillingRunCompleted(Event):
        TOPIC = "receivables.account:BillingRunCompleted"

        run_id: str
        periods: list[BilledPeriod]

        def evolve(self, account: Account) -> None:
            account.billing_runs[self.run_id] = self.effective_on
            for period in self.periods:
                subscription = account.subscriptions[period.subscription_id]
                if (
                    subscription.pending_from is not None
                    and subscription.pending_from <= period.period_start
                ):
                    subscription.plan_code = subscription.pending_plan_code or ""
                    subscription.price = subscription.pending_price or subscription.price
                    subscription.pending_plan_code = None
                    subscription.pending_price = None
                    subscription.pending_from = None
                subscription.billed_until = period.period_end
                # A period billed in parts (a change or cancellation within it) counts once.
                if period.period_end == subscription.period_start(subscription.periods_billed + 1):
                    subscription.periods_billed += 1
                account._add_charge(
                    Charge(
                        charge_id=period.charge_id,
                        code=period.plan_code,
                        description=(
                            f"{period.plan_code} {period.period_start} to {period.period_end}"
                        ),
                        quantity=Decimal(1),
                        unit_price=period.amount,
                        net=period.amount,
                        tax=Money.zero(period.amount.currency),
                        service_date=period.period_start,
                        posted_on=self.effective_on,
                        kind=RECURRING,
                        subscription_id=period.subscription_id,
                    )
                )

    # ---------------------------------------------------------------- insurance claims

    class ClaimSubmitted(Event):
        TOPIC = "receivables.account:ClaimSubmitted"

        claim_id: str
        payer: str
        charge_ids: list[str]
        billed: Money

        def evolve(self, account: Account) -> None:
            account.claims[self.claim_id] = Claim(
                claim_id=self.claim_id,
                payer=self.payer,
                charge_ids=list(self.charge_ids),
                billed=self.billed,
                submitted_on=self.effective_on,
                reduced=Money.zero(self.billed.currency),
            )
            for charge_id in self.charge_ids:
                account.charges[charge_id].claim_id = self.claim_id
                account.uninvoiced.pop(charge_id, None)

    class ClaimAdjudicated(Event):
        TOPIC = "receivables.account:ClaimAdjudicated"

        claim_id: str
        paid: Money
        adjustments: list[ClaimAdjustment]
        patient_share: Money
        patient_invoice_number: str | None
        patient_due_on: date

        def evolve(self, account: Account) -> None:
            claim = account.claims[self.claim_id]
            claim.status = claim_rules.ADJUDICATED
            claim.adjustments = list(self.adjustments)
            claim.paid_per_remittance = self.paid
            claim.patient_share = self.patient_share
            claim.patient_invoice_number = self.patient_invoice_number
            if self.patient_invoice_number is not None:
                claim.reduce(
                    Movement(self.effective_on, "patient_share", self.patient_share, self.claim_id)
                )
                account._add_item(
                    OpenItem(
                        number=self.patient_invoice_number,
                        kind=PATIENT_SHARE,
                        issued_on=self.effective_on,
                        currency=self.patient_share.currency,
                        total=self.patient_share,
                        subtotal=self.patient_share,
                        tax=Money.zero(self.patient_share.currency),
                        terms=[Term(self.patient_due_on, self.patient_share)],
                        reduced=Money.zero(self.patient_share.currency),
                        claim_id=self.claim_id,
                        description=f"patient responsibility on claim {self.claim_id}",
                    )
                )

    class InsurerPaymentPosted(Event):
        TOPIC = "receivables.account:InsurerPaymentPosted"

        claim_id: str
        payment_id: str
        amount: Money
        method: str
        reference: str

        def evolve(self, account: Account) -> None:
            claim = account.claims[self.claim_id]
            account.payments[self.payment_id] = Payment(
                payment_id=self.payment_id,
                amount=self.amount,
                method=self.method,
                reference=self.reference,
                received_on=self.effective_on,
                unapplied=Money.zero(self.amount.currency),
                refunded=Money.zero(self.amount.currency),
                payer=claim.payer,
                claim_id=self.claim_id,
            )
            claim.reduce(
                Movement(self.effective_on, "insurer_payment", self.amount, self.payment_id)
            )
            account._post(self.effective_on, ledger.PAYMENTS, self.amount, self.payment_id)

    class ContractualAdjustmentPosted(Event):
        TOPIC = "receivables.account:ContractualAdjustmentPosted"

        claim_id: str
        amount: Money

        def evolve(self, account: Account) -> None:
            claim = account.claims[self.claim_id]
            claim.contractual_posted = True
            claim.reduce(
                Movement(self.effective_on, "contractual_adjustment", self.amount, self.claim_id)
            )
            account._post(
                self.effective_on, ledger.CONTRACTUAL_ADJUSTMENTS, self.amount, self.claim_id
            )

    class ClaimDenied(Event):
        TOPIC = "receivables.account:ClaimDenied"

        claim_id: str
        reason_code: str

        def evolve(self, account: Account) -> None:
            claim = account.claims[self.claim_id]
            claim.status = claim_rules.DENIED
            claim.denial_reason = self.reason_code

    class ClaimAppealed(Event):
        TOPIC = "receivables.account:ClaimAppealed"

        claim_id: str
        note: str

        def evolve(self, account: Account) -> None:
            account.claims[self.claim_id].status = claim_rules.APPEALED

    class ClaimResubmitted(Event):
        TOPIC = "receivables.account:ClaimResubmitted"

        claim_id: str

        def evolve(self, account: Account) -> None:
            claim = account.claims[self.claim_id]
            claim.status = claim_rules.RESUBMITTED
            claim.submissions += 1

    # ---------------------------------------------------------------- disputes

    class DisputeOpened(Event):
        TOPIC = "receivables.account:DisputeOpened"

        dispute_id: str
        invoice_number: str
        description: str

        def evolve(self, account: Account) -> None:
            account.disputes[self.dispute_id] = Dispute(
                dispute_id=self.dispute_id,
                invoice_number=self.invoice_number,
                description=self.description,
                opened_on=self.effective_on,
            )
            account.items[self.invoice_number].disputed = True

    class DisputeResolved(Event):
        TOPIC = "receivables.account:DisputeResolved"

        dispute_id: str
        invoice_number: str
        outcome: str
        note: str

        def evolve(self, account: Account) -> None:
            dispute = account.disputes[self.dispute_id]
            dispute.status = dispute_rules.RESOLVED
            dispute.outcome = self.outcome
            dispute.note = self.note
            dispute.resolved_on = self.effective_on
            account.items[self.invoice_number].disputed = False

    # ---------------------------------------------------------------- collections

    class CollectionActivityRecorded(Event):
        TOPIC = "receivables.account:CollectionActivityRecorded"

        activity_id: str
        channel: str
        outcome: str
        note: str

        def evolve(self, account: Account) -> None:
            account.activities[self.activity_id] = CollectionActivity(
                self.activity_id, self.channel, self.outcome, self.note, self.effective_on
            )

    class PromiseToPayMade(Event):
        TOPIC = "receivables.account:PromiseToPayMade"

        promise_id: str
        amount: Money
        pay_by: date

        def evolve(self, account: Account) -> None:
            account.promises[self.promise_id] = PromiseToPay(
                promise_id=self.promise_id,
                amount=self.amount,
                made_on=self.effective_on,
                pay_by=self.pay_by,
                received=Money.zero(self.amount.currency),
            )

    class PromiseToPayKept(Event):
        TOPIC = "receivables.account:PromiseToPayKept"

        promise_id: str
        received: Money

        def evolve(self, account: Account) -> None:
            promise = account.promises[self.promise_id]
            promise.status = collection.KEPT
            promise.ended_on = self.effective_on

    class PromiseToPayReopened(Event):
        """The payment that kept a promise was reversed before the promised date."""

        TOPIC = "receivables.account:PromiseToPayReopened"

        promise_id: str
        received: Money

        def evolve(self, account: Account) -> None:
            promise = account.promises[self.promise_id]
            promise.status = collection.OPEN
            promise.ended_on = None

    class PromiseToPayBroken(Event):
        TOPIC = "receivables.account:PromiseToPayBroken"

        promise_id: str
        received: Money

        def evolve(self, account: Account) -> None:
            promise = account.promises[self.promise_id]
            promise.status = collection.BROKEN
            promise.ended_on = self.effective_on

    class DunningEscalated(Event):
        TOPIC = "receivables.account:DunningEscalated"

        level: int
        invoice_numbers: list[str]

        def evolve(self, account: Account) -> None:
            account.dunning_level = self.level

    # ================================================================== identity and state

    @staticmethod
    def id_for(tenant_id: str, account_number: str) -> UUID:
        """The account's id: the same tenant and number always give the same id."""
        return uuid5(ACCOUNT_NAMESPACE, json.dumps([tenant_id, account_number]))

    @staticmethod
    def create_id(tenant_id: str, account_number: str) -> UUID:
        return Account.id_for(tenant_id, account_number)

    def __init__(
        self,
        *,
        tenant_id: str,
        account_number: str,
        name: str,
        currency: str,
        payment_terms_days: int,
        effective_on: date,
    ) -> None:
        zero = Money.zero(currency)
        self.tenant_id = tenant_id
        self.account_number = account_number
        self.name = name
        self.currency = currency
        self.payment_terms_days = payment_terms_days
        self.installment_shares: list[InstallmentShare] = []
        self.opened_on = effective_on
        self.status = OPEN
        self.closed_on: date | None = None
        self.last_event_hash = GENESIS_HASH
        self.charges: dict[str, Charge] = {}
        # Ids of charges not yet invoiced nor claimed, so invoicing touches only those.
        self.uninvoiced: dict[str, bool] = {}
        self.items: dict[str, OpenItem] = {}
        # Numbers of items with something outstanding, so policies touch only open items.
        self.open_items: dict[str, bool] = {}
        self.notes: dict[str, str] = {}
        self.payments: dict[str, Payment] = {}
        self.refunds: dict[str, Money] = {}
        self.credit = zero
        self.write_offs: dict[str, WriteOff] = {}
        self.offers: dict[str, SettlementOffer] = {}
        self.plans: dict[str, PaymentPlan] = {}
        self.subscriptions: dict[str, Subscription] = {}
        self.billing_runs: dict[str, date] = {}
        self.claims: dict[str, Claim] = {}
        self.disputes: dict[str, Dispute] = {}
        self.activities: dict[str, CollectionActivity] = {}
        self.promises: dict[str, PromiseToPay] = {}
        self.dunning_level = 0
        self.tallies: dict[str, Money] = {category: zero for category in ledger.CATEGORIES}
        self.entries: list[LedgerEntry] = []
        #: The item each movement was applied to, in the order applied: what projections read
        #: to learn which items an event moved (append-only, like ``entries``).
        self.item_moves: list[str] = []
        self.running_balance = zero

    # ---------------------------------------------------------------- state helpers (apply-time)

    def _post(self, effective_on: date, category: str, amount: Money, reference: str) -> None:
        entry = LedgerEntry(effective_on, category, amount, reference)
        self.entries.append(entry)
        self.tallies[category] = self.tallies[category] + amount
        self.running_balance = self.running_balance + entry.balance_effect

    def _add_item(self, item: OpenItem) -> None:
        self.items[item.number] = item
        if item.is_open:
            self.open_items[item.number] = True

    def _move_item(self, number: str, movement: Movement) -> None:
        item = self.items[number]
        item.reduce(movement)
        self.item_moves.append(number)
        if item.is_open:
            self.open_items[number] = True
        else:
            self.open_items.pop(number, None)

    def _add_charge(self, charge: Charge) -> None:
        self.charges[charge.charge_id] = charge
        self.uninvoiced[charge.charge_id] = True
        self._post(charge.posted_on, ledger.CHARGES, charge.total, charge.charge_id)

    def _add_charge_lines(self, lines: Iterable[ChargeLine], posted_on: date) -> None:
        for line in lines:
            net = line.unit_price * line.quantity
            self._add_charge(
                Charge(
                    charge_id=line.charge_id,
                    code=line.code,
                    description=line.description,
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    net=net,
                    tax=line.tax,
                    service_date=line.service_date,
                    posted_on=posted_on,
                    kind=line.kind,
                    subscription_id=line.subscription_id,
                )
            )

    def _end_offer(self, offer_id: str, status: str, on: date) -> None:
        offer = self.offers[offer_id]
        offer.status = status
        offer.ended_on = on

    def _movement_offsets(self, numbers: Iterable[str]) -> dict[str, int]:
        return {number: len(self.items[number].movements) for number in numbers}

    def _end_plan(self, plan_id: str, status: str, on: date) -> None:
        plan = self.plans[plan_id]
        plan.status = status
        plan.ended_on = on
        for number in plan.invoice_numbers:
            if self.items[number].plan_id == plan_id:
                self.items[number].plan_id = None

    # ---------------------------------------------------------------- recording

    def _trigger(
        self,
        event_class: type[Account.Event],
        *,
        effective_on: date,
        meta: Provenance,
        **payload: Any,
    ) -> None:
        version = self.version + 1
        previous_hash = self.last_event_hash
        event_hash = compute_hash(
            topic=event_class.TOPIC,
            originator_id=self.id,
            originator_version=version,
            effective_on=effective_on,
            payload=payload,
            actor=meta.actor,
            reason=meta.reason,
            correlation_id=meta.correlation_id,
            previous_hash=previous_hash,
        )
        self.trigger_event(
            event_class,
            effective_on=effective_on,
            actor=meta.actor,
            reason=meta.reason,
            correlation_id=meta.correlation_id,
            previous_hash=previous_hash,
            event_hash=event_hash,
            **payload,
        )

    # ---------------------------------------------------------------- guards

    def _check_open(self) -> None:
        if self.status == CLOSED:
            raise errors.AccountClosed(
                f"Account {self.account_number} is closed; nothing more can be recorded on it."
            )

    def _check_money(self, amount: Money, field: str, *, positive: bool = True) -> Money:
        label = field.replace("_", " ")
        if not isinstance(amount, Money):
            raise errors.NotMoney(f"The {label} must be money with a currency.", field=field)
        if amount.currency != self.currency:
            raise errors.CurrencyMismatch(
                f"The {label} is in {amount.currency} but account "
                f"{self.account_number} is kept in {self.currency}.",
                field=field,
            )
        if positive and not amount.is_positive:
            raise errors.AmountMustBePositive(f"The {label} must be more than zero.", field=field)
        if not positive and amount.is_negative:
            raise errors.AmountMustBePositive(f"The {label} cannot be negative.", field=field)
        return check_within_bound(amount, field, f"The {label}")

    def _check_room(self, category: str, amount: Money, field: str) -> None:
        """Refuse, before any event, what would take one of the account's running totals (a
        ledger tally, which the read models store in minor units) past ``MAX_AMOUNT``. The
        tallies that grow with new money are checked here; every other figure is a signed sum
        of tallies, so it stays representable too (see :mod:`domain.money`)."""
        total = self.tallies[category] + amount
        check_within_bound(total, field, f"The account's {category.replace('_', ' ')} total")

    def _item(self, number: str, field: str = "invoice_number") -> OpenItem:
        item = self.items.get(number)
        if item is None:
            raise errors.UnknownInvoice(
                f"There is no invoice {number} on account {self.account_number}.", field=field
            )
        return item

    def _live_item(self, number: str, field: str = "invoice_number") -> OpenItem:
        item = self._item(number, field)
        if item.status == VOIDED:
            raise errors.InvoiceVoided(f"Invoice {number} is void.", field=field)
        return item

    def _new_id(self, value: str, field: str, what: str, taken: Iterable[Mapping[str, Any]]) -> str:
        _require_text(value, field, what)
        for existing in taken:
            if value in existing:
                error = {
                    "charge_id": errors.DuplicateCharge,
                    "payment_id": errors.DuplicatePayment,
                    "invoice_number": errors.DuplicateInvoice,
                    "note_number": errors.DuplicateNote,
                    "refund_id": errors.DuplicateRefund,
                    "write_off_id": errors.DuplicateWriteOff,
                    "offer_id": errors.DuplicateSettlementOffer,
                    "plan_id": errors.DuplicatePaymentPlan,
                    "subscription_id": errors.DuplicateSubscription,
                    "run_id": errors.DuplicateBillingRun,
                    "claim_id": errors.DuplicateClaim,
                    "patient_invoice_number": errors.DuplicateInvoice,
                    "dispute_id": errors.DuplicateDispute,
                }.get(field, errors.DuplicateCollectionRecord)
                raise error(f"{what} {value} is already recorded on this account.", field=field)
        return value

    def _check_not_before_opening(self, on: date, field: str) -> date:
        _require_date(on, field)
        if on < self.opened_on:
            raise errors.InvalidDate(
                f"{on} is before the account was opened on {self.opened_on}.", field=field
            )
        return on

    # ================================================================== commands: account

    @classmethod
    def open(
        cls,
        *,
        tenant_id: str,
        account_number: str,
        name: str,
        currency: str,
        effective_on: date,
        meta: Provenance,
        payment_terms_days: int = 30,
    ) -> Account:
        """Open a customer account (terms: net ``payment_terms_days`` days)."""
        _require_text(tenant_id, "tenant_id", "The tenant")
        _require_text(account_number, "account_number", "An account number")
        _require_text(name, "name", "The customer's name")
        check_currency(currency)
        _require_date(effective_on, "effective_on")
        _check_terms_days(payment_terms_days)
        account_id = cls.id_for(tenant_id, account_number)
        payload: dict[str, Any] = {
            "tenant_id": tenant_id,
            "account_number": account_number,
            "name": name,
            "currency": currency,
            "payment_terms_days": payment_terms_days,
        }
        event_hash = compute_hash(
            topic=cls.Opened.TOPIC,
            originator_id=account_id,
            originator_version=cls.INITIAL_VERSION,
            effective_on=effective_on,
            payload={"originator_topic": cls.TOPIC, **payload},
            actor=meta.actor,
            reason=meta.reason,
            correlation_id=meta.correlation_id,
            previous_hash=GENESIS_HASH,
        )
        return cls._create(
            cls.Opened,
            id=account_id,
            effective_on=effective_on,
            actor=meta.actor,
            reason=meta.reason,
            correlation_id=meta.correlation_id,
            previous_hash=GENESIS_HASH,
            event_hash=event_hash,
            **payload,
        )

    def change_details(self, *, name: str, effective_on: date, meta: Provenance) -> None:
        """Change the customer's name on the account."""
        self._check_open()
        _require_text(name, "name", "The customer's name")
        self._check_not_before_opening(effective_on, "effective_on")
        if name == self.name:
            raise errors.NothingChanged("The account already has that name.", field="name")
        self._trigger(self.DetailsChanged, effective_on=effective_on, meta=meta, name=name)

    def change_payment_terms(
        self,
        *,
        net_days: int,
        effective_on: date,
        meta: Provenance,
        installments: Sequence[InstallmentShare] = (),
    ) -> None:
        """Set the terms of future invoices: net days, or installment shares (e.g. 30/50/20)."""
        self._check_open()
        _check_terms_days(net_days)
        self._check_not_before_opening(effective_on, "effective_on")
        shares = normalize_shares(installments)
        if shares:
            check_shares(shares)
        self._trigger(
            self.PaymentTermsChanged,
            effective_on=effective_on,
            meta=meta,
            net_days=net_days,
            installments=shares,
        )

    def close(self, *, effective_on: date, meta: Provenance) -> None:
        """Close a settled account: nothing owed, no credit left."""
        self._check_open()
        self._check_not_before_opening(effective_on, "effective_on")
        if not self.balance.is_zero or not self.credit.is_zero or self.uninvoiced:
            raise errors.AccountHasBalance(
                f"Account {self.account_number} cannot be closed: its balance is {self.balance} "
                f"and its unapplied credit {self.credit}."
            )
        self._trigger(self.Closed, effective_on=effective_on, meta=meta)

    # ================================================================== commands: charges

    def post_charge(
        self,
        *,
        charge_id: str,
        code: str,
        description: str,
        quantity: Decimal | int,
        unit_price: Money,
        tax: Money,
        service_date: date,
        effective_on: date,
        meta: Provenance,
    ) -> None:
        """Record a service line the customer is charged for (not yet invoiced)."""
        self._check_open()
        self._new_id(charge_id, "charge_id", "Charge", [self.charges])
        _require_text(code, "code", "A service code")
        _require_date(service_date, "service_date")
        self._check_not_before_opening(effective_on, "effective_on")
        qty = _require_quantity(quantity)
        self._check_money(unit_price, "unit_price")
        self._check_money(tax, "tax", positive=False)
        net = unit_price.times(qty).exact()
        self._check_room(ledger.CHARGES, net + tax, "unit_price")
        self._trigger(
            self.ChargePosted,
            effective_on=effective_on,
            meta=meta,
            charge_id=charge_id,
            code=code,
            description=description,
            quantity=qty,
            unit_price=unit_price,
            net=net,
            tax=tax,
            service_date=service_date,
        )

    def void_charge(self, *, charge_id: str, effective_on: date, meta: Provenance) -> None:
        """Void a charge posted in error; only while it is on no invoice and no claim."""
        self._check_open()
        charge = self.charges.get(charge_id)
        if charge is None:
            raise errors.UnknownCharge(f"There is no charge {charge_id}.", field="charge_id")
        if charge.status == "voided":
            raise errors.ChargeVoided(f"Charge {charge_id} is already void.", field="charge_id")
        if charge.invoice_number is not None:
            raise errors.ChargeAlreadyInvoiced(
                f"Charge {charge_id} is on invoice {charge.invoice_number}; "
                "issue a credit note against the invoice instead.",
                field="charge_id",
            )
        if charge.claim_id is not None:
            raise errors.ChargeOnClaim(
                f"Charge {charge_id} is billed to an insurer on claim {charge.claim_id}.",
                field="charge_id",
            )
        self._check_not_before_opening(effective_on, "effective_on")
        self._trigger(
            self.ChargeVoided,
            effective_on=effective_on,
            meta=meta,
            charge_id=charge_id,
            amount=charge.total,
        )

    # ================================================================== commands: invoices

    def issue_invoice(
        self,
        *,
        invoice_number: str,
        issued_on: date,
        meta: Provenance,
        charge_ids: Sequence[str] | None = None,
        due_on: date | None = None,
        installments: Sequence[InstallmentShare] | None = None,
        schedule: Sequence[Term] | None = None,
    ) -> None:
        """Invoice uninvoiced charges (all of them, or ``charge_ids``).

        The due schedule is, in order of precedence: explicit ``schedule`` terms
        (must sum to the total), ``installments`` shares, a single ``due_on``, the
        account's installment terms, or net ``payment_terms_days`` from issue.
        """
        self._check_open()
        self._new_id(invoice_number, "invoice_number", "Invoice", [self.items, self.notes])
        self._check_not_before_opening(issued_on, "issued_on")
        chosen = list(self.uninvoiced) if charge_ids is None else list(dict.fromkeys(charge_ids))
        lines: list[InvoiceLine] = []
        for charge_id in chosen:
            charge = self.charges.get(charge_id)
            if charge is None:
                raise errors.UnknownCharge(f"There is no charge {charge_id}.", field="charge_ids")
            if charge.status == "voided":
                raise errors.ChargeVoided(f"Charge {charge_id} is void.", field="charge_ids")
            if charge.invoice_number is not None:
                raise errors.ChargeAlreadyInvoiced(
                    f"Charge {charge_id} is already on invoice {charge.invoice_number}.",
                    field="charge_ids",
                )
            if charge.claim_id is not None:
                raise errors.ChargeOnClaim(
                    f"Charge {charge_id} is billed to an insurer on claim {charge.claim_id}.",
                    field="charge_ids",
                )
            lines.append(
                InvoiceLine(
                    charge.charge_id,
                    charge.code,
                    charge.description,
                    charge.quantity,
                    charge.unit_price,
                    charge.net,
                    charge.tax,
                )
            )
        if not lines:
            raise errors.NothingToInvoice("There are no uninvoiced charges to put on an invoice.")
        subtotal = Money.sum((line.net for line in lines), self.currency)
        tax = Money.sum((line.tax for line in lines), self.currency)
        total = subtotal + tax
        if not total.is_positive:
            raise errors.InvoiceTotalNotPositive(
                f"The invoice would total {total}; an invoice must be for more than zero."
            )
        terms = self._due_schedule(total, issued_on, due_on, installments, schedule)
        self._trigger(
            self.InvoiceIssued,
            effective_on=issued_on,
            meta=meta,
            invoice_number=invoice_number,
            lines=lines,
            subtotal=subtotal,
            tax=tax,
            total=total,
            terms=terms,
        )

    def _due_schedule(
        self,
        total: Money,
        issued_on: date,
        due_on: date | None,
        installments: Sequence[InstallmentShare] | None,
        schedule: Sequence[Term] | None,
    ) -> list[Term]:
        if schedule is not None:
            for term in schedule:
                if isinstance(term, Term) and isinstance(term.amount, Money):
                    self._check_money(term.amount, "schedule")
            return check_schedule(schedule, total, issued_on)
        if installments:
            return split_by_shares(total, installments, issued_on)
        if due_on is not None:
            _require_date(due_on, "due_on")
            if due_on < issued_on:
                raise errors.DueDateBeforeIssueDate(
                    f"The due date {due_on} is before the issue date {issued_on}.", field="due_on"
                )
            return [Term(due_on, total)]
        if self.installment_shares:
            return split_by_shares(total, self.installment_shares, issued_on)
        return [Term(add_days(issued_on, self.payment_terms_days, field="issued_on"), total)]

    def void_invoice(self, *, invoice_number: str, effective_on: date, meta: Provenance) -> None:
        """Void an invoice (or debit note) issued in error, while nothing is applied to it.

        Its charges become uninvoiced again.
        """
        self._check_open()
        item = self._live_item(invoice_number)
        if item.kind not in (INVOICE, DEBIT_NOTE):
            raise errors.DocumentCannotBeVoided(
                f"{invoice_number} is a {item.kind.replace('_', ' ')}, which cannot be voided; "
                "credit it instead.",
                field="invoice_number",
            )
        if item.movements:
            raise errors.InvoiceHasApplications(
                f"Invoice {invoice_number} has payments or credits applied to it; "
                "it cannot be voided. Issue a credit note instead.",
                field="invoice_number",
            )
        self._check_not_on_plan_or_offer(item)
        self._check_not_before_opening(effective_on, "effective_on")
        self._trigger(
            self.InvoiceVoided, effective_on=effective_on, meta=meta, invoice_number=invoice_number
        )

    def _check_not_on_plan_or_offer(self, item: OpenItem) -> None:
        if item.plan_id is not None:
            raise errors.InvoiceAlreadyOnPlan(
                f"Invoice {item.number} is on payment plan {item.plan_id}.",
                field="invoice_number",
            )
        for offer in self._active_offers():
            if item.number in offer.invoice_numbers:
                raise errors.SettlementOfferOverlaps(
                    f"Invoice {item.number} is under settlement offer {offer.offer_id}.",
                    field="invoice_number",
                )

    def issue_credit_note(
        self,
        *,
        note_number: str,
        invoice_number: str,
        issued_on: date,
        meta: Provenance,
        amount: Money | None = None,
        description: str = "",
    ) -> None:
        """Credit part or all (``amount=None``) of what is open on an invoice."""
        self._check_open()
        self._new_id(note_number, "note_number", "Note", [self.notes, self.items])
        item = self._live_item(invoice_number)
        credit = item.outstanding if amount is None else self._check_money(amount, "amount")
        if not credit.is_positive:
            raise errors.CreditNoteExceedsOpen(
                f"Nothing is open on invoice {invoice_number} to credit.", field="amount"
            )
        if credit > item.outstanding:
            raise errors.CreditNoteExceedsOpen(
                f"A credit note of {credit} is more than the {item.outstanding} open on "
                f"invoice {invoice_number}.",
                field="amount",
            )
        self._check_not_before_opening(issued_on, "issued_on")
        self._check_room(ledger.CREDITS, credit, "amount")
        self._trigger(
            self.CreditNoteIssued,
            effective_on=issued_on,
            meta=meta,
            note_number=note_number,
            invoice_number=invoice_number,
            amount=credit,
            description=description,
        )
        self._review_plans(issued_on, meta, cause=CREDIT_NOTE_CAUSE)

    def issue_debit_note(
        self,
        *,
        note_number: str,
        amount: Money,
        issued_on: date,
        meta: Provenance,
        due_on: date | None = None,
        description: str = "",
        against_invoice: str | None = None,
    ) -> None:
        """Charge an adjustment as its own open item (e.g. an under-billed line)."""
        self._check_open()
        self._new_id(note_number, "note_number", "Note", [self.notes, self.items])
        self._check_money(amount, "amount")
        self._check_not_before_opening(issued_on, "issued_on")
        if against_invoice is not None:
            self._item(against_invoice, "against_invoice")
        due = (
            due_on
            if due_on is not None
            else add_days(issued_on, self.payment_terms_days, field="issued_on")
        )
        if due < issued_on:
            raise errors.DueDateBeforeIssueDate(
                f"The due date {due} is before the issue date {issued_on}.", field="due_on"
            )
        self._check_room(ledger.DEBIT_NOTES, amount, "amount")
        self._trigger(
            self.DebitNoteIssued,
            effective_on=issued_on,
            meta=meta,
            note_number=note_number,
            amount=amount,
            due_on=due,
            description=description,
            against_invoice=against_invoice,
        )

    # ================================================================== commands: cash

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
        _require_text(method, "method", "The payment method")
        self._check_not_before_opening(received_on, "received_on")
        self._check_money(amount, "amount")
        self._check_room(ledger.PAYMENTS, amount, "amount")
        chosen, policy = self._choose_allocations(amount, allocations, allocation_policy)
        self._trigger(
            self.PaymentReceived,
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
        self._review_promises(received_on, meta)

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
            self.CreditApplied,
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
        _require_text(method, "method", "The refund method")
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
            self.CreditRefunded,
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
        _require_text(reason_code, "reason_code", "A reason code")
        self._check_not_before_opening(reversed_on, "reversed_on")
        if reversed_on < payment.received_on:
            raise errors.InvalidDate(
                f"A payment received on {payment.received_on} cannot be reversed earlier.",
                field="reversed_on",
            )
        payment_allocations = dict(payment.allocations)
        discounts = self._discounts_earned_with(payment_allocations)
        debit_number: str | None = None
        if payment.refunded.is_positive:
            debit_number = f"{payment_id}-REV"
            self._new_id(debit_number, "invoice_number", "Invoice", [self.items, self.notes])
        self._check_room(ledger.REVERSALS, payment.amount, "payment_id")
        self._trigger(
            self.PaymentReversed,
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
                self.SettlementDiscountReversed,
                effective_on=reversed_on,
                meta=meta,
                offer_id=offer_id,
                amount=Money.sum((a.amount for a in applications), self.currency),
                applications=applications,
                offer_status=self._status_of_reinstated_offer(self.offers[offer_id], reversed_on),
            )
        self._reopen_plans(touched, reversed_on, meta)
        self._review_plans(reversed_on, meta, cause=OTHER_CAUSE)
        for promise in list(self.promises.values()):
            if promise.status == collection.KEPT and promise.received < promise.amount:
                self._trigger(
                    self.PromiseToPayReopened
                    if reversed_on <= promise.pay_by
                    else self.PromiseToPayBroken,
                    effective_on=reversed_on,
                    meta=meta,
                    promise_id=promise.promise_id,
                    received=promise.received,
                )

    def _discounts_earned_with(self, numbers: Iterable[str]) -> list[tuple[str, list[Allocation]]]:
        """Discounts applied on offers covering any of ``numbers``: cash on those invoices
        counted towards them, so reversing that cash takes them back."""
        wanted = set(numbers)
        result: list[tuple[str, list[Allocation]]] = []
        for offer in self.offers.values():
            if offer.status != settlement.APPLIED or wanted.isdisjoint(offer.invoice_numbers):
                continue
            applications: list[Allocation] = []
            for number in dict.fromkeys(offer.invoice_numbers):
                net = Money.sum(
                    (
                        m.amount
                        for m in self.items[number].movements
                        if m.reference == offer.offer_id
                        and m.kind in ("settlement_discount", "settlement_discount_reversal")
                    ),
                    self.currency,
                )
                if net.is_positive:
                    applications.append(Allocation(number, net))
            if applications:
                result.append((offer.offer_id, applications))
        return result

    def _status_of_reinstated_offer(self, offer: SettlementOffer, on: date) -> str:
        """An offer whose discount is taken back stands again until its expiry, unless
        another offer has since been made on one of its invoices."""
        if on > offer.expires_on:
            return settlement.LAPSED
        for other in self._active_offers():
            if not set(other.invoice_numbers).isdisjoint(offer.invoice_numbers):
                return settlement.LAPSED
        return settlement.ACTIVE

    def _reopen_plans(self, touched: set[str], on: date, meta: Provenance) -> None:
        """Completed plans over ``touched`` invoices that are open again become active."""
        for plan in self.plans.values():
            if plan.status != plans.COMPLETED or touched.isdisjoint(plan.invoice_numbers):
                continue
            if not self._plan_open(plan).is_positive:
                continue
            if any(self.items[n].plan_id is not None for n in plan.invoice_numbers):
                continue  # an invoice is on a newer plan: that plan carries it now
            self._trigger(
                self.PaymentPlanReopened, effective_on=on, meta=meta, plan_id=plan.plan_id
            )

    # ================================================================== commands: write-offs

    def write_off(
        self,
        *,
        write_off_id: str,
        invoice_number: str,
        written_off_on: date,
        meta: Provenance,
        amount: Money | None = None,
    ) -> None:
        """Write off bad debt on an item: ``amount``, or everything open on it."""
        self._check_open()
        self._new_id(write_off_id, "write_off_id", "Write-off", [self.write_offs])
        item = self._live_item(invoice_number)
        value = item.outstanding if amount is None else self._check_money(amount, "amount")
        if not value.is_positive or value > item.outstanding:
            raise errors.WriteOffExceedsOpen(
                f"A write-off of {value} is more than the {item.outstanding} open on "
                f"{invoice_number}.",
                field="amount",
            )
        self._check_not_before_opening(written_off_on, "written_off_on")
        self._check_room(ledger.WRITE_OFFS, value, "amount")
        self._trigger(
            self.WrittenOff,
            effective_on=written_off_on,
            meta=meta,
            write_off_id=write_off_id,
            invoice_number=invoice_number,
            amount=value,
        )
        self._review_plans(written_off_on, meta, cause=WRITE_OFF_CAUSE)

    def recover_write_off(
        self, *, write_off_id: str, amount: Money, recovered_on: date, meta: Provenance
    ) -> None:
        """Reinstate written-off debt that the customer is paying after all.

        Post the customer's payment afterwards (it then applies to the item).
        """
        self._check_open()
        write_off = self.write_offs.get(write_off_id)
        if write_off is None:
            raise errors.UnknownWriteOff(
                f"There is no write-off {write_off_id}.", field="write_off_id"
            )
        self._check_money(amount, "amount")
        if amount > write_off.recoverable:
            raise errors.RecoveryExceedsWriteOff(
                f"A recovery of {amount} is more than the {write_off.recoverable} still written "
                f"off under {write_off_id}.",
                field="amount",
            )
        self._check_not_before_opening(recovered_on, "recovered_on")
        self._check_room(ledger.RECOVERIES, amount, "amount")
        self._trigger(
            self.WriteOffRecovered,
            effective_on=recovered_on,
            meta=meta,
            write_off_id=write_off_id,
            invoice_number=write_off.invoice_number,
            amount=amount,
        )
        self._review_plans(recovered_on, meta, cause=OTHER_CAUSE)

    # ================================================================== commands: settlement

    def offer_settlement(
        self,
        *,
        offer_id: str,
        expires_on: date,
        offered_on: date,
        meta: Provenance,
        invoice_numbers: Sequence[str] | None = None,
        amount_off: Money | None = None,
        settle_for: Money | None = None,
    ) -> None:
        """Offer to take ``amount_off`` (or to accept ``settle_for``) if the rest is paid by
        ``expires_on``. Covers ``invoice_numbers``, or every open invoice."""
        self._check_open()
        self._new_id(offer_id, "offer_id", "Settlement offer", [self.offers])
        self._check_not_before_opening(offered_on, "offered_on")
        _require_date(expires_on, "expires_on")
        if expires_on < offered_on:
            raise errors.InvalidDate(
                f"The offer cannot expire ({expires_on}) before it is made ({offered_on}).",
                field="expires_on",
            )
        if (amount_off is None) == (settle_for is None):
            raise errors.InvalidSettlementTerms(
                "Give either the amount to take off or the amount to settle for, not both.",
                field="amount_off",
            )
        # An invoice named twice is one invoice: its open amount counts once.
        numbers = list(
            dict.fromkeys(self.open_items if invoice_numbers is None else invoice_numbers)
        )
        if not numbers:
            raise errors.NothingToSettle("Nothing is open to settle.", field="invoice_numbers")
        busy = {n for offer in self._active_offers() for n in offer.invoice_numbers}
        open_total = Money.zero(self.currency)
        for number in numbers:
            item = self._live_item(number, "invoice_numbers")
            if number in busy:
                raise errors.SettlementOfferOverlaps(
                    f"Invoice {number} is already under an active settlement offer.",
                    field="invoice_numbers",
                )
            open_total = open_total + item.outstanding
        if amount_off is not None:
            discount = self._check_money(amount_off, "amount_off")
        else:
            assert settle_for is not None  # exactly one of the two, checked above
            discount = open_total - self._check_money(settle_for, "settle_for")
        if not discount.is_positive or discount >= open_total:
            raise errors.SettlementDiscountTooLarge(
                f"A discount of {discount} on {open_total} open must leave something to pay; "
                "write the debt off instead.",
                field="amount_off" if amount_off is not None else "settle_for",
            )
        self._trigger(
            self.SettlementOffered,
            effective_on=offered_on,
            meta=meta,
            offer_id=offer_id,
            invoice_numbers=numbers,
            discount=discount,
            settle_for=settle_for,
            open_when_made=open_total,
            expires_on=expires_on,
        )

    def withdraw_settlement_offer(
        self, *, offer_id: str, withdrawn_on: date, meta: Provenance
    ) -> None:
        self._check_open()
        offer = self._active_offer(offer_id)
        self._check_not_before_opening(withdrawn_on, "withdrawn_on")
        self._trigger(
            self.SettlementOfferWithdrawn,
            effective_on=withdrawn_on,
            meta=meta,
            offer_id=offer.offer_id,
        )

    def _active_offer(self, offer_id: str) -> SettlementOffer:
        offer = self.offers.get(offer_id)
        if offer is None:
            raise errors.UnknownSettlementOffer(
                f"There is no settlement offer {offer_id}.", field="offer_id"
            )
        if offer.status != settlement.ACTIVE:
            raise errors.SettlementOfferNotActive(
                f"Settlement offer {offer_id} is {offer.status}.", field="offer_id"
            )
        return offer

    def _active_offers(self) -> list[SettlementOffer]:
        return [o for o in self.offers.values() if o.status == settlement.ACTIVE]

    # ================================================================== commands: payment plans

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
            self.PaymentPlanAgreed,
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
        base = self._plan_open(plan)
        terms = check_schedule(installments, base, changed_on, field="installments")
        self._trigger(
            self.PaymentPlanChanged,
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
            self.PaymentPlanDefaulted,
            effective_on=defaulted_on,
            meta=meta,
            plan_id=plan_id,
            missed_installments=len(plan.missed),
        )

    def _active_plan(self, plan_id: str) -> PaymentPlan:
        plan = self.plans.get(plan_id)
        if plan is None:
            raise errors.UnknownPaymentPlan(f"There is no payment plan {plan_id}.", field="plan_id")
        if plan.status != plans.ACTIVE:
            raise errors.PaymentPlanNotActive(
                f"Payment plan {plan_id} is {plan.status}.", field="plan_id"
            )
        return plan

    def _plan_open(self, plan: PaymentPlan, as_of: date | None = None) -> Money:
        return Money.sum(
            (self.items[n].outstanding_as_of(as_of) for n in plan.invoice_numbers), self.currency
        )

    # ================================================================== commands: subscriptions

    def start_subscription(
        self,
        *,
        subscription_id: str,
        plan_code: str,
        price: Money,
        starts_on: date,
        meta: Provenance,
    ) -> None:
        """Start a monthly price plan; billing runs charge each period in advance."""
        self._check_open()
        self._new_id(subscription_id, "subscription_id", "Subscription", [self.subscriptions])
        _require_text(plan_code, "plan_code", "A plan code")
        self._check_money(price, "price")
        self._check_not_before_opening(starts_on, "starts_on")
        self._trigger(
            self.SubscriptionStarted,
            effective_on=starts_on,
            meta=meta,
            subscription_id=subscription_id,
            plan_code=plan_code,
            price=price,
        )

    def change_subscription_plan(
        self,
        *,
        subscription_id: str,
        plan_code: str,
        price: Money,
        change_on: date,
        meta: Provenance,
        timing: str = subscriptions.IMMEDIATE,
    ) -> None:
        """Change plan ``immediate``-ly (prorating the billed period) or from the ``next_period``."""
        self._check_open()
        subscription = self._active_subscription(subscription_id)
        _require_text(plan_code, "plan_code", "A plan code")
        self._check_money(price, "price")
        self._check_change_date(subscription, change_on)
        if timing not in (subscriptions.IMMEDIATE, subscriptions.NEXT_PERIOD):
            raise errors.InvalidSubscriptionTiming(
                "A plan change is 'immediate' or 'next_period'.", field="timing"
            )
        self._check_no_change_waiting(subscription)
        period = subscription.period_containing(change_on)
        lines: list[ChargeLine] = []
        applies_from = change_on if timing == subscriptions.IMMEDIATE else period[1]
        if timing == subscriptions.IMMEDIATE and change_on < subscription.billed_until:
            lines = self._proration_lines(subscription, period, change_on, new_price=price)
        self._check_room(ledger.CHARGES, self._lines_total(lines), "price")
        self._trigger(
            self.SubscriptionPlanChanged,
            effective_on=change_on,
            meta=meta,
            subscription_id=subscription_id,
            plan_code=plan_code,
            price=price,
            timing=timing,
            applies_from=applies_from,
            proration=lines,
        )

    def cancel_subscription(
        self,
        *,
        subscription_id: str,
        cancel_on: date,
        meta: Provenance,
        timing: str = subscriptions.END_OF_PERIOD,
    ) -> None:
        """Cancel at the ``end_of_period`` (no credit) or ``immediate``-ly (unused part credited)."""
        self._check_open()
        subscription = self._active_subscription(subscription_id)
        self._check_change_date(subscription, cancel_on)
        if timing not in (subscriptions.IMMEDIATE, subscriptions.END_OF_PERIOD):
            raise errors.InvalidSubscriptionTiming(
                "A cancellation is 'immediate' or 'end_of_period'.", field="timing"
            )
        period = subscription.period_containing(cancel_on)
        lines: list[ChargeLine] = []
        if timing == subscriptions.IMMEDIATE:
            ends_on = cancel_on
            if cancel_on < subscription.billed_until:
                lines = self._proration_lines(subscription, period, cancel_on, new_price=None)
        else:
            ends_on = period[1]
        self._trigger(
            self.SubscriptionCancelled,
            effective_on=cancel_on,
            meta=meta,
            subscription_id=subscription_id,
            timing=timing,
            ends_on=ends_on,
            proration=lines,
        )

    def run_billing(self, *, run_id: str, through: date, meta: Provenance) -> None:
        """Charge every active subscription for each period starting on or before ``through``
        that is not yet billed (in advance). Records the run even when nothing was due."""
        self._check_open()
        self._new_id(run_id, "run_id", "Billing run", [self.billing_runs])
        self._check_not_before_opening(through, "through")
        periods: list[BilledPeriod] = []
        for subscription in self.subscriptions.values():
            start = subscription.billed_until
            index = subscription.periods_billed
            plan_code, price = subscription.plan_code, subscription.price
            pending_from = subscription.pending_from
            ends_on = subscription.ends_on
            while start <= through and (ends_on is None or start < ends_on):
                end = subscription.period_start(index + 1)
                stop = end if ends_on is None or ends_on >= end else ends_on
                cuts = [start, stop]
                if pending_from is not None and start < pending_from < stop:
                    cuts.insert(1, pending_from)
                for part_start, part_end in itertools.pairwise(cuts):
                    if pending_from is not None and pending_from <= part_start:
                        plan_code = subscription.pending_plan_code or plan_code
                        price = subscription.pending_price or price
                        pending_from = None
                    amount = price
                    if (part_start, part_end) != (start, end):
                        amount = subscriptions.prorate_part(
                            price, (start, end), part_start, part_end
                        )
                    periods.append(
                        BilledPeriod(
                            subscription_id=subscription.subscription_id,
                            charge_id=f"{subscription.subscription_id}/{part_start.isoformat()}",
                            plan_code=plan_code,
                            period_start=part_start,
                            period_end=part_end,
                            amount=amount,
                        )
                    )
                start, index = end, index + 1
                if len(periods) > MAX_PERIODS_PER_RUN:
                    raise errors.BillingRunTooLong(
                        f"A billing run charges at most {MAX_PERIODS_PER_RUN} periods; run"
                        f" billing through an earlier date first, then in steps to"
                        f" {through.isoformat()}.",
                        field="through",
                    )
        for period in periods:
            if period.charge_id in self.charges:
                raise errors.DuplicateCharge(
                    f"Charge {period.charge_id} already exists.", field="run_id"
                )
        billed = Money.sum((period.amount for period in periods), self.currency)
        self._check_room(ledger.CHARGES, billed, "through")
        self._trigger(
            self.BillingRunCompleted,
            effective_on=through,
            meta=meta,
            run_id=run_id,
            periods=periods,
        )

    def _lines_total(self, lines: Iterable[ChargeLine]) -> Money:
        return Money.sum(
            (line.unit_price * line.quantity + line.tax for line in lines), self.currency
        )

    def _active_subscription(self, subscription_id: str) -> Subscription:
        subscription = self.subscriptions.get(subscription_id)
        if subscription is None:
            raise errors.UnknownSubscription(
                f"There is no subscription {subscription_id}.", field="subscription_id"
            )
        if subscription.status != subscriptions.ACTIVE:
            raise errors.SubscriptionNotActive(
                f"Subscription {subscription_id} is {subscription.status}.",
                field="subscription_id",
            )
        return subscription

    def _check_no_change_waiting(self, subscription: Subscription) -> None:
        waiting = subscription.pending_from
        if waiting is not None and waiting != subscription.period_containing(waiting)[0]:
            raise errors.SubscriptionChangePending(
                f"Subscription {subscription.subscription_id} already changes plan on "
                f"{waiting}, in a period not yet billed; run billing before changing it again.",
                field="subscription_id",
            )

    def _check_change_date(self, subscription: Subscription, on: date) -> None:
        _require_date(on, "change_on")
        if on < subscription.starts_on:
            raise errors.InvalidDate(
                f"{on} is before the subscription started on {subscription.starts_on}.",
                field="change_on",
            )
        last_billed_start = subscription.period_start(max(subscription.periods_billed - 1, 0))
        if subscription.periods_billed and on < last_billed_start:
            raise errors.ChangeOutsideBilledPeriod(
                f"{on} is in a period before the last billed one ({last_billed_start}); "
                "correct earlier periods with a credit note.",
                field="change_on",
            )

    def _proration_lines(
        self,
        subscription: Subscription,
        period: tuple[date, date],
        on: date,
        *,
        new_price: Money | None,
    ) -> list[ChargeLine]:
        stem = f"{subscription.subscription_id}/proration/{self.version + 1}"
        credit = subscriptions.prorate(subscription.price, period, on)
        lines = [
            ChargeLine(
                charge_id=f"{stem}/credit",
                code=subscription.plan_code,
                description=f"unused {subscription.plan_code} {on} to {period[1]}",
                quantity=Decimal(1),
                unit_price=-credit,
                tax=Money.zero(self.currency),
                service_date=on,
                kind=PRORATION_CREDIT,
                subscription_id=subscription.subscription_id,
            )
        ]
        if new_price is not None:
            charge = subscriptions.prorate(new_price, period, on)
            lines.append(
                ChargeLine(
                    charge_id=f"{stem}/charge",
                    code=subscription.plan_code,
                    description=f"new plan {on} to {period[1]}",
                    quantity=Decimal(1),
                    unit_price=charge,
                    tax=Money.zero(self.currency),
                    service_date=on,
                    kind=PRORATION_CHARGE,
                    subscription_id=subscription.subscription_id,
                )
            )
        return [line for line in lines if not line.unit_price.is_zero]

    # ================================================================== commands: insurance

    def submit_claim(
        self,
        *,
        claim_id: str,
        payer: str,
        charge_ids: Sequence[str],
        submitted_on: date,
        meta: Provenance,
    ) -> None:
        """Bill uninvoiced charges to an insurer; the payer owes them until adjudication."""
        self._check_open()
        self._new_id(claim_id, "claim_id", "Claim", [self.claims])
        _require_text(payer, "payer", "The payer")
        self._check_not_before_opening(submitted_on, "submitted_on")
        if not charge_ids:
            raise errors.NothingToClaim("A claim needs at least one charge.", field="charge_ids")
        billed = Money.zero(self.currency)
        for charge_id in dict.fromkeys(charge_ids):
            charge = self.charges.get(charge_id)
            if charge is None:
                raise errors.UnknownCharge(f"There is no charge {charge_id}.", field="charge_ids")
            if charge.status == "voided":
                raise errors.ChargeVoided(f"Charge {charge_id} is void.", field="charge_ids")
            if charge.invoice_number is not None:
                raise errors.ChargeAlreadyInvoiced(
                    f"Charge {charge_id} is on invoice {charge.invoice_number}.",
                    field="charge_ids",
                )
            if charge.claim_id is not None:
                raise errors.ChargeOnClaim(
                    f"Charge {charge_id} is already on claim {charge.claim_id}.",
                    field="charge_ids",
                )
            billed = billed + charge.total
        if not billed.is_positive:
            raise errors.InvoiceTotalNotPositive("A claim must bill more than zero.")
        self._trigger(
            self.ClaimSubmitted,
            effective_on=submitted_on,
            meta=meta,
            claim_id=claim_id,
            payer=payer,
            charge_ids=list(dict.fromkeys(charge_ids)),
            billed=billed,
        )

    def adjudicate_claim(
        self,
        *,
        claim_id: str,
        paid: Money,
        adjustments: Sequence[ClaimAdjustment],
        adjudicated_on: date,
        meta: Provenance,
        patient_invoice_number: str | None = None,
        patient_due_on: date | None = None,
    ) -> None:
        """Record the payer's remittance: billed − Σ adjustments must equal ``paid``.

        The patient's share (Σ PR) becomes an open item the patient owes, numbered
        ``patient_invoice_number`` (default ``<claim_id>-PR``). Post the payer's
        payment and the contractual adjustment with their own commands.
        """
        self._check_open()
        claim = self._claim(claim_id)
        if claim.status not in claim_rules.AWAITING_ADJUDICATION:
            raise errors.ClaimNotAwaitingAdjudication(
                f"Claim {claim_id} is {claim.status}; it cannot be adjudicated now.",
                field="claim_id",
            )
        self._check_money(paid, "paid", positive=False)
        claim_rules.check_adjustments(claim.billed, paid, adjustments)
        self._check_not_before_opening(adjudicated_on, "adjudicated_on")
        share = claim_rules.patient_responsibility(adjustments, self.currency)
        adjusted = share + claim_rules.written_off(adjustments, self.currency)
        if adjusted > claim.owed_by_payer:
            raise errors.AdjustmentsExceedOwed(
                f"The adjustments ({adjusted}) are more than the {claim.owed_by_payer} the payer "
                f"still owes on claim {claim_id} after what it has already paid.",
                field="adjustments",
            )
        number: str | None = None
        if share.is_positive:
            number = patient_invoice_number or f"{claim_id}-PR"
            self._new_id(number, "patient_invoice_number", "Invoice", [self.items, self.notes])
        due = patient_due_on or add_days(
            adjudicated_on, self.payment_terms_days, field="adjudicated_on"
        )
        if due < adjudicated_on:
            raise errors.DueDateBeforeIssueDate(
                f"The patient's due date {due} is before {adjudicated_on}.", field="patient_due_on"
            )
        self._trigger(
            self.ClaimAdjudicated,
            effective_on=adjudicated_on,
            meta=meta,
            claim_id=claim_id,
            paid=paid,
            adjustments=list(adjustments),
            patient_share=share,
            patient_invoice_number=number,
            patient_due_on=due,
        )

    def post_insurer_payment(
        self,
        *,
        claim_id: str,
        payment_id: str,
        amount: Money,
        method: str,
        reference: str,
        received_on: date,
        meta: Provenance,
    ) -> None:
        """Post the payer's payment against a claim: at most what the payer still owes and,
        once adjudicated, at most the remittance's paid amount not yet received."""
        self._check_open()
        claim = self._claim(claim_id)
        self._new_id(payment_id, "payment_id", "Payment", [self.payments])
        self._check_money(amount, "amount")
        self._check_not_before_opening(received_on, "received_on")
        if claim.paid_per_remittance is not None and amount > claim.insurer_payment_due:
            raise errors.InsurerPaymentExceedsRemittance(
                f"{amount} is more than the {claim.insurer_payment_due} still to be paid of the "
                f"{claim.paid_per_remittance} the payer adjudicated to pay on claim {claim_id}.",
                field="amount",
            )
        if amount > claim.owed_by_payer:
            raise errors.AllocationExceedsOpenAmount(
                f"{amount} is more than the {claim.owed_by_payer} the payer owes on claim "
                f"{claim_id}.",
                field="amount",
            )
        self._check_room(ledger.PAYMENTS, amount, "amount")
        self._trigger(
            self.InsurerPaymentPosted,
            effective_on=received_on,
            meta=meta,
            claim_id=claim_id,
            payment_id=payment_id,
            amount=amount,
            method=method,
            reference=reference,
        )

    def post_contractual_adjustment(
        self, *, claim_id: str, posted_on: date, meta: Provenance
    ) -> None:
        """Write off the CO/OA/PI adjustments of an adjudicated claim (once)."""
        self._check_open()
        claim = self._claim(claim_id)
        if claim.status != claim_rules.ADJUDICATED:
            raise errors.ClaimNotAdjudicated(
                f"Claim {claim_id} has not been adjudicated.", field="claim_id"
            )
        if claim.contractual_posted:
            raise errors.ContractualAdjustmentAlreadyPosted(
                f"The contractual adjustment of claim {claim_id} is already posted.",
                field="claim_id",
            )
        amount = claim_rules.written_off(claim.adjustments, self.currency)
        if not amount.is_positive:
            raise errors.NothingChanged(f"Claim {claim_id} has no contractual adjustment.")
        if amount > claim.owed_by_payer:
            raise errors.AllocationExceedsOpenAmount(
                f"The contractual adjustment of {amount} is more than the {claim.owed_by_payer} "
                f"the payer still owes on claim {claim_id}.",
                field="claim_id",
            )
        self._check_not_before_opening(posted_on, "posted_on")
        self._trigger(
            self.ContractualAdjustmentPosted,
            effective_on=posted_on,
            meta=meta,
            claim_id=claim_id,
            amount=amount,
        )

    def deny_claim(
        self, *, claim_id: str, reason_code: str, denied_on: date, meta: Provenance
    ) -> None:
        self._check_open()
        claim = self._claim(claim_id)
        if claim.status not in claim_rules.AWAITING_ADJUDICATION:
            raise errors.ClaimNotAwaitingAdjudication(
                f"Claim {claim_id} is {claim.status}; it cannot be denied now.", field="claim_id"
            )
        _require_text(reason_code, "reason_code", "A denial reason code")
        self._check_not_before_opening(denied_on, "denied_on")
        self._trigger(
            self.ClaimDenied,
            effective_on=denied_on,
            meta=meta,
            claim_id=claim_id,
            reason_code=reason_code,
        )

    def appeal_claim(
        self, *, claim_id: str, appealed_on: date, meta: Provenance, note: str = ""
    ) -> None:
        self._check_denied(claim_id)
        self._check_not_before_opening(appealed_on, "appealed_on")
        self._trigger(
            self.ClaimAppealed, effective_on=appealed_on, meta=meta, claim_id=claim_id, note=note
        )

    def resubmit_claim(self, *, claim_id: str, resubmitted_on: date, meta: Provenance) -> None:
        self._check_denied(claim_id)
        self._check_not_before_opening(resubmitted_on, "resubmitted_on")
        self._trigger(
            self.ClaimResubmitted, effective_on=resubmitted_on, meta=meta, claim_id=claim_id
        )

    def _check_denied(self, claim_id: str) -> None:
        self._check_open()
        claim = self._claim(claim_id)
        if claim.status != claim_rules.DENIED:
            raise errors.ClaimNotDenied(
                f"Claim {claim_id} is {claim.status}, not denied.", field="claim_id"
            )

    def _claim(self, claim_id: str) -> Claim:
        claim = self.claims.get(claim_id)
        if claim is None:
            raise errors.UnknownClaim(f"There is no claim {claim_id}.", field="claim_id")
        return claim

    # ================================================================== commands: disputes

    def open_dispute(
        self,
        *,
        dispute_id: str,
        invoice_number: str,
        opened_on: date,
        meta: Provenance,
        description: str = "",
    ) -> None:
        """The customer contests an invoice; it leaves dunning and default allocation."""
        self._check_open()
        self._new_id(dispute_id, "dispute_id", "Dispute", [self.disputes])
        item = self._live_item(invoice_number)
        if item.disputed:
            raise errors.InvoiceAlreadyDisputed(
                f"Invoice {invoice_number} is already disputed.", field="invoice_number"
            )
        self._check_not_before_opening(opened_on, "opened_on")
        self._trigger(
            self.DisputeOpened,
            effective_on=opened_on,
            meta=meta,
            dispute_id=dispute_id,
            invoice_number=invoice_number,
            description=description,
        )

    def resolve_dispute(
        self,
        *,
        dispute_id: str,
        outcome: str,
        resolved_on: date,
        meta: Provenance,
        note: str = "",
    ) -> None:
        """Close a dispute with an outcome (corrections are separate credit/debit notes)."""
        self._check_open()
        dispute = self.disputes.get(dispute_id)
        if dispute is None:
            raise errors.UnknownDispute(f"There is no dispute {dispute_id}.", field="dispute_id")
        if dispute.status != dispute_rules.OPEN:
            raise errors.DisputeAlreadyResolved(
                f"Dispute {dispute_id} is already resolved.", field="dispute_id"
            )
        if outcome not in dispute_rules.OUTCOMES:
            raise errors.InvalidOutcome(
                f"{outcome!r} is not an outcome; use one of "
                f"{', '.join(sorted(dispute_rules.OUTCOMES))}.",
                field="outcome",
            )
        self._check_not_before_opening(resolved_on, "resolved_on")
        self._trigger(
            self.DisputeResolved,
            effective_on=resolved_on,
            meta=meta,
            dispute_id=dispute_id,
            invoice_number=dispute.invoice_number,
            outcome=outcome,
            note=note,
        )

    # ================================================================== commands: collections

    def record_collection_activity(
        self,
        *,
        activity_id: str,
        channel: str,
        outcome: str,
        occurred_on: date,
        meta: Provenance,
        note: str = "",
    ) -> None:
        """A call, letter, email, ... made to collect, with what came of it."""
        self._check_open()
        self._new_id(activity_id, "activity_id", "Collection activity", [self.activities])
        if channel not in collection.CHANNELS:
            raise errors.InvalidCollectionChannel(
                f"{channel!r} is not a channel; use one of {', '.join(sorted(collection.CHANNELS))}.",
                field="channel",
            )
        _require_text(outcome, "outcome", "The outcome")
        self._check_not_before_opening(occurred_on, "occurred_on")
        self._trigger(
            self.CollectionActivityRecorded,
            effective_on=occurred_on,
            meta=meta,
            activity_id=activity_id,
            channel=channel,
            outcome=outcome,
            note=note,
        )

    def record_promise_to_pay(
        self,
        *,
        promise_id: str,
        amount: Money,
        pay_by: date,
        promised_on: date,
        meta: Provenance,
    ) -> None:
        """The customer promises to pay ``amount`` by ``pay_by``; cash from ``promised_on``
        counts towards it."""
        self._check_open()
        self._new_id(promise_id, "promise_id", "Promise to pay", [self.promises])
        self._check_money(amount, "amount")
        self._check_not_before_opening(promised_on, "promised_on")
        _require_date(pay_by, "pay_by")
        if pay_by < promised_on:
            raise errors.InvalidDate(
                f"The promised date {pay_by} is before the promise ({promised_on}).",
                field="pay_by",
            )
        self._trigger(
            self.PromiseToPayMade,
            effective_on=promised_on,
            meta=meta,
            promise_id=promise_id,
            amount=amount,
            pay_by=pay_by,
        )

    def escalate_dunning(self, *, level: int, escalated_on: date, meta: Provenance) -> None:
        """Raise the dunning level; needs an overdue invoice that is not disputed."""
        self._check_open()
        if isinstance(level, bool) or not isinstance(level, int) or level <= self.dunning_level:
            raise errors.InvalidDunningLevel(
                f"The dunning level can only go up from {self.dunning_level}.", field="level"
            )
        self._check_not_before_opening(escalated_on, "escalated_on")
        dunnable = sorted({t.invoice_number for t in self.overdue(escalated_on) if not t.disputed})
        if not dunnable:
            raise errors.NothingToDun(
                f"Nothing undisputed is overdue on {escalated_on}; there is nothing to chase."
            )
        self._trigger(
            self.DunningEscalated,
            effective_on=escalated_on,
            meta=meta,
            level=level,
            invoice_numbers=dunnable,
        )

    # ================================================================== the daily sweep

    def sweep(self, *, as_of: date, meta: Provenance) -> None:
        """Record what the passing of ``as_of`` decides: plan installments missed (and plans
        defaulted), settlement offers lapsed, promises to pay broken. Safe to repeat.

        Each is decided as of ``as_of`` by business dates: an installment paid after
        ``as_of`` was still missed on it, even when the sweep runs after the payment."""
        self._check_open()
        self._check_not_before_opening(as_of, "as_of")
        for plan in [p for p in self.plans.values() if p.status == plans.ACTIVE]:
            if plan.schedule.effective_on > as_of:
                continue  # the schedule in force now had not been agreed yet
            # As the movements' business dates say on ``as_of``, however late the sweep runs.
            for status in self._plan_progress(plan, as_of=as_of):
                if (
                    status.due_on < as_of
                    and status.outstanding.is_positive
                    and status.index not in plan.missed
                ):
                    self._trigger(
                        self.PlanInstallmentMissed,
                        effective_on=as_of,
                        meta=meta,
                        plan_id=plan.plan_id,
                        index=status.index,
                        due_on=status.due_on,
                        outstanding=status.outstanding,
                    )
            if len(plan.missed) >= plan.default_after_missed:
                self._trigger(
                    self.PaymentPlanDefaulted,
                    effective_on=as_of,
                    meta=meta,
                    plan_id=plan.plan_id,
                    missed_installments=len(plan.missed),
                )
        for offer in self._active_offers():
            if offer.expires_on < as_of:
                self._trigger(
                    self.SettlementOfferLapsed,
                    effective_on=as_of,
                    meta=meta,
                    offer_id=offer.offer_id,
                )
        for promise in list(self.promises.values()):
            if promise.status == collection.OPEN and promise.pay_by < as_of:
                self._trigger(
                    self.PromiseToPayBroken,
                    effective_on=as_of,
                    meta=meta,
                    promise_id=promise.promise_id,
                    received=promise.received,
                )

    # ================================================================== follow-on facts

    def _after_cash(self, on: date, meta: Provenance, applied: Sequence[Allocation]) -> None:
        """Cash (``applied``) was applied on ``on``: record what follows from it, in this
        order — installments paid, a settlement discount earned, a plan completed."""
        self._review_plans(on, meta, cause=CASH_CAUSE)
        cash: dict[str, Money] = {}
        for allocation in applied:
            number = allocation.invoice_number
            cash[number] = cash.get(number, Money.zero(self.currency)) + allocation.amount
        for offer in self._active_offers():
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
                    self.SettlementDiscountApplied,
                    effective_on=on,
                    meta=meta,
                    offer_id=offer.offer_id,
                    amount=open_now,
                    applications=applications,
                )
                self._review_plans(on, meta, cause=SETTLEMENT_CAUSE)

    def _review_plans(self, on: date, meta: Provenance, *, cause: str) -> None:
        """Record installments newly paid (or re-opened) and plans now ended.

        Only the customer's cash (``cause`` cash) records an installment paid; a credit
        note, a write-off or a settlement discount reduces the schedule instead. When
        nothing is left open, the cause decides how the plan ends: completed by cash or
        a discount cash earned, closed as credited or written off otherwise.
        """
        for plan in [p for p in self.plans.values() if p.status == plans.ACTIVE]:
            for installment in self._plan_progress(plan):
                if installment.is_paid:
                    if cause == CASH_CAUSE and installment.index not in plan.paid:
                        self._trigger(
                            self.PlanInstallmentPaid,
                            effective_on=on,
                            meta=meta,
                            plan_id=plan.plan_id,
                            index=installment.index,
                            due_on=installment.due_on,
                            amount=installment.paid,
                        )
                elif installment.index in plan.paid:
                    self._trigger(
                        self.PlanInstallmentReopened,
                        effective_on=on,
                        meta=meta,
                        plan_id=plan.plan_id,
                        index=installment.index,
                    )
            if self._plan_open(plan).is_zero:
                if cause in PLAN_CLOSING_CAUSES:
                    self._trigger(
                        self.PaymentPlanClosed,
                        effective_on=on,
                        meta=meta,
                        plan_id=plan.plan_id,
                        outcome=PLAN_CLOSING_CAUSES[cause],
                    )
                else:
                    self._trigger(
                        self.PaymentPlanCompleted, effective_on=on, meta=meta, plan_id=plan.plan_id
                    )

    def _plan_progress(
        self, plan: PaymentPlan, schedule: PlanSchedule | None = None, as_of: date | None = None
    ) -> list[InstallmentProgress]:
        """What cash paid and reductions took off each installment of ``schedule`` (the
        current one by default), counting movements effective on or before ``as_of``."""
        schedule = schedule or plan.schedule
        if not schedule.offsets:
            paid = schedule.base - self._plan_open(plan, as_of)
            return installment_progress(schedule, paid, Money.zero(self.currency))
        movements = [
            movement
            for number in plan.invoice_numbers
            for movement in self.items[number].movements[schedule.offsets.get(number, 0) :]
            if as_of is None or movement.effective_on <= as_of
        ]
        cash, reductions = split_movements(movements, self.currency)
        return installment_progress(schedule, cash, reductions)

    def _review_promises(self, on: date, meta: Provenance) -> None:
        for promise in list(self.promises.values()):
            if promise.status == collection.OPEN and promise.received >= promise.amount:
                self._trigger(
                    self.PromiseToPayKept,
                    effective_on=on,
                    meta=meta,
                    promise_id=promise.promise_id,
                    received=promise.received,
                )

    # ================================================================== queries

    @property
    def balance(self) -> Money:
        """Everything owed on the account, by the customer and by insurers, less unapplied
        credit: positive = owed, negative = credit. Equals the ledger equation."""
        return self.running_balance

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
        return [i.as_term_status() for i in self._plan_progress(plan, schedule, as_of)]

    def claim_outstanding(self, claim_id: str, as_of: date | None = None) -> Money:
        """What the payer still owes on a claim."""
        return self._claim(claim_id).owed_by_payer_as_of(as_of)

    def open_invoice_numbers(self) -> list[str]:
        return list(self.open_items)

    def uninvoiced_charge_ids(self) -> list[str]:
        return list(self.uninvoiced)

    def overdue(self, as_of: date) -> list[OverdueTerm]:
        """Terms due before ``as_of`` with something outstanding as of that date, oldest first.

        Disputed items are listed (flagged) — they are excluded from dunning, not hidden.
        """
        result: list[OverdueTerm] = []
        for item in self.items.values():
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
