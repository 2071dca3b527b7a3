"""Disputes: a customer contests an invoice.

Concept
    A *dispute* is opened on an invoice when the customer contests it (wrong
    service, wrong price, not received) and resolved with an outcome. Corrections
    that follow are their own events (a credit note, a debit note).

Invariants
    - An invoice has at most one open dispute; while disputed it is excluded from
      dunning, skipped by the default allocation policy and cannot be put on a
      payment plan.
    - Outcomes: ``upheld`` (the customer was right), ``rejected``, ``partially_upheld``,
      ``withdrawn``.

Vocabulary
    open / resolved dispute, outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final

OPEN: Final = "open"
RESOLVED: Final = "resolved"
OUTCOMES: Final[frozenset[str]] = frozenset({"upheld", "rejected", "partially_upheld", "withdrawn"})


@dataclass
class Dispute:
    dispute_id: str
    invoice_number: str
    description: str
    opened_on: date
    status: str = OPEN
    outcome: str | None = None
    note: str = ""
    resolved_on: date | None = None
