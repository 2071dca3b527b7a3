"""Parked accounts: one account's unreadable event never stops everyone else's read models.

A consumer of the notification log (each read model of the projector, and the Kafka relay)
that meets an event it cannot decode or handle *parks* the event's account: it records a row
in ``parked_accounts`` and goes on with every other account. Vocabulary:

- ``consumer``: who parked it: a read model's tracking name (``account_balances``) or the
  relay's name (``relay:kafka``);
- ``position``: the notification that failed, ``event_type`` its stored topic and
  ``event_version`` the account version it would have made;
- ``error``: the failure's class and first line, cut short: what an operator needs, and never
  the event's content;
- ``skipped`` / ``last_skipped``: the account's later events the consumer passed by while the
  account was parked; its rows stay as they were after the last good event.

The table ``parked_accounts`` is made by the product's migrations (``services.migrations``).

Invariants: a park row is written in the same transaction as the consumer's progress (the
tracking record of a read model, the position of the relay), so a consumer restarted at any
point neither loses a parked account nor parks one twice; a parked account is resumed only by
an operator (``ar project --retry-parked``, ``ar relay --retry-parked``), which replays it
from its first event and deletes the row in one transaction.

Only failures that belong to the event are parked: a database or network that is away
(``TRANSIENT``) is the consumer's failure, retried as before, never an account's.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.application import Application
from eventsourcing.persistence import DataError, IntegrityError, Notification, PersistenceError

from projections.database import Cursor, Database, events_table, stored_moment

#: Failures of the consumer's surroundings, not of an event: never a reason to park.
TRANSIENT: tuple[type[BaseException], ...] = (
    PersistenceError,
    sqlite3.Error,
    psycopg.Error,
    OSError,
)
#: The database refusing a row a read model wrote (out of range, a broken constraint): a bug
#: in the model's handling of one event, which the projector narrows down to that event.
REFUSED_ROWS: tuple[type[BaseException], ...] = (
    DataError,
    IntegrityError,
    psycopg.DataError,
    psycopg.IntegrityError,
    sqlite3.DataError,
    sqlite3.IntegrityError,
    OverflowError,
)
#: How much of an error's message is kept: enough to recognise it, not a dump of the event.
ERROR_CHARS = 300


@dataclass(frozen=True)
class Parked:
    consumer: str
    account_id: str
    tenant_id: str | None
    position: int
    event_type: str
    event_version: int
    error: str
    first_seen_at: str
    skipped: int
    last_skipped: int | None
    retry_requested: bool


#: Quoted text in an error's message: often a piece of the event (a name, an amount).
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def error_text(error: BaseException) -> str:
    """The error's class and the first line of its message, cut short, with quoted text left
    out: a stored event may carry personal data, and an error may quote it."""
    text = str(error).strip()
    message = _QUOTED.sub("'…'", text.splitlines()[0]) if text else ""
    if len(message) > ERROR_CHARS:
        message = message[:ERROR_CHARS] + "…"
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def park(
    c: Cursor,
    db: Database,
    consumer: str,
    notification: Notification,
    error: BaseException,
    tenant_id: str | None,
) -> None:
    """Park the notification's account for ``consumer`` (kept as it is if parked already)."""
    c.execute(
        db.sql(
            "INSERT INTO parked_accounts (consumer, account_id, tenant_id, position, event_type,"
            " event_version, error, first_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (consumer, account_id) DO NOTHING"
        ),
        (
            consumer,
            str(notification.originator_id),
            tenant_id,
            notification.id,
            notification.topic,
            notification.originator_version,
            error_text(error),
            stored_moment(datetime.now(UTC)),
        ),
    )


def record_skipped(
    c: Cursor, db: Database, skipped: dict[tuple[str, str], tuple[int, int]]
) -> None:
    """Count the events passed by for each parked (consumer, account): (how many, last)."""
    rows = [(n, last, consumer, account) for (consumer, account), (n, last) in skipped.items()]
    if rows:
        c.executemany(
            db.sql(
                "UPDATE parked_accounts SET skipped = skipped + ?, last_skipped = ?"
                " WHERE consumer = ? AND account_id = ?"
            ),
            rows,
        )


def parked_ids(c: Cursor, db: Database, consumers: Sequence[str]) -> dict[str, set[str]]:
    """The accounts each consumer has parked, read in the caller's transaction."""
    found: dict[str, set[str]] = {consumer: set() for consumer in consumers}
    if not consumers:
        return found
    marks = ", ".join("?" for _ in consumers)
    c.execute(
        db.sql(f"SELECT consumer, account_id FROM parked_accounts WHERE consumer IN ({marks})"),
        tuple(consumers),
    )
    for row in c.fetchall():
        found[row["consumer"]].add(row["account_id"])
    return found


def parked_accounts(db: Database, consumers: Iterable[str] | None = None) -> list[Parked]:
    """Every parked account (of the consumers named), oldest failure first."""
    rows = db.query(
        "SELECT consumer, account_id, tenant_id, position, event_type, event_version, error,"
        " first_seen_at, skipped, last_skipped, retry_requested FROM parked_accounts"
        " ORDER BY position, consumer"
    )
    wanted = None if consumers is None else set(consumers)
    return [
        Parked(
            consumer=r["consumer"],
            account_id=r["account_id"],
            tenant_id=r["tenant_id"],
            position=int(r["position"]),
            event_type=r["event_type"],
            event_version=int(r["event_version"]),
            error=r["error"],
            first_seen_at=str(r["first_seen_at"]),
            skipped=int(r["skipped"]),
            last_skipped=None if r["last_skipped"] is None else int(r["last_skipped"]),
            retry_requested=bool(r["retry_requested"]),
        )
        for r in rows
        if wanted is None or r["consumer"] in wanted
    ]


def unpark(c: Cursor, db: Database, consumer: str, account_id: str) -> None:
    c.execute(
        db.sql("DELETE FROM parked_accounts WHERE consumer = ? AND account_id = ?"),
        (consumer, account_id),
    )


def forget_consumers(c: Cursor, db: Database, consumers: Sequence[str]) -> None:
    """Drop every park row of the consumers (their tables are rebuilt from the first event)."""
    for consumer in consumers:
        c.execute(db.sql("DELETE FROM parked_accounts WHERE consumer = ?"), (consumer,))


def request_retry(db: Database, consumer: str, accounts: Sequence[str] | None) -> int:
    """Mark the consumer's parked accounts (those given, default all) to be retried; how many."""
    rows = [
        r for r in parked_accounts(db, [consumer]) if accounts is None or r.account_id in accounts
    ]
    with db.transaction() as c:
        for row in rows:
            c.execute(
                db.sql(
                    "UPDATE parked_accounts SET retry_requested = 1"
                    " WHERE consumer = ? AND account_id = ?"
                ),
                (consumer, row.account_id),
            )
    return len(rows)


def still_failing(db: Database, consumer: str, account_id: str, error: BaseException) -> None:
    """A retry failed again: keep the row, with the newest error, and no retry pending."""
    db.execute(
        "UPDATE parked_accounts SET error = ?, retry_requested = 0"
        " WHERE consumer = ? AND account_id = ?",
        (error_text(error), consumer, account_id),
    )


def account_notifications(
    app: Application[Any], c: Cursor, db: Database, account_id: str, upto: int
) -> list[Notification]:
    """The account's stored events up to notification ``upto``, in version order, with their
    positions: what a retry replays (read in the caller's transaction)."""
    table = events_table(app)
    if db.is_postgres:
        c.execute(
            f"SELECT notification_id AS id, originator_id, originator_version, topic, state"
            f" FROM {table} WHERE originator_id = %s AND notification_id <= %s"
            " ORDER BY originator_version",
            (UUID(account_id), upto),
        )
    else:
        c.execute(
            f"SELECT rowid AS id, originator_id, originator_version, topic, state FROM {table}"
            " WHERE originator_id = ? AND rowid <= ? ORDER BY originator_version",
            (UUID(account_id).hex, upto),  # eventsourcing's SQLite stores ids as hex
        )
    return [
        Notification(
            id=int(r["id"]),
            originator_id=UUID(str(r["originator_id"])),
            originator_version=int(r["originator_version"]),
            topic=r["topic"],
            state=bytes(r["state"]),
        )
        for r in c.fetchall()
    ]


def tenant_of(app: Application[Any], account_id: UUID) -> str | None:
    """The account's tenant, from its first event (named there), if that event still reads."""
    try:
        first = next(iter(app.events.get(account_id, lte=1)), None)
    except Exception:  # the tenant is a courtesy: an unreadable first event has none
        return None
    tenant = getattr(first, "tenant_id", None)
    return None if tenant is None else str(tenant)
