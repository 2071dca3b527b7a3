"""Applying cash: the default policy, explicit allocations, credit, refunds, reversals."""

from __future__ import annotations

import pytest
from unit_support import META, charge, d, invoice, open_account, pay, usd

from domain.account import Account
from domain.errors import (
    AllocationExceedsOpenAmount,
    AllocationExceedsPayment,
    InsufficientCredit,
    InvalidDate,
    PaymentAlreadyReversed,
    UnknownAllocationPolicy,
    UnknownPayment,
)


def _two_invoices() -> Account:
    account = open_account()
    charge(account, "c1", 100, on="2024-01-02")
    invoice(account, "INV-OLD", "2024-01-05", due_on=d("2024-01-20"))
    charge(account, "c2", 50, on="2024-01-06")
    invoice(account, "INV-NEW", "2024-01-07", due_on=d("2024-01-15"))
    return account


def test_payment_is_applied_to_the_oldest_due_invoice_first() -> None:
    account = _two_invoices()
    pay(account, "p1", 70, "2024-01-25")
    # INV-NEW falls due first (15 Jan) although it was issued later.
    assert account.outstanding("INV-NEW") == usd(0)
    assert account.outstanding("INV-OLD") == usd(80)
    received = account.collect_events()[-1]
    assert isinstance(received, Account.PaymentReceived)
    assert received.allocation_policy == "oldest_due_first"
    assert [(a.invoice_number, a.amount) for a in received.allocations] == [
        ("INV-NEW", usd(50)),
        ("INV-OLD", usd(20)),
    ]


def test_cash_beyond_what_is_open_stays_as_unapplied_credit() -> None:
    account = _two_invoices()
    pay(account, "p1", 200, "2024-01-25")
    assert account.unapplied_credit == usd(50)
    assert account.balance == usd(-50)


def test_the_none_policy_leaves_the_whole_payment_as_credit() -> None:
    account = _two_invoices()
    pay(account, "p1", 20, "2024-01-25", allocation_policy="none")
    assert account.unapplied_credit == usd(20)
    assert account.outstanding("INV-OLD") == usd(100)
    with pytest.raises(UnknownAllocationPolicy):
        pay(account, "p2", 20, "2024-01-25", allocation_policy="largest_first")


def test_a_disputed_invoice_is_skipped_by_the_default_policy() -> None:
    account = _two_invoices()
    account.open_dispute(
        dispute_id="D1", invoice_number="INV-NEW", opened_on=d("2024-01-16"), meta=META
    )
    pay(account, "p1", 30, "2024-01-25")
    assert account.outstanding("INV-NEW") == usd(50)
    assert account.outstanding("INV-OLD") == usd(70)


def test_explicit_allocations_are_used_as_given() -> None:
    account = _two_invoices()
    pay(account, "p1", 60, "2024-01-25", allocations={"INV-OLD": usd(40), "INV-NEW": usd(10)})
    assert account.outstanding("INV-OLD") == usd(60)
    assert account.outstanding("INV-NEW") == usd(40)
    assert account.unapplied_credit == usd(10)


def test_allocating_more_than_the_payment_is_refused() -> None:
    account = _two_invoices()
    with pytest.raises(AllocationExceedsPayment) as caught:
        pay(account, "p1", 60, "2024-01-25", allocations={"INV-OLD": usd(40), "INV-NEW": usd(30)})
    assert caught.value.code == "allocation_exceeds_payment"
    assert account.payments == {}


def test_allocating_more_than_is_open_on_an_invoice_is_refused() -> None:
    account = _two_invoices()
    with pytest.raises(AllocationExceedsOpenAmount) as caught:
        pay(account, "p1", 60, "2024-01-25", allocations={"INV-NEW": usd("50.01")})
    assert caught.value.code == "allocation_exceeds_open_amount"


def test_unapplied_credit_can_be_applied_later_oldest_payment_first() -> None:
    account = open_account()
    pay(account, "p1", 30, "2024-01-02")
    pay(account, "p2", 30, "2024-01-03")
    charge(account, "c1", 40)
    invoice(account, "INV-1", "2024-01-05")
    account.apply_credit(applied_on=d("2024-01-06"), meta=META)
    applied = account.collect_events()[-1]
    assert isinstance(applied, Account.CreditApplied)
    assert [(a.payment_id, a.amount) for a in applied.applications] == [
        ("p1", usd(30)),
        ("p2", usd(10)),
    ]
    assert account.outstanding("INV-1") == usd(0)
    assert account.unapplied_credit == usd(20)
    assert account.balance == usd(-20)


def test_applying_credit_needs_credit() -> None:
    account = _two_invoices()
    with pytest.raises(InsufficientCredit):
        account.apply_credit(applied_on=d("2024-01-06"), meta=META)


def test_credit_can_be_refunded_but_not_beyond_what_there_is() -> None:
    account = open_account()
    pay(account, "p1", 30, "2024-01-02")
    with pytest.raises(InsufficientCredit):
        account.refund_credit(
            refund_id="R1",
            amount=usd("30.01"),
            method="cheque",
            reference="",
            refunded_on=d("2024-01-05"),
            meta=META,
        )
    account.refund_credit(
        refund_id="R1",
        amount=usd(30),
        method="cheque",
        reference="chq 1",
        refunded_on=d("2024-01-05"),
        meta=META,
    )
    assert account.unapplied_credit == usd(0)
    assert account.balance == usd(0)
    assert account.ledger_totals()["refunds"] == usd(30)


def test_a_reversed_payment_reopens_what_it_paid() -> None:
    account = _two_invoices()
    pay(account, "p1", 170, "2024-01-25")
    account.reverse_payment(
        payment_id="p1", reason_code="returned_cheque", reversed_on=d("2024-01-30"), meta=META
    )
    assert account.outstanding("INV-OLD") == usd(100)
    assert account.outstanding("INV-NEW") == usd(50)
    assert account.unapplied_credit == usd(0)
    assert account.balance == usd(150)
    assert account.ledger_totals()["reversals"] == usd(170)
    # The figures before the reversal are still answerable.
    assert account.outstanding("INV-OLD", as_of=d("2024-01-29")) == usd(0)
    with pytest.raises(PaymentAlreadyReversed):
        account.reverse_payment(
            payment_id="p1", reason_code="chargeback", reversed_on=d("2024-01-31"), meta=META
        )
    with pytest.raises(UnknownPayment):
        account.reverse_payment(
            payment_id="p9", reason_code="chargeback", reversed_on=d("2024-01-31"), meta=META
        )


def test_reversing_a_refunded_payment_leaves_a_debit_the_customer_owes() -> None:
    account = open_account()
    pay(account, "p1", 30, "2024-01-02")
    account.refund_credit(
        refund_id="R1",
        amount=usd(30),
        method="cheque",
        reference="",
        refunded_on=d("2024-01-05"),
        meta=META,
    )
    account.reverse_payment(
        payment_id="p1", reason_code="chargeback", reversed_on=d("2024-01-09"), meta=META
    )
    assert account.outstanding("p1-REV") == usd(30)
    assert account.balance == usd(30)


def test_credit_cannot_be_applied_before_the_cash_behind_it_was_received() -> None:
    account = open_account()
    pay(account, "p1", 100, "2024-03-01")
    charge(account, "c1", 100)
    invoice(account, "INV-1", "2024-01-05")
    version = account.version
    with pytest.raises(InvalidDate) as caught:
        account.apply_credit(applied_on=d("2024-02-15"), meta=META)
    assert "2024-03-01" in str(caught.value)
    assert account.version == version
    account.apply_credit(applied_on=d("2024-03-01"), meta=META)
    assert account.outstanding("INV-1") == usd(0)


def test_credit_cannot_be_refunded_before_the_cash_behind_it_was_received() -> None:
    account = open_account()
    pay(account, "p1", 100, "2024-03-01")
    version = account.version
    with pytest.raises(InvalidDate) as caught:
        account.refund_credit(
            refund_id="R1",
            amount=usd(40),
            method="cheque",
            reference="",
            refunded_on=d("2024-02-15"),
            meta=META,
        )
    assert caught.value.field == "refunded_on"
    assert account.version == version
