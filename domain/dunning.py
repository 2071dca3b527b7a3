"""Dunning policy: how far past due an account may fall before each step of chasing it.

Concept
    A tenant's *dunning policy* is a short ladder of *levels*. Each level says how many days
    past due the account's oldest overdue term must be for the level to apply, and what the
    level means to the people and letters that act on it: a ``reminder``, a
    ``second_notice``, a ``final_notice``, or handing the account to ``collections``. Level
    numbers are the places on the ladder, 1 first; level 0 is "not being dunned".

    The close of day applies the policy in force on the day it closes (see
    :mod:`domain.tenant` for how policies are versioned, and
    :meth:`domain.account.sweep.DailySweep.close_day` for what it does to an account): an
    account goes straight to the highest level its days past due reach, never down, and back
    to 0 once nothing is overdue.

Invariants
    - Levels are given in order; their days past due strictly increase, each from 1 to
      :data:`MAX_DAYS_PAST_DUE`; their actions never become milder going up the ladder
      (a second notice never follows a final notice), so handing to collections is the end.
    - At most :data:`MAX_LEVELS` levels. A policy with no level turns automatic dunning off.

Vocabulary
    level, days past due (of the oldest overdue term, as the account's ``overdue`` query
    counts them), action.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

from domain.errors import InvalidDunningPolicy

#: What a level means, mildest first.
REMINDER: Final = "reminder"
SECOND_NOTICE: Final = "second_notice"
FINAL_NOTICE: Final = "final_notice"
COLLECTIONS: Final = "collections"
ACTIONS: Final[tuple[str, ...]] = (REMINDER, SECOND_NOTICE, FINAL_NOTICE, COLLECTIONS)

MAX_LEVELS: Final = 9
#: Ten years: the same bound as the longest payment terms.
MAX_DAYS_PAST_DUE: Final = 3650


@dataclass(frozen=True, slots=True)
class DunningLevel:
    """One step of the ladder: ``level`` (1 first) applies from ``days_past_due`` on."""

    level: int
    days_past_due: int
    action: str


@dataclass(frozen=True, slots=True)
class DunningPolicy:
    """A version of a tenant's policy, in force from ``effective_on`` until the next one."""

    version: int
    effective_on: date
    levels: tuple[DunningLevel, ...]

    def level_for(self, days_past_due: int) -> DunningLevel | None:
        """The highest level ``days_past_due`` reaches (None: not even the first)."""
        reached = None
        for level in self.levels:
            if days_past_due >= level.days_past_due:
                reached = level
        return reached

    def next_after(self, level: int) -> DunningLevel | None:
        """The level an account at ``level`` would be raised to next (None: the top)."""
        return next((step for step in self.levels if step.level > level), None)

    def describe(self) -> str:
        """The policy in a few words, for the reason recorded with what it decides."""
        return f"dunning policy v{self.version}"


def check_levels(steps: Sequence[tuple[int, str]]) -> tuple[DunningLevel, ...]:
    """The ladder from ``(days past due, action)`` pairs in order, or ``InvalidDunningPolicy``
    saying which level breaks which rule."""
    if len(steps) > MAX_LEVELS:
        raise InvalidDunningPolicy(
            f"A dunning policy has at most {MAX_LEVELS} levels, not {len(steps)}.", field="levels"
        )
    levels: list[DunningLevel] = []
    for number, (days, action) in enumerate(steps, start=1):
        field = f"levels.{number - 1}"
        if isinstance(days, bool) or not isinstance(days, int):
            raise InvalidDunningPolicy(
                f"Level {number}: days past due must be a whole number.",
                field=f"{field}.days_past_due",
            )
        if not 1 <= days <= MAX_DAYS_PAST_DUE:
            raise InvalidDunningPolicy(
                f"Level {number}: days past due must be from 1 to {MAX_DAYS_PAST_DUE}, not {days}.",
                field=f"{field}.days_past_due",
            )
        if action not in ACTIONS:
            raise InvalidDunningPolicy(
                f"Level {number}: {action!r} is not an action; use one of {', '.join(ACTIONS)}.",
                field=f"{field}.action",
            )
        if levels:
            before = levels[-1]
            if days <= before.days_past_due:
                raise InvalidDunningPolicy(
                    f"Levels must be increasing: level {number} starts at {days} days past due,"
                    f" not after level {before.level} ({before.days_past_due} days).",
                    field=f"{field}.days_past_due",
                )
            if ACTIONS.index(action) < ACTIONS.index(before.action):
                raise InvalidDunningPolicy(
                    f"Levels must be increasing: level {number} ({action}) is milder than"
                    f" level {before.level} ({before.action}).",
                    field=f"{field}.action",
                )
        levels.append(DunningLevel(level=number, days_past_due=days, action=action))
    return tuple(levels)
