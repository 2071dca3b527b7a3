"""Remittance advice: what a payer says it paid, claim by claim, and why the rest was not.

Concept
    A payer's *remittance* (an ERA: electronic remittance advice) is one payment to the
    provider — an amount, a method, an effective date and a *trace number* the bank deposit
    carries too — explained claim by claim. Each *remitted claim* names the provider's own
    claim (the *patient control number*), says how the payer processed it (a *status*:
    processed as primary, denied, a reversal of an earlier payment, ...), what was billed,
    what is paid, and the *adjustments* that make up the difference, each a group
    (CO contractual, PR patient responsibility, OA other, PI payer-initiated) with a reason
    code, at the claim or at a service line. *Provider-level adjustments* (PLB) are not any
    patient's: an overpayment recovered (WO), an authorized return (72), a balance carried to
    a later remittance (FB), interest paid (L6), and others; a positive one reduces the
    payment, a negative one adds to it.

    These are facts as the payer states them, free of any file format: the services read a
    file (X12 835) into them, and :func:`balance_problems` says whether they add up before
    anything is posted.

Invariants (each broken one is a :class:`Problem`; a remittance with any is refused whole)
    - Per claim: billed − Σ adjustments (claim and service lines) = paid, and the patient
      responsibility stated equals Σ PR adjustments.
    - Per service line: billed − Σ its adjustments = paid; the lines' billed amounts sum to
      the claim's billed amount, and their paid amounts less the claim-level adjustments to
      the claim's paid amount.
    - The file: payment = Σ claims' paid − Σ provider-level adjustments.
    - One currency throughout; a reversal carries the original's figures negated.

Vocabulary
    remittance, remitted claim, patient control number, payer claim number, status,
    adjustment group, reason code, service line, provider-level adjustment, trace number.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

from domain.claims import ClaimAdjustment
from domain.money import Money

#: Claim status codes (CLP02) and what each means to the provider's books.
PROCESSED_AS_PRIMARY: Final = "1"
PROCESSED_AS_SECONDARY: Final = "2"
PROCESSED_AS_TERTIARY: Final = "3"
DENIED: Final = "4"
PRIMARY_FORWARDED: Final = "19"
SECONDARY_FORWARDED: Final = "20"
TERTIARY_FORWARDED: Final = "21"
REVERSAL: Final = "22"
NOT_OUR_CLAIM_FORWARDED: Final = "23"
PREDETERMINATION: Final = "25"

STATUS_NAMES: Final[dict[str, str]] = {
    PROCESSED_AS_PRIMARY: "processed as primary",
    PROCESSED_AS_SECONDARY: "processed as secondary",
    PROCESSED_AS_TERTIARY: "processed as tertiary",
    DENIED: "denied",
    PRIMARY_FORWARDED: "processed as primary, forwarded to another payer",
    SECONDARY_FORWARDED: "processed as secondary, forwarded to another payer",
    TERTIARY_FORWARDED: "processed as tertiary, forwarded to another payer",
    REVERSAL: "reversal of an earlier payment",
    NOT_OUR_CLAIM_FORWARDED: "not this payer's claim, forwarded",
    PREDETERMINATION: "predetermination pricing only, no payment",
}
#: Statuses that adjudicate a claim (the payer paid, or paid nothing, on it).
ADJUDICATING: Final[frozenset[str]] = frozenset(
    {
        PROCESSED_AS_PRIMARY,
        PROCESSED_AS_SECONDARY,
        PROCESSED_AS_TERTIARY,
        PRIMARY_FORWARDED,
        SECONDARY_FORWARDED,
        TERTIARY_FORWARDED,
    }
)
FORWARDED: Final[frozenset[str]] = frozenset(
    {PRIMARY_FORWARDED, SECONDARY_FORWARDED, TERTIARY_FORWARDED}
)

#: Provider-level adjustment reason codes (PLB03-1) and their meaning.
PROVIDER_ADJUSTMENT_NAMES: Final[dict[str, str]] = {
    "WO": "overpayment recovery",
    "72": "authorized return",
    "FB": "forwarding balance",
    "L6": "interest owed",
    "CS": "adjustment",
    "IR": "internal revenue service withholding",
    "J1": "nonreimbursable",
    "50": "late charge",
    "51": "interest penalty charge",
    "90": "early payment allowance",
    "AH": "origination fee",
    "AM": "applied to borrower's account",
    "AP": "acceleration of benefits",
    "B2": "rebate",
    "B3": "recovery allowance",
    "BD": "bad debt adjustment",
    "BN": "bonus",
    "C5": "temporary allowance",
    "CR": "capitation interest",
    "CT": "capitation payment",
    "CV": "capital passthru",
    "CW": "certified registered nurse anesthetist passthru",
    "DM": "direct medical education passthru",
    "E3": "withholding",
    "FC": "fund allocation",
    "GO": "graduate medical education passthru",
    "HM": "hemophilia clotting factor supplement",
    "IP": "incentive premium payment",
    "IS": "interim settlement",
    "LE": "levy",
    "LS": "lump sum",
    "OA": "organ acquisition passthru",
    "OB": "offset for affiliated providers",
    "PI": "periodic interim payment",
    "PL": "payment final",
    "RA": "retro-activity adjustment",
    "RE": "return on equity",
    "SL": "student loan repayment",
    "TL": "third party liability",
    "WU": "unspecified recovery",
}


def provider_adjustment_name(reason_code: str) -> str:
    """What a provider-level adjustment's reason code means ("WO": overpayment recovery)."""
    return PROVIDER_ADJUSTMENT_NAMES.get(reason_code, f"reason {reason_code}")


@dataclass(frozen=True, slots=True)
class ServiceLine:
    """One service the payer priced: procedure as the payer quotes it, billed, paid, the
    line's adjustments, the date of service when the file gives one, and where it was read."""

    procedure: str
    billed: Money
    paid: Money
    adjustments: tuple[ClaimAdjustment, ...]
    service_date: date | None
    line: int


@dataclass(frozen=True, slots=True)
class RemittedClaim:
    """One claim as the payer remits it (a CLP and what follows it)."""

    patient_control_number: str
    status: str
    billed: Money
    paid: Money
    patient_responsibility: Money
    payer_claim_number: str
    patient_name: str
    service_from: date | None
    service_to: date | None
    adjustments: tuple[ClaimAdjustment, ...]
    service_lines: tuple[ServiceLine, ...]
    crossover_payer: str | None
    line: int

    @property
    def all_adjustments(self) -> tuple[ClaimAdjustment, ...]:
        """The claim's adjustments and its service lines', in the order the payer gave them."""
        return self.adjustments + tuple(a for s in self.service_lines for a in s.adjustments)

    @property
    def status_name(self) -> str:
        return STATUS_NAMES.get(self.status, f"status {self.status}")

    @property
    def is_reversal(self) -> bool:
        return self.status == REVERSAL

    @property
    def is_denial(self) -> bool:
        return self.status == DENIED


@dataclass(frozen=True, slots=True)
class ProviderAdjustment:
    """One provider-level adjustment (a PLB pair): positive reduces the payment."""

    provider_id: str
    fiscal_period_end: date
    reason_code: str
    reference: str
    amount: Money
    line: int

    @property
    def reason_name(self) -> str:
        return provider_adjustment_name(self.reason_code)


@dataclass(frozen=True, slots=True)
class Remittance:
    """One payment from a payer, explained claim by claim."""

    payer_name: str
    payer_id: str
    payee_name: str
    payee_id: str
    payment: Money
    method: str
    effective_on: date
    trace_number: str
    claims: tuple[RemittedClaim, ...]
    provider_adjustments: tuple[ProviderAdjustment, ...]
    #: Where the payment (BPR) was read, for problems that name it.
    payment_line: int = 1

    @property
    def currency(self) -> str:
        return self.payment.currency

    @property
    def claims_paid(self) -> Money:
        return Money.sum((c.paid for c in self.claims), self.currency)

    @property
    def provider_adjusted(self) -> Money:
        return Money.sum((p.amount for p in self.provider_adjustments), self.currency)


@dataclass(frozen=True, slots=True)
class Problem:
    """One way a remittance does not add up: where (the file's line and segment, and the
    claim when it is one), and a sentence with the amounts."""

    line: int
    segment: str
    claim: str | None
    sentence: str

    def __str__(self) -> str:
        where = f"line {self.line} ({self.segment})"
        if self.claim is not None:
            where += f", claim {self.claim}"
        return f"{where}: {self.sentence}"


def claim_problems(claim: RemittedClaim, currency: str) -> list[Problem]:
    """Every way one remitted claim fails to balance."""
    found: list[Problem] = []
    pcn = claim.patient_control_number

    def problem(line: int, segment: str, sentence: str) -> None:
        found.append(Problem(line, segment, pcn, sentence))

    adjusted = Money.sum((a.amount for a in claim.all_adjustments), currency)
    if claim.billed - adjusted != claim.paid:
        problem(
            claim.line,
            "CLP",
            f"billed {claim.billed} less adjustments {adjusted} is {claim.billed - adjusted}, "
            f"but the claim says paid {claim.paid}",
        )
    responsibility = Money.sum(
        (a.amount for a in claim.all_adjustments if a.group == "PR"), currency
    )
    if responsibility != claim.patient_responsibility:
        problem(
            claim.line,
            "CLP",
            f"the patient responsibility stated is {claim.patient_responsibility}, but the PR "
            f"adjustments add up to {responsibility}",
        )
    for adjustment in claim.all_adjustments:
        if adjustment.group not in ("CO", "PR", "OA", "PI"):
            problem(
                claim.line,
                "CAS",
                f"{adjustment.group!r} is not an adjustment group (CO, PR, OA or PI)",
            )
    if claim.service_lines:
        lines_billed = Money.sum((s.billed for s in claim.service_lines), currency)
        if lines_billed != claim.billed:
            problem(
                claim.line,
                "SVC",
                f"the service lines bill {lines_billed}, the claim {claim.billed}",
            )
        claim_level = Money.sum((a.amount for a in claim.adjustments), currency)
        lines_paid = Money.sum((s.paid for s in claim.service_lines), currency)
        if lines_paid - claim_level != claim.paid:
            problem(
                claim.line,
                "SVC",
                f"the service lines pay {lines_paid}, less claim adjustments {claim_level} is "
                f"{lines_paid - claim_level}, but the claim says paid {claim.paid}",
            )
        for service in claim.service_lines:
            line_adjusted = Money.sum((a.amount for a in service.adjustments), currency)
            if service.billed - line_adjusted != service.paid:
                problem(
                    service.line,
                    "SVC",
                    f"service {service.procedure} billed {service.billed} less adjustments "
                    f"{line_adjusted} is {service.billed - line_adjusted}, but the line says "
                    f"paid {service.paid}",
                )
    if claim.is_reversal:
        if claim.billed.is_positive or claim.paid.is_positive:
            problem(
                claim.line,
                "CLP",
                f"a reversal carries the original claim's figures negated, but it bills "
                f"{claim.billed} and pays {claim.paid}",
            )
    elif claim.billed.is_negative or claim.paid.is_negative:
        problem(
            claim.line,
            "CLP",
            f"only a reversal (status 22) may bill or pay less than zero; this claim is "
            f"{claim.status_name}, billing {claim.billed} and paying {claim.paid}",
        )
    if claim.is_denial and not claim.paid.is_zero:
        problem(claim.line, "CLP", f"a denied claim pays nothing, but this one pays {claim.paid}")
    return found


def balance_problems(remittance: Remittance) -> list[Problem]:
    """Every way the remittance fails to add up, claim by claim and for the file; empty when
    it balances to the cent."""
    currency = remittance.currency
    found: list[Problem] = []
    for claim in remittance.claims:
        found.extend(claim_problems(claim, currency))
    expected = remittance.claims_paid - remittance.provider_adjusted
    if expected != remittance.payment:
        found.append(
            Problem(
                remittance.payment_line,
                "BPR",
                None,
                f"the payment is {remittance.payment}, but the claims pay "
                f"{remittance.claims_paid} less provider adjustments "
                f"{remittance.provider_adjusted}, which is {expected}",
            )
        )
    return found


def combined(parts: Sequence[RemittedClaim]) -> RemittedClaim:
    """A claim the payer split into several (same patient control number, same status) read
    as one: figures summed, adjustments and service lines in the order given."""
    first = parts[0]
    currency = first.billed.currency
    if len(parts) == 1:
        return first
    return RemittedClaim(
        patient_control_number=first.patient_control_number,
        status=first.status,
        billed=Money.sum((p.billed for p in parts), currency),
        paid=Money.sum((p.paid for p in parts), currency),
        patient_responsibility=Money.sum((p.patient_responsibility for p in parts), currency),
        payer_claim_number=first.payer_claim_number,
        patient_name=first.patient_name,
        service_from=min((p.service_from for p in parts if p.service_from), default=None),
        service_to=max((p.service_to for p in parts if p.service_to), default=None),
        adjustments=tuple(a for p in parts for a in p.adjustments),
        service_lines=tuple(s for p in parts for s in p.service_lines),
        crossover_payer=first.crossover_payer,
        line=first.line,
    )


def net_adjustments(adjustments: Iterable[ClaimAdjustment]) -> list[ClaimAdjustment]:
    """Adjustments summed by group and reason (a payer may list one reason twice, or correct
    one with a negative amount), in first-seen order, zero sums left out."""
    sums: dict[tuple[str, str], Money] = {}
    for adjustment in adjustments:
        key = (adjustment.group, adjustment.reason_code)
        sums[key] = sums[key] + adjustment.amount if key in sums else adjustment.amount
    return [ClaimAdjustment(g, r, amount) for (g, r), amount in sums.items() if not amount.is_zero]


def posting_units(remittance: Remittance) -> list[RemittedClaim]:
    """The claims to post, in the order the payer gave them: the parts of a claim the payer
    split (same patient control number, same processed status, or both reversals) read as one
    (:func:`combined`); a denial on its own."""
    units: list[list[RemittedClaim]] = []
    split: dict[tuple[str, str], list[RemittedClaim]] = {}
    for claim in remittance.claims:
        key = (claim.patient_control_number, claim.status)
        combines = claim.status in ADJUDICATING or claim.is_reversal
        if combines and key in split:
            split[key].append(claim)
            continue
        parts = [claim]
        units.append(parts)
        if combines:
            split[key] = parts
    return [combined(parts) for parts in units]
