"""The composition root: one place that turns ``Settings`` into running parts.

``bootstrap(settings)`` picks the persistence (embedded SQLite in ``AR_DATA_DIR`` by default,
PostgreSQL when ``AR_DATABASE_URL`` is set), constructs the ``Receivables`` application on it,
and brings the product's own tables in the same database to this release's migration
(``services.migrations``; read models are the projector's, made when it starts). Tests pass
their own ``Settings``; nothing else reads the environment.

A start the operator must fix first (a data folder that cannot be written, a database migrated
by a later release) raises ``CannotStart`` with the sentence to print, having stored nothing.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg

from projections.catalogue import read_models
from projections.database import Database
from projections.runner import Projector
from services import migrations
from services.api_keys import ApiKeys
from services.app import Receivables
from services.settings import Settings


class CannotStart(Exception):
    """A start the operator must fix first; the message is the sentence that says how."""


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
        ensure_data_folder(settings)
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
        self.keys.close()
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
    with one_process_at_a_time(settings, _CREATING_TABLES):
        yield


def ensure_data_folder(settings: Settings) -> None:
    """The data folder, made if missing; ``CannotStart`` when it is not a folder this process
    can write (a file, a path under a file, no permission, a read-only disk)."""
    folder = settings.data_dir
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as failure:
        msg = (
            f"the data folder {folder} (AR_DATA_DIR) cannot be made:"
            f" {failure.strerror or failure}. Point AR_DATA_DIR at a folder this process can"
            " write, then start again; nothing was stored."
        )
        raise CannotStart(msg) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        msg = (
            f"the data folder {folder} (AR_DATA_DIR) cannot be written by this process. Give"
            " it write permission or point AR_DATA_DIR elsewhere, then start again; nothing was"
            " stored."
        )
        raise CannotStart(msg)


@contextmanager
def one_process_at_a_time(settings: Settings, lock: int) -> Iterator[None]:
    """Hold ``lock`` against the other processes of this store while the block runs: an
    advisory lock on PostgreSQL (across machines), a lock on the data folder with SQLite."""
    if settings.uses_postgres:
        with psycopg.connect(
            settings.postgres_conninfo(),
            connect_timeout=settings.database_timeout_seconds,
            autocommit=True,
        ) as connection:
            connection.execute("SELECT pg_advisory_lock(%s)", (lock,))
            yield  # the lock ends with the session
        return
    folder = os.open(settings.data_dir, os.O_RDONLY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        yield  # the lock ends when the descriptor is closed
    finally:
        os.close(folder)


def bootstrap(settings: Settings | None = None) -> Runtime:
    settings = settings or Settings()
    with _one_process_creating_tables(settings):
        app = Receivables(env=eventsourcing_env(settings))
        try:
            if migrations.current_revision(app.db) != migrations.HEAD:
                migrations.migrate(settings)
        except migrations.MigrationRefused as refused:
            app.close()
            raise CannotStart(str(refused)) from None
        except BaseException:
            app.close()
            raise
    return Runtime(settings=settings, app=app, keys=ApiKeys(app.db))
