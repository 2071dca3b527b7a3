"""What each document says, decided from the account: the seed story and an insurance patient.

Figures are checked against the account's own queries (its balance, what insurers owe, what
is open) and against the story's arithmetic, not against a rendering.
"""

from __future__ import annotations

from datetime import date

import pytest

from domain import errors
from domain.documents import (
    dunning_letter_document,
    invoice_document,
    patient_statement_document,
    plan_agreement_document,
    promise_confirmation_document,
    settlement_offer_document,
    statement_document,
)
from domain.money import Money
from services.documents.samples import AS_OF, sample_account


def usd(amount: str) -> Money:
    return Money(amount, "USD")


def test_a_statement_ties_out_to_the_accounts_own_balance_on_every_day_of_the_story() -> None:
    account = sample_account()
    start = date(2026, 1, 1)
    for day in (date(2026, 1, 5), date(2026, 2, 3), date(2026, 3, 9), AS_OF):
        doc = statement_document(account, start, day)
        assert doc.opening + Money.sum((line.amount for line in doc.lines), "USD") == doc.closing
        assert doc.closing == account.balance_as_of(day)
        assert doc.owed_by_insurers + doc.customer_owes == doc.closing
        assert doc.aging.total == Money.sum((i.outstanding for i in doc.open_items), "USD")
        running = doc.opening
        for line in doc.lines:
            running = running + line.amount
            assert line.balance == running


def test_a_statement_names_the_clerks_references_not_internal_ids() -> None:
    doc = statement_document(sample_account(), date(2026, 1, 1), AS_OF)
    described = [(line.description, line.reference, line.amount) for line in doc.lines]
    assert ("Day surgery", "INV-1", usd("1000.00")) in described
    assert ("Payment (card)", "auth 0001", usd("-100.00")) in described
    assert ("Payment by Acme Health", "claim CLM-1", usd("-450.00")) in described
    assert (
        "Insurer's contractual adjustment (Acme Health)",
        "claim CLM-1",
        usd("-400.00"),
    ) in described
    assert not any(ref.startswith(("ch-", "pay-", "era-")) for _, ref, _ in described)


def test_a_statement_of_a_later_period_opens_with_the_earlier_balance() -> None:
    account = sample_account()
    march = statement_document(account, date(2026, 3, 1), date(2026, 3, 31))
    assert march.opening == account.balance_as_of(date(2026, 2, 28))
    assert march.opening == usd("1900.00")  # 1,000 + 1,000 billed, one 100 paid by February's end
    assert [(line.on.day, line.reference, line.amount) for line in march.lines] == [
        (1, "auth 0002", usd("-100.00")),
        (9, "claim CLM-1", usd("-450.00")),
        (9, "claim CLM-1", usd("-400.00")),
    ]
    assert march.closing == account.balance_as_of(date(2026, 3, 31))


def test_only_open_items_leaves_the_activity_out_and_keeps_the_figures() -> None:
    account = sample_account()
    full = statement_document(account, date(2026, 1, 1), AS_OF)
    short = statement_document(account, date(2026, 1, 1), AS_OF, open_items_only=True)
    assert short.lines == ()
    assert (short.closing, short.open_items, short.aging) == (
        full.closing,
        full.open_items,
        full.aging,
    )


def test_the_seed_story_letters_say_three_hundred_off_and_ten_installments() -> None:
    account = sample_account()
    offer = settlement_offer_document(account, "S1", AS_OF)
    assert (offer.open_now, offer.amount_off, offer.to_pay) == (
        usd("700.00"),
        usd("300.00"),
        usd("400.00"),
    )
    assert offer.expires_on == date(2026, 4, 30)
    plan = plan_agreement_document(account, "P1", AS_OF)
    assert len(plan.installments) == 10
    assert plan.amount == usd("1000.00")
    assert [i.outstanding for i in plan.installments[:3]] == [usd("0.00")] * 3
    assert plan.installments[3].outstanding == usd("100.00")
    promise = promise_confirmation_document(account, "PTP-1", AS_OF)
    assert (promise.amount, promise.pay_by) == (usd("400.00"), date(2026, 4, 30))


def test_the_invoice_shows_its_line_its_plan_and_what_is_left() -> None:
    invoice = invoice_document(sample_account(), "INV-1", AS_OF)
    assert [(line.description, line.net) for line in invoice.lines] == [
        ("Day surgery", usd("1000.00"))
    ]
    assert (invoice.total, invoice.paid, invoice.outstanding) == (
        usd("1000.00"),
        usd("300.00"),
        usd("700.00"),
    )
    assert invoice.plan_id == "P1"
    assert len(invoice.plan_installments) == 10


def test_the_patient_statement_after_the_insurer_paid() -> None:
    doc = patient_statement_document(sample_account(), "CLM-1", AS_OF)
    assert (doc.billed, doc.insurer_paid, doc.contractual, doc.patient_responsibility) == (
        usd("1000.00"),
        usd("450.00"),
        usd("400.00"),
        usd("150.00"),
    )
    assert doc.patient_owes == usd("150.00")
    assert doc.owed_by_insurer == usd("0.00")
    assert doc.billed == doc.insurer_paid + doc.contractual + doc.patient_responsibility


def test_a_dunning_letter_lists_what_is_past_due_and_nothing_else() -> None:
    account = sample_account()
    letter = dunning_letter_document(account, AS_OF)
    assert [(line.number, line.outstanding) for line in letter.overdue] == [
        ("CLM-1-PR", usd("150.00"))
    ]
    assert letter.total_overdue == usd("150.00")
    with pytest.raises(errors.UnknownDocument):
        dunning_letter_document(account, date(2026, 1, 20))


@pytest.mark.parametrize(
    ("build", "subject"),
    [
        (invoice_document, "INV-9"),
        (plan_agreement_document, "P9"),
        (settlement_offer_document, "S9"),
        (promise_confirmation_document, "PTP-9"),
        (patient_statement_document, "CLM-9"),
    ],
)
def test_a_document_of_something_the_account_lacks_is_refused(build: object, subject: str) -> None:
    with pytest.raises(errors.UnknownDocument):
        build(sample_account(), subject, AS_OF)  # type: ignore[operator]


def test_a_document_of_something_not_yet_there_on_the_date_is_refused() -> None:
    with pytest.raises(errors.UnknownDocument):
        settlement_offer_document(sample_account(), "S1", date(2026, 4, 1))
    with pytest.raises(errors.UnknownDocument):
        invoice_document(sample_account(), "INV-1", date(2026, 1, 5))
