"""The commands a clerk can send about one account, as validated requests.

Each command is a pydantic model: the HTTP API takes it as a request body, the CLI builds it
from options, and ``Receivables.execute`` turns it into a call of the ``Account`` method it
names (``calls``), with amounts made into ``Money`` in the account's currency (or the
``currency`` the request names, which the domain refuses if it is not the account's). The
models check form (types, signs, lengths, unknown fields); the domain checks the rules.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import BaseModel, Field, Strict

from domain.claims import ClaimAdjustment
from domain.money import Money
from domain.open_items import Term
from domain.schedules import InstallmentShare
from services.fields import (
    STRICT,
    BusinessDate,
    Currency,
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


class AccountCommand(BaseModel):
    """A change to one existing account: the Account method it calls and its arguments."""

    model_config = STRICT

    #: The ``Account`` method the command calls.
    calls: ClassVar[str]
    #: Fields holding amounts that the domain takes as Money in the account's currency.
    money_fields: ClassVar[frozenset[str]] = frozenset()
    #: Fields the domain does not take (they only shape the request).
    request_only: ClassVar[frozenset[str]] = frozenset({"currency"})
    #: The field naming what the command creates (a charge id, a payment id), if any, and the
    #: prefix of the id made for it when the client sends none.
    id_field: ClassVar[str | None] = None
    id_prefix: ClassVar[str] = ""

    def with_id(self, idempotency_key: str | None) -> Self:
        """The command with its id filled in. Made from the idempotency key when there is one,
        so a retried request names the same charge or payment; random otherwise."""
        if self.id_field is None or getattr(self, self.id_field) is not None:
            return self
        seed = (
            uuid.uuid5(_ID_NAMESPACE, idempotency_key).hex if idempotency_key else uuid.uuid4().hex
        )
        return self.model_copy(update={self.id_field: f"{self.id_prefix}_{seed[:20]}"})

    def arguments(self, account_currency: str) -> dict[str, Any]:
        """The keyword arguments of ``Account.<calls>`` (all but ``meta``)."""
        currency = getattr(self, "currency", None) or account_currency
        arguments: dict[str, Any] = {}
        for name in type(self).model_fields:
            if name in self.request_only:
                continue
            value = getattr(self, name)
            if name in self.money_fields and value is not None:
                value = Money(value, currency)
            arguments[name] = self.convert(name, value, currency)
        return arguments

    def convert(self, name: str, value: Any, currency: str) -> Any:
        """Turn a nested request value into its domain form; override for structured fields."""
        return value


# --- structured values ------------------------------------------------------------------


class TermIn(BaseModel):
    model_config = STRICT
    due_on: BusinessDate
    amount: PositiveAmount


class InstallmentShareIn(BaseModel):
    """A term given as a share of the total: ``percent`` due ``due_in_days`` after issue."""

    model_config = STRICT
    due_in_days: Count = Field(ge=0, le=3650)
    percent: PositiveAmount = Field(description='A decimal string such as "30" or "33.5".')


class ClaimAdjustmentIn(BaseModel):
    """One adjustment of a remittance (X12 835 CAS): group, reason code, amount."""

    model_config = STRICT
    group: Literal["CO", "PR", "OA", "PI"] = Field(
        description="CO contractual, PR patient responsibility, OA other, PI payer-initiated."
    )
    reason_code: Identifier = Field(description='The CARC, e.g. "45".')
    amount: PositiveAmount


def terms(values: list[TermIn] | None, currency: str) -> list[Term] | None:
    return (
        None
        if values is None
        else [Term(due_on=t.due_on, amount=Money(t.amount, currency)) for t in values]
    )


def shares(values: list[InstallmentShareIn] | None) -> list[InstallmentShare] | None:
    return (
        None
        if values is None
        else [InstallmentShare(due_in_days=s.due_in_days, percent=s.percent) for s in values]
    )


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
    money_fields: ClassVar[frozenset[str]] = frozenset({"unit_price", "tax"})
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

    def arguments(self, account_currency: str) -> dict[str, Any]:
        return super().arguments(account_currency) | {"effective_on": self.service_date}


class VoidCharge(AccountCommand):
    """Void a charge posted in error, while it is on no invoice and no claim."""

    calls: ClassVar[str] = "void_charge"

    charge_id: Identifier
    effective_on: BusinessDate


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

    def convert(self, name: str, value: Any, currency: str) -> Any:
        if name == "schedule":
            return terms(self.schedule, currency)
        if name == "installments":
            return shares(self.installments)
        return value


class VoidInvoice(AccountCommand):
    """Void an invoice or debit note issued in error, while nothing is applied to it."""

    calls: ClassVar[str] = "void_invoice"

    invoice_number: Identifier
    effective_on: BusinessDate


class IssueCreditNote(AccountCommand):
    calls: ClassVar[str] = "issue_credit_note"
    money_fields: ClassVar[frozenset[str]] = frozenset({"amount"})

    note_number: Identifier
    invoice_number: Identifier
    issued_on: BusinessDate
    amount: PositiveAmount | None = Field(None, description="Omitted: all that is open.")
    currency: Currency | None = Field(None, description=_CURRENCY_DESCRIPTION)
    description: Note = ""


class IssueDebitNote(AccountCommand):
    calls: ClassVar[str] = "issue_debit_note"
    money_fields: ClassVar[frozenset[str]] = frozenset({"amount"})

    note_number: Identifier
    amount: PositiveAmount
    currency: Currency | None = Field(None, description=_CURRENCY_DESCRIPTION)
    issued_on: BusinessDate
    due_on: BusinessDate | None = Field(None, description="Omitted: the account's payment terms.")
    description: Note = ""
    against_invoice: Identifier | None = Field(
        None, description="The invoice the adjustment is about, if any."
    )


# --- cash -------------------------------------------------------------------------------


class ReceivePayment(AccountCommand):
    calls: ClassVar[str] = "receive_payment"
    money_fields: ClassVar[frozenset[str]] = frozenset({"amount"})
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

    def convert(self, name: str, value: Any, currency: str) -> Any:
        return allocations(value, currency) if name == "allocations" else value


class ApplyCredit(AccountCommand):
    """Apply unapplied credit to open items (the oldest payment's credit is used first)."""

    calls: ClassVar[str] = "apply_credit"

    applied_on: BusinessDate
    allocations: dict[Identifier, PositiveAmount] | None = Field(
        None, min_length=1, description=_ALLOCATIONS_DESCRIPTION
    )
    currency: Currency | None = Field(None, description=_CURRENCY_DESCRIPTION)
    allocation_policy: AllocationPolicy = "oldest_due_first"

    def convert(self, name: str, value: Any, currency: str) -> Any:
        return allocations(value, currency) if name == "allocations" else value


class RefundCredit(AccountCommand):
    """Pay unapplied credit back to the customer."""

    calls: ClassVar[str] = "refund_credit"
    money_fields: ClassVar[frozenset[str]] = frozenset({"amount"})
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


class ReversePayment(AccountCommand):
    """Reverse a payment that did not clear: what it paid is re-opened."""

    calls: ClassVar[str] = "reverse_payment"

    payment_id: Identifier
    reason_code: Identifier = Field(description="e.g. NSF, chargeback.")
    reversed_on: BusinessDate


class WriteOff(AccountCommand):
    calls: ClassVar[str] = "write_off"
    money_fields: ClassVar[frozenset[str]] = frozenset({"amount"})
    id_field: ClassVar[str | None] = "write_off_id"
    id_prefix: ClassVar[str] = "wo"

    write_off_id: Identifier | None = Field(
        None, description="Your id for the write-off; made for you if omitted."
    )
    invoice_number: Identifier
    written_off_on: BusinessDate
    amount: PositiveAmount | None = Field(None, description="Omitted: all that is open.")
    currency: Currency | None = Field(None, description=_CURRENCY_DESCRIPTION)


class RecoverWriteOff(AccountCommand):
    """Reinstate written-off debt the customer pays after all; post the payment afterwards."""

    calls: ClassVar[str] = "recover_write_off"
    money_fields: ClassVar[frozenset[str]] = frozenset({"amount"})

    write_off_id: Identifier
    amount: PositiveAmount
    currency: Currency | None = Field(None, description=_CURRENCY_DESCRIPTION)
    recovered_on: BusinessDate


# --- settlement offers and payment plans ------------------------------------------------


class OfferSettlement(AccountCommand):
    """Take ``amount_off`` (or accept ``settle_for``) if the rest is paid by ``expires_on``."""

    calls: ClassVar[str] = "offer_settlement"
    money_fields: ClassVar[frozenset[str]] = frozenset({"amount_off", "settle_for"})
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


class WithdrawSettlementOffer(AccountCommand):
    calls: ClassVar[str] = "withdraw_settlement_offer"

    offer_id: Identifier
    withdrawn_on: BusinessDate


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

    def convert(self, name: str, value: Any, currency: str) -> Any:
        return terms(self.installments, currency) if name == "installments" else value


class ChangePaymentPlan(AccountCommand):
    """Renegotiate a plan: a new schedule over what is open on it now."""

    calls: ClassVar[str] = "change_payment_plan"

    plan_id: Identifier
    installments: list[TermIn] = Field(min_length=1)
    changed_on: BusinessDate

    def convert(self, name: str, value: Any, currency: str) -> Any:
        return terms(self.installments, currency) if name == "installments" else value


class DefaultPaymentPlan(AccountCommand):
    calls: ClassVar[str] = "default_payment_plan"

    plan_id: Identifier
    defaulted_on: BusinessDate


# --- subscriptions ----------------------------------------------------------------------


class StartSubscription(AccountCommand):
    """Start a monthly price plan; billing runs charge each period in advance."""

    calls: ClassVar[str] = "start_subscription"
    money_fields: ClassVar[frozenset[str]] = frozenset({"price"})
    id_field: ClassVar[str | None] = "subscription_id"
    id_prefix: ClassVar[str] = "sub"

    subscription_id: Identifier | None = Field(
        None, description="Your id for the subscription; made for you if omitted."
    )
    plan_code: Identifier
    price: PositiveAmount = Field(description="A month's price.")
    currency: Currency | None = Field(None, description=_CURRENCY_DESCRIPTION)
    starts_on: BusinessDate


class ChangeSubscriptionPlan(AccountCommand):
    """Change plan now (the billed period is prorated) or from the next period."""

    calls: ClassVar[str] = "change_subscription_plan"
    money_fields: ClassVar[frozenset[str]] = frozenset({"price"})

    subscription_id: Identifier
    plan_code: Identifier
    price: PositiveAmount = Field(description="A month's price on the new plan.")
    currency: Currency | None = Field(None, description=_CURRENCY_DESCRIPTION)
    change_on: BusinessDate
    timing: Literal["immediate", "next_period"] = "immediate"


class CancelSubscription(AccountCommand):
    """Cancel at the end of the period, or now with the unused part credited."""

    calls: ClassVar[str] = "cancel_subscription"

    subscription_id: Identifier
    cancel_on: BusinessDate
    timing: Literal["immediate", "end_of_period"] = "end_of_period"


class RunBilling(AccountCommand):
    """Charge every active subscription for the periods starting by ``through``."""

    calls: ClassVar[str] = "run_billing"
    id_field: ClassVar[str | None] = "run_id"
    id_prefix: ClassVar[str] = "run"

    run_id: Identifier | None = Field(
        None, description="Your id for the run; made for you if omitted."
    )
    through: BusinessDate


# --- insurance claims -------------------------------------------------------------------


class SubmitClaim(AccountCommand):
    """Bill uninvoiced charges to an insurer; the claim id is the one the payer will quote."""

    calls: ClassVar[str] = "submit_claim"

    claim_id: Identifier
    payer: ShortText
    charge_ids: list[Identifier] = Field(min_length=1)
    submitted_on: BusinessDate


class AdjudicateClaim(AccountCommand):
    """The payer's remittance: billed − Σ adjustments must equal ``paid``."""

    calls: ClassVar[str] = "adjudicate_claim"
    money_fields: ClassVar[frozenset[str]] = frozenset({"paid"})

    claim_id: Identifier
    paid: NonNegativeAmount
    adjustments: list[ClaimAdjustmentIn] = Field(default_factory=list)
    currency: Currency | None = Field(None, description=_CURRENCY_DESCRIPTION)
    adjudicated_on: BusinessDate
    patient_invoice_number: Identifier | None = Field(
        None, description="The patient's share's number; omitted: <claim_id>-PR."
    )
    patient_due_on: BusinessDate | None = Field(None, description="Omitted: the account's terms.")

    def convert(self, name: str, value: Any, currency: str) -> Any:
        if name == "adjustments":
            return [
                ClaimAdjustment(a.group, a.reason_code, Money(a.amount, currency))
                for a in self.adjustments
            ]
        return value


class PostInsurerPayment(AccountCommand):
    calls: ClassVar[str] = "post_insurer_payment"
    money_fields: ClassVar[frozenset[str]] = frozenset({"amount"})
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


class PostContractualAdjustment(AccountCommand):
    """Write off the CO/OA/PI adjustments of an adjudicated claim."""

    calls: ClassVar[str] = "post_contractual_adjustment"

    claim_id: Identifier
    posted_on: BusinessDate


class DenyClaim(AccountCommand):
    calls: ClassVar[str] = "deny_claim"

    claim_id: Identifier
    reason_code: Identifier
    denied_on: BusinessDate


class AppealClaim(AccountCommand):
    calls: ClassVar[str] = "appeal_claim"

    claim_id: Identifier
    appealed_on: BusinessDate
    note: Note = ""


class ResubmitClaim(AccountCommand):
    calls: ClassVar[str] = "resubmit_claim"

    claim_id: Identifier
    resubmitted_on: BusinessDate


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


class ResolveDispute(AccountCommand):
    calls: ClassVar[str] = "resolve_dispute"

    dispute_id: Identifier
    outcome: Literal["upheld", "rejected", "partially_upheld", "withdrawn"]
    resolved_on: BusinessDate
    note: Note = ""


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


class RecordPromiseToPay(AccountCommand):
    """The customer promises to pay ``amount`` by ``pay_by``."""

    calls: ClassVar[str] = "record_promise_to_pay"
    money_fields: ClassVar[frozenset[str]] = frozenset({"amount"})
    id_field: ClassVar[str | None] = "promise_id"
    id_prefix: ClassVar[str] = "ptp"

    promise_id: Identifier | None = Field(
        None, description="Your id for the promise; made for you if omitted."
    )
    amount: PositiveAmount
    currency: Currency | None = Field(None, description=_CURRENCY_DESCRIPTION)
    pay_by: BusinessDate
    promised_on: BusinessDate


class EscalateDunning(AccountCommand):
    """Raise the dunning level; needs an overdue invoice that is not disputed."""

    calls: ClassVar[str] = "escalate_dunning"

    level: Count = Field(ge=1, le=99)
    escalated_on: BusinessDate


class Sweep(AccountCommand):
    """Record what the passing of ``as_of`` decides: installments missed, plans defaulted,
    offers lapsed, promises broken. Safe to repeat."""

    calls: ClassVar[str] = "sweep"

    as_of: BusinessDate


# --- the account itself -----------------------------------------------------------------


class OpenAccount(BaseModel):
    """Open an account: the body of ``POST /v1/accounts``, and what the CLI and the CSV
    importer build from their input, so every way in checks the same fields."""

    model_config = STRICT

    account_number: Identifier
    name: ShortText
    currency: Currency
    opened_on: BusinessDate
    payment_terms_days: int = Field(30, ge=0, le=365)


class ChangeDetails(AccountCommand):
    calls: ClassVar[str] = "change_details"

    name: ShortText
    effective_on: BusinessDate


class ChangePaymentTerms(AccountCommand):
    """The terms of future invoices: net days, or installment shares (e.g. 30/50/20)."""

    calls: ClassVar[str] = "change_payment_terms"

    net_days: Count = Field(ge=0, le=365)
    effective_on: BusinessDate
    installments: list[InstallmentShareIn] = Field(
        default_factory=list, description="Empty: net days only."
    )

    def convert(self, name: str, value: Any, currency: str) -> Any:
        return shares(self.installments) if name == "installments" else value


class CloseAccount(AccountCommand):
    """Close a settled account: nothing owed, no credit left."""

    calls: ClassVar[str] = "close"

    effective_on: BusinessDate
