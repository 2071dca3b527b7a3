"""The composition root: one place that turns ``Settings`` into running parts.

``bootstrap(settings)`` picks the persistence (embedded SQLite in ``AR_DATA_DIR`` by default,
PostgreSQL when ``AR_DATABASE_URL`` is set), constructs the ``Receivables`` application on it,
and the product's own tables (API keys, read models) in the same database. Tests pass their
own ``Settings``; nothing else reads the environment.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg

from projections.catalogue import read_models
from projections.database import Database
from projections.parking import PARKED_TABLE
from projections.runner import Projector
from services.api_keys import ApiKeys
from services.app import Receivables
from services.documents.run_tables import RUN_TABLES as DOCUMENT_RUN_TABLES
from services.general_ledger import GL_EXPORT_TABLES
from services.relay_positions import POSITIONS_TABLE
from services.remittance_tables import TABLES as REMITTANCE_AND_DEPOSIT_TABLES
from services.settings import Settings


def eventsourcing_env(settings: Settings) -> dict[str, str]:
    """eventsourcing's own settings for the chosen persistence."""
    env = {"CREATE_TABLE": "y"}
    recorder = (
        "services.recorders:IdempotentPostgresRecorder"
        if settings.uses_postgres
        else "services.recorders:IdempotentSQLiteRecorder"
    )
    env["APPLICATION_RECORDER_TOPIC"] = recorder
    if settings.uses_postgres:
        env |= {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            **settings.postgres_parts(),
            "POSTGRES_POOL_SIZE": "4",
            "POSTGRES_MAX_OVERFLOW": "12",
            # How long a request waits for a connection; then the API answers 503.
            "POSTGRES_CONNECT_TIMEOUT": str(settings.database_timeout_seconds),
            # No ping as each connection leaves the pool (0.1 ms a request on loopback): after a
            # restart psycopg_pool backs off 1, 2, 4 s between dead connections it pings, so the
            # first request would wait out the pool. A read that meets a dead connection sweeps
            # the pool instead and runs again (projections.database).
            "POSTGRES_PRE_PING": "n",
            # Off on purpose: in eventsourcing 9.5.6 the database functions mix the tables of
            # applications that share a schema and skip tracking records.
            "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
        }
    else:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        env |= {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(settings.sqlite_path),
            "SQLITE_LOCK_TIMEOUT": "30",
        }
    return env


@dataclass
class Runtime:
    """The running parts one process shares: the application and the product's tables."""

    settings: Settings
    app: Receivables
    keys: ApiKeys

    @property
    def db(self) -> Database:
        """The event store's database, where the product's own tables live too."""
        return self.app.db

    def projector(self, models: list[str] | None = None, *, batch_size: int = 2_000) -> Projector:
        """A projector of the read models named (default all), with this runtime's settings;
        it creates the models' tables where missing, one process at a time."""
        with _one_process_creating_tables(self.settings):
            return Projector(
                self.app,
                self.db,
                read_models(names=models),
                batch_size=batch_size,
                cache_accounts=self.settings.projector_cache_accounts,
            )

    def close(self) -> None:
        self.app.close()


#: The advisory lock a process holds while it creates the product's tables on PostgreSQL.
_CREATING_TABLES = 0x52_65_63_76_54_61_62  # "RecvTab"


@contextmanager
def _one_process_creating_tables(settings: Settings) -> Iterator[None]:
    """Processes started together (``ar serve``, ``ar project``, ``ar relay``) create the same
    tables, types and triggers at start. PostgreSQL's ``CREATE ... IF NOT EXISTS`` is not safe
    against itself (a duplicate in its catalogue, a deadlock between two index creations), so
    on PostgreSQL one process creates while the others wait; SQLite's own lock does the same."""
    if not settings.uses_postgres:
        yield
        return
    with psycopg.connect(
        settings.postgres_conninfo(),
        connect_timeout=settings.database_timeout_seconds,
        autocommit=True,
    ) as connection:
        connection.execute("SELECT pg_advisory_lock(%s)", (_CREATING_TABLES,))
        yield  # the lock ends with the session


def bootstrap(settings: Settings | None = None) -> Runtime:
    settings = settings or Settings()
    with _one_process_creating_tables(settings):
        app = Receivables(env=eventsourcing_env(settings))
        keys = ApiKeys(app.db)
        keys.create_tables()
        app.db.create_tables(
            [
                POSITIONS_TABLE,
                PARKED_TABLE,
                *REMITTANCE_AND_DEPOSIT_TABLES,
                *DOCUMENT_RUN_TABLES,
                *GL_EXPORT_TABLES,
            ]
        )
    return Runtime(settings=settings, app=app, keys=keys)
