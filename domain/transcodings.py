"""Transcodings: how the domain's own types are written to and read from JSON.

Concept
    eventsourcing's ``JSONTranscoder`` handles ``UUID``, ``Decimal`` and
    ``datetime`` out of the box; every other non-primitive type that an event or
    the aggregate's state (for snapshots) holds needs a :class:`Transcoding`.
    :func:`transcodings` returns them all; the application registers them, and
    any follower of the event store must register the same ones.

    This module imports ``eventsourcing.persistence.Transcoding`` — an abstract
    class with no I/O — which is the only persistence name the domain uses.

Invariants
    - Each transcoding's ``name`` is stable forever (stored data refers to it).
    - Decoding an encoding gives an equal object: Money keeps its exact amount,
      dates stay dates, dataclasses come back with tuples where they had tuples.

Vocabulary
    transcoding: a pair of functions (encode, decode) for one type, under a name.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

from eventsourcing.persistence import Transcoding

from domain.account import OverdueTerm
from domain.account.sent_documents import SentDocument
from domain.approvals import ApprovalPolicy, ApprovalRequest, ApprovalRule
from domain.charges import Charge, ChargeLine
from domain.claims import Claim, ClaimAdjustment
from domain.collections_activity import CollectionActivity, PromiseToPay
from domain.contacts import Address
from domain.disputes import Dispute
from domain.dunning import DunningLevel, DunningPolicy
from domain.general_ledger import ChartOfAccounts, GlAccountMapping
from domain.ledger import LedgerEntry
from domain.letterhead import Letterhead, MailSettings
from domain.money import Money
from domain.open_items import InvoiceLine, Movement, OpenItem, Term, TermStatus
from domain.payments import Allocation, CreditApplication, CreditDraw, Payment
from domain.periods import ClosedPeriod
from domain.plans import PaymentPlan, PlanSchedule
from domain.remittance import ProviderAdjustment, Remittance, RemittedClaim, ServiceLine
from domain.remittance_posting import ClaimMatch, ClaimOutcome
from domain.schedules import InstallmentShare
from domain.settlement import SettlementOffer
from domain.subscriptions import BilledPeriod, Subscription
from domain.tenant import CloseSchedule, DayCloseFailure, DaySummary
from domain.write_offs import WriteOff


class MoneyAsList(Transcoding):
    type = Money
    name = "money"

    def encode(self, obj: Money) -> list[str]:
        return [str(obj.amount), obj.currency]

    def decode(self, data: list[str]) -> Money:
        amount, currency = data
        return Money(amount, currency)


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class DataclassAsDict(Transcoding):
    """A domain dataclass as an object of its fields (tuples written as arrays)."""

    def __init__(self, cls: type[Any], name: str) -> None:
        self.type = cls
        self.name = name
        self._fields = tuple(f.name for f in dataclasses.fields(cls))
        # JSON has no tuples: remember which fields to turn back into tuples.
        self._tuple_fields = frozenset(
            f.name for f in dataclasses.fields(cls) if str(f.type).startswith("tuple[")
        )

    def encode(self, obj: Any) -> dict[str, Any]:
        return {name: getattr(obj, name) for name in self._fields}

    def decode(self, data: dict[str, Any]) -> Any:
        values = dict(data)
        for name in self._tuple_fields:
            values[name] = tuple(values[name])
        return self.type(**values)


#: Domain dataclasses held by events or by the aggregate's state, with their stable names.
DATACLASSES: tuple[tuple[type[Any], str], ...] = (
    (Address, "receivables.address"),
    (Allocation, "receivables.allocation"),
    (BilledPeriod, "receivables.billed_period"),
    (Charge, "receivables.charge"),
    (ChargeLine, "receivables.charge_line"),
    (Claim, "receivables.claim"),
    (ClaimAdjustment, "receivables.claim_adjustment"),
    (CollectionActivity, "receivables.collection_activity"),
    (CreditApplication, "receivables.credit_application"),
    (CreditDraw, "receivables.credit_draw"),
    (Dispute, "receivables.dispute"),
    (InstallmentShare, "receivables.installment_share"),
    (InvoiceLine, "receivables.invoice_line"),
    (LedgerEntry, "receivables.ledger_entry"),
    (Movement, "receivables.movement"),
    (OpenItem, "receivables.open_item"),
    (OverdueTerm, "receivables.overdue_term"),
    (Payment, "receivables.payment"),
    (PaymentPlan, "receivables.payment_plan"),
    (PlanSchedule, "receivables.plan_schedule"),
    (PromiseToPay, "receivables.promise_to_pay"),
    (SentDocument, "receivables.sent_document"),
    (ApprovalRequest, "receivables.approval_request"),
    (SettlementOffer, "receivables.settlement_offer"),
    (Subscription, "receivables.subscription"),
    (Term, "receivables.term"),
    (TermStatus, "receivables.term_status"),
    (WriteOff, "receivables.write_off"),
    # The tenant's settings (domain.tenant).
    (CloseSchedule, "receivables.close_schedule"),
    (DayCloseFailure, "receivables.day_close_failure"),
    (DaySummary, "receivables.day_summary"),
    (DunningLevel, "receivables.dunning_level"),
    (DunningPolicy, "receivables.dunning_policy"),
    (ApprovalRule, "receivables.approval_rule"),
    (ApprovalPolicy, "receivables.approval_policy"),
    (ClosedPeriod, "receivables.closed_period"),
    # What the tenant's documents carry (domain.letterhead).
    (Letterhead, "receivables.letterhead"),
    (MailSettings, "receivables.mail_settings"),
    # The general ledger's chart of accounts (domain.general_ledger).
    (GlAccountMapping, "receivables.gl_account_mapping"),
    (ChartOfAccounts, "receivables.chart_of_accounts"),
    # A payer's remittance and its posting (domain.remittance, domain.remittance_posting).
    (Remittance, "receivables.remittance"),
    (RemittedClaim, "receivables.remitted_claim"),
    (ServiceLine, "receivables.service_line"),
    (ProviderAdjustment, "receivables.provider_adjustment"),
    (ClaimOutcome, "receivables.claim_outcome"),
    (ClaimMatch, "receivables.claim_match"),
)


def transcodings() -> list[Transcoding]:
    """Every transcoding the domain needs, to register on a JSONTranscoder."""
    result: list[Transcoding] = [MoneyAsList(), DateAsISO()]
    result.extend(DataclassAsDict(cls, name) for cls, name in DATACLASSES)
    return result
