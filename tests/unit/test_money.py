"""Money: exact, typed, never float, never mixing currencies."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from unit_support import META, d, open_account, usd

from domain.errors import (
    AmountOutOfRange,
    AmountTooPrecise,
    CurrencyMismatch,
    DomainError,
    FloatAmountRefused,
    InvalidAmount,
    InvalidQuantity,
    UnknownCurrency,
)
from domain.money import Money, minor_unit


def test_amounts_are_normalised_to_the_minor_unit() -> None:
    assert Money("1.5", "USD") == Money("1.50", "USD")
    assert str(Money("1.5", "USD")) == "1.50"
    assert str(Money(3, "JPY")) == "3"
    assert str(Money("1.2", "KWD")) == "1.200"


def test_money_accepts_decimal_int_and_str() -> None:
    assert Money(Decimal("2.00"), "EUR") == Money(2, "EUR") == Money("2", "EUR")


def test_float_input_is_refused_with_its_own_error() -> None:
    with pytest.raises(FloatAmountRefused) as caught:
        Money(0.1, "USD")  # type: ignore[arg-type]  # the point of the test is the wrong type
    assert caught.value.code == "float_amount_refused"
    assert caught.value.field == "amount"


def test_booleans_are_not_amounts() -> None:
    with pytest.raises(InvalidAmount):
        Money(True, "USD")


def test_an_amount_finer_than_the_minor_unit_is_an_error_not_a_rounding() -> None:
    with pytest.raises(AmountTooPrecise) as caught:
        Money("1.005", "USD")
    assert "1.005" in str(caught.value)
    with pytest.raises(AmountTooPrecise):
        Money("1.5", "JPY")


def test_non_numbers_and_infinities_are_refused() -> None:
    for bad in ("abc", "NaN", "Infinity", ""):
        with pytest.raises(InvalidAmount):
            Money(bad, "USD")


def test_unknown_currencies_are_refused() -> None:
    with pytest.raises(UnknownCurrency) as caught:
        Money(1, "XYZ")
    assert caught.value.field == "currency"


def test_arithmetic_and_comparison_within_one_currency() -> None:
    a, b = Money("10.25", "USD"), Money("0.75", "USD")
    assert a + b == Money(11, "USD")
    assert a - b == Money("9.50", "USD")
    assert -b == Money("-0.75", "USD")
    assert b < a
    assert a > b
    assert a >= Money("10.25", "USD")
    assert b <= Money("0.75", "USD")
    assert Money.zero("USD").is_zero
    assert Money.sum([a, b, b], "USD") == Money("11.75", "USD")


def test_mixing_currencies_raises() -> None:
    usd, eur = Money(1, "USD"), Money(1, "EUR")
    for operation in (lambda: usd + eur, lambda: usd - eur, lambda: usd < eur):
        with pytest.raises(CurrencyMismatch):
            operation()
    assert usd != eur


def test_multiplication_is_exact_or_refused() -> None:
    assert Money("19.99", "USD") * 3 == Money("59.97", "USD")
    assert Money("10.00", "USD") * Decimal("0.5") == Money("5.00", "USD")
    with pytest.raises(AmountTooPrecise):
        Money("0.33", "USD") * Decimal("1.5")


def test_the_caller_decides_how_a_product_is_rounded() -> None:
    product = Money("0.33", "USD").times(Decimal("1.5"))  # 0.495
    assert product.round_to_minor() == Money("0.50", "USD")  # half-even: 0.495 -> 0.50
    assert Money("0.25", "USD").times(Decimal("0.5")).round_to_minor() == Money("0.12", "USD")
    assert Money("0.25", "USD").times(Decimal("0.5")).round_to_minor(ROUND_HALF_UP) == Money(
        "0.13", "USD"
    )
    assert Money(20, "USD").prorate(15, 30).exact() == Money(10, "USD")


def test_money_is_immutable_and_hashable() -> None:
    m = Money(1, "USD")
    with pytest.raises(AttributeError):
        m.amount = Decimal(2)  # type: ignore[misc]  # proving the write is refused
    assert {m, Money("1.00", "USD")} == {m}


def test_minor_units_follow_iso_4217() -> None:
    assert minor_unit("USD") == Decimal("0.01")
    assert minor_unit("JPY") == Decimal(1)
    assert minor_unit("KWD") == Decimal("0.001")


def test_every_money_error_is_a_domain_error_with_a_code() -> None:
    for cls in (
        AmountTooPrecise,
        CurrencyMismatch,
        FloatAmountRefused,
        InvalidAmount,
        UnknownCurrency,
    ):
        assert issubclass(cls, DomainError)
        assert cls.code
        assert cls.code == cls.code.lower()


def test_an_amount_of_more_than_18_digits_in_minor_units_is_refused() -> None:
    assert Money("9999999999999999.99", "USD").amount == Decimal("9999999999999999.99")
    assert Money("999999999999999999", "JPY").currency == "JPY"
    for amount, currency in (
        ("10000000000000000.00", "USD"),
        ("1000000000000000000", "JPY"),
        ("1000000000000000.000", "KWD"),
        ("9" * 26, "USD"),
    ):
        with pytest.raises(InvalidAmount) as caught:
            Money(amount, currency)
        assert "18 digits" in str(caught.value)


def test_a_sum_past_the_largest_amount_is_refused_never_stored_undecodable() -> None:
    largest = Money("9999999999999999.99", "USD")
    with pytest.raises(AmountOutOfRange):
        Money.sum([largest] * 2, "USD")
    assert (largest - largest).is_zero


def test_a_product_that_would_overflow_is_refused_not_half_recorded() -> None:
    account = open_account()
    version = account.version
    with pytest.raises(InvalidAmount):
        account.post_charge(
            charge_id="c1",
            code="SVC",
            description="",
            quantity=Decimal("100000000000"),
            unit_price=Money("9999999999999999.99", "USD"),
            tax=usd(0),
            service_date=d("2024-01-02"),
            effective_on=d("2024-01-02"),
            meta=META,
        )
    assert account.version == version
    with pytest.raises(InvalidQuantity):
        account.post_charge(
            charge_id="c1",
            code="SVC",
            description="",
            quantity=Decimal("1" * 19),
            unit_price=usd("0.01"),
            tax=usd(0),
            service_date=d("2024-01-02"),
            effective_on=d("2024-01-02"),
            meta=META,
        )


def test_a_factor_finer_than_decimal_precision_is_refused_not_rounded() -> None:
    factor = Decimal("1.0000000000000000000000000001")  # 29 significant digits
    with pytest.raises(AmountTooPrecise):
        usd(1).times(factor).exact()
    with pytest.raises(AmountTooPrecise):
        usd(1) * factor
