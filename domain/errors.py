"""Domain errors: one exception class per business rule broken.

Concept
    A rule of accounts receivable was about to be broken by a command, so the
    command was refused *before* any event was recorded: nothing is ever
    half-recorded.

Invariants
    - Every error is a :class:`DomainError` with a stable, machine-readable
      ``code`` (snake_case, a class attribute, never reworded once published:
      the services layer maps it to an HTTP 4xx problem response).
    - ``str(error)`` is a sentence a billing clerk understands.
    - ``field`` names the input at fault when there is one, else ``None``.

Vocabulary
    rule broken: the reason a command is refused; "code": its stable name.
"""

from __future__ import annotations

from typing import ClassVar


class DomainError(Exception):
    """Base class of every refused command."""

    code: ClassVar[str] = "domain_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(code={self.code!r}, message={self.message!r}, field={self.field!r})"


# --- money -----------------------------------------------------------------


class InvalidAmount(DomainError):
    code = "invalid_amount"


class AmountOutOfRange(InvalidAmount):
    """An amount, or an account's running total, past the bound every figure must keep to be
    stored and read back (see :data:`domain.money.MAX_AMOUNT`)."""

    code = "amount_out_of_range"


class FloatAmountRefused(DomainError):
    code = "float_amount_refused"


class AmountTooPrecise(DomainError):
    code = "amount_too_precise"


class UnknownCurrency(DomainError):
    code = "unknown_currency"


class CurrencyMismatch(DomainError):
    code = "currency_mismatch"


class NotMoney(DomainError):
    code = "not_money"


class AmountMustBePositive(DomainError):
    code = "amount_must_be_positive"


class InvalidQuantity(DomainError):
    code = "invalid_quantity"


# --- command inputs ----------------------------------------------------------


class MissingValue(DomainError):
    code = "missing_value"


class ProvenanceIncomplete(DomainError):
    code = "provenance_incomplete"


class InvalidPaymentTerms(DomainError):
    code = "invalid_payment_terms"


class InvalidDate(DomainError):
    code = "invalid_date"


class DateOutOfRange(InvalidDate):
    """A date, or a date counted from it (a due date), outside the calendar we can store."""

    code = "date_out_of_range"


# --- account -------------------------------------------------------------------


class AccountClosed(DomainError):
    code = "account_closed"


class AccountHasBalance(DomainError):
    code = "account_has_balance"


class NothingChanged(DomainError):
    code = "nothing_changed"


# --- charges -----------------------------------------------------------------


class DuplicateCharge(DomainError):
    code = "duplicate_charge"


class UnknownCharge(DomainError):
    code = "unknown_charge"


class ChargeVoided(DomainError):
    code = "charge_voided"


class ChargeAlreadyInvoiced(DomainError):
    code = "charge_already_invoiced"


class ChargeOnClaim(DomainError):
    code = "charge_on_claim"


# --- invoices and notes --------------------------------------------------------


class DuplicateInvoice(DomainError):
    code = "duplicate_invoice"


class UnknownInvoice(DomainError):
    code = "unknown_invoice"


class NothingToInvoice(DomainError):
    code = "nothing_to_invoice"


class InvoiceTotalNotPositive(DomainError):
    code = "invoice_total_not_positive"


class InvoiceVoided(DomainError):
    code = "invoice_voided"


class InvoiceHasApplications(DomainError):
    code = "invoice_has_applications"


class DueDateBeforeIssueDate(DomainError):
    code = "due_date_before_issue_date"


class ScheduleDoesNotSumToAmount(DomainError):
    code = "schedule_does_not_sum_to_amount"


class InvalidSchedule(DomainError):
    code = "invalid_schedule"


class CreditNoteExceedsOpen(DomainError):
    code = "credit_note_exceeds_open"


class DuplicateNote(DomainError):
    code = "duplicate_note"


class InvoiceNotOpen(DomainError):
    code = "invoice_not_open"


# --- payments, allocation, credit ------------------------------------------------


class DuplicatePayment(DomainError):
    code = "duplicate_payment"


class UnknownPayment(DomainError):
    code = "unknown_payment"


class PaymentAlreadyReversed(DomainError):
    code = "payment_already_reversed"


class AllocationExceedsPayment(DomainError):
    code = "allocation_exceeds_payment"


class AllocationExceedsOpenAmount(DomainError):
    code = "allocation_exceeds_open_amount"


class InsufficientCredit(DomainError):
    code = "insufficient_credit"


class DuplicateRefund(DomainError):
    code = "duplicate_refund"


class UnknownAllocationPolicy(DomainError):
    code = "unknown_allocation_policy"


# --- write-offs ----------------------------------------------------------------


class DuplicateWriteOff(DomainError):
    code = "duplicate_write_off"


class UnknownWriteOff(DomainError):
    code = "unknown_write_off"


class WriteOffExceedsOpen(DomainError):
    code = "write_off_exceeds_open"


class RecoveryExceedsWriteOff(DomainError):
    code = "recovery_exceeds_write_off"


# --- settlement ------------------------------------------------------------------


class DuplicateSettlementOffer(DomainError):
    code = "duplicate_settlement_offer"


class UnknownSettlementOffer(DomainError):
    code = "unknown_settlement_offer"


class SettlementOfferNotActive(DomainError):
    code = "settlement_offer_not_active"


class SettlementOfferOverlaps(DomainError):
    code = "settlement_offer_overlaps"


class SettlementDiscountTooLarge(DomainError):
    code = "settlement_discount_too_large"


class InvalidSettlementTerms(DomainError):
    code = "invalid_settlement_terms"


class NothingToSettle(DomainError):
    code = "nothing_to_settle"


# --- payment plans ---------------------------------------------------------------


class DuplicatePaymentPlan(DomainError):
    code = "duplicate_payment_plan"


class UnknownPaymentPlan(DomainError):
    code = "unknown_payment_plan"


class PaymentPlanNotActive(DomainError):
    code = "payment_plan_not_active"


class PlanOnDisputedInvoice(DomainError):
    code = "plan_on_disputed_invoice"


class InvoiceAlreadyOnPlan(DomainError):
    code = "invoice_already_on_plan"


class NothingOpenForPlan(DomainError):
    code = "nothing_open_for_plan"


# --- subscriptions ---------------------------------------------------------------


class DuplicateSubscription(DomainError):
    code = "duplicate_subscription"


class UnknownSubscription(DomainError):
    code = "unknown_subscription"


class SubscriptionNotActive(DomainError):
    code = "subscription_not_active"


class BillingRunTooLong(DomainError):
    code = "billing_run_too_long"


class ChangeOutsideBilledPeriod(DomainError):
    code = "change_outside_billed_period"


class SubscriptionChangePending(DomainError):
    code = "subscription_change_pending"


class InvalidSubscriptionTiming(DomainError):
    code = "invalid_subscription_timing"


# --- insurance claims --------------------------------------------------------------


class DuplicateClaim(DomainError):
    code = "duplicate_claim"


class UnknownClaim(DomainError):
    code = "unknown_claim"


class ClaimDoesNotBalance(DomainError):
    code = "claim_does_not_balance"


class ClaimNotAwaitingAdjudication(DomainError):
    code = "claim_not_awaiting_adjudication"


class ClaimNotDenied(DomainError):
    code = "claim_not_denied"


class ClaimNotAdjudicated(DomainError):
    code = "claim_not_adjudicated"


class RemittanceDoesNotMatchClaim(DomainError):
    code = "remittance_does_not_match_claim"


class RemittanceStatusNotPosted(DomainError):
    code = "remittance_status_not_posted"


class RemittanceClaimNotPending(DomainError):
    code = "remittance_claim_not_pending"


class RemittanceClaimNotHeld(DomainError):
    code = "remittance_claim_not_held"


class ClaimShareForwarded(DomainError):
    code = "claim_share_forwarded"


class ClaimShareAlreadyPaid(DomainError):
    code = "claim_share_already_paid"


class ContractualAdjustmentAlreadyPosted(DomainError):
    code = "contractual_adjustment_already_posted"


class InvalidAdjustmentGroup(DomainError):
    code = "invalid_adjustment_group"


class InsurerPaymentExceedsRemittance(DomainError):
    code = "insurer_payment_exceeds_remittance"


class NothingToClaim(DomainError):
    code = "nothing_to_claim"


class AdjustmentsExceedOwed(DomainError):
    code = "adjustments_exceed_owed"


# --- disputes and collections --------------------------------------------------------


class InvoiceAlreadyDisputed(DomainError):
    code = "invoice_already_disputed"


class InvoiceNotDisputed(DomainError):
    code = "invoice_not_disputed"


class DisputeAlreadyResolved(DomainError):
    code = "dispute_already_resolved"


class DuplicateCollectionRecord(DomainError):
    code = "duplicate_collection_record"


class UnknownPromiseToPay(DomainError):
    code = "unknown_promise_to_pay"


class PromiseToPayNotOpen(DomainError):
    code = "promise_to_pay_not_open"


class InvalidCollectionChannel(DomainError):
    code = "invalid_collection_channel"


class NothingToDun(DomainError):
    code = "nothing_to_dun"


class InvalidDunningLevel(DomainError):
    code = "invalid_dunning_level"


class DocumentCannotBeVoided(DomainError):
    code = "document_cannot_be_voided"


class DuplicateDispute(DomainError):
    code = "duplicate_dispute"


class UnknownDispute(DomainError):
    code = "unknown_dispute"


class InvalidOutcome(DomainError):
    code = "invalid_outcome"


class DuplicateBillingRun(DomainError):
    code = "duplicate_billing_run"


# --- contact details and collectors ------------------------------------------------


class ControlCharacter(DomainError):
    """Text with a character it may not hold (the same code intake gives the same refusal)."""

    code = "control_character"


class TextTooLong(DomainError):
    code = "text_too_long"


class InvalidEmail(DomainError):
    code = "invalid_email"


class InvalidPhone(DomainError):
    code = "invalid_phone"


class InvalidAddress(DomainError):
    code = "invalid_address"


class InvalidPreferredChannel(DomainError):
    code = "invalid_preferred_channel"


class ChannelUnreachable(DomainError):
    """A preferred channel without the contact detail it needs (an e-mail without an e-mail
    address, a letter without a billing address, ...)."""

    code = "channel_unreachable"


class NoCollectorAssigned(DomainError):
    code = "no_collector_assigned"


# --- dunning policy, close schedule and close of day -----------------------------------


class InvalidDunningPolicy(DomainError):
    code = "invalid_dunning_policy"


class DunningPolicyBackdated(DomainError):
    """A policy dated on or before a day already closed, or before the policy in force."""

    code = "dunning_policy_backdated"


class NotDunned(DomainError):
    """A dunning reset on an account that is at no dunning level."""

    code = "not_dunned"


class AccountNotCurrent(DomainError):
    """A dunning reset while something is still overdue."""

    code = "account_not_current"


class InvalidCloseSchedule(DomainError):
    code = "invalid_close_schedule"


class InvalidTimeZone(InvalidCloseSchedule):
    code = "invalid_time_zone"


class DayOutOfOrder(DomainError):
    """A business day closed before the day after the last one closed."""

    code = "day_out_of_order"


# --- documents: letterhead, mail settings, templates, what was sent --------------------


class InvalidLetterhead(DomainError):
    code = "invalid_letterhead"


class InvalidLogo(InvalidLetterhead):
    code = "invalid_logo"


class InvalidLocale(InvalidLetterhead):
    code = "invalid_locale"


class InvalidMailSettings(DomainError):
    code = "invalid_mail_settings"


class InvalidTemplate(DomainError):
    """A template override that is unknown, too large, or does not render."""

    code = "invalid_template"


class UnknownDocument(DomainError):
    """A document asked of an account that has no such invoice, plan, offer, promise or
    claim (or not yet, as of the date asked)."""

    code = "unknown_document"


class InvalidDocumentRecord(DomainError):
    code = "invalid_document_record"


# --- controls: four-eyes approval, closed periods -------------------------------------------


class InvalidApprovalPolicy(DomainError):
    code = "invalid_approval_policy"


class DuplicateApprovalRequest(DomainError):
    code = "duplicate_approval_request"


class UnknownApprovalRequest(DomainError):
    code = "unknown_approval_request"


class ApprovalAlreadyDecided(DomainError):
    """A request approved, rejected or expired is decided for good."""

    code = "approval_already_decided"


class OwnApprovalRequest(DomainError):
    """The maker of a request may not be its checker: four eyes, not two."""

    code = "own_approval_request"


class ApprovalExpired(DomainError):
    code = "approval_expired"


class ReasonRequired(DomainError):
    code = "reason_required"


class InvalidPeriod(DomainError):
    code = "invalid_period"


class PeriodHasOpenDays(DomainError):
    """A period is closed once every one of its days is."""

    code = "period_has_open_days"


class PeriodOutOfOrder(DomainError):
    """Periods are closed one after another and reopened from the latest back."""

    code = "period_out_of_order"


class PeriodClosed(DomainError):
    """Something would take effect on a day of a closed accounting period."""

    code = "period_closed"


# --- the general ledger: chart of accounts, journal periods ------------------------------


class UnknownLedgerAccount(DomainError):
    """A chart of accounts naming a ledger account the product does not keep."""

    code = "unknown_ledger_account"


class UnmappedLedgerAccount(DomainError):
    """A chart of accounts that leaves a ledger account without a GL account."""

    code = "unmapped_ledger_account"


class InvalidGlAccount(DomainError):
    """A GL account code or name that is not a short one-line identifier or name, or one code
    given two names."""

    code = "invalid_gl_account"


class PeriodInFuture(DomainError):
    """A journal period that has not begun on the tenant's today."""

    code = "period_in_future"
