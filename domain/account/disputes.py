"""Disputes: the customer contests an invoice until the dispute is resolved.

Concept
    A dispute marks an invoice the customer contests (see :mod:`domain.disputes`).
    While it is open the invoice leaves dunning and default allocation, and cannot
    go on a payment plan; it is still listed as overdue, flagged, so nothing is
    hidden. Resolving a dispute records its outcome; any correction is a separate
    credit or debit note.

Invariants
    - An invoice has at most one open dispute; only a live (not voided) invoice can
      be disputed.
    - A dispute is resolved once, with one of :data:`domain.disputes.OUTCOMES`.
"""

from __future__ import annotations

from datetime import date

from domain import disputes as dispute_rules
from domain import errors
from domain.account.core import AccountState, Event
from domain.disputes import Dispute
from domain.provenance import Provenance

# ================================================================== events


class DisputeOpened(Event):
    TOPIC = "receivables.account:DisputeOpened"

    dispute_id: str
    invoice_number: str
    description: str

    def evolve(self, account: AccountState) -> None:
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

    def evolve(self, account: AccountState) -> None:
        dispute = account.disputes[self.dispute_id]
        dispute.status = dispute_rules.RESOLVED
        dispute.outcome = self.outcome
        dispute.note = self.note
        dispute.resolved_on = self.effective_on
        account.items[self.invoice_number].disputed = False


# ================================================================== commands


class DisputeCommands(AccountState):
    """Opening and resolving disputes."""

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
            DisputeOpened,
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
            DisputeResolved,
            effective_on=resolved_on,
            meta=meta,
            dispute_id=dispute_id,
            invoice_number=dispute.invoice_number,
            outcome=outcome,
            note=note,
        )
