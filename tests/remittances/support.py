"""Accounts and claims the remittance files in ``files/`` are posted to (see files/README.md)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from domain.account import Account
from domain.money import Money
from services.app import Receivables
from services.commands import PostCharge, SubmitClaim
from services.errors import AccountAlreadyExists
from tests.support import CLERK, run

FILES = Path(__file__).parent / "files"
TENANT = "clinic"
ACME = "ACME HEALTH PLAN"


def file_bytes(name: str) -> bytes:
    return (FILES / name).read_bytes()


@dataclass(frozen=True)
class ClaimOnFile:
    """An account with one claim of charges: what a file's claim is matched to."""

    account: str
    patient: str
    claim_id: str
    payer: str
    charges: tuple[str, ...]
    service_date: date
    submitted_on: date
    opened_on: date = date(2026, 1, 1)


def open_claim(app: Receivables, claim: ClaimOnFile, tenant_id: str = TENANT) -> None:
    """Open the claim's account (once), post its charges and submit the claim."""
    with contextlib.suppress(AccountAlreadyExists):  # opened for another claim of theirs
        app.open_account(
            tenant_id=tenant_id,
            account_number=claim.account,
            name=claim.patient,
            currency="USD",
            opened_on=claim.opened_on,
            meta=CLERK,
        )
    charge_ids = []
    for n, amount in enumerate(claim.charges, start=1):
        charge_id = f"{claim.claim_id}-ch{n}"
        charge_ids.append(charge_id)
        run(
            app,
            PostCharge(
                charge_id=charge_id,
                code="VISIT",
                description=f"service {n} of {claim.claim_id}",
                unit_price=Decimal(amount),
                service_date=claim.service_date,
            ),
            claim.account,
            tenant_id,
        )
    run(
        app,
        SubmitClaim(
            claim_id=claim.claim_id,
            payer=claim.payer,
            charge_ids=charge_ids,
            submitted_on=claim.submitted_on,
        ),
        claim.account,
        tenant_id,
    )


def usd(amount: str) -> Money:
    return Money(amount, "USD")


def account(app: Receivables, number: str, tenant_id: str = TENANT) -> Account:
    return app.get_account(tenant_id, number)


#: The seed story's claim (seed-story.835, then reversal-and-correction.835).
SEED = ClaimOnFile(
    account="P-1001",
    patient="Jane Doe",
    claim_id="CLM-1001",
    payer=ACME,
    charges=("600.00", "400.00"),
    service_date=date(2026, 3, 2),
    submitted_on=date(2026, 3, 5),
)


def _claim(
    account: str,
    patient: str,
    claim_id: str,
    charges: tuple[str, ...],
    day: date,
    payer: str = ACME,
) -> ClaimOnFile:
    return ClaimOnFile(account, patient, claim_id, payer, charges, day, day)


#: Each hand-made and real file's claims as they are on file before it is posted.
CLAIMS: dict[str, tuple[ClaimOnFile, ...]] = {
    "seed-story.835": (SEED,),
    "split-claim.835": (
        _claim(
            "P-2001", "Alice Smith", "CLM-2001", ("500.00", "250.00", "150.00"), date(2026, 3, 5)
        ),
        _claim("P-2002", "Robert Brown", "CLM-2002", ("200.00",), date(2026, 3, 6)),
    ),
    "denial.835": (
        _claim("P-3001", "Gary Green", "CLM-3001", ("250.00",), date(2026, 3, 10)),
        _claim("P-3002", "Wendy White", "CLM-3002", ("120.00",), date(2026, 3, 11)),
    ),
    "provider-adjustments.835": (
        _claim("P-4001", "Betty Black", "CLM-4001", ("300.00",), date(2026, 3, 16)),
        _claim("P-4002", "George Gray", "CLM-4002", ("350.00", "150.00"), date(2026, 3, 17)),
    ),
    "unmatched.835": (_claim("P-5001", "Richard Roe", "CLM-5001", ("150.00",), date(2026, 3, 20)),),
    "crossover.835": (
        _claim("P-6001", "John Doe", "CLM-6001", ("250.00", "150.00"), date(2026, 3, 23)),
    ),
    "managed-care.835": (
        ClaimOnFile(
            "M-1",
            "William Budd",
            "5554555444",
            "RUSHMORE LIFE",
            ("800.00",),
            date(2002, 3, 1),
            date(2002, 3, 5),
            opened_on=date(2002, 1, 1),
        ),
        ClaimOnFile(
            "M-2",
            "Susan Settle",
            "8765432112",
            "RUSHMORE LIFE",
            ("1200.00",),
            date(2002, 3, 10),
            date(2002, 3, 12),
            opened_on=date(2002, 1, 1),
        ),
    ),
    "cob-contractural-adjustment.835": (
        ClaimOnFile(
            "C-1",
            "Raymond Burck",
            "0001000055",
            "YOUR TAX DOLLARS AT WORK",
            ("541.00",),
            date(2005, 2, 2),
            date(2005, 2, 10),
            opened_on=date(2005, 1, 1),
        ),
    ),
}
