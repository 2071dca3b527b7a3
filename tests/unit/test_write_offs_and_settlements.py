"""Bad debt written off and recovered; settlement offers met, lapsed and withdrawn."""

from __future__ import annotations

import pytest
from unit_support import META, charge, d, event_names, invoice, open_account, pay, usd

from domain.account import Account
from domain.errors import (
    InvalidSettlementTerms,
    RecoveryExceedsWriteOff,
    SettlementDiscountTooLarge,
    SettlementOfferNotActive,
    SettlementOfferOverlaps,
    WriteOffExceedsOpen,
)


def _invoiced(amount: int = 1000) -> Account:
    account = open_account()
    charge(account, "c1", amount)
    invoice(account, "INV-1", "2024-01-05")
    return account


def test_a_write_off_takes_bad_debt_off_the_balance() -> None:
    account = _invoiced()
    pay(account, "p1", 100, "2024-02-01")
    account.write_off(
        write_off_id="W1", invoice_number="INV-1", written_off_on=d("2024-06-30"), meta=META
    )
    assert account.outstanding("INV-1") == usd(0)
    assert account.balance == usd(0)
    assert account.ledger_totals()["write_offs"] == usd(900)


def test_a_write_off_cannot_exceed_what_is_open() -> None:
    account = _invoiced()
    with pytest.raises(WriteOffExceedsOpen) as caught:
        account.write_off(
            write_off_id="W1",
            invoice_number="INV-1",
            amount=usd("1000.01"),
            written_off_on=d("2024-06-30"),
            meta=META,
        )
    assert caught.value.code == "write_off_exceeds_open"


def test_a_recovered_write_off_is_reinstated_and_then_paid() -> None:
    account = _invoiced()
    account.write_off(
        write_off_id="W1", invoice_number="INV-1", written_off_on=d("2024-06-30"), meta=META
    )
    account.recover_write_off(
        write_off_id="W1", amount=usd(200), recovered_on=d("2024-08-01"), meta=META
    )
    assert account.outstanding("INV-1") == usd(200)
    pay(account, "p1", 200, "2024-08-01")
    assert account.balance == usd(0)
    assert account.ledger_totals()["recoveries"] == usd(200)
    with pytest.raises(RecoveryExceedsWriteOff):
        account.recover_write_off(
            write_off_id="W1", amount=usd("800.01"), recovered_on=d("2024-08-02"), meta=META
        )


def _offer(account: Account, **kwargs: object) -> None:
    params: dict[str, object] = {
        "offer_id": "S1",
        "invoice_numbers": ["INV-1"],
        "expires_on": d("2024-03-31"),
        "offered_on": d("2024-03-01"),
        "meta": META,
    }
    params.update(kwargs)
    account.offer_settlement(**params)  # type: ignore[arg-type]


def test_settle_for_an_amount_paid_by_the_expiry_closes_the_debt() -> None:
    account = _invoiced()
    _offer(account, settle_for=usd(600))
    account.collect_events()
    pay(account, "p1", 600, "2024-03-31")
    assert event_names(account.collect_events()) == [
        "PaymentReceived",
        "SettlementDiscountApplied",
    ]
    assert account.outstanding("INV-1") == usd(0)
    assert account.ledger_totals()["discounts"] == usd(400)


def test_a_partial_payment_does_not_earn_the_discount() -> None:
    account = _invoiced()
    _offer(account, amount_off=usd(300))
    pay(account, "p1", 699, "2024-03-10")
    assert account.offers["S1"].status == "active"
    assert account.outstanding("INV-1") == usd(301)
    pay(account, "p2", 1, "2024-03-11")
    assert account.offers["S1"].status == "applied"
    assert account.outstanding("INV-1") == usd(0)


def test_cash_after_the_expiry_does_not_earn_the_discount_and_the_offer_lapses() -> None:
    account = _invoiced()
    _offer(account, amount_off=usd(300))
    pay(account, "p1", 700, "2024-04-01")
    assert account.outstanding("INV-1") == usd(300)
    account.sweep(as_of=d("2024-04-01"), meta=META)
    assert account.offers["S1"].status == "lapsed"
    assert "SettlementOfferLapsed" in event_names(account.collect_events())


def test_an_offer_can_be_withdrawn_once() -> None:
    account = _invoiced()
    _offer(account, amount_off=usd(300))
    account.withdraw_settlement_offer(offer_id="S1", withdrawn_on=d("2024-03-02"), meta=META)
    with pytest.raises(SettlementOfferNotActive):
        account.withdraw_settlement_offer(offer_id="S1", withdrawn_on=d("2024-03-03"), meta=META)
    pay(account, "p1", 700, "2024-03-05")
    assert account.outstanding("INV-1") == usd(300)


def test_settlement_terms_must_make_sense() -> None:
    account = _invoiced()
    with pytest.raises(InvalidSettlementTerms):
        _offer(account)
    with pytest.raises(InvalidSettlementTerms):
        _offer(account, amount_off=usd(1), settle_for=usd(999))
    with pytest.raises(SettlementDiscountTooLarge):
        _offer(account, amount_off=usd(1000))
    _offer(account, amount_off=usd(10))
    with pytest.raises(SettlementOfferOverlaps):
        _offer(account, offer_id="S2", amount_off=usd(10))


def test_an_offer_naming_an_invoice_twice_counts_its_open_amount_once() -> None:
    account = _invoiced()
    with pytest.raises(SettlementDiscountTooLarge):
        _offer(account, invoice_numbers=["INV-1", "INV-1"], amount_off=usd(1500))
    _offer(account, invoice_numbers=["INV-1", "INV-1"], amount_off=usd(300))
    offer = account.offers["S1"]
    assert offer.invoice_numbers == ["INV-1"]
    assert offer.open_when_made == usd(1000)
    pay(account, "p1", 700, "2024-03-10")
    assert account.offers["S1"].status == "applied"
    assert account.outstanding("INV-1") == usd(0)
    assert account.ledger_totals()["discounts"] == usd(300)
    assert account.balance == usd(0)


def test_a_discount_is_earned_only_by_cash_applied_to_the_offers_invoices() -> None:
    account = _invoiced()
    charge(account, "c2", 50)
    invoice(account, "INV-2", "2024-01-06")
    _offer(account, amount_off=usd(300))
    account.issue_credit_note(
        note_number="CN-1",
        invoice_number="INV-1",
        amount=usd(700),
        issued_on=d("2024-03-02"),
        meta=META,
    )
    pay(account, "p1", 10, "2024-03-03", allocations={"INV-2": usd(10)})
    assert account.offers["S1"].status == "active"
    assert account.outstanding("INV-1") == usd(300)
    assert account.ledger_totals()["discounts"] == usd(0)


def test_a_payment_dated_before_the_offer_was_made_does_not_earn_it() -> None:
    account = _invoiced()
    _offer(account, amount_off=usd(300))
    pay(account, "p1", 700, "2024-02-20")  # posted late, received before the offer
    assert account.offers["S1"].status == "active"
    assert account.outstanding("INV-1") == usd(300)


def test_reversing_the_payment_that_earned_a_discount_puts_the_discount_back() -> None:
    account = _invoiced()
    _offer(account, amount_off=usd(300))
    pay(account, "p1", 700, "2024-03-10")
    assert account.offers["S1"].status == "applied"
    account.collect_events()
    account.reverse_payment(
        payment_id="p1", reason_code="returned_cheque", reversed_on=d("2024-03-15"), meta=META
    )
    assert event_names(account.collect_events()) == [
        "PaymentReversed",
        "SettlementDiscountReversed",
    ]
    assert account.outstanding("INV-1") == usd(1000)
    assert account.ledger_totals()["discounts"] == usd(0)
    assert account.balance == usd(1000)
    # Reversed before the expiry, the offer stands: paying the rest in time earns it again.
    assert account.offers["S1"].status == "active"
    pay(account, "p2", 700, "2024-03-20")
    assert account.offers["S1"].status == "applied"
    assert account.balance == usd(0)


def test_a_discount_reversed_after_the_expiry_leaves_the_offer_lapsed() -> None:
    account = _invoiced()
    _offer(account, amount_off=usd(300))
    pay(account, "p1", 700, "2024-03-10")
    account.reverse_payment(
        payment_id="p1", reason_code="chargeback", reversed_on=d("2024-04-10"), meta=META
    )
    assert account.offers["S1"].status == "lapsed"
    assert account.outstanding("INV-1") == usd(1000)
