"""Shrinking: the shortest command list that still shows a finding of the same kind.

Delta debugging (Zeller's ddmin, simplified): try dropping chunks of the list — halves, then
quarters, down to single commands — keeping any cut after which the run still fails the same
way, until no single command can go or the time budget is spent. Each try is a full run of
the in-process tier on a fresh database, up to the stage where the finding showed, so a run
costs about a second. Faults stay with their commands (the schedule is keyed by idempotency
key), so a cut-down list meets the same faults.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from tests.simulation.generator import Cmd


def shrink(
    cmds: Sequence[Cmd],
    still_fails: Callable[[list[Cmd]], bool],
    *,
    budget_seconds: float = 90.0,
    focus: Cmd | None = None,
) -> list[Cmd]:
    """A shorter list than ``cmds`` (or ``cmds``) for which ``still_fails`` holds.

    With ``focus`` (the command a finding is about), two cheap cuts come first: nothing after
    its round (a later command cannot have caused an answer already given), then only the
    commands of its account and of the accounts that shared a round with it (its batch)."""
    deadline = time.monotonic() + budget_seconds
    current = list(cmds)
    if focus is not None:
        for keep in _focused(current, focus):
            if len(keep) < len(current) and still_fails(keep):
                current = keep
    chunks = 2
    while len(current) > 1 and time.monotonic() < deadline:
        size = max(1, len(current) // chunks)
        cut = False
        start = 0
        while start < len(current) and time.monotonic() < deadline:
            candidate = current[:start] + current[start + size :]
            if candidate and still_fails(candidate):
                current = candidate
                cut = True
            else:
                start += size
        if not cut:
            if size == 1:
                break
            chunks = min(len(current), chunks * 2)
        else:
            chunks = max(2, chunks)
    return current


def _focused(cmds: list[Cmd], focus: Cmd) -> list[list[Cmd]]:
    """Cuts around ``focus``, widest first."""
    prefix = [c for c in cmds if c.round <= focus.round]
    own = [c for c in prefix if (c.tenant, c.account) == (focus.tenant, focus.account)]
    mates = {(c.tenant, c.account) for c in prefix if c.round == focus.round}
    batch = [c for c in prefix if (c.tenant, c.account) in mates]
    return [prefix, batch, own]
