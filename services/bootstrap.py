"""The composition root: one place that turns ``Settings`` into running parts.

``bootstrap(settings)`` picks the persistence (embedded SQLite in ``AR_DATA_DIR`` by default,
PostgreSQL when ``AR_DATABASE_URL`` is set), constructs the ``Receivables`` application on it,
and the product's own tables (API keys, read models) in the same database. Tests pass their
own ``Settings``; nothing else reads the environment.
"""

from __future__ import annotations

from dataclasses import dataclass

from projections.catalogue import read_models
from projections.database import Database
from projections.runner import Projector
from services.api_keys import ApiKeys
from services.app import Receivables
from services.relay_positions import POSITIONS_TABLE
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
            "POSTGRES_CONNECT_TIMEOUT": "10",
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
        """A projector of the read models named (default all), with this runtime's settings."""
        return Projector(
            self.app,
            self.db,
            read_models(names=models),
            batch_size=batch_size,
            cache_accounts=self.settings.projector_cache_accounts,
        )

    def close(self) -> None:
        self.app.close()


def bootstrap(settings: Settings | None = None) -> Runtime:
    settings = settings or Settings()
    app = Receivables(env=eventsourcing_env(settings))
    keys = ApiKeys(app.db)
    keys.create_tables()
    app.db.create_tables([POSITIONS_TABLE])
    return Runtime(settings=settings, app=app, keys=keys)
