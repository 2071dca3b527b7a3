"""The Account aggregate: one customer account of one tenant, and every fact on it.

Concept
    An *account* is where a billing coordinator records what a customer was
    charged, what they were invoiced, what they paid and every arrangement made
    about it. Every fact is an event on :class:`Account` (``Account.ChargePosted``);
    every command is a method on it (``account.post_charge(...)``) that checks every
    rule and then records one or more events, or refuses with a
    :class:`~domain.errors.DomainError` having recorded nothing.

How the aggregate is assembled
    Each concept has its own module holding its events, its commands (a mixin
    class over :class:`~domain.account.core.AccountState`) and the follow-on rules
    other concepts trigger (module-level functions over the state, called
    explicitly). :class:`Account` is put together here from those mixins and
    eventsourcing's ``Aggregate``, and every event class is assigned in its body,
    so the events stay ``Account.<Event>`` and are registered under their stable
    topics ``receivables.account:<Event>``: the module an event is written in is
    not part of what is stored, so code can move without breaking stored events.

    =====================  ===============================================================
    module                 concept
    =====================  ===============================================================
    ``core``               the state, the base ``Event``, recording (hash chain), guards
    ``lifecycle``          open, change_details, change_payment_terms, close; the id
    ``billing``            post_charge, void_charge, issue_invoice, void_invoice,
                           issue_credit_note, issue_debit_note
    ``cash``               receive_payment, apply_credit, refund_credit, reverse_payment,
                           and what cash decides (``_after_cash``)
    ``write_offs``         write_off, recover_write_off
    ``settlement``         offer_settlement, withdraw_settlement_offer; active offers and
                           the discounts a payment earned
    ``plans``              agree_payment_plan, change_payment_plan, default_payment_plan;
                           installments paid, plans ended or re-opened (``review_plans``)
    ``subscriptions``      start_subscription, change_subscription_plan,
                           cancel_subscription, run_billing (and proration)
    ``claims``             submit_claim, adjudicate_claim, post_insurer_payment,
                           post_contractual_adjustment, deny_claim, appeal_claim,
                           resubmit_claim
    ``disputes``           open_dispute, resolve_dispute
    ``collections``        record_collection_activity, record_promise_to_pay,
                           escalate_dunning, reset_dunning; promises kept, re-opened
                           or broken;
                           assign_collector, unassign_collector
    ``contacts``           change_billing_address, change_email_address,
                           change_phone_number, change_preferred_channel,
                           change_external_reference, change_contact_notes
    ``sent_documents``     record_document_sent: an invoice, statement or letter e-mailed
                           or printed, with its hashes
    ``approvals``          request_approval, grant_approval, reject_approval: a command
                           held back for a second person (four eyes); expiry at close
    ``sweep``              the daily ``sweep``; ``close_day``: the sweep and the tenant's
                           dunning policy, for the close of a business day
    ``queries``            balances, outstanding, installments, overdue, ...
    =====================  ===============================================================

    Concept modules import only ``core``, the domain's value modules and the
    concepts whose rules they trigger, never in a cycle: ``billing``, ``write_offs``
    → ``plans``; ``billing`` → ``settlement``; ``queries`` → ``plans``, ``claims``;
    ``collections`` → ``queries``; ``cash`` and ``sweep`` → ``plans``,
    ``settlement``, ``collections`` (and ``sweep`` → ``queries``, for the close of day).

Invariants
    - The id is deterministic: ``uuid5(ACCOUNT_NAMESPACE, [tenant_id, account_number])``.
    - Every event carries its business date, the caller's provenance and the hash
      chain fields (see :mod:`domain.account.core` and :mod:`domain.hash_chain`).
    - Event topics are stable strings ``receivables.account:<Event>``, not module
      paths; the aggregate's topic is ``receivables.account:Account``.
    - Balance = the signed sum of ledger tallies = Σ outstanding on open items +
      Σ owed by insurers on claims + Σ uninvoiced charges − unapplied credit.
    - Follow-on facts are recorded by the command that causes them, after its main
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

from typing import TYPE_CHECKING, TypeAlias

from eventsourcing.domain import Aggregate

from domain.account import (
    approvals,
    billing,
    cash,
    claims,
    collections,
    contacts,
    core,
    disputes,
    lifecycle,
    plans,
    remitted_claims,
    sent_documents,
    settlement,
    snapshots,
    subscriptions,
    write_offs,
)
from domain.account.approvals import ApprovalCommands
from domain.account.billing import BillingCommands
from domain.account.cash import CashCommands
from domain.account.claims import ClaimCommands
from domain.account.collections import CollectionCommands
from domain.account.contacts import ContactCommands
from domain.account.disputes import DisputeCommands
from domain.account.lifecycle import LifecycleCommands
from domain.account.plans import PlanCommands
from domain.account.queries import AccountQueries, OverdueTerm
from domain.account.remitted_claims import RemittedClaimCommands
from domain.account.sent_documents import SentDocumentCommands
from domain.account.settlement import SettlementCommands
from domain.account.subscriptions import SubscriptionCommands
from domain.account.sweep import DailySweep
from domain.account.write_offs import WriteOffCommands

__all__ = ["TOPIC_PREFIX", "Account", "OverdueTerm", "is_account_topic"]

#: The start of every account event's topic. The store also holds other aggregates' events (a
#: tenant's settings, a remittance's posting): what reads accounts tells them apart by this.
TOPIC_PREFIX = "receivables.account:"


def is_account_topic(topic: str) -> bool:
    """Whether a stored event's topic is one of an account's (not a tenant's, a remittance's)."""
    return topic.startswith(TOPIC_PREFIX)


class Account(
    LifecycleCommands,
    BillingCommands,
    CashCommands,
    WriteOffCommands,
    SettlementCommands,
    PlanCommands,
    SubscriptionCommands,
    ClaimCommands,
    RemittedClaimCommands,
    DisputeCommands,
    CollectionCommands,
    ContactCommands,
    SentDocumentCommands,
    ApprovalCommands,
    DailySweep,
    AccountQueries,
    Aggregate,
):
    """One customer account of one tenant."""

    TOPIC = "receivables.account:Account"

    #: Snapshots in the compact form, which a long account reads back many times faster.
    Snapshot = snapshots.AccountSnapshot

    # eventsourcing keeps the event classes found in this class body as they are and
    # registers each under its TOPIC; event classes on a base class would be redefined
    # as new subclasses instead, so the mixins hold none.
    if TYPE_CHECKING:
        # A class attribute is a variable to mypy; callers annotate with Account.Event.
        Event: TypeAlias = core.Event
    else:
        Event = core.Event

    Opened = lifecycle.Opened
    # The library looks for a "Created" class; ours is called Opened.
    Created = Opened
    DetailsChanged = lifecycle.DetailsChanged
    PaymentTermsChanged = lifecycle.PaymentTermsChanged
    Closed = lifecycle.Closed

    ChargePosted = billing.ChargePosted
    ChargeVoided = billing.ChargeVoided
    InvoiceIssued = billing.InvoiceIssued
    InvoiceVoided = billing.InvoiceVoided
    CreditNoteIssued = billing.CreditNoteIssued
    DebitNoteIssued = billing.DebitNoteIssued

    PaymentReceived = cash.PaymentReceived
    CreditApplied = cash.CreditApplied
    PaymentReversed = cash.PaymentReversed
    CreditRefunded = cash.CreditRefunded

    WrittenOff = write_offs.WrittenOff
    WriteOffRecovered = write_offs.WriteOffRecovered

    SettlementOffered = settlement.SettlementOffered
    SettlementOfferWithdrawn = settlement.SettlementOfferWithdrawn
    SettlementOfferLapsed = settlement.SettlementOfferLapsed
    SettlementDiscountApplied = settlement.SettlementDiscountApplied
    SettlementDiscountReversed = settlement.SettlementDiscountReversed

    PaymentPlanAgreed = plans.PaymentPlanAgreed
    PaymentPlanChanged = plans.PaymentPlanChanged
    PlanInstallmentPaid = plans.PlanInstallmentPaid
    PlanInstallmentReopened = plans.PlanInstallmentReopened
    PlanInstallmentMissed = plans.PlanInstallmentMissed
    PaymentPlanDefaulted = plans.PaymentPlanDefaulted
    PaymentPlanCompleted = plans.PaymentPlanCompleted
    PaymentPlanClosed = plans.PaymentPlanClosed
    PaymentPlanReopened = plans.PaymentPlanReopened

    SubscriptionStarted = subscriptions.SubscriptionStarted
    SubscriptionPlanChanged = subscriptions.SubscriptionPlanChanged
    SubscriptionCancelled = subscriptions.SubscriptionCancelled
    BillingRunCompleted = subscriptions.BillingRunCompleted

    ClaimSubmitted = claims.ClaimSubmitted
    ClaimAdjudicated = claims.ClaimAdjudicated
    InsurerPaymentPosted = claims.InsurerPaymentPosted
    ContractualAdjustmentPosted = claims.ContractualAdjustmentPosted
    ClaimDenied = claims.ClaimDenied
    ClaimAppealed = claims.ClaimAppealed
    ClaimResubmitted = claims.ClaimResubmitted
    ClaimAdjudicationReversed = remitted_claims.ClaimAdjudicationReversed
    ClaimForwarded = remitted_claims.ClaimForwarded

    ApprovalRequested = approvals.ApprovalRequested
    ApprovalGranted = approvals.ApprovalGranted
    ApprovalRejected = approvals.ApprovalRejected
    ApprovalExpired = approvals.ApprovalExpired

    DisputeOpened = disputes.DisputeOpened
    DisputeResolved = disputes.DisputeResolved

    CollectionActivityRecorded = collections.CollectionActivityRecorded
    PromiseToPayMade = collections.PromiseToPayMade
    PromiseToPayKept = collections.PromiseToPayKept
    PromiseToPayReopened = collections.PromiseToPayReopened
    PromiseToPayBroken = collections.PromiseToPayBroken
    DunningEscalated = collections.DunningEscalated
    DunningReset = collections.DunningReset
    CollectorAssigned = collections.CollectorAssigned
    CollectorUnassigned = collections.CollectorUnassigned

    BillingAddressChanged = contacts.BillingAddressChanged
    EmailAddressChanged = contacts.EmailAddressChanged
    PhoneNumberChanged = contacts.PhoneNumberChanged
    PreferredChannelChanged = contacts.PreferredChannelChanged
    ExternalReferenceChanged = contacts.ExternalReferenceChanged
    ContactNotesChanged = contacts.ContactNotesChanged

    DocumentSent = sent_documents.DocumentSent
