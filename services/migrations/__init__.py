"""Versioned migrations of the product's own tables, with Alembic.

The product's own tables — API keys, idempotency keys, tenants, period barriers, the relay's
positions, the projector's tracking, versions and parked accounts, document runs, remittances
and deposits, general-ledger exports — are made and changed only by the numbered migrations
in ``versions/``, run in order; the database records the last one run in ``alembic_version``.
Every process runs what is missing as it starts (``services.bootstrap``), and ``ar migrate``
does it on its own (``--status`` says where the database stands without changing it).

Not here: the event store's tables (eventsourcing makes them) and the read models. A read
model keeps a version of its own (``projection_versions``): one whose version changed is
dropped and rebuilt from the events by the projector, which loses nothing, since the events
are the record.

Invariants:

- a released migration is never edited; a change is a new migration. Its SQL is written out
  in it, never imported from the module that uses the table (that module changes, history
  must not);
- one run is one transaction (PostgreSQL; SQLite through ``BEGIN IMMEDIATE``): a run that
  fails leaves the tables, and the recorded revision, as they were;
- one process migrates at a time: PostgreSQL by a transaction's advisory lock, SQLite by its
  write lock, both taken before the recorded revision is read;
- SQLite alters little in place: a migration changes a table with ``op.batch_alter_table``
  (a copy, then a move), which ``env.py`` turns on for SQLite;
- the first migration, ``0001``, makes the tables exactly as the releases before migrations
  made them, each ``IF NOT EXISTS``: a store of such a release keeps its tables and rows and
  is recorded as at ``0001``;
- a database at a revision this code does not know (made by a later release) is refused,
  not touched.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

from projections.database import Database
from services.settings import Settings

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection

#: The newest migration of this release: a database recorded at it needs nothing run, which
#: a start finds out with one query, without loading Alembic.
HEAD = "0002"
#: Alembic's table of the revision a database is at.
VERSION_TABLE = "alembic_version"
#: The transaction's advisory lock a run holds on PostgreSQL (ASCII "RecvMig").
MIGRATING_LOCK = 0x52_65_63_76_4D_69_67

SCRIPTS = Path(__file__).resolve().parent


class MigrationRefused(Exception):
    """The database cannot be brought to this release's tables; the message says why."""


@dataclass(frozen=True)
class Migration:
    revision: str
    what: str


@dataclass(frozen=True)
class MigrationStatus:
    """Where a database stands: ``current`` is None before the first migration."""

    current: str | None
    head: str
    pending: list[Migration]

    @property
    def up_to_date(self) -> bool:
        return not self.pending


def current_revision(db: Database) -> str | None:
    """The revision the database records, read on the store's own connection (no Alembic)."""
    exists = (
        "SELECT to_regclass('alembic_version') IS NOT NULL AS found"
        if db.is_postgres
        else "SELECT count(*) > 0 AS found FROM sqlite_master"
        " WHERE type = 'table' AND name = 'alembic_version'"
    )
    found = db.query_one(exists)
    if found is None or not found["found"]:
        return None
    row = db.query_one("SELECT version_num FROM alembic_version")
    return None if row is None else str(row["version_num"])


def migrate(settings: Settings) -> MigrationStatus:
    """Run every migration the database has not had; where it stood before."""
    from alembic import command

    before = status(settings)
    if before.pending:
        with _connection(settings) as connection:
            config = _config(connection)
            command.upgrade(config, "head")
    return before


def status(settings: Settings) -> MigrationStatus:
    """The recorded revision and the migrations still to run, without changing anything."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    with _connection(settings) as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    scripts = ScriptDirectory.from_config(_config(None))
    known = {script.revision for script in scripts.walk_revisions()}
    if current is not None and current not in known:
        msg = (
            f"the database's product tables are at migration {current}, which this release"
            f" does not know (its newest is {scripts.get_current_head()}): it was migrated by"
            " a later release; run that release, or restore a backup made before it"
        )
        raise MigrationRefused(msg)
    pending = [
        Migration(script.revision, (script.doc or "").strip().splitlines()[0])
        for script in scripts.iterate_revisions("head", current or "base")
        if script.revision != current
    ]
    return MigrationStatus(
        current=current, head=str(scripts.get_current_head()), pending=pending[::-1]
    )


def _config(connection: Connection | None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    config.attributes["connection"] = connection
    return config


@contextmanager
def _connection(settings: Settings) -> Iterator[Connection]:
    engine = engine_for(settings)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def engine_for(settings: Settings):  # type: ignore[no-untyped-def]  # sqlalchemy imported here
    """A SQLAlchemy engine on the store's database, for Alembic only (the product's own SQL
    goes through ``projections.database``). On SQLite a transaction begins with ``BEGIN
    IMMEDIATE``, so that DDL is transactional and the write lock is held from the start."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.pool import NullPool

    if settings.uses_postgres:
        conninfo = settings.postgres_conninfo()
        timeout = settings.database_timeout_seconds
        return create_engine(
            "postgresql+psycopg://",
            creator=lambda: psycopg.connect(conninfo, connect_timeout=timeout),
            poolclass=NullPool,
        )
    engine = create_engine(
        f"sqlite:///{settings.sqlite_path}", connect_args={"timeout": 30}, poolclass=NullPool
    )

    @event.listens_for(engine, "connect")
    def _no_implicit_transactions(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # pysqlite would not begin before DDL

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection):  # type: ignore[no-untyped-def]
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
