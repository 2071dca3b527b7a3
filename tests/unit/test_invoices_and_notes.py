"""Invoices from charges, their due schedules, voiding, credit and debit notes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from unit_support import META, charge, d, invoice, open_account, pay, usd

from domain.account import Account
from domain.errors import (
    ChargeAlreadyInvoiced,
    ChargeVoided,
    CreditNoteExceedsOpen,
    DocumentCannotBeVoided,
    DueDateBeforeIssueDate,
    DuplicateInvoice,
    InvoiceHasApplications,
    InvoiceTotalNotPositive,
    InvoiceVoided,
    NothingToInvoice,
    ScheduleDoesNotSumToAmount,
    UnknownCharge,
)
from domain.open_items import Term


def test_an_invoice_takes_every_uninvoiced_charge_and_totals_it() -> None:
    account = open_account(terms=30)
    charge(account, "c1", "10.00", quantity=3, tax="2.50")
    charge(account, "c2", "5.00")
    invoice(account, "INV-1", "2024-01-10")
    issued = account.collect_events()[-1]
    assert isinstance(issued, Account.InvoiceIssued)
    assert [line.charge_id for line in issued.lines] == ["c1", "c2"]
    assert (issued.subtotal, issued.tax, issued.total) == (usd(35), usd("2.50"), usd("37.50"))
    assert issued.terms == [Term(d("2024-02-09"), usd("37.50"))]
    assert account.uninvoiced_charge_ids() == []
    assert account.balance == usd("37.50")


def test_an_invoice_can_take_chosen_charges_and_a_due_date() -> None:
    account = open_account()
    charge(account, "c1", 10)
    charge(account, "c2", 20)
    invoice(account, "INV-1", "2024-01-10", charge_ids=["c2"], due_on=d("2024-01-20"))
    assert account.items["INV-1"].total == usd(20)
    assert account.installments("INV-1")[0].due_on == d("2024-01-20")
    assert account.uninvoiced_charge_ids() == ["c1"]


def test_an_explicit_schedule_must_sum_to_the_invoice_total() -> None:
    account = open_account()
    charge(account, "c1", 100)
    with pytest.raises(ScheduleDoesNotSumToAmount) as caught:
        invoice(
            account,
            "INV-1",
            "2024-01-10",
            schedule=[Term(d("2024-01-10"), usd(50)), Term(d("2024-02-10"), usd(40))],
        )
    assert caught.value.code == "schedule_does_not_sum_to_amount"
    invoice(
        account,
        "INV-1",
        "2024-01-10",
        schedule=[Term(d("2024-01-10"), usd(50)), Term(d("2024-02-10"), usd(50))],
    )
    assert [t.amount for t in account.installments("INV-1")] == [usd(50), usd(50)]


def test_a_due_date_before_the_issue_date_is_refused() -> None:
    account = open_account()
    charge(account, "c1", 100)
    with pytest.raises(DueDateBeforeIssueDate):
        invoice(account, "INV-1", "2024-01-10", due_on=d("2024-01-09"))


def test_invoicing_nothing_or_twice_is_refused() -> None:
    account = open_account()
    with pytest.raises(NothingToInvoice):
        invoice(account, "INV-1", "2024-01-10")
    charge(account, "c1", 100)
    invoice(account, "INV-1", "2024-01-10")
    charge(account, "c2", 1)
    with pytest.raises(DuplicateInvoice):
        invoice(account, "INV-1", "2024-01-11")
    with pytest.raises(ChargeAlreadyInvoiced):
        invoice(account, "INV-2", "2024-01-11", charge_ids=["c1"])
    with pytest.raises(UnknownCharge):
        invoice(account, "INV-2", "2024-01-11", charge_ids=["nope"])


def test_account_installment_terms_apply_to_new_invoices() -> None:
    from domain.schedules import InstallmentShare

    account = open_account()
    account.change_payment_terms(
        net_days=30,
        installments=[InstallmentShare(0, Decimal(50)), InstallmentShare(30, Decimal(50))],
        effective_on=d("2024-01-02"),
        meta=META,
    )
    charge(account, "c1", "100.01")
    invoice(account, "INV-1", "2024-01-10")
    # Shares are rounded down; the last term takes the odd cent.
    assert [t.amount for t in account.installments("INV-1")] == [usd("50.00"), usd("50.01")]


def test_voiding_an_invoice_frees_its_charges() -> None:
    account = open_account()
    charge(account, "c1", 100)
    invoice(account, "INV-1", "2024-01-10")
    account.void_invoice(invoice_number="INV-1", effective_on=d("2024-01-11"), meta=META)
    assert account.items["INV-1"].status == "voided"
    assert account.outstanding("INV-1") == usd(0)
    assert account.uninvoiced_charge_ids() == ["c1"]
    assert account.balance == usd(100)
    invoice(account, "INV-2", "2024-01-12")
    assert account.outstanding("INV-2") == usd(100)


def test_an_invoice_with_a_payment_applied_cannot_be_voided() -> None:
    account = open_account()
    charge(account, "c1", 100)
    invoice(account, "INV-1", "2024-01-10")
    pay(account, "p1", 10, "2024-01-11")
    with pytest.raises(InvoiceHasApplications) as caught:
        account.void_invoice(invoice_number="INV-1", effective_on=d("2024-01-12"), meta=META)
    assert caught.value.code == "invoice_has_applications"
    assert "credit note" in str(caught.value)


def test_a_voided_invoice_cannot_be_paid_credited_or_voided_again() -> None:
    account = open_account()
    charge(account, "c1", 100)
    invoice(account, "INV-1", "2024-01-10")
    account.void_invoice(invoice_number="INV-1", effective_on=d("2024-01-11"), meta=META)
    with pytest.raises(InvoiceVoided) as caught:
        pay(account, "p1", 10, "2024-01-12", allocations={"INV-1": usd(10)})
    assert caught.value.code == "invoice_voided"
    with pytest.raises(InvoiceVoided):
        account.void_invoice(invoice_number="INV-1", effective_on=d("2024-01-12"), meta=META)
    with pytest.raises(InvoiceVoided):
        account.issue_credit_note(
            note_number="CN-1", invoice_number="INV-1", issued_on=d("2024-01-12"), meta=META
        )


def test_a_credit_note_cannot_exceed_what_is_open() -> None:
    account = open_account()
    charge(account, "c1", 100)
    invoice(account, "INV-1", "2024-01-10")
    pay(account, "p1", 30, "2024-01-11")
    with pytest.raises(CreditNoteExceedsOpen) as caught:
        account.issue_credit_note(
            note_number="CN-1",
            invoice_number="INV-1",
            amount=usd("70.01"),
            issued_on=d("2024-01-12"),
            meta=META,
        )
    assert caught.value.field == "amount"
    # With no amount the note credits everything still open.
    account.issue_credit_note(
        note_number="CN-1", invoice_number="INV-1", issued_on=d("2024-01-12"), meta=META
    )
    assert account.outstanding("INV-1") == usd(0)
    assert account.ledger_totals()["credits"] == usd(70)
    assert account.balance == usd(0)


def test_a_debit_note_is_its_own_open_item_and_adds_to_the_balance() -> None:
    account = open_account(terms=10)
    charge(account, "c1", 100)
    invoice(account, "INV-1", "2024-01-10")
    account.issue_debit_note(
        note_number="DN-1",
        amount=usd(15),
        issued_on=d("2024-01-12"),
        meta=META,
        against_invoice="INV-1",
        description="under-billed",
    )
    assert account.outstanding("DN-1") == usd(15)
    assert account.installments("DN-1")[0].due_on == d("2024-01-22")
    assert account.balance == usd(115)
    assert account.ledger_totals()["debit_notes"] == usd(15)
    account.void_invoice(invoice_number="DN-1", effective_on=d("2024-01-13"), meta=META)
    assert account.balance == usd(100)


def test_a_charge_can_be_voided_only_before_it_is_invoiced() -> None:
    account = open_account()
    charge(account, "c1", 100)
    charge(account, "c2", 50)
    account.void_charge(charge_id="c2", effective_on=d("2024-01-03"), meta=META)
    assert account.balance == usd(100)
    with pytest.raises(ChargeVoided):
        account.void_charge(charge_id="c2", effective_on=d("2024-01-03"), meta=META)
    invoice(account, "INV-1", "2024-01-10")
    with pytest.raises(ChargeAlreadyInvoiced):
        account.void_charge(charge_id="c1", effective_on=d("2024-01-11"), meta=META)


def test_patient_shares_cannot_be_voided_only_credited() -> None:
    from domain.claims import ClaimAdjustment

    account = open_account()
    charge(account, "c1", 100)
    account.submit_claim(
        claim_id="C1", payer="ACME", charge_ids=["c1"], submitted_on=d("2024-01-03"), meta=META
    )
    account.adjudicate_claim(
        claim_id="C1",
        paid=usd(80),
        adjustments=[ClaimAdjustment("PR", "1", usd(20))],
        adjudicated_on=d("2024-01-20"),
        meta=META,
    )
    with pytest.raises(DocumentCannotBeVoided):
        account.void_invoice(invoice_number="C1-PR", effective_on=d("2024-01-21"), meta=META)


def test_an_invoice_of_only_credit_lines_is_refused() -> None:
    account = open_account()
    account.start_subscription(
        subscription_id="S", plan_code="p", price=usd(30), starts_on=d("2024-04-01"), meta=META
    )
    account.run_billing(run_id="R1", through=d("2024-04-01"), meta=META)
    invoice(account, "INV-1", "2024-04-01")
    account.cancel_subscription(
        subscription_id="S", cancel_on=d("2024-04-16"), meta=META, timing="immediate"
    )
    with pytest.raises(InvoiceTotalNotPositive):
        invoice(account, "INV-2", "2024-04-16")
