"""The agenda: per account, when something can next fall due, so a close of day touches only those.

The close of a business day (``services.close_day``) must visit every account on which the
day decides something, and no other: a tenant with a million accounts has a few thousand with
anything due on a given day. This read model keeps, per account, the dates from which the day
can decide something on it, so the close selects them with an index range instead of a scan.

Table ``{t}account_agenda`` (one row per account; ``{t}`` is empty for the live model):

- ``next_sweep_on``: the first business date on which the daily sweep would record something
  (an installment of an active plan missed, an offer lapsed, a promise broken): the domain's
  :func:`domain.account.sweep.next_sweep_on`. NULL: nothing can fall due.
- ``overdue_from``: the first business date on which something still open is overdue
  (:func:`domain.account.sweep.overdue_from`); days past due on day D are
  ``D − overdue_from + 1``. NULL: nothing is open.
- ``dunning_level``: the account's level (0: not dunned).
- ``dunning_held``: 1 while a dispute or a promise to pay is open, or a payment plan is
  current (active, with every missed installment since paid): the dunning policy leaves the
  account alone meanwhile.
- ``last_version``, ``last_position``: the account's latest event that can change the row
  (a charge, a collection activity or a change of details cannot, and is passed by).

Every date is decided by what is on record when the row is written; the close of day then
decides each account it selects as of the day, by business dates, with the domain's rules
(the row only chooses whom to ask). So the agenda selects a superset of the accounts the day
changes, never fewer, as long as nothing dated after the day is on record when the day is
closed: a day closed late is decided right for every account it selects, but an installment
missed and then paid before the late close is no longer selected (it was paid by the time
anyone looked).

:func:`due_accounts` is the selection: for day D under dunning policy P,

- ``next_sweep_on <= D`` (the sweep has something to record), or
- for each level k below P's top: ``dunning_level = k``, not held, and ``overdue_from <=
  D − days(k+1) + 1`` (the next level is reached), or
- ``dunning_level > 0`` and nothing overdue on D by the row (``overdue_from`` NULL or after D),
  or held (a current plan may make the account current for the domain's ``overdue`` query):
  a reset to consider.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, ClassVar

from domain import collections_activity as collection
from domain import disputes as dispute_rules
from domain import plans as plan_rules
from domain.account import Account
from domain.account.plans import plan_progress
from domain.account.sweep import next_sweep_on, overdue_from
from domain.dunning import DunningPolicy
from projections.database import Cursor, Database
from projections.replay import Change
from projections.runner import ReadModel

#: Events that change nothing the agenda holds: their row is not written again.
_UNCHANGED = frozenset(
    {
        "ChargePosted",
        "ChargeVoided",
        "CollectionActivityRecorded",
        "DetailsChanged",
        "PaymentTermsChanged",
    }
)


def _held(account: Account) -> bool:
    """A dispute or a promise open, or a plan current as things stand (see the module)."""
    if any(d.status == dispute_rules.OPEN for d in account.disputes.values()):
        return True
    if any(p.status == collection.OPEN for p in account.promises.values()):
        return True
    for plan in account.plans.values():
        if plan.status != plan_rules.ACTIVE:
            continue
        progress = {status.index: status for status in plan_progress(account, plan)}
        if all(not progress[index].outstanding.is_positive for index in plan.missed):
            return True
    return False


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


class Agenda(ReadModel):
    name: ClassVar[str] = "agenda"
    table_names: ClassVar[list[str]] = ["account_agenda"]
    tables: ClassVar[list[str]] = [
        "CREATE TABLE IF NOT EXISTS {t}account_agenda ("
        " account_id TEXT PRIMARY KEY,"
        " tenant_id TEXT NOT NULL,"
        " account_number TEXT NOT NULL,"
        " next_sweep_on {date},"
        " overdue_from {date},"
        " dunning_level INTEGER NOT NULL,"
        " dunning_held INTEGER NOT NULL,"
        " last_version {bigint} NOT NULL,"
        " last_position {bigint} NOT NULL)",
        "CREATE INDEX IF NOT EXISTS {t}account_agenda_by_sweep"
        " ON {t}account_agenda (tenant_id, next_sweep_on)",
        "CREATE INDEX IF NOT EXISTS {t}account_agenda_by_dunning"
        " ON {t}account_agenda (tenant_id, dunning_level, overdue_from)",
    ]

    def __init__(self, prefix: str = "") -> None:
        super().__init__(prefix)
        #: The batch's newest change per account: the row is worked out once, at the flush,
        #: from the account as its last event in the batch left it.
        self._latest: dict[str, Change] = {}

    def handle(self, change: Change) -> None:
        if change.event_type in _UNCHANGED:
            return
        self._latest[change.account_id] = change

    def flush(self, c: Cursor, db: Database) -> None:
        rows = [self._row(change) for change in self._latest.values()]
        self._latest = {}
        self.write(
            f"INSERT INTO {self.t('account_agenda')} (account_id, tenant_id, account_number,"
            " next_sweep_on, overdue_from, dunning_level, dunning_held, last_version,"
            " last_position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (account_id) DO UPDATE SET next_sweep_on = excluded.next_sweep_on,"
            " overdue_from = excluded.overdue_from, dunning_level = excluded.dunning_level,"
            " dunning_held = excluded.dunning_held, last_version = excluded.last_version,"
            " last_position = excluded.last_position",
            *rows,
        )
        super().flush(c, db)

    def discard(self) -> None:
        self._latest = {}
        super().discard()

    @staticmethod
    def _row(change: Change) -> list[Any]:
        # The replayed account is the same object through its events of the batch, so it
        # stands as the account's last event of the batch left it.
        account: Account = change.account
        return [
            change.account_id,
            account.tenant_id,
            account.account_number,
            _iso(next_sweep_on(account)),
            _iso(overdue_from(account)),
            account.dunning_level,
            int(_held(account)),
            change.event.originator_version,
            change.position,
        ]


def due_accounts(
    db: Database, tenant_id: str, day: date, policy: DunningPolicy | None
) -> list[str]:
    """The numbers of the tenant's accounts on which closing ``day`` under ``policy`` (None:
    no automatic dunning) may record something, in account-number order (see the module)."""
    selects = [
        "SELECT account_number FROM account_agenda WHERE tenant_id = ? AND next_sweep_on <= ?"
    ]
    params: list[Any] = [tenant_id, day.isoformat()]
    if policy is not None and policy.levels:
        for step in policy.levels:
            reached = day - timedelta(days=step.days_past_due - 1)
            selects.append(
                "SELECT account_number FROM account_agenda WHERE tenant_id = ?"
                " AND dunning_level = ? AND dunning_held = 0 AND overdue_from <= ?"
            )
            params += [tenant_id, step.level - 1, reached.isoformat()]
        selects.append(
            "SELECT account_number FROM account_agenda WHERE tenant_id = ? AND dunning_level > 0"
            " AND (overdue_from IS NULL OR overdue_from > ? OR dunning_held = 1)"
        )
        params += [tenant_id, day.isoformat()]
    rows = db.query(" UNION ".join(selects) + " ORDER BY account_number", params)
    return [str(row["account_number"]) for row in rows]
