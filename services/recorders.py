"""Event recorders that also record idempotency keys, in the same transaction as the events.

A command's idempotency key must be on file exactly when its events are: if the events commit,
a retry of the request finds the key and gets the original answer; if they do not, nothing
records the key either. So the key rows are written by the recorder itself, inside the insert
transaction eventsourcing opens for the events (``save(..., idempotency=[...])``). A key that
is already on file makes the insert fail as a whole, like a version conflict: nothing is half
written, and the caller looks the key up again.

The store also refuses a version gap. An account's events are numbered 1, 2, 3, … and a reader
replays them in that order, so an event whose predecessor is not on file (written by a writer
that believed in an event it never stored) would make the account unreadable for ever. A
trigger on the events table refuses such an insert as an integrity violation — the same answer
as a version conflict — so the writer reloads the account and tries again, whoever the writer is.

An insert of account events passes ``period_guard`` (each tenant's earliest business date in
it): if a tenant's period barrier (``services.period_barriers``) has been raised over one of
those dates, the insert is refused the same way, and the writer judges its commands again
against the barrier as it now stands.

A writer that needs several accounts at once reads them in one query (``select_histories``):
for each account, its newest snapshot (if it has one) and the events after it — what
eventsourcing's repository reads for one account, in two queries, per account.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor
from psycopg.sql import SQL, Composed, Identifier

from services.period_barriers import breaches


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


@dataclass(slots=True)
class StoredHistory:
    """One aggregate as stored: its newest snapshot (None: it has none) and the events
    after it, in version order."""

    snapshot: StoredEvent | None = None
    events: list[StoredEvent] = field(default_factory=list)


_HISTORIES = (
    # Snapshots first (``is_snapshot`` 1), then the events after each account's newest one.
    "SELECT 1 AS is_snapshot, originator_id, originator_version, topic, state FROM {snapshots} s"
    " WHERE s.originator_id {wanted} AND s.originator_version ="
    "  (SELECT MAX(originator_version) FROM {snapshots} n WHERE n.originator_id = s.originator_id)"
    " UNION ALL"
    " SELECT 0, originator_id, originator_version, topic, state FROM {events} e"
    " WHERE e.originator_id {wanted} AND e.originator_version > COALESCE("
    "  (SELECT MAX(originator_version) FROM {snapshots} n WHERE n.originator_id = e.originator_id),"
    "  0)"
    " ORDER BY originator_id, is_snapshot DESC, originator_version"
)

_EVENTS_ONLY = (
    "SELECT 0 AS is_snapshot, originator_id, originator_version, topic, state FROM {events} e"
    " WHERE e.originator_id {wanted} ORDER BY originator_id, originator_version"
)


def _histories(
    rows: Iterable[Any], originator_id: Callable[[Any], Any], state: Callable[[Any], bytes]
) -> dict[UUID, StoredHistory]:
    """The stored histories in ``rows`` (of ``_HISTORIES`` or ``_EVENTS_ONLY``), by aggregate;
    ``originator_id`` and ``state`` read those columns as the engine stores them."""
    found: dict[UUID, StoredHistory] = {}
    for row in rows:
        stored = StoredEvent(
            originator_id=originator_id(row["originator_id"]),
            originator_version=row["originator_version"],
            topic=row["topic"],
            state=state(row["state"]),
        )
        history = found.setdefault(stored.originator_id, StoredHistory())  # type: ignore[arg-type]
        if row["is_snapshot"]:
            history.snapshot = stored
        else:
            history.events.append(stored)
    return found


def _as_stored(value: Any) -> Any:
    return value


def _rows(kwargs: dict[str, Any]) -> list[tuple[Any, ...]]:
    records: Sequence[IdempotencyRecord] = kwargs.get("idempotency", ())
    return [
        (r.tenant_id, r.key, r.request_sha256, r.status, r.response, r.account_id, r.recorded_at)
        for r in records
    ]


def _check_barriers(cursor: Any, placeholder: str, kwargs: dict[str, Any]) -> None:
    """Refuse, as a conflict, an insert of events dated in a tenant's closed period."""
    breached = breaches(cursor, placeholder, kwargs.get("period_guard", {}))
    if breached:
        msg = f"events dated in a closed period of {', '.join(breached)}"
        raise IntegrityError(msg)


_REFUSE_CLOSED_PERIOD = (
    "DO $$ BEGIN RAISE EXCEPTION 'events dated in a closed period'"
    " USING ERRCODE = 'integrity_constraint_violation'; END $$"
)

_INSERT = (
    "INSERT INTO idempotency_keys (tenant_id, idempotency_key, request_sha256, status, response,"
    " account_id, recorded_at) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p})"
)


class IdempotentSQLiteRecorder(SQLiteApplicationRecorder):
    def construct_create_table_statements(self) -> list[str]:
        table = self.events_table_name  # eventsourcing's own name for the table, not input
        return [
            *super().construct_create_table_statements(),
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_version_gap BEFORE INSERT ON {table}"  # noqa: S608
            " WHEN NEW.originator_version > 1 AND NOT EXISTS ("
            f"  SELECT 1 FROM {table} WHERE originator_id = NEW.originator_id"
            "   AND originator_version = NEW.originator_version - 1)"
            " BEGIN SELECT RAISE(ABORT, 'version gap: the previous version is not on file'); END",
        ]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        rows = _rows(kwargs)
        if rows:
            c.executemany(_INSERT.format(p="?"), rows)
        inserted = super()._insert_events(c, stored_events, **kwargs)
        # After the insert, as on PostgreSQL: the transaction holds SQLite's one write lock by
        # now, so it reads the latest barrier. Read first, the transaction would begin as a
        # reader and, if another connection wrote meanwhile (a read model, a barrier), fail
        # its upgrade to a writer at once with "database is locked" instead of waiting.
        _check_barriers(c, "?", kwargs)
        return inserted

    def select_histories(
        self, originator_ids: Sequence[UUID], snapshots_table: str | None
    ) -> dict[UUID, StoredHistory]:
        """Each aggregate's newest snapshot and the events after it, in one query; an
        aggregate with no events is left out."""
        if not originator_ids:
            return {}
        wanted = "IN (" + ", ".join("?" for _ in originator_ids) + ")"
        template = _EVENTS_ONLY if snapshots_table is None else _HISTORIES
        statement = template.format(
            events=self.events_table_name, snapshots=snapshots_table, wanted=wanted
        )
        ids = [i.hex for i in originator_ids]
        params = ids if snapshots_table is None else ids + ids
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, params)
            rows = c.fetchall()
        return _histories(rows, self.convert_originator_id, _as_stored)


class IdempotentPostgresRecorder(PostgresApplicationRecorder):
    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        schema = Identifier(self.datastore.schema)
        table = Identifier(self.events_table_name)
        self._gap_guard = f"{self.events_table_name}_no_version_gap"
        function = Identifier(self._gap_guard)
        self._insert_columns = SQL(
            "INSERT INTO {table} (originator_id, originator_version, topic, state)"
            " SELECT * FROM unnest(%s::{id_type}[], %s::bigint[], %s::text[], %s::bytea[])"
            " RETURNING notification_id"
        ).format(
            table=Identifier(self.datastore.schema, self.events_table_name),
            id_type=Identifier(self.datastore.originator_id_type),
        )
        self._create_gap_guard = [
            SQL(
                "CREATE OR REPLACE FUNCTION {schema}.{function}() RETURNS trigger"
                " LANGUAGE plpgsql AS $$ BEGIN"
                " IF NEW.originator_version > 1 AND NOT EXISTS ("
                "  SELECT 1 FROM {schema}.{table} WHERE originator_id = NEW.originator_id"
                "   AND originator_version = NEW.originator_version - 1) THEN"
                "  RAISE EXCEPTION 'version gap: % version % follows no version %',"
                "   NEW.originator_id, NEW.originator_version, NEW.originator_version - 1"
                "   USING ERRCODE = 'integrity_constraint_violation';"
                " END IF;"
                " RETURN NEW;"
                " END $$"
            ).format(schema=schema, function=function, table=table),
            SQL(
                "CREATE TRIGGER {trigger} BEFORE INSERT ON {schema}.{table}"
                " FOR EACH ROW EXECUTE FUNCTION {schema}.{function}()"
            ).format(trigger=function, schema=schema, table=table, function=function),
        ]

    def create_table(self) -> None:
        super().create_table()
        # Only where it is missing (a store made before the guard): replacing it at every
        # start would lock the events table against the writers of the processes running.
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                "SELECT 1 FROM pg_trigger WHERE tgname = %s AND tgrelid = %s::regclass",
                (self._gap_guard, f'"{self.datastore.schema}"."{self.events_table_name}"'),
            )
            if curs.fetchone() is None:
                for statement in self._create_gap_guard:
                    curs.execute(statement)

    def _insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        # No server-side prepared statements on a connection that inserts. eventsourcing sends
        # an insert as a psycopg pipeline, and after pipelined inserts had failed (a conflict,
        # a refused save) psycopg could keep a statement name the server no longer held: every
        # later insert on that connection failed with "prepared statement does not exist", as
        # if nothing had been written, so the writer redid its command until it gave up (a
        # seeded simulation under load showed it). The statements of an insert are few and
        # simple; parsing them each time costs the server little next to a command's work.
        curs.connection.prepare_threshold = None
        rows = _rows(kwargs)
        if rows:
            curs.executemany(_INSERT.format(p="%s"), rows)
        super()._insert_events(curs, stored_events, **kwargs)

    def select_histories(
        self, originator_ids: Sequence[UUID], snapshots_table: str | None
    ) -> dict[UUID, StoredHistory]:
        """Each aggregate's newest snapshot and the events after it, in one query; an
        aggregate with no events is left out."""
        if not originator_ids:
            return {}
        template = _EVENTS_ONLY if snapshots_table is None else _HISTORIES
        tables = {"events": Identifier(self.datastore.schema, self.events_table_name)}
        if snapshots_table is not None:
            tables["snapshots"] = Identifier(self.datastore.schema, snapshots_table)
        statement: Composed = SQL(template).format(wanted=SQL("= ANY(%(ids)s)"), **tables)
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, {"ids": list(originator_ids)})
            rows = curs.fetchall()
        return _histories(rows, _as_stored, bytes)

    def _insert_stored_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        # eventsourcing runs ``_insert_events`` before it takes the events table's write lock;
        # this runs after it (the lock is taken here, then the events are inserted), so a
        # barrier raised by a period close is either committed and seen here, or waits for us.
        self._lock_table(curs)
        self._notify_channel(curs)
        # The rows go as four arrays of plain values, not eventsourcing's one array of a
        # composite type, which psycopg writes out as text in Python, value by value: on a
        # busy writer that was a tenth of its time. Same rows, same order, same ids returned.
        curs.execute(
            self._insert_columns,
            (
                [e.originator_id for e in stored_events],
                [e.originator_version for e in stored_events],
                [e.topic for e in stored_events],
                [e.state for e in stored_events],
            ),
        )
        if kwargs.get("period_guard"):
            # A cursor of its own: the insert's cursor still holds the rows eventsourcing reads
            # the notification ids from.
            with curs.connection.cursor() as check:
                breached = breaches(check, "%s", kwargs["period_guard"])
                if breached:
                    # Refused by the server, so the transaction is aborted there: an error
                    # raised here in Python would be caught by eventsourcing after its insert
                    # and the transaction committed all the same.
                    check.execute(_REFUSE_CLOSED_PERIOD)
