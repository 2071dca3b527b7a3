"""Event recorders that also record idempotency keys, in the same transaction as the events.

A command's idempotency key must be on file exactly when its events are: if the events commit,
a retry of the request finds the key and gets the original answer; if they do not, nothing
records the key either. So the key rows are written by the recorder itself, inside the insert
transaction eventsourcing opens for the events (``save(..., idempotency=[...])``). A key that
is already on file makes the insert fail as a whole, like a version conflict: nothing is half
written, and the caller looks the key up again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor

IDEMPOTENCY_TABLE = (
    "CREATE TABLE IF NOT EXISTS idempotency_keys ("
    " tenant_id TEXT NOT NULL,"
    " idempotency_key TEXT NOT NULL,"
    " request_sha256 TEXT NOT NULL,"
    " status INTEGER NOT NULL,"
    " response TEXT NOT NULL,"
    " account_id TEXT,"
    " recorded_at {timestamp} NOT NULL,"
    " PRIMARY KEY (idempotency_key, tenant_id))"
)


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """What a retried request with the same key gets back: the original status and body."""

    tenant_id: str
    key: str
    request_sha256: str
    status: int
    response: str
    account_id: str | None
    recorded_at: str


def _rows(kwargs: dict[str, Any]) -> list[tuple[Any, ...]]:
    records: Sequence[IdempotencyRecord] = kwargs.get("idempotency", ())
    return [
        (r.tenant_id, r.key, r.request_sha256, r.status, r.response, r.account_id, r.recorded_at)
        for r in records
    ]


_INSERT = (
    "INSERT INTO idempotency_keys (tenant_id, idempotency_key, request_sha256, status, response,"
    " account_id, recorded_at) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p})"
)


class IdempotentSQLiteRecorder(SQLiteApplicationRecorder):
    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        rows = _rows(kwargs)
        if rows:
            c.executemany(_INSERT.format(p="?"), rows)
        return super()._insert_events(c, stored_events, **kwargs)


class IdempotentPostgresRecorder(PostgresApplicationRecorder):
    def _insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        rows = _rows(kwargs)
        if rows:
            curs.executemany(_INSERT.format(p="%s"), rows)
        super()._insert_events(curs, stored_events, **kwargs)
