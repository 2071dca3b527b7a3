"""The product's own SQL on the event store's database: one way to run it on SQLite and PostgreSQL.

Read models, API keys and relay positions live in the same database as the events, so a view
update and its tracking record, or a key and the events it authorises, can commit together.
``Database`` borrows the event store's connection pool and hides the two differences the
product's SQL meets: placeholders (written ``?``, turned into ``%s`` for psycopg) and how a
table's DDL spells a few types (``{money}``, ``{bigint}``, ``{timestamp}``).

Money columns hold integer minor units (cents for USD, yen for JPY) next to the currency, so
sums are exact on both engines and never pass through float.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore

_PLACEHOLDER = re.compile(r"\?")


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
            }
            if self.is_postgres
            else {
                "money": "INTEGER",
                "bigint": "INTEGER",
                "timestamp": "TEXT",
                "text": "TEXT",
                "date": "TEXT",
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

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        with self.transaction() as c:
            c.execute(self.sql(statement), tuple(params))

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
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
