"""Insurance claims: what an insurer owes on charges, and what passes to the patient.

Concept
    A medical office bills charges to an insurer (the *payer*) on a *claim*.
    Until adjudication the payer owes the billed amount. The payer's remittance
    (X12 835 style) *adjudicates* the claim: it pays an amount and lists
    *adjustments*, each a group code, a reason code and an amount:

    - ``CO`` contractual obligation: written off by contract (never billed to anyone);
    - ``PR`` patient responsibility (deductible PR-1, coinsurance PR-2, ...):
      moves to the patient, as a patient-share open item;
    - ``OA`` other adjustment, ``PI`` payer-initiated reduction: written off like CO.

    The insurer's payment and the contractual write-off are then posted as their
    own events; the patient's share is collectible from the patient like any invoice.

Invariants
    - A claim balances: ``billed − Σ adjustments = paid``
      (:class:`~domain.errors.ClaimDoesNotBalance`); patient responsibility = Σ PR.
    - Owed by the payer = billed − patient share − contractual adjustments posted
      − insurer payments (+ reversed insurer payments); never below zero.
    - The insurer's cash is capped: before adjudication by what it still owes,
      after it by the remittance's paid amount not yet received. A payment beyond
      that is refused (:class:`~domain.errors.InsurerPaymentExceedsRemittance`),
      not kept as credit: it is the payer's money, not the patient's, and belongs
      back with the payer or on a corrected remittance.
    - An adjustment is never zero; one may be negative (a payer's correction of
      another, OA-94 −9.00), but no group's adjustments add up to less than zero.
    - A crossover (the primary payer forwards the claim to a secondary one) moves the
      patient's share, unpaid, to a secondary claim of that payer: the patient owes it only
      if the secondary payer leaves it to them. The secondary payer remits against the whole
      claim (its billed amount is the primary's); what it neither pays nor leaves to the
      patient is written off (OA-23, the prior payer's impact).
    - A claim is adjudicated once; a denial can be appealed or resubmitted, and
      only then adjudicated. An adjudication the payer reverses (an ERA reversal)
      is undone as new facts, and the claim awaits adjudication again.

Vocabulary
    billed, adjudicated, denied, appealed, resubmitted, patient share, contractual
    adjustment (CO/OA/PI), remittance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Final

from domain.errors import (
    AmountMustBePositive,
    ClaimDoesNotBalance,
    CurrencyMismatch,
    InvalidAdjustmentGroup,
)
from domain.money import Money
from domain.open_items import Movement, net_reduction

GROUPS: Final[frozenset[str]] = frozenset({"CO", "PR", "OA", "PI"})
WRITTEN_OFF_GROUPS: Final[frozenset[str]] = frozenset({"CO", "OA", "PI"})

SUBMITTED: Final = "submitted"
ADJUDICATED: Final = "adjudicated"
DENIED: Final = "denied"
APPEALED: Final = "appealed"
RESUBMITTED: Final = "resubmitted"
#: The payer reversed its adjudication: the claim awaits a corrected one.
REVERSED: Final = "reversed"
AWAITING_ADJUDICATION: Final[frozenset[str]] = frozenset(
    {SUBMITTED, APPEALED, RESUBMITTED, REVERSED}
)


@dataclass(frozen=True, slots=True)
class ClaimAdjustment:
    """One CAS adjustment: group (CO/PR/OA/PI), reason code (e.g. "45"), amount."""

    group: str
    reason_code: str
    amount: Money


def check_adjustments(billed: Money, paid: Money, adjustments: Sequence[ClaimAdjustment]) -> None:
    if paid.currency != billed.currency:
        raise CurrencyMismatch(f"The paid amount must be in {billed.currency}.", field="paid")
    if paid.is_negative:
        raise AmountMustBePositive("The paid amount cannot be negative.", field="paid")
    total = Money.zero(billed.currency)
    for adjustment in adjustments:
        if adjustment.group not in GROUPS:
            raise InvalidAdjustmentGroup(
                f"{adjustment.group!r} is not an adjustment group; use CO, PR, OA or PI.",
                field="adjustments",
            )
        if adjustment.amount.currency != billed.currency:
            raise CurrencyMismatch(
                f"Adjustment {adjustment.group}-{adjustment.reason_code} is not in "
                f"{billed.currency}.",
                field="adjustments",
            )
        if adjustment.amount.is_zero:
            raise AmountMustBePositive(
                f"Adjustment {adjustment.group}-{adjustment.reason_code} must not be zero.",
                field="adjustments",
            )
        total = total + adjustment.amount
    for group in GROUPS:
        group_total = Money.sum(
            (a.amount for a in adjustments if a.group == group), billed.currency
        )
        if group_total.is_negative:
            raise AmountMustBePositive(
                f"The {group} adjustments add up to {group_total}; a negative adjustment may "
                f"correct others of its group, but a group cannot take back more than it gives.",
                field="adjustments",
            )
    if billed - total != paid:
        raise ClaimDoesNotBalance(
            f"The claim does not balance: billed {billed} less adjustments {total} is "
            f"{billed - total}, but the payer paid {paid}.",
            field="adjustments",
        )


def patient_responsibility(adjustments: Sequence[ClaimAdjustment], currency: str) -> Money:
    return Money.sum((a.amount for a in adjustments if a.group == "PR"), currency)


def written_off(adjustments: Sequence[ClaimAdjustment], currency: str) -> Money:
    return Money.sum((a.amount for a in adjustments if a.group in WRITTEN_OFF_GROUPS), currency)


@dataclass
class Claim:
    claim_id: str
    payer: str
    charge_ids: list[str]
    billed: Money
    submitted_on: date
    reduced: Money
    status: str = SUBMITTED
    submissions: int = 1
    adjustments: list[ClaimAdjustment] = field(default_factory=list)
    paid_per_remittance: Money | None = None
    patient_share: Money | None = None
    patient_invoice_number: str | None = None
    contractual_posted: bool = False
    denial_reason: str | None = None
    movements: list[Movement] = field(default_factory=list)
    #: For a claim the primary payer forwarded to a secondary one (a crossover): the primary
    #: claim's id, which the secondary payer quotes back. Its billed amount is the share the
    #: primary left, and it bills no charges of its own.
    forwarded_from: str | None = None

    @property
    def owed_by_payer(self) -> Money:
        return self.billed - self.reduced

    def owed_by_payer_as_of(self, as_of: date | None) -> Money:
        if as_of is None:
            return self.owed_by_payer
        if as_of < self.submitted_on:
            return Money.zero(self.billed.currency)
        return self.billed - net_reduction(self.movements, self.billed.currency, as_of)

    @property
    def paid_by_insurer(self) -> Money:
        """What the payer has paid on the claim, net of reversed payments."""
        return Money.sum(
            (m.amount for m in self.movements if m.kind in ("insurer_payment", "payment_reversal")),
            self.billed.currency,
        )

    @property
    def insurer_payment_due(self) -> Money:
        """The most the payer's cash can still cover: once adjudicated, the paid amount of
        the remittance not yet received; before, what it still owes on the claim."""
        if self.paid_per_remittance is None:
            return self.owed_by_payer
        zero = Money.zero(self.billed.currency)
        return (self.paid_per_remittance - self.paid_by_insurer).max(zero).min(self.owed_by_payer)

    def reduce(self, movement: Movement) -> None:
        self.movements.append(movement)
        self.reduced = self.reduced + movement.amount
