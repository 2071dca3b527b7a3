"""Alembic's entry: run the migrations on one connection, in one transaction.

``services.migrations`` passes the connection (``config.attributes["connection"]``); run by
Alembic's own command (a developer's ``alembic -c services/migrations/alembic.ini ...``),
the database is the one the ``AR_*`` settings name. Only online runs: the product's SQL
differs by engine, so there is no one offline script to print.
"""

from __future__ import annotations

from alembic import context

from services.migrations import MIGRATING_LOCK, engine_for
from services.settings import Settings


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        transactional_ddl=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Before the recorded revision is read: a second process waits, then finds the
            # migrations done. Released when the transaction ends.
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATING_LOCK})")
        context.run_migrations()


if context.is_offline_mode():
    msg = "the product's migrations run online only (ar migrate)"
    raise SystemExit(msg)

given = context.config.attributes.get("connection")
if given is not None:
    _run(given)
else:
    engine = engine_for(Settings())
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()
