"""Aging buckets: how late an open amount is, in the bands a report groups it by.

Concept
    An aging report sorts what is open on each installment term by how many days past a
    date it is as of a business day: past its due date (basis ``due``) or past its invoice
    date (basis ``invoice``). The bands, *buckets*, are given by their upper limits in days:
    ``30,60,90`` gives ``not yet due``, ``1-30``, ``31-60``, ``61-90`` and ``over 90``.
    This module owns the rule for the whole product: how limits are written and checked,
    what the buckets are called, and which bucket a number of days past due falls in. The
    read models' SQL restates the assignment for speed (``projections.reports``), and a
    property test holds it to this one.

    *Payment plans.* While a payment plan over an invoice is being kept — agreed on or
    before the as-of date and not defaulted, closed, credited, written off or completed by
    it — what is open on the invoice is aged by the plan's installments instead of its own
    terms: each installment's outstanding as of the date (cash pays installments earliest
    first, reductions shrink the schedule from the last one back), with the installment's
    due date, the plan's invoices filling its installments in the plan's order. A missed
    installment is past due by its own due date. From the day the plan ends the invoice is
    aged by its own terms again. The rule is
    :func:`domain.account.queries.aged_terms`; on basis ``invoice`` a plan changes nothing.

Invariants
    - Limits are 1 to :data:`MAX_BUCKETS` whole numbers of days, each positive, strictly
      rising; anything else is :class:`InvalidBuckets` (``invalid_buckets``), whoever asks
      (the API, the CLI, a report).
    - ``n`` limits make ``n + 2`` buckets, in order of lateness: :data:`NOT_YET_DUE`, one
      per limit (``low-high``, both days included) and ``over <last limit>``.
    - Every number of days past due falls in exactly one bucket: 0 or fewer days is not yet
      due (a term is late from the day after its date), ``d`` days is in the first bucket
      whose limit is at least ``d``, and past the last limit is over it.
    - Pure: the days past due are given; nothing here reads the clock.

Vocabulary
    limit: a bucket's upper bound in days; days past due: as-of date less the term's due
    date (or its invoice's date), negative before it.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left
from collections.abc import Sequence
from datetime import date
from typing import Final

from domain.errors import DomainError

#: The most buckets a report may ask for: enough for any ledger, few enough that a report's
#: query stays small.
MAX_BUCKETS: Final = 20
#: The limits a report uses when none are given.
DEFAULT_LIMITS: Final[tuple[int, ...]] = (30, 60, 90)
#: The bucket of what is not past its date yet.
NOT_YET_DUE: Final = "not yet due"
#: What a report ages by: each term's due date, or its invoice's date.
BASES: Final[tuple[str, ...]] = ("due", "invoice")


class InvalidBuckets(DomainError):
    """Bucket limits that are not 1 to ``MAX_BUCKETS`` rising whole numbers of days."""

    code = "invalid_buckets"

    def __init__(self) -> None:
        super().__init__(
            f"buckets are 1 to {MAX_BUCKETS} rising whole numbers of days separated by "
            "commas, e.g. 30,60,90.",
            field="buckets",
        )


def check_limits(limits: Sequence[int]) -> tuple[int, ...]:
    """``limits`` as a tuple when they are valid bucket limits, else :class:`InvalidBuckets`."""
    checked = tuple(limits)
    if not 0 < len(checked) <= MAX_BUCKETS:
        raise InvalidBuckets
    # bool is an int subclass: True days is a bug, not a limit.
    if any(isinstance(b, bool) or not isinstance(b, int) or b <= 0 for b in checked):
        raise InvalidBuckets
    if any(high <= low for low, high in itertools.pairwise(checked)):
        raise InvalidBuckets
    return checked


def parse_limits(text: str) -> tuple[int, ...]:
    """Limits written as a client writes them, ``"30,60,90"``, checked."""
    parts = text.split(",")
    if len(parts) > MAX_BUCKETS:  # before parsing: a long list is refused unread
        raise InvalidBuckets
    try:
        limits = tuple(int(part) for part in parts)
    except ValueError:
        raise InvalidBuckets from None
    return check_limits(limits)


def check_basis(basis: str) -> str:
    if basis not in BASES:
        msg = "basis is 'due' (by due date) or 'invoice' (by invoice date)"
        raise ValueError(msg)
    return basis


def days_past_due(as_of: date, due_on: date, issued_on: date, basis: str) -> int:
    """Days from the term's date on ``basis`` (its due date, or its invoice's date) to
    ``as_of``: negative before it, 0 on it."""
    return (as_of - (due_on if check_basis(basis) == "due" else issued_on)).days


def bucket_labels(limits: Sequence[int]) -> list[str]:
    """``(30, 60, 90)`` → not yet due, 1-30, 31-60, 61-90, over 90."""
    labels = [NOT_YET_DUE]
    low = 1
    for high in limits:
        labels.append(f"{low}-{high}")
        low = high + 1
    labels.append(f"over {limits[-1]}")
    return labels


def bucket_index(days_past_due: int, limits: Sequence[int]) -> int:
    """The position in :func:`bucket_labels` of the bucket ``days_past_due`` falls in."""
    if days_past_due <= 0:
        return 0
    return 1 + bisect_left(limits, days_past_due)


def bucket_of(days_past_due: int, limits: Sequence[int]) -> str:
    """The label of the bucket ``days_past_due`` falls in."""
    return bucket_labels(limits)[bucket_index(days_past_due, limits)]
