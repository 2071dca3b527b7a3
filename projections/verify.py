"""Verify: rebuild every read model from the events and compare with the live tables.

An auditor's proof that nothing was altered. ``verify`` brings the live read models up to
date, replays every event from the first into scratch copies of the same tables (under the
``verify_`` prefix, from the events alone: snapshots are not trusted), walks each account's
hash chain, and reports every difference:

- a live row whose values differ from the rebuilt one: one discrepancy per column (the
  figure), with the expected (rebuilt) and found (live) values;
- a row the rebuild has and the live table lacks (``missing row``) or the reverse
  (``unexpected row``);
- a chain break (``content_altered``, ``link_broken``, ``version_gap``) or an event that can no
  longer be decoded or applied (``unreadable``: the rebuild parked its account);
- an account the live read models have parked (``parked``, see ``projections.parking``);
- a closed period whose seal the stored events no longer give (``seal_broken``, see
  ``projections.seals``): an event in it altered, removed or added since the close.

An unreadable or parked account is reported once and left out of the row comparison (its rows
stop at its last good event); every other account is verified as usual.

Each discrepancy names the account and the events involved: the event of a row that has a
position, or the events that make up a balance figure (see ``projections.explain``).

Invariant: the comparison is made at one position of the notification log. If a projector
moves the live tables on while verifying, the comparison is taken again (a few times) rather
than reporting differences that are only timing. The scratch tables are dropped afterwards.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from eventsourcing.application import Application

from domain.hash_chain import ChainWalker
from projections.catalogue import read_models
from projections.database import Database
from projections.explain import TALLY_FIGURES, explain
from projections.parking import Parked
from projections.runner import Projector, ReadModel, TrackingConflict
from projections.seals import Unsealable, broken_seals, tenant_ids

SCRATCH_PREFIX = "verify_"
ATTEMPTS = 3
#: How many events a discrepancy names before it says how many more there are.
EVENTS_NAMED = 12

_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS \{t\}(\w+) \((.*)\)\s*$", re.DOTALL)
_COMPOSITE_KEY = re.compile(r"PRIMARY KEY \(([^)]*)\)")
_COLUMN_KEY = re.compile(r"(?:^|,)\s*(\w+) [^,]*? PRIMARY KEY")


@dataclass(frozen=True)
class Discrepancy:
    table: str
    account: str
    key: str
    figure: str
    expected: str
    found: str
    events: str


@dataclass
class Verification:
    position: int
    events: int = 0
    accounts: int = 0
    discrepancies: list[Discrepancy] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.discrepancies


class ModelsMoving(Exception):
    """The live read models kept moving while they were compared; verify again."""


def primary_keys(model: ReadModel) -> dict[str, tuple[str, ...]]:
    """Each of the model's tables and its primary key columns, read from its DDL."""
    keys: dict[str, tuple[str, ...]] = {}
    for statement in model.tables:
        table = _TABLE.match(statement)
        if table is None:
            continue
        name, body = table.groups()
        composite = _COMPOSITE_KEY.search(body)
        if composite:
            keys[name] = tuple(c.strip() for c in composite.group(1).split(","))
        elif column := _COLUMN_KEY.search(body):
            keys[name] = (column.group(1),)
    return keys


def verify(
    app: Application[Any],
    db: Database,
    *,
    progress: Callable[[int], None] | None = None,
) -> Verification:
    """Rebuild, compare and walk the chains; every discrepancy found."""
    live = Projector(app, db, read_models())
    for _ in range(ATTEMPTS):
        with contextlib.suppress(TrackingConflict):
            live.catch_up()
        positions = set(live.positions()[m.tracking_name] for m in live.models)
        if len(positions) != 1:
            continue
        (position,) = positions
        result = _verify_at(app, db, live, position, progress)
        if set(live.positions()[m.tracking_name] for m in live.models) == {position}:
            return result
    msg = "the read models kept moving while being verified; stop the projector or verify again"
    raise ModelsMoving(msg)


def _verify_at(
    app: Application[Any],
    db: Database,
    live: Projector,
    position: int,
    progress: Callable[[int], None] | None,
) -> Verification:
    result = Verification(position)
    chains = ChainWalker()
    accounts: set[Any] = set()

    def walk(event: Any, at: int) -> None:
        accounts.add(event.originator_id)
        for chain_break in chains.check(event, at):
            result.discrepancies.append(
                Discrepancy(
                    table="stored events",
                    account=str(event.originator_id),
                    key=f"version {chain_break.originator_version}",
                    figure=chain_break.kind,
                    expected="",
                    found=chain_break.detail,
                    events=f"{at} ({type(event).__name__})",
                )
            )

    scratch = Projector(
        app, db, read_models(SCRATCH_PREFIX), from_snapshots=False, observers=[walk]
    )
    try:
        scratch.reset()
        result.events = scratch.catch_up(progress, until=position)
        unreadable = _first_per_account(scratch.parked())
        parked = _first_per_account(live.parked())
        accounts |= {row.account_id for row in unreadable + parked}
        result.accounts = len(accounts)
        names = _AccountNames(db, f"{SCRATCH_PREFIX}account_balances")
        result.discrepancies += [_unreadable(row, names) for row in unreadable]
        result.discrepancies += [_parked(row, names) for row in parked]
        # A parked account's live rows are frozen, an unreadable one's rebuilt rows stop short:
        # reported above, they are left out of the comparison, which goes on for the rest.
        set_aside = {row.account_id for row in unreadable + parked}
        for rebuilt, current in zip(scratch.models, live.models, strict=True):
            result.discrepancies += _compare(db, rebuilt, current, names, set_aside)
        result.discrepancies += _seal_discrepancies(app, db)
    finally:
        scratch.drop()
    return result


def _seal_discrepancies(app: Application[Any], db: Database) -> list[Discrepancy]:
    """Each closed period whose seal its stored events no longer give."""
    try:
        broken = broken_seals(app, tenant_ids(db))
    except Unsealable as exc:
        return [Discrepancy("period seals", "", "", "unsealable", "", str(exc), "")]
    return [
        Discrepancy(
            table="period seals",
            account=f"tenant {seal.tenant_id}",
            key=seal.period,
            figure="seal_broken",
            expected=f"{seal.stored} ({seal.stored_events} events)",
            found=f"{seal.recomputed} ({seal.recomputed_events} events)",
            events=f"the events effective in {seal.period}",
        )
        for seal in broken
    ]


def _first_per_account(rows: list[Parked]) -> list[Parked]:
    """One row per account (read models park an account together): its earliest."""
    first: dict[str, Parked] = {}
    for row in rows:
        if row.account_id not in first or row.position < first[row.account_id].position:
            first[row.account_id] = row
    return sorted(first.values(), key=lambda row: row.position)


def _unreadable(row: Parked, names: _AccountNames) -> Discrepancy:
    return Discrepancy(
        table="stored events",
        account=names.of(row.account_id),
        key=f"position {row.position}",
        figure="unreadable",
        expected="an event the product can decode and apply",
        found=row.error,
        events=f"{row.position} ({row.event_type}, version {row.event_version})",
    )


def _parked(row: Parked, names: _AccountNames) -> Discrepancy:
    skipped = f"; {row.skipped} later events passed by" if row.skipped else ""
    return Discrepancy(
        table="parked_accounts",
        account=names.of(row.account_id),
        key=f"position {row.position}",
        figure="parked",
        expected="every event projected",
        found=f"{row.error}{skipped} (ar project --retry-parked)",
        events=f"{row.position} ({row.event_type}, version {row.event_version})",
    )


def _columns(db: Database, table: str) -> list[str]:
    with db.transaction(commit=False) as c:
        c.execute(f"SELECT * FROM {table} LIMIT 0")
        return [d[0] for d in c.description]  # type: ignore[attr-defined]


def _compare(
    db: Database,
    rebuilt: ReadModel,
    current: ReadModel,
    names: _AccountNames,
    set_aside: set[str],
) -> Iterator[Discrepancy]:
    for table, key in primary_keys(rebuilt).items():
        columns = _columns(db, rebuilt.t(table))
        listed = ", ".join(columns)

        expected = _rows_only_in(db, listed, key, rebuilt.t(table), current.t(table))
        found = _rows_only_in(db, listed, key, current.t(table), rebuilt.t(table))
        for row_key in sorted(expected.keys() | found.keys()):
            want, have = expected.get(row_key), found.get(row_key)
            row = want or have
            assert row is not None
            if str(row.get("account_id")) in set_aside:
                continue
            where = dict(
                table=table,
                account=names.of(row.get("account_id")),
                key="/".join(row_key),
            )
            if want is None:
                yield Discrepancy(
                    **where,
                    figure="unexpected row",
                    expected="",
                    found=_shown(have),
                    events=_events_of_row(db, have),
                )
            elif have is None:
                yield Discrepancy(
                    **where,
                    figure="missing row",
                    expected=_shown(want),
                    found="",
                    events=_events_of_row(db, want),
                )
            else:
                for column in columns:
                    if str(want[column]) != str(have[column]):
                        yield Discrepancy(
                            **where,
                            figure=column,
                            expected=str(want[column]),
                            found=str(have[column]),
                            events=_events_of_figure(db, rebuilt, table, want, column),
                        )


def _rows_only_in(
    db: Database, listed: str, key: tuple[str, ...], one: str, other: str
) -> dict[tuple[str, ...], dict[str, Any]]:
    """The rows of table ``one`` that table ``other`` does not have, by primary key."""
    rows = db.query(f"SELECT {listed} FROM {one} EXCEPT SELECT {listed} FROM {other}")
    return {tuple(str(row[k]) for k in key): row for row in rows}


def _shown(row: dict[str, Any] | None) -> str:
    return "" if row is None else ", ".join(f"{k}={v}" for k, v in row.items())


class _AccountNames:
    """Account ids as the account numbers people know them by (from the rebuilt balances)."""

    def __init__(self, db: Database, table: str) -> None:
        self.numbers = {
            r["account_id"]: f"{r['tenant_id']}/{r['account_number']}"
            for r in db.query(f"SELECT account_id, tenant_id, account_number FROM {table}")
        }

    def of(self, account_id: Any) -> str:
        return self.numbers.get(account_id, "" if account_id is None else str(account_id))


def _named(positions: list[int]) -> str:
    shown = ", ".join(str(p) for p in positions[:EVENTS_NAMED])
    more = len(positions) - EVENTS_NAMED
    return f"{shown} and {more} more" if more > 0 else shown


def _events_of_row(db: Database, row: dict[str, Any] | None) -> str:
    if row is None:
        return ""
    if "position" in row:
        return _named([int(row["position"])])
    if "last_position" in row:
        return _named([int(row["last_position"])])
    account = db.query_one(
        f"SELECT last_position FROM {SCRATCH_PREFIX}account_balances WHERE account_id = ?",
        (row.get("account_id"),),
    )
    return f"the account's events up to {account['last_position']}" if account else ""


def _events_of_figure(
    db: Database, rebuilt: ReadModel, table: str, row: dict[str, Any], column: str
) -> str:
    figure = column.removesuffix("_minor")
    if table == "account_balances" and (
        figure in TALLY_FIGURES or figure in ("balance", "unapplied_credit", "invoiced")
    ):
        explained = explain(
            db,
            row["tenant_id"],
            row["account_number"],
            figure,
            date.max,
            prefix=rebuilt.prefix,
        )
        if explained is not None:
            return _named(explained.positions)
    return _events_of_row(db, row)
