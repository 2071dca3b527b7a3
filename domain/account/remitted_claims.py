"""Remitted claims: a payer's remittance posted to an account's claims, all or nothing.

Concept
    A payer's remittance (:mod:`domain.remittance`) states, claim by claim, what the payer did:
    processed it (paid, adjusted, the patient's share), denied it, reversed an earlier
    adjudication, or processed it and forwarded it to another payer (a crossover).
    :meth:`RemittedClaimCommands.post_remitted_claim` turns one remitted claim into the facts
    the account already knows (:mod:`domain.account.claims`), in one command so a claim is
    never half posted, and adds the two facts only a remittance brings:

    - ``ClaimAdjudicationReversed``: the payer took its adjudication back; the payer's cash is
      reversed (``PaymentReversed``), the contractual adjustment and the patient's unpaid share
      are taken back, and the claim awaits a corrected adjudication;
    - ``ClaimForwarded``: the primary payer forwarded the claim; the patient's unpaid share
      becomes a secondary claim of the other payer, which its own remittance settles.

Invariants
    - The remittance is the claim's: in the account's currency, billing what the claim bills
      (a reversal, that negated; a secondary claim's remittance, the primary's billed amount).
    - A claim's facts come in order: nothing is dated before what is already on the claim.
    - A reversal takes back exactly what was adjudicated; a share the patient has paid part of,
      or that was forwarded, is not taken back here (a clerk settles it first).
    - A secondary payer's PR stays the patient's; what it neither pays nor leaves to the
      patient of the share forwarded to it is written off (OA-23, the prior payer's impact).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, cast

from domain import claims as claim_rules
from domain import errors, ledger
from domain import remittance as era
from domain.account.claims import check_claim_date, find_claim
from domain.account.core import AccountState, Event, require_text
from domain.claims import Claim, ClaimAdjustment
from domain.money import Money
from domain.open_items import Movement
from domain.provenance import Provenance

if TYPE_CHECKING:  # commands of other concepts: an Account's bases include them
    from domain.account.cash import CashCommands
    from domain.account.claims import ClaimCommands

# ================================================================== events


class ClaimAdjudicationReversed(Event):
    """The payer reversed its adjudication (an ERA reversal, claim status 22): the
    contractual adjustment and the patient's unpaid share are taken back, and the claim
    awaits adjudication again. The payer's cash is reversed by ``PaymentReversed`` events
    recorded just before this one."""

    TOPIC = "receivables.account:ClaimAdjudicationReversed"

    claim_id: str
    reference: str
    contractual_reversed: Money
    patient_share_reversed: Money
    patient_invoice_number: str | None

    def evolve(self, account: AccountState) -> None:
        claim = account.claims[self.claim_id]
        if self.contractual_reversed.is_positive:
            claim.reduce(
                Movement(
                    self.effective_on,
                    "contractual_reversal",
                    -self.contractual_reversed,
                    self.claim_id,
                )
            )
            account._post(
                self.effective_on,
                ledger.CONTRACTUAL_ADJUSTMENTS,
                -self.contractual_reversed,
                self.claim_id,
            )
        if self.patient_invoice_number is not None:
            claim.reduce(
                Movement(
                    self.effective_on,
                    "patient_share_reversal",
                    -self.patient_share_reversed,
                    self.claim_id,
                )
            )
            account._move_item(
                self.patient_invoice_number,
                Movement(
                    self.effective_on,
                    "adjudication_reversal",
                    self.patient_share_reversed,
                    self.claim_id,
                ),
            )
        claim.status = claim_rules.REVERSED
        claim.adjustments = []
        claim.paid_per_remittance = None
        claim.patient_share = None
        claim.patient_invoice_number = None
        claim.contractual_posted = False


class ClaimForwarded(Event):
    """The primary payer forwarded the claim to a secondary payer (a crossover): the patient's
    unpaid share moves to a new claim of that payer, which the secondary's remittance settles."""

    TOPIC = "receivables.account:ClaimForwarded"

    claim_id: str
    secondary_claim_id: str
    payer: str
    amount: Money
    patient_invoice_number: str

    def evolve(self, account: AccountState) -> None:
        account._move_item(
            self.patient_invoice_number,
            Movement(self.effective_on, "forwarded_to_payer", self.amount, self.secondary_claim_id),
        )
        account.claims[self.secondary_claim_id] = Claim(
            claim_id=self.secondary_claim_id,
            payer=self.payer,
            charge_ids=[],
            billed=self.amount,
            submitted_on=self.effective_on,
            reduced=Money.zero(self.amount.currency),
            forwarded_from=self.claim_id,
        )


# ================================================================== commands


class RemittedClaimCommands(AccountState):
    """Posting a payer's remitted claim; reversing and forwarding an adjudication."""

    def reverse_adjudication(
        self, *, claim_id: str, reference: str, reversed_on: date, meta: Provenance
    ) -> None:
        """Undo the payer's adjudication of a claim, as the payer's reversal says (``reference``:
        the remittance's trace number): every insurer payment on the claim is reversed, the
        contractual adjustment and the patient's share are taken back, and the claim awaits a
        corrected adjudication. A share the patient has already paid part of is not taken
        back here: the clerk settles it with the patient first."""
        self._check_open()
        claim = find_claim(self, claim_id)
        if claim.status != claim_rules.ADJUDICATED:
            raise errors.ClaimNotAdjudicated(
                f"Claim {claim_id} is {claim.status}; only an adjudicated claim can be reversed.",
                field="claim_id",
            )
        require_text(reference, "reference", "The reversal's reference")
        self._check_not_before_opening(reversed_on, "reversed_on")
        check_claim_date(claim, reversed_on, "reversed_on")
        forwarded = [c.claim_id for c in self.claims.values() if c.forwarded_from == claim_id]
        if forwarded:
            raise errors.ClaimShareForwarded(
                f"The patient's share of claim {claim_id} was forwarded to another payer as "
                f"claim {', '.join(forwarded)}; that claim must be settled before this payer's "
                f"reversal is posted.",
                field="claim_id",
            )
        share_number = claim.patient_invoice_number
        share = Money.zero(self.currency)
        if share_number is not None:
            item = self.items[share_number]
            share = item.total
            if item.outstanding != item.total:
                raise errors.ClaimShareAlreadyPaid(
                    f"The patient has paid {item.total - item.outstanding} of {share_number}, "
                    f"the share claim {claim_id} left them; settle that with the patient "
                    f"before the payer's reversal is posted.",
                    field="claim_id",
                )
        contractual = (
            claim_rules.written_off(claim.adjustments, self.currency)
            if claim.contractual_posted
            else Money.zero(self.currency)
        )
        # Commands of another concept: an Account's bases include CashCommands.
        cash = cast("CashCommands", self)
        for payment in list(self.payments.values()):
            if payment.claim_id == claim_id and not payment.is_reversed:
                cash.reverse_payment(
                    payment_id=payment.payment_id,
                    reason_code="payer_reversal",
                    reversed_on=reversed_on,
                    meta=meta,
                )
        self._trigger(
            ClaimAdjudicationReversed,
            effective_on=reversed_on,
            meta=meta,
            claim_id=claim_id,
            reference=reference,
            contractual_reversed=contractual,
            patient_share_reversed=share,
            patient_invoice_number=share_number,
        )

    def post_remitted_claim(
        self,
        *,
        claim_id: str,
        status: str,
        currency: str,
        billed: Money,
        paid: Money,
        adjustments: Sequence[ClaimAdjustment],
        payment_id: str,
        method: str,
        reference: str,
        posted_on: date,
        meta: Provenance,
        forward_to: str | None = None,
    ) -> None:
        """Post one claim of a payer's remittance (see :mod:`domain.remittance`) as the facts
        it states, all or nothing:

        - processed (statuses 1, 2, 3, 19, 20, 21): the adjudication with its adjustments
          (summed by group and reason), the payer's payment (``payment_id``, when it pays
          anything) and the contractual adjustment (when there is one);
        - denied (4): a denial whose reason is its adjustments' group-reason codes;
        - a reversal (22): the earlier adjudication undone (:meth:`reverse_adjudication`);
        - forwarded (19, 20, 21) to ``forward_to``: processed, then the patient's share
          forwarded to that payer (:meth:`forward_claim`);
        - on a secondary claim (one a crossover made): read against the share forwarded
          (the remittance bills the whole claim; see :mod:`domain.claims`).

        The remittance must be this claim's, in the account's ``currency``: it bills what the
        claim bills (a reversal, that
        negated, and it takes back exactly what was adjudicated)."""
        self._check_open()
        claims = cast("ClaimCommands", self)
        claim = find_claim(self, claim_id)
        if currency != self.currency:
            raise errors.CurrencyMismatch(
                f"The remittance pays in {currency}; account {self.account_number} is kept in "
                f"{self.currency}.",
                field="currency",
            )
        remitted_billed = (
            find_claim(self, claim.forwarded_from).billed if claim.forwarded_from else claim.billed
        )
        if status == era.REVERSAL:
            if billed != -remitted_billed or (
                claim.paid_per_remittance is not None and paid != -claim.paid_per_remittance
            ):
                adjudicated = claim.paid_per_remittance
                raise errors.RemittanceDoesNotMatchClaim(
                    f"The reversal takes back billed {-billed} and paid {-paid}, but claim "
                    f"{claim_id} bills {remitted_billed} and was adjudicated to pay "
                    f"{adjudicated if adjudicated is not None else 'nothing yet'}.",
                    field="claim_id",
                )
            self.reverse_adjudication(
                claim_id=claim_id, reference=reference, reversed_on=posted_on, meta=meta
            )
            return
        if claim.forwarded_from is not None and status != era.DENIED:
            netted = self._secondary_adjustments(claim, billed, paid, adjustments)
        elif billed != claim.billed:
            raise errors.RemittanceDoesNotMatchClaim(
                f"The payer remits claim {claim_id} as billing {billed}, but the claim bills "
                f"{claim.billed}.",
                field="claim_id",
            )
        else:
            netted = era.net_adjustments(adjustments)
        if status == era.DENIED:
            codes = ", ".join(f"{a.group}-{a.reason_code}" for a in netted) or "unstated"
            claims.deny_claim(claim_id=claim_id, reason_code=codes, denied_on=posted_on, meta=meta)
            return
        if status not in era.ADJUDICATING:
            raise errors.RemittanceStatusNotPosted(
                f"Claim status {status} ({era.STATUS_NAMES.get(status, 'unknown')}) is not one "
                f"that posts to an account.",
                field="status",
            )
        claims.adjudicate_claim(
            claim_id=claim_id,
            paid=paid,
            adjustments=netted,
            adjudicated_on=posted_on,
            meta=meta,
        )
        if paid.is_positive:
            claims.post_insurer_payment(
                claim_id=claim_id,
                payment_id=payment_id,
                amount=paid,
                method=method,
                reference=reference,
                received_on=posted_on,
                meta=meta,
            )
        if claim_rules.written_off(netted, self.currency).is_positive:
            claims.post_contractual_adjustment(claim_id=claim_id, posted_on=posted_on, meta=meta)
        if status in era.FORWARDED and forward_to and claim.patient_invoice_number is not None:
            self.forward_claim(
                claim_id=claim_id, payer=forward_to, forwarded_on=posted_on, meta=meta
            )

    def forward_claim(
        self, *, claim_id: str, payer: str, forwarded_on: date, meta: Provenance
    ) -> None:
        """The primary payer forwarded the adjudicated claim to ``payer`` (a crossover): the
        patient's share, unpaid, becomes the secondary claim ``<claim_id>-2`` of that payer."""
        self._check_open()
        claim = find_claim(self, claim_id)
        require_text(payer, "payer", "The secondary payer")
        if claim.status != claim_rules.ADJUDICATED:
            raise errors.ClaimNotAdjudicated(
                f"Claim {claim_id} is {claim.status}; only an adjudicated claim is forwarded.",
                field="claim_id",
            )
        number = claim.patient_invoice_number
        if number is None:
            raise errors.NothingChanged(
                f"Claim {claim_id} left the patient nothing to forward to {payer}."
            )
        item = self.items[number]
        if item.outstanding != item.total:
            raise errors.ClaimShareAlreadyPaid(
                f"The patient has paid {item.total - item.outstanding} of {number}; the share "
                f"can no longer be forwarded to {payer} whole.",
                field="claim_id",
            )
        self._check_not_before_opening(forwarded_on, "forwarded_on")
        secondary, n = f"{claim_id}-2", 2
        while secondary in self.claims:
            n += 1
            secondary = f"{claim_id}-{n}"
        self._trigger(
            ClaimForwarded,
            effective_on=forwarded_on,
            meta=meta,
            claim_id=claim_id,
            secondary_claim_id=secondary,
            payer=payer,
            amount=item.total,
            patient_invoice_number=number,
        )

    def _secondary_adjustments(
        self, claim: Claim, billed: Money, paid: Money, adjustments: Sequence[ClaimAdjustment]
    ) -> list[ClaimAdjustment]:
        """A secondary payer's remittance read against the share it was forwarded: its PR
        adjustments stay the patient's, the rest of the share is the prior payer's impact."""
        primary = find_claim(self, claim.forwarded_from or claim.claim_id)
        if billed != primary.billed:
            raise errors.RemittanceDoesNotMatchClaim(
                f"The secondary payer remits claim {primary.claim_id} as billing {billed}, but "
                f"it bills {primary.billed}.",
                field="claim_id",
            )
        patient = [a for a in era.net_adjustments(adjustments) if a.group == "PR"]
        left = claim.billed - paid - Money.sum((a.amount for a in patient), self.currency)
        if left.is_negative:
            raise errors.RemittanceDoesNotMatchClaim(
                f"The secondary payer pays {paid} and leaves the patient "
                f"{claim.billed - paid - left}, more than the {claim.billed} forwarded to it.",
                field="claim_id",
            )
        return patient + ([ClaimAdjustment("OA", "23", left)] if left.is_positive else [])
