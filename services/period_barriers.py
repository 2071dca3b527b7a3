"""The period barrier: the last closed day of each tenant, where every writer can read it.

Concept
    A closed period (:mod:`domain.periods`) is a fact on the tenant's aggregate; the barrier is
    its copy in the product's table ``period_barriers`` (one row per tenant that has closed a
    period: the last day of its latest closed period and its back-dating policy), so that the
    writers of accounts check it without loading the tenant:

    - the application refuses (or re-dates, see ``services.app``) a command whose events
      would take effect on or before the barrier, with a sentence naming the first open day;
    - the event recorder checks it again inside the transaction that inserts the events
      (:func:`breaches`, called from ``services.recorders``), after it holds the events table's
      write lock: a command judged against an older barrier is refused whole, never stored.

Invariants
    - The barrier is raised before a period is sealed, in a transaction that takes the events
      table's write lock first (PostgreSQL: ``LOCK TABLE ... IN EXCLUSIVE MODE``; SQLite has one
      writer), so no insert that read the older barrier commits after it: the seal that
      follows covers every event the period will ever have.
    - It is lowered only after the reopening is recorded; if the close itself fails after the
      barrier is raised, the barrier is put back. A barrier left too high (a crash between)
      refuses commands, never admits one; closing again completes the close.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from domain.periods import FIRST_OPEN_DAY
from projections.database import Database


@dataclass(frozen=True)
class Barrier:
    closed_through: date
    backdating: str

    @property
    def first_open_day(self) -> date:
        return self.closed_through + timedelta(days=1)

    @property
    def redates(self) -> bool:
        return self.backdating == FIRST_OPEN_DAY


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def read_barrier(db: Database, tenant_id: str) -> Barrier | None:
    row = db.query_one(
        "SELECT closed_through, backdating FROM period_barriers WHERE tenant_id = ?", [tenant_id]
    )
    if row is None:
        return None
    return Barrier(_as_date(row["closed_through"]), str(row["backdating"]))


def breaches(cursor: Any, placeholder: str, earliest: Mapping[str, date]) -> list[str]:
    """Inside an insert transaction: the tenants whose events would take effect on or before
    their barrier (``earliest``: each tenant's earliest effective date in the insert)."""
    if not earliest:
        return []
    tenants = sorted(earliest)
    marks = ", ".join([placeholder] * len(tenants))
    cursor.execute(
        f"SELECT tenant_id, closed_through FROM period_barriers WHERE tenant_id IN ({marks})",  # noqa: S608 - placeholders only
        tenants,
    )
    found = []
    for row in cursor.fetchall():
        tenant, closed_through = row["tenant_id"], _as_date(row["closed_through"])
        if earliest[tenant] <= closed_through:
            found.append(tenant)
    return found


def earliest_dates(accounts: Iterable[Any]) -> dict[str, date]:
    """Each tenant's earliest business date among the pending events of ``accounts``."""
    earliest: dict[str, date] = {}
    for account in accounts:
        for event in account.pending_events:
            on = getattr(event, "effective_on", None)
            if on is None:
                continue
            tenant = account.tenant_id
            if tenant not in earliest or on < earliest[tenant]:
                earliest[tenant] = on
    return earliest
