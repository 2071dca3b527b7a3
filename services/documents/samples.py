"""The sample account every template override is tried on before it is recorded.

An override is accepted only if it writes out, in HTML and in PDF, every document it takes
part in, for an account that has one of everything: the story of $1,000 owed over ten
months with three installments paid and $300 offered off the rest, a promise to pay, and an
insurer's claim adjudicated (billed 1,000.00; CO-45 400.00, PR-1 100.00, PR-2 50.00; paid
450.00), so a template that reads a field a document lacks fails here, not in a run.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Final

from domain.account import Account
from domain.claims import ClaimAdjustment
from domain.contacts import Address
from domain.letterhead import (
    COVER_LIST,
    EMAIL_BODY,
    LAYOUT,
    Letterhead,
    check_template,
)
from domain.money import Money
from domain.open_items import Term
from domain.provenance import Provenance
from services.documents.rendering import email_text, render_pdf

AS_OF: Final = date(2026, 4, 15)
_META: Final = Provenance(actor="template check", correlation_id="template-check")


def sample_account() -> Account:
    usd = "USD"
    account = Account.open(
        tenant_id="sample",
        account_number="A-1001",
        name="Avery Quinn",
        currency=usd,
        effective_on=date(2026, 1, 2),
        meta=_META,
    )
    account.change_billing_address(
        address=Address("12 Harbor Road", "Apt 4", "Portland", "OR", "97201", "US"),
        effective_on=date(2026, 1, 2),
        meta=_META,
    )
    account.change_email_address(
        email="avery@example.org", effective_on=date(2026, 1, 2), meta=_META
    )
    account.post_charge(
        charge_id="ch-1",
        code="SURGERY",
        description="Day surgery",
        quantity=1,
        unit_price=Money("1000.00", usd),
        tax=Money.zero(usd),
        service_date=date(2026, 1, 5),
        effective_on=date(2026, 1, 5),
        meta=_META,
    )
    account.issue_invoice(invoice_number="INV-1", issued_on=date(2026, 1, 6), meta=_META)
    account.agree_payment_plan(
        plan_id="P1",
        invoice_numbers=["INV-1"],
        installments=[Term(date(2026, m, 1), Money("100.00", usd)) for m in range(2, 12)],
        agreed_on=date(2026, 1, 10),
        meta=_META,
    )
    for number, month in enumerate((2, 3, 4), start=1):
        account.receive_payment(
            payment_id=f"pay-{number}",
            amount=Money("100.00", usd),
            method="card",
            reference=f"auth {number:04d}",
            received_on=date(2026, month, 1),
            meta=_META,
        )
    account.offer_settlement(
        offer_id="S1",
        invoice_numbers=["INV-1"],
        amount_off=Money("300.00", usd),
        offered_on=date(2026, 4, 10),
        expires_on=date(2026, 4, 30),
        meta=_META,
    )
    account.record_promise_to_pay(
        promise_id="PTP-1",
        amount=Money("400.00", usd),
        pay_by=date(2026, 4, 30),
        promised_on=date(2026, 4, 10),
        meta=_META,
    )
    account.post_charge(
        charge_id="ch-2",
        code="99213",
        description="Office visit",
        quantity=1,
        unit_price=Money("1000.00", usd),
        tax=Money.zero(usd),
        service_date=date(2026, 2, 3),
        effective_on=date(2026, 2, 3),
        meta=_META,
    )
    account.submit_claim(
        claim_id="CLM-1",
        payer="Acme Health",
        charge_ids=["ch-2"],
        submitted_on=date(2026, 2, 4),
        meta=_META,
    )
    account.adjudicate_claim(
        claim_id="CLM-1",
        paid=Money("450.00", usd),
        adjustments=[
            ClaimAdjustment("CO", "45", Money("400.00", usd)),
            ClaimAdjustment("PR", "1", Money("100.00", usd)),
            ClaimAdjustment("PR", "2", Money("50.00", usd)),
        ],
        adjudicated_on=date(2026, 3, 2),
        meta=_META,
    )
    account.post_insurer_payment(
        claim_id="CLM-1",
        payment_id="era-1",
        amount=Money("450.00", usd),
        method="eft",
        reference="TRN 1234567",
        received_on=date(2026, 3, 9),
        meta=_META,
    )
    account.post_contractual_adjustment(claim_id="CLM-1", posted_on=date(2026, 3, 9), meta=_META)
    return account


SAMPLE_LETTERHEAD: Final = Letterhead(
    name="Harbor Family Clinic",
    address_lines=("400 Quay Street", "Portland, OR 97201"),
    remit_to=("Harbor Family Clinic — Receivables", "PO Box 118", "Portland, OR 97207"),
    payment_instructions="Pay by card at harbor.example/pay or by cheque payable to Harbor Family Clinic.",
    phone="+1 503 555 0100",
    email="billing@harbor.example",
)


def check_template_renders(name: str, source: str) -> None:
    """Refuse an override that does not write out every sample document it takes part in
    (before it is recorded)."""
    check_template(name, source)
    sample_renders({name: source})


def sample_renders(overrides: Mapping[str, str]) -> None:
    """Write out every document (and the cover list, and the e-mail body) with ``overrides``:
    raises :class:`~domain.errors.InvalidTemplate` on the first that fails."""
    from services.documents import service

    account = sample_account()
    heading = service.heading_for(SAMPLE_LETTERHEAD, "sample")
    for kind, subject in service.SAMPLE_SUBJECTS:
        document = service.build_document(
            account, kind, AS_OF, subject=subject, period_from=date(2026, 1, 1)
        )
        if set(overrides) & {LAYOUT, document.template}:
            service.write_out(document, heading, overrides, pdf=True)
        if EMAIL_BODY in overrides:
            email_text(document.context(), heading, overrides)
    if COVER_LIST in overrides or LAYOUT in overrides:
        entry = service.CoverEntry("A-1001", f"{account.name}, 12 Harbor Road, Portland", 2)
        html = service.cover_list([entry], heading, overrides, batch_id="sample", as_of=AS_OF)
        render_pdf(html)
