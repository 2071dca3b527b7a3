"""Ledger entries: every movement of an account's balance, dated by business date.

Concept
    The balance of an account is the signed sum of its ledger entries. Each
    entry names its category, so that the account always balances by the
    equation auditors check::

        charges + debit_notes − payments − credits − discounts − write_offs
        − contractual_adjustments + reversals + refunds + recoveries = balance

    (``reversals`` are reversed payments, ``recoveries`` reinstated write-offs;
    transfers between who owes — insurer to patient — do not move the balance.)

Invariants
    - An entry is immutable; a correction is a new entry in the opposite direction.
    - ``amount`` is signed as it moves the balance: charges positive, payments
      negative. Each category has one sign (:data:`SIGN`); a voided charge is a
      negative entry in ``charges``, a voided debit note a negative entry in
      ``debit_notes``.
    - Entries carry ``effective_on`` so "the balance as of 31 March" is a filter,
      not a recomputation of policy.

Vocabulary
    category: the kind of movement; tally: the running total of one category.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final

from domain.money import Money

CHARGES: Final = "charges"
DEBIT_NOTES: Final = "debit_notes"
PAYMENTS: Final = "payments"
CREDITS: Final = "credits"
DISCOUNTS: Final = "discounts"
WRITE_OFFS: Final = "write_offs"
CONTRACTUAL_ADJUSTMENTS: Final = "contractual_adjustments"
REVERSALS: Final = "reversals"
REFUNDS: Final = "refunds"
RECOVERIES: Final = "recoveries"

#: How each category moves the balance; a tally is stored positive, as the equation reads.
SIGN: Final[dict[str, int]] = {
    CHARGES: 1,
    DEBIT_NOTES: 1,
    PAYMENTS: -1,
    CREDITS: -1,
    DISCOUNTS: -1,
    WRITE_OFFS: -1,
    CONTRACTUAL_ADJUSTMENTS: -1,
    REVERSALS: 1,
    REFUNDS: 1,
    RECOVERIES: 1,
}

CATEGORIES: Final[tuple[str, ...]] = tuple(SIGN)

#: The double-entry ledger's accounts, over which ``projections.ledger`` journals every entry:
#: what customers and insurers owe on items, the counter-accounts of each category, and money
#: received and not yet applied (a liability). The GL chart of accounts maps each of them.
RECEIVABLES: Final = "receivables"
UNAPPLIED_CREDIT: Final = "unapplied_credit"
LEDGER_ACCOUNTS: Final[tuple[str, ...]] = (
    RECEIVABLES,
    "revenue",
    "tax",
    "cash",
    "discounts_allowed",
    "bad_debt",
    "contractual_adjustments",
    UNAPPLIED_CREDIT,
)


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One movement of the balance. ``amount`` is the tally amount (as the equation
    reads it, e.g. a payment of 100 is +100 in ``payments``); a correction within
    a category (a voided charge) is a negative tally amount."""

    effective_on: date
    category: str
    amount: Money
    reference: str

    @property
    def balance_effect(self) -> Money:
        return self.amount if SIGN[self.category] > 0 else -self.amount


def balance_from_tallies(tallies: dict[str, Money], currency: str) -> Money:
    """The balance the equation gives from per-category tallies."""
    balance = Money.zero(currency)
    for category, amount in tallies.items():
        balance = balance + amount if SIGN[category] > 0 else balance - amount
    return balance
