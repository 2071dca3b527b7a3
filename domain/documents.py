"""What each document the office sends says: the figures of an invoice, a statement, a letter.

Concept
    A *document* is what a customer receives: an invoice, a statement of account for a
    period, a dunning letter, a payment-plan agreement, a settlement offer letter, a
    promise-to-pay confirmation, or a patient statement after an insurer has paid. Each is
    built here from one account's state *as of a business date* — and the caller passes the
    account as it was known at a moment, so a reprint of last month's statement says exactly
    what the original said. This module decides the content (which lines, which figures,
    which of the clerk's references); the services write it out (HTML and PDF from
    templates) and deliver it.

    A statement line names what the clerk typed, never an internal id where the customer
    has a better one: the invoice number a charge was billed on, the payment's reference
    (cheque number, card authorisation), the credit note's number, the payer of an
    insurer's payment.

Invariants
    - Only what is effective on or before the document's date is counted; nothing is read
      from a clock.
    - A statement ties out: opening balance + Σ lines = closing balance, the closing balance
      is the account's balance as of the period's end, and it equals what insurers owe +
      what the customer owes. Aging buckets sum to what is open on items as of the date.
    - A document of something the account does not have (as of the date) is refused with
      :class:`~domain.errors.UnknownDocument`, not produced empty.

Vocabulary
    document kind, recipient, statement line, opening and closing balance, open item,
    aging summary, dunning letter, agreement, offer letter, confirmation, patient statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from domain import errors, ledger
from domain.account.queries import aged_terms, disputed_as_of, overdue_terms, plan_in_force
from domain.aging import DEFAULT_LIMITS, bucket_index, bucket_labels
from domain.charges import Charge
from domain.claims import ClaimAdjustment
from domain.contacts import Address
from domain.document_kinds import (
    DOCUMENT_KINDS,
    DUNNING_LETTER,
    INVOICE_DOCUMENT,
    PATIENT_STATEMENT,
    PLAN_AGREEMENT,
    PROMISE_CONFIRMATION,
    SETTLEMENT_OFFER,
    STATEMENT_DOCUMENT,
    SUBJECT_FIELD,
    check_kind,
)
from domain.general_ledger import owed_not_aged
from domain.money import Money
from domain.open_items import INVOICE, VOIDED, OpenItem, TermStatus
from domain.payments import CUSTOMER

if TYPE_CHECKING:
    from domain.account import Account


@dataclass(frozen=True)
class Recipient:
    """Who the document is for and where it goes."""

    account_number: str
    name: str
    address: Address | None
    email: str | None
    preferred_channel: str | None
    external_reference: str | None


def recipient_of(account: Account) -> Recipient:
    return Recipient(
        account_number=account.account_number,
        name=account.name,
        address=account.billing_address,
        email=account.email,
        preferred_channel=account.preferred_channel,
        external_reference=account.external_reference,
    )


# ================================================================== invoice


@dataclass(frozen=True)
class InvoiceLineOut:
    service_date: date
    code: str
    description: str
    quantity: str
    unit_price: Money
    net: Money
    tax: Money


@dataclass(frozen=True)
class Installment:
    number: int
    due_on: date
    amount: Money
    outstanding: Money


@dataclass(frozen=True)
class InvoiceDocument:
    recipient: Recipient
    as_of: date
    number: str
    kind: str
    description: str
    issued_on: date
    lines: tuple[InvoiceLineOut, ...]
    subtotal: Money
    tax: Money
    total: Money
    paid: Money
    outstanding: Money
    due_on: date
    #: The item's own terms (one: a single due date).
    terms: tuple[Installment, ...]
    #: The payment plan in force over it as of the date, and the plan's installments.
    plan_id: str | None
    plan_installments: tuple[Installment, ...]
    voided: bool


def invoice_document(account: Account, invoice_number: str, as_of: date) -> InvoiceDocument:
    item = _issued_item(account, invoice_number, as_of)
    outstanding = item.outstanding_as_of(as_of)
    lines = [_line_of(account.charges[charge_id]) for charge_id in item.charge_ids]
    terms = _installments(item.term_statuses(as_of))
    plan = plan_in_force(account, invoice_number, as_of)
    plan_terms: tuple[Installment, ...] = ()
    if plan is not None:
        plan_terms = _installments(account.plan_installments(plan.plan_id, as_of))
    return InvoiceDocument(
        recipient=recipient_of(account),
        as_of=as_of,
        number=item.number,
        kind=item.kind,
        description=item.description,
        issued_on=item.issued_on,
        lines=tuple(lines),
        subtotal=item.subtotal,
        tax=item.tax,
        total=item.total,
        paid=item.total - outstanding if item.status != VOIDED else Money.zero(item.currency),
        outstanding=outstanding,
        due_on=item.terms[-1].due_on,
        terms=terms,
        plan_id=plan.plan_id if plan is not None else None,
        plan_installments=plan_terms,
        voided=item.voided_on is not None and item.voided_on <= as_of,
    )


def _issued_item(account: Account, number: str, as_of: date) -> OpenItem:
    item = account.items.get(number)
    if item is None or item.issued_on > as_of:
        raise errors.UnknownDocument(
            f"Account {account.account_number} has no invoice {number} as of {as_of}.",
            field="invoice_number",
        )
    return item


def _line_of(charge: Charge) -> InvoiceLineOut:
    return InvoiceLineOut(
        service_date=charge.service_date,
        code=charge.code,
        description=charge.description,
        quantity=_quantity(charge.quantity),
        unit_price=charge.unit_price,
        net=charge.net,
        tax=charge.tax,
    )


def _installments(statuses: Sequence[TermStatus]) -> tuple[Installment, ...]:
    """Terms or plan installments as the customer counts them (from 1)."""
    return tuple(Installment(s.index + 1, s.due_on, s.amount, s.outstanding) for s in statuses)


def _quantity(value: object) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


# ================================================================== statement of account


@dataclass(frozen=True)
class StatementLine:
    """One movement of the balance, as the customer reads it. ``amount`` is what it did to
    the balance (+ owed more, − owed less); ``balance`` the running balance after it."""

    on: date
    kind: str
    description: str
    reference: str
    amount: Money
    balance: Money


@dataclass(frozen=True)
class OpenItemLine:
    number: str
    issued_on: date
    due_on: date
    total: Money
    outstanding: Money
    days_past_due: int
    plan_id: str | None
    disputed: bool


@dataclass(frozen=True)
class AgingSummary:
    labels: tuple[str, ...]
    amounts: tuple[Money, ...]
    total: Money


@dataclass(frozen=True)
class StatementDocument:
    recipient: Recipient
    currency: str
    period_from: date
    period_to: date
    open_items_only: bool
    opening: Money
    lines: tuple[StatementLine, ...]
    #: Invoices issued in the period (their charges are the lines that moved the balance).
    invoices_issued: tuple[tuple[date, str, Money], ...]
    closing: Money
    owed_by_insurers: Money
    customer_owes: Money
    unapplied_credit: Money
    aging: AgingSummary
    open_items: tuple[OpenItemLine, ...]

    @property
    def as_of(self) -> date:
        return self.period_to


def statement_document(
    account: Account, period_from: date, period_to: date, *, open_items_only: bool = False
) -> StatementDocument:
    if period_from > period_to:
        raise errors.InvalidDate(
            f"The period starts on {period_from}, after its end {period_to}.", field="from"
        )
    currency = account.currency
    opening = Money.zero(currency)
    in_period = []
    for index, entry in enumerate(account.entries):
        if entry.effective_on < period_from:
            opening = opening + entry.balance_effect
        elif entry.effective_on <= period_to:
            in_period.append((entry.effective_on, index, entry))
    in_period.sort(key=lambda found: (found[0], found[1]))
    running = opening
    lines = []
    for on, _, entry in in_period:
        if not entry.balance_effect:
            continue
        running = running + entry.balance_effect
        kind, description, reference = describe_entry(account, entry.category, entry.reference)
        lines.append(StatementLine(on, kind, description, reference, entry.balance_effect, running))
    issued = tuple(
        (item.issued_on, item.number, item.total)
        for item in sorted(account.items.values(), key=lambda i: (i.issued_on, i.number))
        if item.kind == INVOICE and period_from <= item.issued_on <= period_to
    )
    insurers = Money.sum(
        (claim.owed_by_payer_as_of(period_to) for claim in account.claims.values()), currency
    )
    credit = _unapplied_credit_as_of(account, period_to)
    open_lines = _open_items(account, period_to)
    return StatementDocument(
        recipient=recipient_of(account),
        currency=currency,
        period_from=period_from,
        period_to=period_to,
        open_items_only=open_items_only,
        opening=opening,
        lines=() if open_items_only else tuple(lines),
        invoices_issued=() if open_items_only else issued,
        closing=running,
        owed_by_insurers=insurers,
        customer_owes=running - insurers,
        unapplied_credit=credit,
        aging=aging_summary(account, period_to),
        open_items=open_lines,
    )


def _unapplied_credit_as_of(account: Account, as_of: date) -> Money:
    """Unapplied credit as of a date: what the customer's payments left unapplied by then.
    The state keeps only today's figure; the balance equation gives the dated one: what
    is open on items, owed on claims and uninvoiced, less the balance."""
    currency = account.currency
    open_items = Money.sum((i.outstanding_as_of(as_of) for i in account.items.values()), currency)
    credit = open_items + owed_not_aged(account, as_of) - account.balance_as_of(as_of)
    return credit if credit.is_positive else Money.zero(currency)


def _open_items(account: Account, as_of: date) -> tuple[OpenItemLine, ...]:
    by_item: dict[str, list[tuple[date, Money]]] = {}
    plans: dict[str, str | None] = {}
    for term in aged_terms(account, as_of):
        if term.outstanding.is_positive:
            by_item.setdefault(term.invoice_number, []).append((term.due_on, term.outstanding))
            plans[term.invoice_number] = term.plan_id
    result = []
    for number, terms in by_item.items():
        item = account.items[number]
        due_on = min(on for on, _ in terms)
        result.append(
            OpenItemLine(
                number=number,
                issued_on=item.issued_on,
                due_on=due_on,
                total=item.total,
                outstanding=item.outstanding_as_of(as_of),
                days_past_due=max((as_of - due_on).days, 0),
                plan_id=plans[number],
                disputed=disputed_as_of(account, number, as_of),
            )
        )
    result.sort(key=lambda line: (line.due_on, line.number))
    return tuple(result)


def aging_summary(
    account: Account, as_of: date, limits: Sequence[int] = DEFAULT_LIMITS
) -> AgingSummary:
    """What is open as of the date by days past due (aged as the aging report ages)."""
    labels = bucket_labels(limits)
    sums = [Money.zero(account.currency) for _ in labels]
    for term in aged_terms(account, as_of):
        if term.outstanding.is_positive:
            index = bucket_index((as_of - term.due_on).days, limits)
            sums[index] = sums[index] + term.outstanding
    return AgingSummary(tuple(labels), tuple(sums), Money.sum(sums, account.currency))


def describe_entry(account: Account, category: str, reference: str) -> tuple[str, str, str]:
    """(kind, description, reference) of a ledger entry in the customer's words: the
    invoice a charge is on, the reference the clerk gave a payment, the payer of an
    insurer's payment."""
    if category == ledger.CHARGES:
        charge = account.charges.get(reference)
        if charge is None:
            return ("charge", "Charge", reference)
        on = charge.invoice_number or (f"claim {charge.claim_id}" if charge.claim_id else "")
        return ("charge", charge.description, on)
    if category in (ledger.PAYMENTS, ledger.REVERSALS):
        payment = account.payments.get(reference)
        reversed_ = category == ledger.REVERSALS
        if payment is None:
            return ("payment", "Payment reversed" if reversed_ else "Payment", reference)
        if payment.payer != CUSTOMER:
            what = f"Payment by {payment.payer}"
            ref = f"claim {payment.claim_id}" if payment.claim_id else payment.reference
        else:
            what = f"Payment ({payment.method})" if payment.method else "Payment"
            ref = payment.reference or ""
        return ("payment", f"{what} reversed" if reversed_ else what, ref)
    if category == ledger.CREDITS:
        return ("credit", "Credit note", reference)
    if category == ledger.DEBIT_NOTES:
        item = account.items.get(reference)
        return ("debit_note", (item.description if item else "") or "Debit note", reference)
    if category == ledger.DISCOUNTS:
        return ("discount", "Settlement discount", f"offer {reference}")
    if category == ledger.WRITE_OFFS:
        write_off = account.write_offs.get(reference)
        on = write_off.invoice_number if write_off is not None else reference
        return ("write_off", "Written off", on)
    if category == ledger.RECOVERIES:
        return ("write_off", "Write-off reinstated", reference)
    if category == ledger.CONTRACTUAL_ADJUSTMENTS:
        claim = account.claims.get(reference)
        payer = f" ({claim.payer})" if claim is not None else ""
        return ("adjustment", f"Insurer's contractual adjustment{payer}", f"claim {reference}")
    if category == ledger.REFUNDS:
        return ("refund", "Refund", reference)
    return (category, category.replace("_", " ").capitalize(), reference)


# ================================================================== letters


@dataclass(frozen=True)
class OverdueLine:
    number: str
    due_on: date
    outstanding: Money
    days_overdue: int
    plan_id: str | None


@dataclass(frozen=True)
class DunningLetterDocument:
    recipient: Recipient
    as_of: date
    level: int
    overdue: tuple[OverdueLine, ...]
    total_overdue: Money
    balance: Money
    pay_by: date


def dunning_letter_document(
    account: Account, as_of: date, *, level: int | None = None, grace_days: int = 10
) -> DunningLetterDocument:
    """A reminder of what is past due as of the date (disputed items left out: they are
    not dunned), at the account's dunning level or the one given."""
    lines = tuple(
        OverdueLine(t.invoice_number, t.due_on, t.outstanding, t.days_overdue, t.plan_id)
        for t in overdue_terms(account, as_of)
        if not t.disputed
    )
    if not lines:
        raise errors.UnknownDocument(
            f"Nothing is past due on account {account.account_number} as of {as_of}.",
            field="as_of",
        )
    return DunningLetterDocument(
        recipient=recipient_of(account),
        as_of=as_of,
        level=account.dunning_level if level is None else level,
        overdue=lines,
        total_overdue=Money.sum((line.outstanding for line in lines), account.currency),
        balance=account.balance_as_of(as_of),
        pay_by=as_of + timedelta(days=grace_days),
    )


@dataclass(frozen=True)
class PlanAgreementDocument:
    recipient: Recipient
    as_of: date
    plan_id: str
    agreed_on: date
    invoice_numbers: tuple[str, ...]
    amount: Money
    installments: tuple[Installment, ...]
    default_after_missed: int
    status: str


def plan_agreement_document(account: Account, plan_id: str, as_of: date) -> PlanAgreementDocument:
    plan = account.plans.get(plan_id)
    schedule = plan.schedule_as_of(as_of) if plan is not None else None
    if plan is None or schedule is None:
        raise errors.UnknownDocument(
            f"Account {account.account_number} has no payment plan {plan_id} as of {as_of}.",
            field="plan_id",
        )
    installments = _installments(account.plan_installments(plan_id, as_of))
    return PlanAgreementDocument(
        recipient=recipient_of(account),
        as_of=as_of,
        plan_id=plan_id,
        agreed_on=plan.agreed_on,
        invoice_numbers=tuple(plan.invoice_numbers),
        amount=Money.sum((t.amount for t in schedule.installments), account.currency),
        installments=installments,
        default_after_missed=plan.default_after_missed,
        status=plan.status if plan.ended_on is None or plan.ended_on <= as_of else "active",
    )


@dataclass(frozen=True)
class SettlementOfferDocument:
    recipient: Recipient
    as_of: date
    offer_id: str
    invoice_numbers: tuple[str, ...]
    made_on: date
    expires_on: date
    open_now: Money
    amount_off: Money
    to_pay: Money
    status: str


def settlement_offer_document(
    account: Account, offer_id: str, as_of: date
) -> SettlementOfferDocument:
    """The offer in the customer's words: this much off if the rest is paid by the expiry.
    ``to_pay`` is what is open on the offer's invoices as of the date less the discount."""
    offer = account.offers.get(offer_id)
    if offer is None or offer.made_on > as_of:
        raise errors.UnknownDocument(
            f"Account {account.account_number} has no settlement offer {offer_id} as of {as_of}.",
            field="offer_id",
        )
    open_now = Money.sum(
        (account.items[n].outstanding_as_of(as_of) for n in offer.invoice_numbers),
        account.currency,
    )
    discount = min(offer.discount, open_now, key=lambda m: m.amount)
    status = offer.status if offer.ended_on is not None and offer.ended_on <= as_of else "active"
    return SettlementOfferDocument(
        recipient=recipient_of(account),
        as_of=as_of,
        offer_id=offer_id,
        invoice_numbers=tuple(offer.invoice_numbers),
        made_on=offer.made_on,
        expires_on=offer.expires_on,
        open_now=open_now,
        amount_off=discount,
        to_pay=open_now - discount,
        status=status,
    )


@dataclass(frozen=True)
class PromiseConfirmationDocument:
    recipient: Recipient
    as_of: date
    promise_id: str
    amount: Money
    made_on: date
    pay_by: date
    received: Money
    status: str


def promise_confirmation_document(
    account: Account, promise_id: str, as_of: date
) -> PromiseConfirmationDocument:
    promise = account.promises.get(promise_id)
    if promise is None or promise.made_on > as_of:
        raise errors.UnknownDocument(
            f"Account {account.account_number} has no promise to pay {promise_id} as of {as_of}.",
            field="promise_id",
        )
    return PromiseConfirmationDocument(
        recipient=recipient_of(account),
        as_of=as_of,
        promise_id=promise_id,
        amount=promise.amount,
        made_on=promise.made_on,
        pay_by=promise.pay_by,
        received=promise.received,
        status=promise.status,
    )


@dataclass(frozen=True)
class PatientStatementDocument:
    """After the insurer has paid: what was billed, what the insurer paid and adjusted,
    and what is left for the patient."""

    recipient: Recipient
    as_of: date
    claim_id: str
    payer: str
    services: tuple[InvoiceLineOut, ...]
    billed: Money
    insurer_paid: Money
    adjustments: tuple[ClaimAdjustment, ...]
    contractual: Money
    patient_responsibility: Money
    patient_paid: Money
    patient_owes: Money
    patient_invoice_number: str | None
    status: str
    owed_by_insurer: Money


def patient_statement_document(
    account: Account, claim_id: str, as_of: date
) -> PatientStatementDocument:
    claim = account.claims.get(claim_id)
    if claim is None or claim.submitted_on > as_of:
        raise errors.UnknownDocument(
            f"Account {account.account_number} has no claim {claim_id} as of {as_of}.",
            field="claim_id",
        )
    currency = account.currency
    services = tuple(_line_of(account.charges[i]) for i in claim.charge_ids)
    paid = Money.sum(
        (
            m.amount
            for m in claim.movements
            if m.kind in ("insurer_payment", "payment_reversal") and m.effective_on <= as_of
        ),
        currency,
    )
    contractual = Money.sum(
        (
            m.amount
            for m in claim.movements
            if m.kind == "contractual_adjustment" and m.effective_on <= as_of
        ),
        currency,
    )
    share = Money.sum(
        (
            m.amount
            for m in claim.movements
            if m.kind == "patient_share" and m.effective_on <= as_of
        ),
        currency,
    )
    number = claim.patient_invoice_number
    owes = Money.zero(currency)
    patient_paid = Money.zero(currency)
    if number is not None and number in account.items:
        item = account.items[number]
        owes = item.outstanding_as_of(as_of)
        patient_paid = share - owes if share.is_positive else Money.zero(currency)
    return PatientStatementDocument(
        recipient=recipient_of(account),
        as_of=as_of,
        claim_id=claim_id,
        payer=claim.payer,
        services=services,
        billed=claim.billed,
        insurer_paid=paid,
        adjustments=tuple(claim.adjustments),
        contractual=contractual,
        patient_responsibility=share,
        patient_paid=patient_paid,
        patient_owes=owes,
        patient_invoice_number=number,
        status=claim.status,
        owed_by_insurer=claim.owed_by_payer_as_of(as_of),
    )


Document = (
    InvoiceDocument
    | StatementDocument
    | DunningLetterDocument
    | PlanAgreementDocument
    | SettlementOfferDocument
    | PromiseConfirmationDocument
    | PatientStatementDocument
)


__all__ = [
    "DOCUMENT_KINDS",
    "DUNNING_LETTER",
    "INVOICE_DOCUMENT",
    "PATIENT_STATEMENT",
    "PLAN_AGREEMENT",
    "PROMISE_CONFIRMATION",
    "SETTLEMENT_OFFER",
    "STATEMENT_DOCUMENT",
    "SUBJECT_FIELD",
    "check_kind",
]
