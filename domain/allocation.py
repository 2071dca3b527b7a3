"""Allocation: deciding which open items an amount of cash or credit pays.

Concept
    Cash (a payment) or unapplied credit is applied to open items either
    *explicitly* (the clerk names items and amounts) or by a *named policy*. The
    policy is run once, in the command; its result is recorded on the event, so
    replaying events never re-runs a policy (a later change to a policy cannot
    rewrite history).

Policies
    ``oldest_due_first`` (the default): open, undisputed items ordered by their
    earliest open term's due date, then issue date, then number; each is paid in
    full before the next. Disputed items are skipped: a customer disputing a bill
    has not agreed to pay it, so cash only reaches it when the clerk says so.
    ``none``: apply nothing; the whole amount stays as unapplied credit.

Invariants
    - No allocation exceeds the item's outstanding amount
      (:class:`~domain.errors.AllocationExceedsOpenAmount`) and allocations never
      exceed the amount available (:class:`~domain.errors.AllocationExceedsPayment`).
    - Every allocation is positive, in the account's currency, to a known,
      unvoided item.

Vocabulary
    policy: a named rule choosing allocations; explicit allocation: the clerk's choice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from domain.errors import (
    AllocationExceedsOpenAmount,
    AllocationExceedsPayment,
    AmountMustBePositive,
    CurrencyMismatch,
    InvoiceVoided,
    NotMoney,
    UnknownAllocationPolicy,
    UnknownInvoice,
)
from domain.money import Money
from domain.open_items import VOIDED, OpenItem
from domain.payments import Allocation

OLDEST_DUE_FIRST: Final = "oldest_due_first"
NO_ALLOCATION: Final = "none"
EXPLICIT: Final = "explicit"
POLICIES: Final[frozenset[str]] = frozenset({OLDEST_DUE_FIRST, NO_ALLOCATION})


def allocate_by_policy(
    policy: str, available: Money, items: Iterable[OpenItem]
) -> list[Allocation]:
    if policy == NO_ALLOCATION:
        return []
    if policy == OLDEST_DUE_FIRST:
        return oldest_due_first(available, items)
    raise UnknownAllocationPolicy(
        f"There is no allocation policy called {policy!r}; "
        f"use one of {', '.join(sorted(POLICIES))}.",
        field="allocation_policy",
    )


def oldest_due_first(available: Money, items: Iterable[OpenItem]) -> list[Allocation]:
    candidates = sorted(
        (item for item in items if item.is_open and not item.disputed),
        key=lambda item: (item.earliest_open_due_on(), item.issued_on, item.number),
    )
    remaining = available
    allocations: list[Allocation] = []
    for item in candidates:
        if not remaining.is_positive:
            break
        amount = item.outstanding.min(remaining)
        allocations.append(Allocation(item.number, amount))
        remaining = remaining - amount
    return allocations


def check_explicit(
    available: Money,
    requested: Mapping[str, Money],
    items: Mapping[str, OpenItem],
    *,
    field: str = "allocations",
) -> list[Allocation]:
    """Validate a clerk's allocations against what is available and what is open."""
    total = Money.zero(available.currency)
    allocations: list[Allocation] = []
    for number, amount in requested.items():
        if not isinstance(amount, Money):
            raise NotMoney(
                f"The amount for invoice {number} must be money with a currency.", field=field
            )
        if amount.currency != available.currency:
            raise CurrencyMismatch(
                f"Invoice {number} is allocated {amount.currency} but the account is in "
                f"{available.currency}.",
                field=field,
            )
        if not amount.is_positive:
            raise AmountMustBePositive(
                f"The amount allocated to invoice {number} must be more than zero.", field=field
            )
        item = items.get(number)
        if item is None:
            raise UnknownInvoice(f"There is no invoice {number} on this account.", field=field)
        if item.status == VOIDED:
            raise InvoiceVoided(f"Invoice {number} is void and cannot be paid.", field=field)
        if amount > item.outstanding:
            raise AllocationExceedsOpenAmount(
                f"{amount:} allocated to invoice {number} is more than the "
                f"{item.outstanding:} still open on it.",
                field=field,
            )
        total = total + amount
        allocations.append(Allocation(number, amount))
    if total > available:
        raise AllocationExceedsPayment(
            f"The allocations add up to {total:}, more than the {available:} available.",
            field=field,
        )
    return allocations
