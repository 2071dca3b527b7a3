"""Aging buckets and minor units: the one rule of each, as the API, the CLI and the reports use it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.aging import (
    MAX_BUCKETS,
    InvalidBuckets,
    bucket_index,
    bucket_labels,
    bucket_of,
    check_limits,
    days_past_due,
    parse_limits,
)
from domain.errors import DomainError
from domain.money import MINOR_UNITS, Money, from_minor_units, to_minor_units


def test_limits_are_written_as_rising_days_separated_by_commas() -> None:
    assert parse_limits("30,60,90") == (30, 60, 90)
    assert parse_limits("7") == (7,)
    assert parse_limits(",".join(str(n) for n in range(1, MAX_BUCKETS + 1)))[-1] == MAX_BUCKETS


TOO_MANY = ",".join(str(n) for n in range(1, MAX_BUCKETS + 2))


@pytest.mark.parametrize(
    "text", ["", "60,30", "30,30", "0,30", "-5,30", "thirty", "30,,60", "1.5", "30;60", TOO_MANY]
)
def test_anything_else_is_refused_with_one_code_and_the_field(text: str) -> None:
    with pytest.raises(InvalidBuckets) as refused:
        parse_limits(text)
    assert isinstance(refused.value, DomainError)
    assert (refused.value.code, refused.value.field) == ("invalid_buckets", "buckets")
    assert "rising whole numbers of days" in str(refused.value)


def test_limits_given_as_numbers_are_held_to_the_same_rules() -> None:
    assert check_limits([1, 45]) == (1, 45)
    for limits in ([], [45, 1], [True, 2], list(range(1, MAX_BUCKETS + 2))):
        with pytest.raises(InvalidBuckets):
            check_limits(limits)


def test_labels_name_each_band_of_days_with_both_ends_included() -> None:
    assert bucket_labels((30, 60, 90)) == ["not yet due", "1-30", "31-60", "61-90", "over 90"]
    assert bucket_labels((1,)) == ["not yet due", "1-1", "over 1"]


def test_a_term_is_late_from_the_day_after_its_date() -> None:
    assert [bucket_of(days, (30, 60)) for days in (-3, 0, 1, 30, 31, 60, 61)] == [
        "not yet due",
        "not yet due",
        "1-30",
        "1-30",
        "31-60",
        "31-60",
        "over 60",
    ]
    due, issued, as_of = date(2026, 3, 1), date(2026, 2, 1), date(2026, 3, 31)
    assert days_past_due(as_of, due, issued, "due") == 30
    assert days_past_due(as_of, due, issued, "invoice") == 58
    with pytest.raises(ValueError, match="basis"):
        days_past_due(as_of, due, issued, "age")


@given(
    st.lists(st.integers(1, 400), min_size=1, max_size=MAX_BUCKETS, unique=True).map(sorted),
    st.integers(-1_000, 1_000),
)
def test_every_number_of_days_falls_in_exactly_the_one_bucket_its_label_names(
    limits: list[int], days: int
) -> None:
    label = bucket_labels(limits)[bucket_index(days, limits)]
    if label == "not yet due":
        assert days <= 0
    elif label.startswith("over "):
        assert days > int(label.removeprefix("over "))
    else:
        low, high = (int(end) for end in label.split("-"))
        assert low <= days <= high


@given(st.sampled_from(sorted(MINOR_UNITS)), st.integers(-(10**17), 10**17))
def test_minor_units_convert_exactly_both_ways(currency: str, minor: int) -> None:
    amount = from_minor_units(minor, currency)
    assert amount.as_tuple().exponent == -MINOR_UNITS[currency]
    assert to_minor_units(Money(amount, currency)) == minor


def test_minor_units_are_the_currency_s_own() -> None:
    assert str(from_minor_units(1050, "USD")) == "10.50"
    assert str(from_minor_units(-5, "USD")) == "-0.05"
    assert str(from_minor_units(0, "KWD")) == "0.000"
    assert from_minor_units(1050, "JPY") == Decimal(1050)
    assert to_minor_units(Money("1.2", "KWD")) == 1200
