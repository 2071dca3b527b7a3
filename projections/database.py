"""The product's own SQL on the event store's database: one way to run it on SQLite and PostgreSQL.

Read models, API keys and relay positions live in the same database as the events, so a view
update and its tracking record, or a key and the events it authorises, can commit together.
``Database`` borrows the event store's connection pool and hides the two differences the
product's SQL meets: placeholders (written ``?``, turned into ``%s`` for psycopg) and how a
table's DDL spells a few types (``{money}``, ``{bigint}``, ``{timestamp}``).

Money columns hold integer minor units (cents for USD, yen for JPY) next to the currency, so
sums are exact on both engines and never pass through float.

Rows are written in bulk (``write_rows``): on PostgreSQL a plain ``INSERT`` of many rows goes by
``COPY``, several times quicker than even a pipelined ``executemany``; it refuses a bad row
with the same errors (a broken constraint, a value out of range), so a caller cannot tell the
two apart but by the time taken.

The database can go away. It is *unavailable* (``is_database_unavailable``) when no connection
could be had in time, a pooled connection turned out dead (the server restarted or ended the
session), or the server will not take writes (read-only). Errors come in three dresses:
psycopg's own, eventsourcing's translation of them (``eventsourcing.persistence.
OperationalError`` and kin, psycopg's error as the cause) and SQLite's, whose
``OperationalError`` also covers mistakes in SQL ("no such table"): of SQLite's only a locked,
busy or unopenable database counts. A read that meets a dead pooled connection (after a
PostgreSQL restart every idle one is dead) has the pool check its idle connections, replacing
the dead ones, and runs once more on a fresh connection (``query``). A write is never run twice (it may have
committed): one that meets a dead connection is refused as unavailable. After a restart the
API's key watch has lost its connection too (``services.key_cache``), so requests read their
keys from the table until it listens again, and those reads usually sweep the pool first.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

import psycopg
import psycopg.errors
import psycopg_pool
from eventsourcing import persistence
from eventsourcing.application import Application
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore

_PLACEHOLDER = re.compile(r"\?")
#: ``INSERT INTO table (columns) VALUES (?, ...)``: nothing but placeholders, nothing after.
_PLAIN_INSERT = re.compile(r"INSERT INTO (\S+) \(([^)]*)\) VALUES \(\?(?:, \?)*\)")

_UNAVAILABLE: tuple[type[BaseException], ...] = (
    persistence.OperationalError,
    persistence.InterfaceError,
    psycopg.OperationalError,  # psycopg_pool.PoolTimeout and AdminShutdown among them
    psycopg.InterfaceError,
    psycopg.errors.ReadOnlySqlTransaction,  # an InternalError to psycopg and to eventsourcing
)
_SQLITE_UNAVAILABLE = ("locked", "busy", "unable to open", "disk i/o")


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__
    return chain


def is_database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says the database is away, rather than the request
    or the code being at fault."""
    chain = _causes(exc)
    sqlite_errors = [e for e in chain if isinstance(e, sqlite3.Error)]
    if sqlite_errors:
        message = str(sqlite_errors[-1]).lower()
        return any(word in message for word in _SQLITE_UNAVAILABLE)
    return any(isinstance(e, _UNAVAILABLE) for e in chain)


def is_stale_connection(exc: BaseException) -> bool:
    """Whether ``exc`` came from a pooled connection that was dead: worth one more try. A pool
    that had no connection to give (PoolTimeout) will not have one a moment later either, so
    that is not retried: it would only double the wait."""
    return is_database_unavailable(exc) and not any(
        isinstance(e, psycopg_pool.PoolTimeout) for e in _causes(exc)
    )


def events_table(app: Application[Any]) -> str:
    """The name of ``app``'s events table, as eventsourcing's recorder named it (never input)."""
    table = getattr(app.recorder, "events_table_name", None)
    if not isinstance(table, str):
        msg = f"{type(app.recorder).__name__} keeps its events in no table"
        raise TypeError(msg)
    return table


def stored_moment(moment: datetime) -> str:
    """A moment as the product's tables store it: ISO 8601 in UTC, so it sorts as text on
    SQLite and casts to TIMESTAMPTZ on PostgreSQL. A moment without an offset is UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


class Cursor(Protocol):
    def execute(self, sql: Any, params: Any = ..., /) -> Any: ...
    def executemany(self, sql: Any, params: Any, /) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...

    @property
    def rowcount(self) -> int: ...


class Database:
    """SQL against the datastore an eventsourcing recorder uses, portable between engines."""

    def __init__(self, datastore: SQLiteDatastore | PostgresDatastore) -> None:
        self.datastore = datastore
        self.is_postgres = isinstance(datastore, PostgresDatastore)
        self._types = (
            {
                "money": "BIGINT",
                "bigint": "BIGINT",
                "timestamp": "TIMESTAMPTZ",
                "text": "TEXT",
                "date": "DATE",
                "blob": "BYTEA",
            }
            if self.is_postgres
            else {
                "money": "INTEGER",
                "bigint": "INTEGER",
                "timestamp": "TEXT",
                "text": "TEXT",
                "date": "TEXT",
                "blob": "BLOB",
            }
        )

    def sql(self, statement: str) -> str:
        """The statement in this engine's dialect (placeholders and type names)."""
        if "{" in statement:
            statement = statement.format(**self._types)
        return _PLACEHOLDER.sub("%s", statement) if self.is_postgres else statement

    @contextmanager
    def transaction(self, *, commit: bool = True) -> Iterator[Cursor]:
        with self.datastore.transaction(commit=commit) as cursor:
            # eventsourcing wraps sqlite3's cursor without rowcount; hand out the real one.
            yield cursor.sqlite_cursor if isinstance(cursor, SQLiteCursor) else cursor

    def write_rows(self, c: Cursor, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        """Write ``rows`` with ``statement`` (``?`` placeholders), in order, in ``c``'s
        transaction: by ``COPY`` where the engine has it and the statement is a plain insert."""
        plain = _PLAIN_INSERT.fullmatch(statement)
        if plain is None or not isinstance(c, psycopg.Cursor):
            c.executemany(self.sql(statement), rows)
            return
        table, columns = plain.groups()
        with c.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        with self.transaction() as c:
            c.execute(self.sql(statement), tuple(params))

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """The rows of a read; once more on a fresh connection if the pooled one was dead. Only
        reads are retried: a write whose connection died may have committed."""
        try:
            return self._query(statement, params)
        except Exception as exc:
            if not is_stale_connection(exc):
                raise
        self._discard_dead_connections()
        return self._query(statement, params)

    def _discard_dead_connections(self) -> None:
        # One dead connection in the pool means a restart killed them all: check every idle
        # one now (a round trip each), or the next requests would meet them one by one.
        if isinstance(self.datastore, PostgresDatastore):
            self.datastore.pool.check()

    def _query(self, statement: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        with self.transaction(commit=False) as c:
            c.execute(self.sql(statement), tuple(params))
            return [dict(row) for row in c.fetchall()]

    def query_one(self, statement: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        rows = self.query(statement, params)
        return rows[0] if rows else None

    def create_tables(self, statements: Sequence[str]) -> None:
        with self.transaction() as c:
            for statement in statements:
                c.execute(self.sql(statement))
