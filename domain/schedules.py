"""Due schedules: when an amount falls due, in one term or in installments.

Concept
    A *due schedule* splits an amount into *terms* (due date + amount). An
    invoice has one (net N days: a single term) or installment terms agreed with
    the customer, given either as explicit terms or as *shares* (percentages due
    so many days after issue, e.g. 30% now, 50% in 30 days, 20% in 60 days). A
    payment plan's schedule is explicit terms over what is open.

Invariants
    - Terms are positive, their due dates never go backwards, none is due before
      the schedule starts (:class:`~domain.errors.DueDateBeforeIssueDate`), and
      they sum exactly to the amount (:class:`~domain.errors.ScheduleDoesNotSumToAmount`).
    - Shares are positive Decimal percentages summing to exactly 100; a whole
      number (30) is taken as ``Decimal(30)``, a float is refused
      (:class:`~domain.errors.FloatAmountRefused`), and the split is computed
      in Decimal throughout.
    - **Rounding rule for shares**: each term is ``amount × percent / 100``
      rounded *down* to the minor unit, and the last term takes what is left,
      so the terms always sum to the amount and any odd cent falls due last.
      Same rule for equal monthly installments.
    - Date arithmetic (:func:`add_days`, :func:`add_months`) never raises
      ``OverflowError``: a date counted past the calendar is refused with
      :class:`~domain.errors.DateOutOfRange`. Intake keeps every date a command
      takes within :data:`EARLIEST_DATE`..:data:`LATEST_DATE`, so that the longest
      counts the domain makes from it (terms of up to 3,650 days, installments,
      billing periods, settlement deadlines) stay far inside the calendar.

Vocabulary
    term / installment: one dated part of a schedule; share: a term given as a
    percentage of the total.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Final

from domain.errors import (
    DateOutOfRange,
    DueDateBeforeIssueDate,
    FloatAmountRefused,
    InvalidSchedule,
    ScheduleDoesNotSumToAmount,
)
from domain.money import Money
from domain.open_items import Term

#: The business dates a command may name (intake refuses others): wide enough for any
#: history and plan, narrow enough that dates counted from them stay representable.
EARLIEST_DATE: Final = date(1900, 1, 1)
LATEST_DATE: Final = date(2999, 12, 31)

#: The longest payment terms an account may have, in days (net days and each installment's
#: ``due_in_days``): the one limit the domain, the API and the CLI all apply.
MAX_TERMS_DAYS: Final = 3650


def add_days(start: date, days: int, *, field: str) -> date:
    """``start`` + ``days``, or ``DateOutOfRange`` (naming ``field``) past the calendar."""
    try:
        return start + timedelta(days=days)
    except OverflowError:
        raise DateOutOfRange(
            f"{days} days from {start} is past the last date we can keep.", field=field
        ) from None


@dataclass(frozen=True, slots=True)
class InstallmentShare:
    """A term given as ``percent`` of the total, due ``due_in_days`` after issue."""

    due_in_days: int
    percent: Decimal


def check_schedule(
    terms: Sequence[Term], amount: Money, starts_on: date, *, field: str = "schedule"
) -> list[Term]:
    if not terms:
        raise InvalidSchedule("A schedule needs at least one term.", field=field)
    total = Money.zero(amount.currency)
    previous: date | None = None
    for term in terms:
        if not isinstance(term, Term) or not isinstance(term.amount, Money):
            raise InvalidSchedule("Each term needs a due date and an amount.", field=field)
        if term.amount.currency != amount.currency or not term.amount.is_positive:
            raise InvalidSchedule(
                f"Each term must be a positive amount in {amount.currency}.", field=field
            )
        if term.due_on < starts_on:
            raise DueDateBeforeIssueDate(
                f"A term falls due on {term.due_on}, before {starts_on}.", field=field
            )
        if previous is not None and term.due_on < previous:
            raise InvalidSchedule("Terms must be listed in due-date order.", field=field)
        previous = term.due_on
        total = total + term.amount
    if total != amount:
        raise ScheduleDoesNotSumToAmount(
            f"The terms add up to {total}, but the amount is {amount}.", field=field
        )
    return list(terms)


def normalize_shares(
    shares: Sequence[InstallmentShare], *, field: str = "installments"
) -> list[InstallmentShare]:
    """Shares with their percentages as Decimal: a whole number is taken exactly, a
    float refused (30.1 is not exactly 30.1 in binary), anything else refused."""
    result: list[InstallmentShare] = []
    for share in shares:
        if not isinstance(share, InstallmentShare):
            raise InvalidSchedule("Each share needs a due day and a percentage.", field=field)
        percent: object = share.percent
        if isinstance(percent, float):
            raise FloatAmountRefused(
                f"The share {percent!r} was given as a floating-point number; give it as a "
                "decimal such as '30.5'.",
                field=field,
            )
        if isinstance(percent, bool) or not isinstance(percent, (int, Decimal)):
            raise InvalidSchedule("A share's percentage must be a decimal number.", field=field)
        value = Decimal(percent)
        if not value.is_finite():
            raise InvalidSchedule("A share's percentage must be a finite number.", field=field)
        result.append(InstallmentShare(share.due_in_days, value))
    return result


def check_shares(shares: Sequence[InstallmentShare], *, field: str = "installments") -> None:
    if not shares:
        raise InvalidSchedule("Installment terms need at least one share.", field=field)
    total = Decimal(0)
    previous = -1
    for share in normalize_shares(shares, field=field):
        if (
            isinstance(share.due_in_days, bool)
            or not isinstance(share.due_in_days, int)
            or share.due_in_days < 0
        ):
            raise InvalidSchedule("A share is due zero or more days after issue.", field=field)
        if share.due_in_days < previous:
            raise InvalidSchedule("Shares must be listed in due order.", field=field)
        if share.percent <= 0:
            raise InvalidSchedule("Each share must be more than zero percent.", field=field)
        previous = share.due_in_days
        total += share.percent
    if total != 100:
        raise ScheduleDoesNotSumToAmount(
            f"The installment shares add up to {total}%, not 100%.", field=field
        )


def split_by_shares(
    amount: Money, shares: Sequence[InstallmentShare], issued_on: date
) -> list[Term]:
    shares = normalize_shares(shares)
    check_shares(shares)
    terms: list[Term] = []
    allotted = Money.zero(amount.currency)
    for index, share in enumerate(shares):
        due_on = add_days(issued_on, share.due_in_days, field="installments")
        if index == len(shares) - 1:
            part = amount - allotted
        else:
            # percent / 100 by moving the decimal point: exact, whatever the percent.
            part = amount.times(share.percent.scaleb(-2)).truncate_to_minor()
        allotted = allotted + part
        terms.append(Term(due_on, part))
    return [term for term in terms if not term.amount.is_zero] or [Term(terms[-1].due_on, amount)]


def add_months(
    start: date, months: int, anchor_day: int | None = None, *, field: str = "date"
) -> date:
    """``start`` moved by whole months, keeping the anchor day where the month has it."""
    day = anchor_day if anchor_day is not None else start.day
    month_index = start.month - 1 + months
    year = start.year + month_index // 12
    month = month_index % 12 + 1
    if not date.min.year <= year <= date.max.year:
        raise DateOutOfRange(
            f"{months} months from {start} is outside the dates we can keep.", field=field
        )
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def monthly_installments(amount: Money, count: int, first_due_on: date) -> list[Term]:
    """``count`` equal monthly terms (rounded down; the last takes the odd cents)."""
    if count <= 0:
        raise InvalidSchedule("A plan needs at least one installment.", field="count")
    part = amount.prorate(1, count).truncate_to_minor()
    terms = [Term(add_months(first_due_on, i), part) for i in range(count - 1)]
    terms.append(Term(add_months(first_due_on, count - 1), amount - part * (count - 1)))
    return terms
