"""The commands a clerk can send about one account, as validated requests.

Each command is a pydantic model: the HTTP API takes it as a request body, the CLI builds it
from options, and ``Receivables.submit`` applies it with ``apply_to``, which calls the one
``Account`` method the command stands for with typed keyword arguments, amounts made into
``Money`` in the account's currency (or the ``currency`` the request names, which the domain
refuses if it is not the account's). The models check form (types, signs, lengths, unknown
fields); the domain checks the rules.

Invariants
    - ``calls`` is the command's stable name: the ``Account`` method ``apply_to`` calls, the
      API's operationId, the CLI's command and the name stored with an idempotency key (a
      retry is matched by it). Its values never change.
    - A field a command creates an id in (``id_field``) is filled by ``with_id`` before the
      command is applied; ``apply_to`` refuses a command whose id is still missing.
"""

from __future__ import annotations

import uuid
from abc import abstractmethod
from datetime import date
from decimal import Decimal
from typing import Annotated, ClassVar, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    Strict,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from domain import contacts
from domain.account import Account
from domain.claims import ClaimAdjustment
from domain.money import Money
from domain.open_items import Term
from domain.provenance import Provenance
from domain.schedules import MAX_TERMS_DAYS, InstallmentShare
from services.fields import (
    CONTROL_CHARACTER,
    STRICT,
    BusinessDate,
    Currency,
    DecimalString,
    Identifier,
    NonNegativeAmount,
    Note,
    PositiveAmount,
    ShortText,
)

_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "receivables:command-id")

#: A whole number sent as a JSON number: ``true`` and ``"3"`` are refused, not read as 1 and 3.
Count = Annotated[int, Strict()]
AllocationPolicy = Literal["oldest_due_first", "none"]


#: Date fields that are terms of the command (a due date, a deadline), not the day it takes
#: effect on.
_TERMS_NOT_EFFECT = frozenset({"due_on", "expires_on", "pay_by", "patient_due_on"})


class AccountCommand(BaseModel):
    """A change to one existing account: the Account method it calls and its arguments."""

    model_config = STRICT

    #: The command's stable name, which is the name of the ``Account`` method it calls.
    calls: ClassVar[str]
    #: The field naming what the command creates (a charge id, a payment id), if any, and the
    #: prefix of the id made for it when the client sends none.
    id_field: ClassVar[str | None] = None
    id_prefix: ClassVar[str] = ""

    #: The field holding the business date the command takes effect on: what a tenant whose
    #: back-dating policy allows it moves to the first open day of a closed period.
    effective_field: ClassVar[str | None] = None

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: object) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "effective_field" not in cls.__dict__:
            dates = [
                name
                for name, info in cls.model_fields.items()
                if "date" in str(info.annotation) and name not in _TERMS_NOT_EFFECT
            ]
            cls.effective_field = dates[0] if dates else None

    def effective_date(self) -> date | None:
        value = getattr(self, self.effective_field) if self.effective_field else None
        return value if isinstance(value, date) else None

    def redated(self, on: date) -> Self:
        """The command taking effect on ``on`` instead of its own date."""
        if self.effective_field is None:
            return self
        return self.model_copy(update={self.effective_field: on})

    def with_id(self, idempotency_key: str | None) -> Self:
        """The command with its id filled in. Made from the idempotency key when there is one,
        so a retried request names the same charge or payment; random otherwise."""
        if self.id_field is None or getattr(self, self.id_field) is not None:
            return self
        seed = (
            uuid.uuid5(_ID_NAMESPACE, idempotency_key).hex if idempotency_key else uuid.uuid4().hex
        )
        return self.model_copy(update={self.id_field: f"{self.id_prefix}_{seed[:20]}"})

    @abstractmethod
    def apply_to(self, account: Account, meta: Provenance) -> None:
        """Call ``Account.<calls>`` with this command's arguments; the domain's errors pass
        through unchanged."""


def made_id(value: str | None, field: str) -> str:
    """The id ``with_id`` filled in ``field``; applying a command without it is a bug."""
    if value is None:
        msg = f"{field} is missing: a command is applied after with_id() has made its id"
        raise ValueError(msg)
    return value


def money(amount: Decimal | None, currency: str) -> Money | None:
    """An optional amount as Money (``None``: the domain's default, e.g. all that is open)."""
    return None if amount is None else Money(amount, currency)


# --- structured values ------------------------------------------------------------------


class TermIn(BaseModel):
    model_config = STRICT
    due_on: BusinessDate
    amount: PositiveAmount

    def term(self, currency: str) -> Term:
        return Term(due_on=self.due_on, amount=Money(self.amount, currency))


class InstallmentShareIn(BaseModel):
    """A term given as a share of the total: ``percent`` due ``due_in_days`` after issue."""

    model_config = STRICT
    due_in_days: Count = Field(ge=0, le=MAX_TERMS_DAYS)
    percent: PositiveAmount = Field(description='A decimal string such as "30" or "33.5".')

    def share(self) -> InstallmentShare:
        return InstallmentShare(due_in_days=self.due_in_days, percent=self.percent)


class ClaimAdjustmentIn(BaseModel):
    """One adjustment of a remittance (X12 835 CAS): group, reason code, amount."""

    model_config = STRICT
    group: Literal["CO", "PR", "OA", "PI"] = Field(
        description="CO contractual, PR patient responsibility, OA other, PI payer-initiated."
    )
    reason_code: Identifier = Field(description='The CARC, e.g. "45".')
    amount: PositiveAmount

    def adjustment(self, currency: str) -> ClaimAdjustment:
        return ClaimAdjustment(self.group, self.reason_code, Money(self.amount, currency))


def allocations(values: dict[str, Decimal] | None, currency: str) -> dict[str, Money] | None:
    return (
        None
        if values is None
        else {invoice: Money(amount, currency) for invoice, amount in values.items()}
    )


_ALLOCATIONS_DESCRIPTION = "Invoice number → amount to apply; omitted: by allocation_policy."
_CURRENCY_DESCRIPTION = "Defaults to the account's currency."


# --- charges and documents --------------------------------------------------------------


class PostCharge(AccountCommand):
    calls: ClassVar[str] = "post_charge"
    id_field: ClassVar[str | None] = "charge_id"
    id_prefix: ClassVar[str] = "ch"

    charge_id: Identifier | None = Field(
        None, description="Your id for the charge; made for you if omitted."
    )
    code: Identifier
    description: ShortText
    quantity: PositiveAmount = Decimal(1)
    unit_price: PositiveAmount
    tax: NonNegativeAmount = Decimal(0)
    currency: Currency | None = Field(None, description=_CURRENCY_DESCRIPTION)
    service_date: BusinessDate

    def apply_to(self, account: Account, meta: Provenance) -> None:
        currency = self.currency or account.currency
        account.post_charge(
            charge_id=made_id(self.charge_id, "charge_id"),
            code=self.code,
            description=self.description,
            quantity=self.quantity,
            unit_price=Money(self.unit_price, currency),
            tax=Money(self.tax, currency),
            service_date=self.service_date,
            effective_on=self.service_date,
            meta=meta,
        )


class VoidCharge(AccountCommand):
    """Void a charge posted in error, while it is on no invoice and no claim."""

    calls: ClassVar[str] = "void_charge"

    charge_id: Identifier
    effective_on: BusinessDate

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.void_charge(charge_id=self.charge_id, effective_on=self.effective_on, meta=meta)


class IssueInvoice(AccountCommand):
    calls: ClassVar[str] = "issue_invoice"

    invoice_number: Identifier
    issued_on: BusinessDate
    charge_ids: list[Identifier] | None = Field(
        None, min_length=1, description="Omitted: every uninvoiced charge."
    )
    due_on: BusinessDate | None = Field(None, description="Omitted: the account's payment terms.")
    installments: list[InstallmentShareIn] | None = Field(
        None, min_length=1, description="Installment shares of the total (e.g. 30/50/20)."
    )
    schedule: list[TermIn] | None = Field(
        None, min_length=1, description="Installment terms instead of one due date."
    )

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.issue_invoice(
            invoice_number=self.invoice_number,
            issued_on=self.issued_on,
            charge_ids=self.charge_ids,
            due_on=self.due_on,
            installments=(
                None if self.installments is None else [s.share() for s in self.installments]
            ),
            schedule=(
                None if self.schedule is None else [t.term(account.currency) for t in self.schedule]
            ),
            meta=meta,
        )


class VoidInvoice(AccountCommand):
    """Void an invoice or debit note issued in error, while nothing is applied to it."""

    calls: ClassVar[str] = "void_invoice"

    invoice_number: Identifier
    effective_on: BusinessDate

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.void_invoice(
            invoice_number=self.invoice_number, effective_on=self.effective_on, meta=meta
        )


class IssueCreditNote(AccountCommand):
    calls: ClassVar[str] = "issue_credit_note"

    note_number: Identifier
    invoice_number: Identifier
    issued_on: BusinessDate
    amount: PositiveAmount | None = Field(None, description="Omitted: all that is open.")
    currency: Currency | None = Field(None, description=_CURRENCY_DESCRIPTION)
    description: Note = ""

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.issue_credit_note(
            note_number=self.note_number,
            invoice_number=self.invoice_number,
            issued_on=self.issued_on,
            amount=money(self.amount, self.currency or account.currency),
            description=self.description,
            meta=meta,
        )


class IssueDebitNote(AccountCommand):
    calls: ClassVar[str] = "issue_debit_note"

    note_number: Identifier
    amount: PositiveAmount
    currency: Currency | None = Field(None, description=_CURRENCY_DESCRIPTION)
    issued_on: BusinessDate
    due_on: BusinessDate | None = Field(None, description="Omitted: the account's payment terms.")
    description: Note = ""
    against_invoice: Identifier | None = Field(
        None, description="The invoice the adjustment is about, if any."
    )

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.issue_debit_note(
            note_number=self.note_number,
            amount=Money(self.amount, self.currency or account.currency),
            issued_on=self.issued_on,
            due_on=self.due_on,
            description=self.description,
            against_invoice=self.against_invoice,
            meta=meta,
        )


# --- cash -------------------------------------------------------------------------------


class ReceivePayment(AccountCommand):
    calls: ClassVar[str] = "receive_payment"
    id_field: ClassVar[str | None] = "payment_id"
    id_prefix: ClassVar[str] = "pay"

    payment_id: Identifier | None = Field(
        None, description="Your id for the payment; made for you if omitted."
    )
    amount: PositiveAmount
    currency: Currency | None = Field(None, description=_CURRENCY_DESCRIPTION)
    method: Identifier = Field(description="cash, card, cheque, ach, ...")
    reference: ShortText
    received_on: BusinessDate
    allocations: dict[Identifier, PositiveAmount] | None = Field(
        None, description=_ALLOCATIONS_DESCRIPTION
    )
    allocation_policy: AllocationPolicy = Field(
        "oldest_due_first", description="none: keep it all as unapplied credit."
    )

    def apply_to(self, account: Account, meta: Provenance) -> None:
        currency = self.currency or account.currency
        account.receive_payment(
            payment_id=made_id(self.payment_id, "payment_id"),
            amount=Money(self.amount, currency),
            method=self.method,
            reference=self.reference,
            received_on=self.received_on,
            allocations=allocations(self.allocations, currency),
            allocation_policy=self.allocation_policy,
            meta=meta,
        )


class ApplyCredit(AccountCommand):
    """Apply unapplied credit to open items (the oldest payment's credit is used first)."""

    calls: ClassVar[str] = "apply_credit"

    applied_on: BusinessDate
    allocations: dict[Identifier, PositiveAmount] | None = Field(
        None, min_length=1, description=_ALLOCATIONS_DESCRIPTION
    )
    currency: Currency | None = Field(None, description=_CURRENCY_DESCRIPTION)
    allocation_policy: AllocationPolicy = "oldest_due_first"

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.apply_credit(
            applied_on=self.applied_on,
            allocations=allocations(self.allocations, self.currency or account.currency),
            allocation_policy=self.allocation_policy,
            meta=meta,
        )


class RefundCredit(AccountCommand):
    """Pay unapplied credit back to the customer."""

    calls: ClassVar[str] = "refund_credit"
    id_field: ClassVar[str | None] = "refund_id"
    id_prefix: ClassVar[str] = "rf"

    refund_id: Identifier | None = Field(
        None, description="Your id for the refund; made for you if omitted."
    )
    amount: PositiveAmount
    currency: Currency | None = Field(None, description=_CURRENCY_DESCRIPTION)
    method: Identifier = Field(description="cash, card, cheque, ach, ...")
    reference: ShortText
    refunded_on: BusinessDate

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.refund_credit(
            refund_id=made_id(self.refund_id, "refund_id"),
            amount=Money(self.amount, self.currency or account.currency),
            method=self.method,
            reference=self.reference,
            refunded_on=self.refunded_on,
            meta=meta,
        )


class ReversePayment(AccountCommand):
    """Reverse a payment that did not clear: what it paid is re-opened."""

    calls: ClassVar[str] = "reverse_payment"

    payment_id: Identifier
    reason_code: Identifier = Field(description="e.g. NSF, chargeback.")
    reversed_on: BusinessDate

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.reverse_payment(
            payment_id=self.payment_id,
            reason_code=self.reason_code,
            reversed_on=self.reversed_on,
            meta=meta,
        )


class WriteOff(AccountCommand):
    calls: ClassVar[str] = "write_off"
    id_field: ClassVar[str | None] = "write_off_id"
    id_prefix: ClassVar[str] = "wo"

    write_off_id: Identifier | None = Field(
        None, description="Your id for the write-off; made for you if omitted."
    )
    invoice_number: Identifier
    written_off_on: BusinessDate
    amount: PositiveAmount | None = Field(None, description="Omitted: all that is open.")
    currency: Currency | None = Field(None, description=_CURRENCY_DESCRIPTION)

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.write_off(
            write_off_id=made_id(self.write_off_id, "write_off_id"),
            invoice_number=self.invoice_number,
            written_off_on=self.written_off_on,
            amount=money(self.amount, self.currency or account.currency),
            meta=meta,
        )


class RecoverWriteOff(AccountCommand):
    """Reinstate written-off debt the customer pays after all; post the payment afterwards."""

    calls: ClassVar[str] = "recover_write_off"

    write_off_id: Identifier
    amount: PositiveAmount
    currency: Currency | None = Field(None, description=_CURRENCY_DESCRIPTION)
    recovered_on: BusinessDate

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.recover_write_off(
            write_off_id=self.write_off_id,
            amount=Money(self.amount, self.currency or account.currency),
            recovered_on=self.recovered_on,
            meta=meta,
        )


# --- settlement offers and payment plans ------------------------------------------------


class OfferSettlement(AccountCommand):
    """Take ``amount_off`` (or accept ``settle_for``) if the rest is paid by ``expires_on``."""

    calls: ClassVar[str] = "offer_settlement"
    id_field: ClassVar[str | None] = "offer_id"
    id_prefix: ClassVar[str] = "so"

    offer_id: Identifier | None = Field(
        None, description="Your id for the offer; made for you if omitted."
    )
    invoice_numbers: list[Identifier] | None = Field(
        None, min_length=1, description="Omitted: every open invoice."
    )
    amount_off: PositiveAmount | None = Field(None, description="Give this or settle_for.")
    settle_for: PositiveAmount | None = Field(None, description="Give this or amount_off.")
    currency: Currency | None = Field(None, description=_CURRENCY_DESCRIPTION)
    offered_on: BusinessDate
    expires_on: BusinessDate

    def apply_to(self, account: Account, meta: Provenance) -> None:
        currency = self.currency or account.currency
        account.offer_settlement(
            offer_id=made_id(self.offer_id, "offer_id"),
            invoice_numbers=self.invoice_numbers,
            amount_off=money(self.amount_off, currency),
            settle_for=money(self.settle_for, currency),
            offered_on=self.offered_on,
            expires_on=self.expires_on,
            meta=meta,
        )


class WithdrawSettlementOffer(AccountCommand):
    calls: ClassVar[str] = "withdraw_settlement_offer"

    offer_id: Identifier
    withdrawn_on: BusinessDate

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.withdraw_settlement_offer(
            offer_id=self.offer_id, withdrawn_on=self.withdrawn_on, meta=meta
        )


class AgreePaymentPlan(AccountCommand):
    calls: ClassVar[str] = "agree_payment_plan"
    id_field: ClassVar[str | None] = "plan_id"
    id_prefix: ClassVar[str] = "plan"

    plan_id: Identifier | None = Field(
        None, description="Your id for the plan; made for you if omitted."
    )
    invoice_numbers: list[Identifier] = Field(min_length=1)
    installments: list[TermIn] = Field(min_length=1)
    agreed_on: BusinessDate
    default_after_missed: Count = Field(
        2, ge=1, le=120, description="The plan defaults when this many installments are missed."
    )

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.agree_payment_plan(
            plan_id=made_id(self.plan_id, "plan_id"),
            invoice_numbers=self.invoice_numbers,
            installments=[t.term(account.currency) for t in self.installments],
            agreed_on=self.agreed_on,
            default_after_missed=self.default_after_missed,
            meta=meta,
        )


class ChangePaymentPlan(AccountCommand):
    """Renegotiate a plan: a new schedule over what is open on it now."""

    calls: ClassVar[str] = "change_payment_plan"

    plan_id: Identifier
    installments: list[TermIn] = Field(min_length=1)
    changed_on: BusinessDate

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.change_payment_plan(
            plan_id=self.plan_id,
            installments=[t.term(account.currency) for t in self.installments],
            changed_on=self.changed_on,
            meta=meta,
        )


class DefaultPaymentPlan(AccountCommand):
    calls: ClassVar[str] = "default_payment_plan"

    plan_id: Identifier
    defaulted_on: BusinessDate

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.default_payment_plan(
            plan_id=self.plan_id, defaulted_on=self.defaulted_on, meta=meta
        )


# --- subscriptions ----------------------------------------------------------------------


class StartSubscription(AccountCommand):
    """Start a monthly price plan; billing runs charge each period in advance."""

    calls: ClassVar[str] = "start_subscription"
    id_field: ClassVar[str | None] = "subscription_id"
    id_prefix: ClassVar[str] = "sub"

    subscription_id: Identifier | None = Field(
        None, description="Your id for the subscription; made for you if omitted."
    )
    plan_code: Identifier
    price: PositiveAmount = Field(description="A month's price.")
    currency: Currency | None = Field(None, description=_CURRENCY_DESCRIPTION)
    starts_on: BusinessDate

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.start_subscription(
            subscription_id=made_id(self.subscription_id, "subscription_id"),
            plan_code=self.plan_code,
            price=Money(self.price, self.currency or account.currency),
            starts_on=self.starts_on,
            meta=meta,
        )


class ChangeSubscriptionPlan(AccountCommand):
    """Change plan now (the billed period is prorated) or from the next period."""

    calls: ClassVar[str] = "change_subscription_plan"

    subscription_id: Identifier
    plan_code: Identifier
    price: PositiveAmount = Field(description="A month's price on the new plan.")
    currency: Currency | None = Field(None, description=_CURRENCY_DESCRIPTION)
    change_on: BusinessDate
    timing: Literal["immediate", "next_period"] = "immediate"

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.change_subscription_plan(
            subscription_id=self.subscription_id,
            plan_code=self.plan_code,
            price=Money(self.price, self.currency or account.currency),
            change_on=self.change_on,
            timing=self.timing,
            meta=meta,
        )


class CancelSubscription(AccountCommand):
    """Cancel at the end of the period, or now with the unused part credited."""

    calls: ClassVar[str] = "cancel_subscription"

    subscription_id: Identifier
    cancel_on: BusinessDate
    timing: Literal["immediate", "end_of_period"] = "end_of_period"

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.cancel_subscription(
            subscription_id=self.subscription_id,
            cancel_on=self.cancel_on,
            timing=self.timing,
            meta=meta,
        )


class RunBilling(AccountCommand):
    """Charge every active subscription for the periods starting by ``through``."""

    calls: ClassVar[str] = "run_billing"
    id_field: ClassVar[str | None] = "run_id"
    id_prefix: ClassVar[str] = "run"

    run_id: Identifier | None = Field(
        None, description="Your id for the run; made for you if omitted."
    )
    through: BusinessDate

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.run_billing(run_id=made_id(self.run_id, "run_id"), through=self.through, meta=meta)


# --- insurance claims -------------------------------------------------------------------


class SubmitClaim(AccountCommand):
    """Bill uninvoiced charges to an insurer; the claim id is the one the payer will quote."""

    calls: ClassVar[str] = "submit_claim"

    claim_id: Identifier
    payer: ShortText
    charge_ids: list[Identifier] = Field(min_length=1)
    submitted_on: BusinessDate

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.submit_claim(
            claim_id=self.claim_id,
            payer=self.payer,
            charge_ids=self.charge_ids,
            submitted_on=self.submitted_on,
            meta=meta,
        )


class AdjudicateClaim(AccountCommand):
    """The payer's remittance: billed − Σ adjustments must equal ``paid``."""

    calls: ClassVar[str] = "adjudicate_claim"

    claim_id: Identifier
    paid: NonNegativeAmount
    adjustments: list[ClaimAdjustmentIn] = Field(default_factory=list)
    currency: Currency | None = Field(None, description=_CURRENCY_DESCRIPTION)
    adjudicated_on: BusinessDate
    patient_invoice_number: Identifier | None = Field(
        None, description="The patient's share's number; omitted: <claim_id>-PR."
    )
    patient_due_on: BusinessDate | None = Field(None, description="Omitted: the account's terms.")

    def apply_to(self, account: Account, meta: Provenance) -> None:
        currency = self.currency or account.currency
        account.adjudicate_claim(
            claim_id=self.claim_id,
            paid=Money(self.paid, currency),
            adjustments=[a.adjustment(currency) for a in self.adjustments],
            adjudicated_on=self.adjudicated_on,
            patient_invoice_number=self.patient_invoice_number,
            patient_due_on=self.patient_due_on,
            meta=meta,
        )


class PostInsurerPayment(AccountCommand):
    calls: ClassVar[str] = "post_insurer_payment"
    id_field: ClassVar[str | None] = "payment_id"
    id_prefix: ClassVar[str] = "pay"

    claim_id: Identifier
    payment_id: Identifier | None = Field(
        None, description="Your id for the payment; made for you if omitted."
    )
    amount: PositiveAmount
    currency: Currency | None = Field(None, description=_CURRENCY_DESCRIPTION)
    method: Identifier = Field(description="eft, cheque, ...")
    reference: ShortText
    received_on: BusinessDate

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.post_insurer_payment(
            claim_id=self.claim_id,
            payment_id=made_id(self.payment_id, "payment_id"),
            amount=Money(self.amount, self.currency or account.currency),
            method=self.method,
            reference=self.reference,
            received_on=self.received_on,
            meta=meta,
        )


class RemittedAdjustmentIn(BaseModel):
    """One adjustment as a payer's remittance states it; negative when it corrects another."""

    model_config = STRICT
    group: Literal["CO", "PR", "OA", "PI"]
    reason_code: Identifier
    amount: DecimalString

    def adjustment(self, currency: str) -> ClaimAdjustment:
        return ClaimAdjustment(self.group, self.reason_code, Money(self.amount, currency))


class PostRemittedClaim(AccountCommand):
    """One claim of a payer's remittance (ERA), posted all or nothing: the adjudication, the
    payer's payment and the contractual adjustment; a denial; or a reversal."""

    calls: ClassVar[str] = "post_remitted_claim"

    claim_id: Identifier
    status: Identifier = Field(description="The claim status the payer gives (CLP02).")
    currency: Currency = Field(description="The remittance's currency: the account's own.")
    billed: DecimalString
    paid: DecimalString
    adjustments: list[RemittedAdjustmentIn] = Field(default_factory=list)
    payment_id: Identifier
    method: Identifier
    reference: ShortText
    posted_on: BusinessDate
    forward_to: ShortText | None = Field(
        None, description="The payer the claim was forwarded to (a crossover), if any."
    )

    def apply_to(self, account: Account, meta: Provenance) -> None:
        currency = self.currency
        account.post_remitted_claim(
            claim_id=self.claim_id,
            status=self.status,
            currency=currency,
            billed=Money(self.billed, currency),
            paid=Money(self.paid, currency),
            adjustments=[a.adjustment(currency) for a in self.adjustments],
            payment_id=self.payment_id,
            method=self.method,
            reference=self.reference,
            posted_on=self.posted_on,
            meta=meta,
            forward_to=self.forward_to,
        )


class ReverseAdjudication(AccountCommand):
    """Undo a payer's adjudication of a claim, as its reversal says."""

    calls: ClassVar[str] = "reverse_adjudication"

    claim_id: Identifier
    reference: ShortText
    reversed_on: BusinessDate

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.reverse_adjudication(
            claim_id=self.claim_id,
            reference=self.reference,
            reversed_on=self.reversed_on,
            meta=meta,
        )


class PostContractualAdjustment(AccountCommand):
    """Write off the CO/OA/PI adjustments of an adjudicated claim."""

    calls: ClassVar[str] = "post_contractual_adjustment"

    claim_id: Identifier
    posted_on: BusinessDate

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.post_contractual_adjustment(
            claim_id=self.claim_id, posted_on=self.posted_on, meta=meta
        )


class DenyClaim(AccountCommand):
    calls: ClassVar[str] = "deny_claim"

    claim_id: Identifier
    reason_code: Identifier
    denied_on: BusinessDate

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.deny_claim(
            claim_id=self.claim_id,
            reason_code=self.reason_code,
            denied_on=self.denied_on,
            meta=meta,
        )


class AppealClaim(AccountCommand):
    calls: ClassVar[str] = "appeal_claim"

    claim_id: Identifier
    appealed_on: BusinessDate
    note: Note = ""

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.appeal_claim(
            claim_id=self.claim_id, appealed_on=self.appealed_on, note=self.note, meta=meta
        )


class ResubmitClaim(AccountCommand):
    calls: ClassVar[str] = "resubmit_claim"

    claim_id: Identifier
    resubmitted_on: BusinessDate

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.resubmit_claim(
            claim_id=self.claim_id, resubmitted_on=self.resubmitted_on, meta=meta
        )


# --- disputes and collections -----------------------------------------------------------


class OpenDispute(AccountCommand):
    """The customer contests an invoice; it leaves dunning and default allocation."""

    calls: ClassVar[str] = "open_dispute"
    id_field: ClassVar[str | None] = "dispute_id"
    id_prefix: ClassVar[str] = "dsp"

    dispute_id: Identifier | None = Field(
        None, description="Your id for the dispute; made for you if omitted."
    )
    invoice_number: Identifier
    opened_on: BusinessDate
    description: Note = ""

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.open_dispute(
            dispute_id=made_id(self.dispute_id, "dispute_id"),
            invoice_number=self.invoice_number,
            opened_on=self.opened_on,
            description=self.description,
            meta=meta,
        )


class ResolveDispute(AccountCommand):
    calls: ClassVar[str] = "resolve_dispute"

    dispute_id: Identifier
    outcome: Literal["upheld", "rejected", "partially_upheld", "withdrawn"]
    resolved_on: BusinessDate
    note: Note = ""

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.resolve_dispute(
            dispute_id=self.dispute_id,
            outcome=self.outcome,
            resolved_on=self.resolved_on,
            note=self.note,
            meta=meta,
        )


class RecordCollectionActivity(AccountCommand):
    calls: ClassVar[str] = "record_collection_activity"
    id_field: ClassVar[str | None] = "activity_id"
    id_prefix: ClassVar[str] = "act"

    activity_id: Identifier | None = Field(
        None, description="Your id for the activity; made for you if omitted."
    )
    channel: Literal["call", "letter", "email", "sms", "visit"]
    outcome: ShortText = Field(description="What came of it, e.g. left a message.")
    occurred_on: BusinessDate
    note: Note = ""

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.record_collection_activity(
            activity_id=made_id(self.activity_id, "activity_id"),
            channel=self.channel,
            outcome=self.outcome,
            occurred_on=self.occurred_on,
            note=self.note,
            meta=meta,
        )


class RecordPromiseToPay(AccountCommand):
    """The customer promises to pay ``amount`` by ``pay_by``."""

    calls: ClassVar[str] = "record_promise_to_pay"
    id_field: ClassVar[str | None] = "promise_id"
    id_prefix: ClassVar[str] = "ptp"

    promise_id: Identifier | None = Field(
        None, description="Your id for the promise; made for you if omitted."
    )
    amount: PositiveAmount
    currency: Currency | None = Field(None, description=_CURRENCY_DESCRIPTION)
    pay_by: BusinessDate
    promised_on: BusinessDate

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.record_promise_to_pay(
            promise_id=made_id(self.promise_id, "promise_id"),
            amount=Money(self.amount, self.currency or account.currency),
            pay_by=self.pay_by,
            promised_on=self.promised_on,
            meta=meta,
        )


class EscalateDunning(AccountCommand):
    """Raise the dunning level; needs an overdue invoice that is not disputed."""

    calls: ClassVar[str] = "escalate_dunning"

    level: Count = Field(ge=1, le=99)
    escalated_on: BusinessDate

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.escalate_dunning(level=self.level, escalated_on=self.escalated_on, meta=meta)


class Sweep(AccountCommand):
    """Record what the passing of ``as_of`` decides: installments missed, plans defaulted,
    offers lapsed, promises broken. Safe to repeat."""

    calls: ClassVar[str] = "sweep"

    as_of: BusinessDate

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.sweep(as_of=self.as_of, meta=meta)


# --- the account itself -----------------------------------------------------------------


class OpenAccount(BaseModel):
    """Open an account: the body of ``POST /v1/accounts``, and what the CLI and the CSV
    importer build from their input, so every way in checks the same fields."""

    model_config = STRICT

    account_number: Identifier
    name: ShortText
    currency: Currency
    opened_on: BusinessDate
    payment_terms_days: int = Field(30, ge=0, le=MAX_TERMS_DAYS)


class ChangeDetails(AccountCommand):
    calls: ClassVar[str] = "change_details"

    name: ShortText
    effective_on: BusinessDate

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.change_details(name=self.name, effective_on=self.effective_on, meta=meta)


class ChangePaymentTerms(AccountCommand):
    """The terms of future invoices: net days, or installment shares (e.g. 30/50/20)."""

    calls: ClassVar[str] = "change_payment_terms"

    net_days: Count = Field(ge=0, le=MAX_TERMS_DAYS)
    effective_on: BusinessDate
    installments: list[InstallmentShareIn] = Field(
        default_factory=list, description="Empty: net days only."
    )

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.change_payment_terms(
            net_days=self.net_days,
            effective_on=self.effective_on,
            installments=[s.share() for s in self.installments],
            meta=meta,
        )


class CloseAccount(AccountCommand):
    """Close a settled account: nothing owed, no credit left."""

    calls: ClassVar[str] = "close"

    effective_on: BusinessDate

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.close(effective_on=self.effective_on, meta=meta)


# --- contact details and the collector --------------------------------------------------


def _without_control_characters(multi_line: bool) -> AfterValidator:
    def check(value: str) -> str:
        if contacts.control_character_in(value, multi_line=multi_line):
            raise PydanticCustomError(
                CONTROL_CHARACTER,
                "must not contain control characters other than tab and newline (such as NUL)"
                if multi_line
                else "must not contain control characters (such as NUL, tab or newline)",
            )
        return value

    return AfterValidator(check)


AddressLine = Annotated[
    str,
    StringConstraints(min_length=1, max_length=contacts.ADDRESS_LINE_MAX, strip_whitespace=True),
    _without_control_characters(multi_line=False),
]
OptionalAddressLine = Annotated[
    str,
    StringConstraints(max_length=contacts.ADDRESS_LINE_MAX, strip_whitespace=True),
    _without_control_characters(multi_line=False),
]
PostalCode = Annotated[
    str,
    StringConstraints(max_length=contacts.POSTAL_CODE_MAX, strip_whitespace=True),
    _without_control_characters(multi_line=False),
]
EmailAddress = Annotated[
    str,
    StringConstraints(min_length=1, max_length=contacts.EMAIL_MAX, strip_whitespace=True),
    _without_control_characters(multi_line=False),
    WithJsonSchema(
        {"type": "string", "minLength": 1, "maxLength": contacts.EMAIL_MAX, "format": "email"}
    ),
]
PhoneNumber = Annotated[
    str,
    StringConstraints(min_length=1, max_length=contacts.PHONE_MAX, strip_whitespace=True),
    _without_control_characters(multi_line=False),
]
ExternalReference = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=contacts.EXTERNAL_REFERENCE_MAX, strip_whitespace=True
    ),
    _without_control_characters(multi_line=False),
]
ContactNotes = Annotated[
    str,
    StringConstraints(max_length=contacts.NOTES_MAX, strip_whitespace=True),
    _without_control_characters(multi_line=True),
]
PreferredChannel = Literal["email", "letter", "sms", "call"]


class AddressIn(BaseModel):
    """A postal address; the second line, region and postal code may be left out."""

    model_config = STRICT
    line1: AddressLine
    line2: OptionalAddressLine = ""
    city: AddressLine
    region: OptionalAddressLine = Field("", description="State, province, county, ...")
    postal_code: PostalCode = ""
    country: str = Field(description="ISO 3166-1 alpha-2 code, e.g. US.", max_length=2)

    def address(self) -> contacts.Address:
        return contacts.Address(
            line1=self.line1,
            line2=self.line2,
            city=self.city,
            region=self.region,
            postal_code=self.postal_code,
            country=self.country,
        )


_REMOVES = "null removes it."


class ChangeBillingAddress(AccountCommand):
    """Set the address letters and statements go to."""

    calls: ClassVar[str] = "change_billing_address"

    address: AddressIn | None = Field(description=_REMOVES)
    effective_on: BusinessDate

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.change_billing_address(
            address=None if self.address is None else self.address.address(),
            effective_on=self.effective_on,
            meta=meta,
        )


class ChangeEmailAddress(AccountCommand):
    calls: ClassVar[str] = "change_email_address"

    email: EmailAddress | None = Field(description=f"name@example.com; {_REMOVES}")
    effective_on: BusinessDate

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.change_email_address(email=self.email, effective_on=self.effective_on, meta=meta)


class ChangePhoneNumber(AccountCommand):
    calls: ClassVar[str] = "change_phone_number"

    phone: PhoneNumber | None = Field(
        description=f"Digits with spaces, '-', '.', '/' or parentheses; {_REMOVES}"
    )
    effective_on: BusinessDate

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.change_phone_number(phone=self.phone, effective_on=self.effective_on, meta=meta)


class ChangePreferredChannel(AccountCommand):
    """How the customer prefers to be reached; the account must hold the detail it needs."""

    calls: ClassVar[str] = "change_preferred_channel"

    channel: PreferredChannel | None = Field(description="null: no preference.")
    effective_on: BusinessDate

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.change_preferred_channel(
            channel=self.channel, effective_on=self.effective_on, meta=meta
        )


class ChangeExternalReference(AccountCommand):
    """The customer's own reference for the account: a patient id, a subscriber number."""

    calls: ClassVar[str] = "change_external_reference"

    reference: ExternalReference | None = Field(description=_REMOVES)
    effective_on: BusinessDate

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.change_external_reference(
            reference=self.reference, effective_on=self.effective_on, meta=meta
        )


class ChangeContactNotes(AccountCommand):
    """Replace the notes for whoever contacts the customer; "" clears them."""

    calls: ClassVar[str] = "change_contact_notes"

    notes: ContactNotes = Field(description="May span lines.")
    effective_on: BusinessDate

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.change_contact_notes(notes=self.notes, effective_on=self.effective_on, meta=meta)


class AssignCollector(AccountCommand):
    """Assign the account to a collector (in place of the one assigned, if any)."""

    calls: ClassVar[str] = "assign_collector"

    collector: Identifier = Field(description="The collector's name or id.")
    assigned_on: BusinessDate

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.assign_collector(collector=self.collector, assigned_on=self.assigned_on, meta=meta)


class UnassignCollector(AccountCommand):
    calls: ClassVar[str] = "unassign_collector"

    unassigned_on: BusinessDate

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.unassign_collector(unassigned_on=self.unassigned_on, meta=meta)


def command_models() -> dict[str, type[AccountCommand]]:
    """Every account command model by its stable name (``calls``: the ``Account`` method it
    calls), in name order."""
    found: dict[str, type[AccountCommand]] = {}
    pending: list[type[AccountCommand]] = list(AccountCommand.__subclasses__())
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        if "calls" in model.__dict__:
            found[model.calls] = model
    return dict(sorted(found.items()))
