"""What cannot be stored and read back is refused: amounts, account totals and dates in bounds.

Every amount is less than ``MAX_AMOUNT`` (10,000,000,000,000 major units), every running total
of an account (what it was charged, what it paid, ...) stays below it too, and Money arithmetic
can never make a value of more than 18 digits in minor units: past a bound the command is
refused with ``amount_out_of_range`` before any event is triggered. Date arithmetic that would
leave the calendar is refused with ``date_out_of_range``, never an ``OverflowError``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from domain import errors
from domain.money import MAX_AMOUNT, MAX_DIGITS, Money
from domain.schedules import InstallmentShare, add_days, add_months
from tests.unit.unit_support import META, charge, d, open_account, usd

#: The largest amount a client may give: one minor unit below the bound.
LARGEST = "9999999999999.99"


def test_the_bound_keeps_every_account_figure_within_bigint_for_every_currency() -> None:
    # Ten ledger tallies, each below the bound, in a currency of three decimals: the largest
    # figure a read model derives from one account has at most 18 digits, and ninety such
    # figures summed still fit a signed 64-bit integer.
    largest_figure_minor = MAX_AMOUNT * 10 * 1000
    assert largest_figure_minor <= 10**MAX_DIGITS
    assert largest_figure_minor * 90 < 2**63


def test_adding_past_eighteen_digits_in_minor_units_is_refused_not_stored() -> None:
    huge = Money("9999999999999999.99", "USD")
    with pytest.raises(errors.AmountOutOfRange) as caught:
        _ = huge + huge
    assert caught.value.code == "amount_out_of_range"
    with pytest.raises(errors.AmountOutOfRange):
        _ = -huge - huge
    with pytest.raises(errors.AmountOutOfRange):
        Money.sum([huge] * 3, "USD")


def test_a_charge_of_an_amount_past_the_bound_is_refused_with_nothing_recorded() -> None:
    account = open_account()
    version = account.version
    with pytest.raises(errors.AmountOutOfRange) as caught:
        charge(account, "c1", "9999999999999999.99")
    assert caught.value.field == "unit_price"
    assert account.version == version
    assert not account.collect_events()[1:]


def test_charges_that_would_take_the_account_past_the_bound_are_refused() -> None:
    account = open_account()
    charge(account, "c1", LARGEST)
    version = account.version
    with pytest.raises(errors.AmountOutOfRange):
        charge(account, "c2", "0.01")
    with pytest.raises(errors.AmountOutOfRange):
        charge(account, "c3", "1000000000000", quantity=10)
    assert account.version == version
    assert account.balance == usd(LARGEST)


def test_payments_that_would_take_the_account_past_the_bound_are_refused() -> None:
    account = open_account()
    account.receive_payment(
        payment_id="p1",
        amount=usd(LARGEST),
        method="cash",
        reference="r",
        received_on=d("2024-01-02"),
        meta=META,
    )
    version = account.version
    with pytest.raises(errors.AmountOutOfRange):
        account.receive_payment(
            payment_id="p2",
            amount=usd(LARGEST),
            method="cash",
            reference="r",
            received_on=d("2024-01-02"),
            meta=META,
        )
    assert account.version == version


def test_debit_notes_that_would_take_the_account_past_the_bound_are_refused() -> None:
    account = open_account()
    account.issue_debit_note(
        note_number="D1", amount=usd(LARGEST), issued_on=d("2024-01-02"), meta=META
    )
    version = account.version
    with pytest.raises(errors.AmountOutOfRange):
        account.issue_debit_note(
            note_number="D2", amount=usd(1), issued_on=d("2024-01-02"), meta=META
        )
    assert account.version == version


def test_a_billing_run_that_would_take_the_account_past_the_bound_is_refused() -> None:
    account = open_account()
    account.start_subscription(
        subscription_id="S1",
        plan_code="GOLD",
        price=usd("5000000000000.00"),
        starts_on=d("2024-01-01"),
        meta=META,
    )
    version = account.version
    with pytest.raises(errors.AmountOutOfRange):
        account.run_billing(run_id="R1", through=d("2024-03-31"), meta=META)
    assert account.version == version
    assert account.charges == {}


def test_an_invoice_issued_at_the_end_of_the_calendar_is_refused_not_overflowed() -> None:
    account = open_account()
    charge(account, "c1", "10.00")
    version = account.version
    with pytest.raises(errors.DateOutOfRange) as caught:
        account.issue_invoice(invoice_number="I1", issued_on=date(9999, 12, 31), meta=META)
    assert caught.value.code == "date_out_of_range"
    with pytest.raises(errors.DateOutOfRange):
        account.issue_invoice(
            invoice_number="I1",
            issued_on=date(9999, 12, 1),
            installments=[InstallmentShare(0, Decimal(50)), InstallmentShare(90, Decimal(50))],
            meta=META,
        )
    with pytest.raises(errors.DateOutOfRange):
        account.issue_debit_note(
            note_number="D1", amount=usd(1), issued_on=date(9999, 12, 31), meta=META
        )
    assert account.version == version


def test_date_arithmetic_past_the_calendar_raises_a_domain_error() -> None:
    assert add_days(d("2024-01-31"), 30, field="due_on") == d("2024-03-01")
    assert add_months(d("2024-01-31"), 1) == d("2024-02-29")
    with pytest.raises(errors.DateOutOfRange) as caught:
        add_days(date(9999, 12, 31), 1, field="due_on")
    assert caught.value.field == "due_on"
    with pytest.raises(errors.DateOutOfRange):
        add_days(date(1, 1, 1), -1, field="due_on")
    with pytest.raises(errors.DateOutOfRange):
        add_months(date(9999, 12, 31), 1)
