"""Insurance claims: charges billed to an insurer, adjudicated, paid, denied and appealed.

Concept
    A claim bills uninvoiced charges to a payer (an insurer), who owes them until it
    adjudicates the claim (see :mod:`domain.claims`). The remittance says what the
    payer pays and why the rest is adjusted: the patient's share (group PR) becomes
    an open item the patient owes, and the contractual adjustments (CO/OA/PI) are
    written off with their own command, as the payer's payment is posted with its
    own. A denied claim can be appealed or resubmitted, and is then awaiting
    adjudication again.

Invariants
    - A charge is on at most one claim, and a claimed charge is on no invoice.
    - Adjudication balances: billed − Σ adjustments = paid; the adjustments never
      exceed what the payer still owes.
    - An insurer's payment is at most what the payer still owes and, once
      adjudicated, at most the remittance's paid amount not yet received.
    - The contractual adjustment of a claim is posted once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, cast

from domain import claims as claim_rules
from domain import errors, ledger
from domain import remittance as era
from domain.account.core import AccountState, Event, require_text
from domain.charges import VOIDED as VOIDED_CHARGE
from domain.claims import Claim, ClaimAdjustment
from domain.money import Money
from domain.open_items import PATIENT_SHARE, Movement, OpenItem, Term
from domain.payments import Payment
from domain.provenance import Provenance
from domain.schedules import add_days

if TYPE_CHECKING:  # cash imports what imports this module: the type alone is needed here
    from domain.account.cash import CashCommands

# ================================================================== events


class ClaimSubmitted(Event):
    TOPIC = "receivables.account:ClaimSubmitted"

    claim_id: str
    payer: str
    charge_ids: list[str]
    billed: Money

    def evolve(self, account: AccountState) -> None:
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

    def evolve(self, account: AccountState) -> None:
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

    def evolve(self, account: AccountState) -> None:
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
        claim.reduce(Movement(self.effective_on, "insurer_payment", self.amount, self.payment_id))
        account._post(self.effective_on, ledger.PAYMENTS, self.amount, self.payment_id)


class ContractualAdjustmentPosted(Event):
    TOPIC = "receivables.account:ContractualAdjustmentPosted"

    claim_id: str
    amount: Money

    def evolve(self, account: AccountState) -> None:
        claim = account.claims[self.claim_id]
        claim.contractual_posted = True
        claim.reduce(
            Movement(self.effective_on, "contractual_adjustment", self.amount, self.claim_id)
        )
        account._post(self.effective_on, ledger.CONTRACTUAL_ADJUSTMENTS, self.amount, self.claim_id)


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


class ClaimDenied(Event):
    TOPIC = "receivables.account:ClaimDenied"

    claim_id: str
    reason_code: str

    def evolve(self, account: AccountState) -> None:
        claim = account.claims[self.claim_id]
        claim.status = claim_rules.DENIED
        claim.denial_reason = self.reason_code


class ClaimAppealed(Event):
    TOPIC = "receivables.account:ClaimAppealed"

    claim_id: str
    note: str

    def evolve(self, account: AccountState) -> None:
        account.claims[self.claim_id].status = claim_rules.APPEALED


class ClaimResubmitted(Event):
    TOPIC = "receivables.account:ClaimResubmitted"

    claim_id: str

    def evolve(self, account: AccountState) -> None:
        claim = account.claims[self.claim_id]
        claim.status = claim_rules.RESUBMITTED
        claim.submissions += 1


def _check_not_before(claim: Claim, on: date, field: str) -> None:
    """A claim's facts come in order: nothing is dated before what is already on it."""
    latest = max((m.effective_on for m in claim.movements), default=claim.submitted_on)
    latest = max(latest, claim.submitted_on)
    if on < latest:
        raise errors.InvalidDate(
            f"Claim {claim.claim_id} has facts dated up to {latest}; nothing can be dated "
            f"{on}, before them.",
            field=field,
        )


def find_claim(account: AccountState, claim_id: str) -> Claim:
    claim = account.claims.get(claim_id)
    if claim is None:
        raise errors.UnknownClaim(f"There is no claim {claim_id}.", field="claim_id")
    return claim


# ================================================================== commands


class ClaimCommands(AccountState):
    """Submitting, adjudicating, paying, denying, appealing and resubmitting claims."""

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
        require_text(payer, "payer", "The payer")
        self._check_not_before_opening(submitted_on, "submitted_on")
        if not charge_ids:
            raise errors.NothingToClaim("A claim needs at least one charge.", field="charge_ids")
        billed = Money.zero(self.currency)
        for charge_id in dict.fromkeys(charge_ids):
            charge = self.charges.get(charge_id)
            if charge is None:
                raise errors.UnknownCharge(f"There is no charge {charge_id}.", field="charge_ids")
            if charge.status == VOIDED_CHARGE:
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
            ClaimSubmitted,
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
        claim = find_claim(self, claim_id)
        if claim.status not in claim_rules.AWAITING_ADJUDICATION:
            raise errors.ClaimNotAwaitingAdjudication(
                f"Claim {claim_id} is {claim.status}; it cannot be adjudicated now.",
                field="claim_id",
            )
        self._check_money(paid, "paid", positive=False)
        claim_rules.check_adjustments(claim.billed, paid, adjustments)
        self._check_not_before_opening(adjudicated_on, "adjudicated_on")
        _check_not_before(claim, adjudicated_on, "adjudicated_on")
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
            number = patient_invoice_number or self._free_share_number(claim_id)
            self._new_id(number, "patient_invoice_number", "Invoice", [self.items, self.notes])
        due = patient_due_on or add_days(
            adjudicated_on, self.payment_terms_days, field="adjudicated_on"
        )
        if due < adjudicated_on:
            raise errors.DueDateBeforeIssueDate(
                f"The patient's due date {due} is before {adjudicated_on}.", field="patient_due_on"
            )
        self._trigger(
            ClaimAdjudicated,
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
        claim = find_claim(self, claim_id)
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
            InsurerPaymentPosted,
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
        claim = find_claim(self, claim_id)
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
            ContractualAdjustmentPosted,
            effective_on=posted_on,
            meta=meta,
            claim_id=claim_id,
            amount=amount,
        )

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
        _check_not_before(claim, reversed_on, "reversed_on")
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
            self.deny_claim(claim_id=claim_id, reason_code=codes, denied_on=posted_on, meta=meta)
            return
        if status not in era.ADJUDICATING:
            raise errors.RemittanceStatusNotPosted(
                f"Claim status {status} ({era.STATUS_NAMES.get(status, 'unknown')}) is not one "
                f"that posts to an account.",
                field="status",
            )
        self.adjudicate_claim(
            claim_id=claim_id,
            paid=paid,
            adjustments=netted,
            adjudicated_on=posted_on,
            meta=meta,
        )
        if paid.is_positive:
            self.post_insurer_payment(
                claim_id=claim_id,
                payment_id=payment_id,
                amount=paid,
                method=method,
                reference=reference,
                received_on=posted_on,
                meta=meta,
            )
        if claim_rules.written_off(netted, self.currency).is_positive:
            self.post_contractual_adjustment(claim_id=claim_id, posted_on=posted_on, meta=meta)
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

    def _free_share_number(self, claim_id: str) -> str:
        """``<claim_id>-PR``, or ``-PR-2``, ``-PR-3`` ... after a reversed adjudication."""
        number, n = f"{claim_id}-PR", 1
        while number in self.items or number in self.notes:
            n += 1
            number = f"{claim_id}-PR-{n}"
        return number

    def deny_claim(
        self, *, claim_id: str, reason_code: str, denied_on: date, meta: Provenance
    ) -> None:
        self._check_open()
        claim = find_claim(self, claim_id)
        if claim.status not in claim_rules.AWAITING_ADJUDICATION:
            raise errors.ClaimNotAwaitingAdjudication(
                f"Claim {claim_id} is {claim.status}; it cannot be denied now.", field="claim_id"
            )
        require_text(reason_code, "reason_code", "A denial reason code")
        self._check_not_before_opening(denied_on, "denied_on")
        _check_not_before(claim, denied_on, "denied_on")
        self._trigger(
            ClaimDenied,
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
            ClaimAppealed, effective_on=appealed_on, meta=meta, claim_id=claim_id, note=note
        )

    def resubmit_claim(self, *, claim_id: str, resubmitted_on: date, meta: Provenance) -> None:
        self._check_denied(claim_id)
        self._check_not_before_opening(resubmitted_on, "resubmitted_on")
        self._trigger(ClaimResubmitted, effective_on=resubmitted_on, meta=meta, claim_id=claim_id)

    def _check_denied(self, claim_id: str) -> None:
        self._check_open()
        claim = find_claim(self, claim_id)
        if claim.status != claim_rules.DENIED:
            raise errors.ClaimNotDenied(
                f"Claim {claim_id} is {claim.status}, not denied.", field="claim_id"
            )
