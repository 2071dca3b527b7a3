"""The seed story of the documents tests, recorded through the application's own commands.

Concept
    One account, A-1001 of Avery Quinn in tenant ``acme``, on which every kind of document
    has something to say — the story :mod:`services.documents.samples` builds directly on the
    domain, here recorded as a clerk would: through ``Receivables.execute`` with the command
    models of :mod:`services.commands` (:func:`record_story`), or over HTTP with the same
    bodies (:func:`post_story`)::

        2026-01-02  opened; billing address 12 Harbor Road, Portland; avery@example.org
        2026-01-05  charge ch-1 "Day surgery" 1,000.00         -> INV-1 issued 2026-01-06
        2026-01-10  plan P1: ten installments of 100.00, due on the 1st, Feb..Nov 2026
        2026-02-01  payment "auth 0001" 100.00 (card); likewise 03-01 "auth 0002", 04-01 "auth 0003"
        2026-04-10  settlement offer S1: 300.00 off INV-1 if paid by 2026-04-30
        2026-04-10  promise PTP-1: 400.00 by 2026-04-30
        2026-02-03  charge ch-2 "Office visit" 99213 1,000.00  -> claim CLM-1 to Acme Health
        2026-03-02  CLM-1 adjudicated: paid 450.00; CO-45 400.00, PR-1 100.00, PR-2 50.00
        2026-03-09  insurer payment 450.00 "TRN 1234567"; contractual adjustment posted

    The insurance part is recorded after the payments (though effective before some of
    them), as in the samples, so the customer's payments go to INV-1 and the patient's share
    (CLM-1-PR, 150.00) stays open.

Invariants
    - Both recorders send the very same JSON bodies: a test over HTTP and a test over the
      service layer read the same account.
    - Nothing here reads a clock: every date is the story's own.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from fastapi.testclient import TestClient

from domain.provenance import Provenance
from services.app import Receivables
from services.commands import (
    AccountCommand,
    AdjudicateClaim,
    AgreePaymentPlan,
    ChangeBillingAddress,
    ChangeEmailAddress,
    IssueInvoice,
    OfferSettlement,
    PostCharge,
    PostContractualAdjustment,
    PostInsurerPayment,
    ReceivePayment,
    RecordPromiseToPay,
    SubmitClaim,
)

TENANT: Final = "acme"
ACCOUNT: Final = "A-1001"
NAME: Final = "Avery Quinn"
EMAIL: Final = "avery@example.org"
#: The business date the story's documents are read as of (after the offer and the promise).
AS_OF: Final = "2026-04-15"
PERIOD_FROM: Final = "2026-01-01"
STORY_META: Final = Provenance(actor="clerk-ann", correlation_id="documents-story")
OPENING: Final = {"name": NAME, "currency": "USD", "opened_on": "2026-01-02"}


@dataclass(frozen=True)
class Step:
    """One command of the story: where it is posted over HTTP, its model, its JSON body."""

    facts: str
    model: type[AccountCommand]
    body: dict[str, Any]

    def command(self) -> AccountCommand:
        # Validated from JSON, as the HTTP API reads it, so both ways take the same input.
        return self.model.model_validate_json(json.dumps(self.body))


def _payment(number: int, month: int) -> Step:
    return Step(
        "payments",
        ReceivePayment,
        {
            "payment_id": f"pay-{number}",
            "amount": "100.00",
            "method": "card",
            "reference": f"auth {number:04d}",
            "received_on": f"2026-{month:02d}-01",
        },
    )


CONTACT_STEPS: Final = (
    Step(
        "billing-address-changes",
        ChangeBillingAddress,
        {
            "address": {
                "line1": "12 Harbor Road",
                "line2": "Apt 4",
                "city": "Portland",
                "region": "OR",
                "postal_code": "97201",
                "country": "US",
            },
            "effective_on": "2026-01-02",
        },
    ),
    Step(
        "email-address-changes", ChangeEmailAddress, {"email": EMAIL, "effective_on": "2026-01-02"}
    ),
)
SELF_PAY_STEPS: Final = (
    Step(
        "charges",
        PostCharge,
        {
            "charge_id": "ch-1",
            "code": "SURGERY",
            "description": "Day surgery",
            "unit_price": "1000.00",
            "service_date": "2026-01-05",
        },
    ),
    Step("invoices", IssueInvoice, {"invoice_number": "INV-1", "issued_on": "2026-01-06"}),
    Step(
        "payment-plans",
        AgreePaymentPlan,
        {
            "plan_id": "P1",
            "invoice_numbers": ["INV-1"],
            "installments": [
                {"due_on": f"2026-{month:02d}-01", "amount": "100.00"} for month in range(2, 12)
            ],
            "agreed_on": "2026-01-10",
        },
    ),
    _payment(1, 2),
    _payment(2, 3),
    _payment(3, 4),
    Step(
        "settlement-offers",
        OfferSettlement,
        {
            "offer_id": "S1",
            "invoice_numbers": ["INV-1"],
            "amount_off": "300.00",
            "offered_on": "2026-04-10",
            "expires_on": "2026-04-30",
        },
    ),
    Step(
        "promises-to-pay",
        RecordPromiseToPay,
        {
            "promise_id": "PTP-1",
            "amount": "400.00",
            "pay_by": "2026-04-30",
            "promised_on": "2026-04-10",
        },
    ),
)
INSURANCE_STEPS: Final = (
    Step(
        "charges",
        PostCharge,
        {
            "charge_id": "ch-2",
            "code": "99213",
            "description": "Office visit",
            "unit_price": "1000.00",
            "service_date": "2026-02-03",
        },
    ),
    Step(
        "claims",
        SubmitClaim,
        {
            "claim_id": "CLM-1",
            "payer": "Acme Health",
            "charge_ids": ["ch-2"],
            "submitted_on": "2026-02-04",
        },
    ),
    Step(
        "claim-adjudications",
        AdjudicateClaim,
        {
            "claim_id": "CLM-1",
            "paid": "450.00",
            "adjustments": [
                {"group": "CO", "reason_code": "45", "amount": "400.00"},
                {"group": "PR", "reason_code": "1", "amount": "100.00"},
                {"group": "PR", "reason_code": "2", "amount": "50.00"},
            ],
            "adjudicated_on": "2026-03-02",
        },
    ),
    Step(
        "insurer-payments",
        PostInsurerPayment,
        {
            "claim_id": "CLM-1",
            "payment_id": "era-1",
            "amount": "450.00",
            "method": "eft",
            "reference": "TRN 1234567",
            "received_on": "2026-03-09",
        },
    ),
    Step(
        "contractual-adjustments",
        PostContractualAdjustment,
        {"claim_id": "CLM-1", "posted_on": "2026-03-09"},
    ),
)
STORY: Final = CONTACT_STEPS + SELF_PAY_STEPS + INSURANCE_STEPS


def record_story(
    app: Receivables,
    *,
    tenant_id: str = TENANT,
    account_number: str = ACCOUNT,
    steps: tuple[Step, ...] = STORY,
) -> None:
    """Open the account and record ``steps`` (the whole story) through ``Receivables``."""
    app.open_account(
        tenant_id=tenant_id,
        account_number=account_number,
        name=NAME,
        currency="USD",
        opened_on=date(2026, 1, 2),
        meta=STORY_META,
    )
    for step in steps:
        app.execute(
            tenant_id=tenant_id,
            account_number=account_number,
            command=step.command(),
            meta=STORY_META,
        )


def post_story(
    client: TestClient, *, account_number: str = ACCOUNT, steps: tuple[Step, ...] = STORY
) -> None:
    """Open the account and record ``steps`` over HTTP, as the client's clerk."""
    opened = client.post("/v1/accounts", json={"account_number": account_number, **OPENING})
    assert opened.status_code == 201, opened.text
    for step in steps:
        recorded = client.post(f"/v1/accounts/{account_number}/{step.facts}", json=step.body)
        assert recorded.status_code == 201, (step.facts, recorded.text)


def later_payment(reference: str = "auth 0004", received_on: str = "2026-04-12") -> Step:
    """A payment recorded after the story (to tell a reprint from a fresh document)."""
    return Step(
        "payments",
        ReceivePayment,
        {
            "payment_id": "pay-later",
            "amount": "50.00",
            "method": "card",
            "reference": reference,
            "received_on": received_on,
        },
    )


def pdf_text(pdf: bytes) -> str:
    """The text of a PDF as poppler's ``pdftotext -layout`` lays it out (lines kept)."""
    done = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    )
    return done.stdout.decode("utf-8")


def one_spaced(text: str) -> str:
    """``text`` with every run of blanks one space: a layout's columns, read as a sentence."""
    return "\n".join(" ".join(line.split()) for line in text.splitlines())
