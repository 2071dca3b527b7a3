"""Accounting periods: a tenant's months, closed in order and sealed by a hash.

Concept
    An accounting period is a calendar month (``2026-03``). Once every day of it is closed
    (:mod:`domain.tenant`'s ``DayClosed``), a tenant may close the period: after that, nothing
    may take effect on one of its days. A back-dated correction is refused with a sentence
    naming the first open day, or, when the tenant's back-dating policy is
    :data:`FIRST_OPEN_DAY`, posted on that day with a reference to the period it corrects.

    Closing a period seals it: :class:`Seal` is a SHA-256 over the hashes of every account
    event effective in the period, in the order the store recorded them, kept on the close
    (:class:`ClosedPeriod`). ``ar verify`` recomputes each seal from the stored events; an
    altered, removed or added event in a closed period changes it.

Invariants
    - Periods close one after another (the first may be any month whose days are closed) and
      reopen from the latest back; reopening is itself an event, approved by an approver.
    - A seal is a pure function of the events' own hashes (recomputed from their content, never
      the stored hash field) and their order.

Vocabulary
    period, closed through (the last day of the latest closed period), first open day, seal.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from domain import errors

REFUSE: Final = "refuse"
FIRST_OPEN_DAY: Final = "first_open_day"
BACKDATING_POLICIES: Final = (REFUSE, FIRST_OPEN_DAY)
_PERIOD: Final = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True, order=True)
class Period:
    year: int
    month: int

    @classmethod
    def parse(cls, text: object) -> Period:
        match = _PERIOD.fullmatch(text) if isinstance(text, str) else None
        if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1900:
            raise errors.InvalidPeriod(
                f"A period is a month written YYYY-MM, such as 2026-03, not {text!r}.",
                field="period",
            )
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, day: date) -> Period:
        return cls(day.year, day.month)

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return self.following.first_day - timedelta(days=1)

    @property
    def following(self) -> Period:
        return Period(self.year + self.month // 12, self.month % 12 + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True)
class ClosedPeriod:
    """A period's close: its seal, how many events it covers, who closed it."""

    period: str
    seal: str
    events: int
    closed_by: str


def check_backdating(policy: object) -> str:
    if policy not in BACKDATING_POLICIES:
        raise errors.InvalidPeriod(
            f"A back-dated command into a closed period is either {REFUSE!r} or posted on the "
            f"{FIRST_OPEN_DAY!r}, not {policy!r}.",
            field="backdating",
        )
    return str(policy)


class Seal:
    """The running seal of one period: feed it each event's hash in store order."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256(b"receivables.period-seal.v1\n")
        self.events = 0

    def add(self, event_hash: str) -> None:
        self._hash.update(event_hash.encode("ascii") + b"\n")
        self.events += 1

    @property
    def value(self) -> str:
        return self._hash.hexdigest()
