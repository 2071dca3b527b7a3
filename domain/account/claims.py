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

from domain import claims as claim_rules
from domain import errors, ledger
from domain.account.core import AccountState, Event, require_text
from domain.charges import VOIDED as VOIDED_CHARGE
from domain.claims import Claim, ClaimAdjustment
from domain.money import Money
from domain.open_items import PATIENT_SHARE, Movement, OpenItem, Term
from domain.payments import Payment
from domain.provenance import Provenance
from domain.schedules import add_days

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


def check_claim_date(claim: Claim, on: date, field: str) -> None:
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
        check_claim_date(claim, adjudicated_on, "adjudicated_on")
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
        check_claim_date(claim, denied_on, "denied_on")
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
