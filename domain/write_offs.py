"""Write-offs: bad debt taken off the books, and recovered if it is paid after all.

Concept
    A *write-off* removes an uncollectible amount from what is open on an item
    (bad debt). If the customer later pays, the write-off is *recovered*: the
    amount is reinstated on the item, and the payment then applies to it as usual.

Invariants
    - A write-off is at most what is open on the item
      (:class:`~domain.errors.WriteOffExceedsOpen`).
    - Recoveries never exceed what was written off
      (:class:`~domain.errors.RecoveryExceedsWriteOff`).

Vocabulary
    bad debt, write-off, recovery.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from domain.money import Money


@dataclass
class WriteOff:
    write_off_id: str
    invoice_number: str
    amount: Money
    written_off_on: date
    recovered: Money

    @property
    def recoverable(self) -> Money:
        return self.amount - self.recovered
