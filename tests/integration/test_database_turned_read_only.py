"""The real PostgreSQL turned read-only under the product, then writable again.

The reproduction from the field: open an account, charge it; make the database read-only and
drop every connection; a payment fails; make it writable and drop the connections again; the
next payment must be answered with the balance the store holds, the failed payment must be
storable by its retry, and the store must hold every version once, without a gap, so that the
account, the read models and ``verify`` all agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from urllib.parse import urlsplit

import psycopg
import pytest
from eventsourcing.persistence import PersistenceError

from domain.account import Account
from domain.money import Money
from projections.verify import verify
from services.bootstrap import Runtime
from tests.support import open_charge_and_pay, payment, run


def _database(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _drop_connections(admin: psycopg.Connection[object], database: str) -> None:
    admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = %s AND pid <> pg_backend_pid()"
        " AND backend_type = 'client backend'",
        (database,),
    )


@pytest.fixture
def admin(postgres_url: str) -> Iterator[psycopg.Connection[object]]:
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        yield connection


def test_a_payment_refused_by_a_read_only_database_leaves_no_trace(
    postgres_runtime: Runtime,
    fresh_postgres_url: str,
    admin: psycopg.Connection[object],
) -> None:
    app = postgres_runtime.app
    database = _database(fresh_postgres_url)
    open_charge_and_pay(app)  # balance 16.50, version 3

    admin.execute(f'ALTER DATABASE "{database}" SET default_transaction_read_only = on')
    _drop_connections(admin, database)
    try:
        with pytest.raises(PersistenceError):
            run(app, payment("3.00", "pay-2", date(2026, 1, 10)), key="K1")
    finally:
        admin.execute(f'ALTER DATABASE "{database}" RESET default_transaction_read_only')
        _drop_connections(admin, database)

    second = run(app, payment("2.00", "pay-3", date(2026, 1, 10)), key="K2")
    assert second.body["balance"] == "14.50"
    assert second.body["version"] == 4
    retried = run(app, payment("3.00", "pay-2", date(2026, 1, 10)), key="K1")
    assert not retried.replayed
    assert retried.body["balance"] == "11.50"

    account_id = Account.id_for("acme", "A-100")
    assert [e.originator_version for e in app.events.get(account_id)] == [1, 2, 3, 4, 5]
    assert app.get_account("acme", "A-100").balance == Money("11.50", "USD")
    postgres_runtime.projector().catch_up()
    rows = postgres_runtime.db.query(
        "SELECT balance_minor FROM account_balances WHERE account_id = ?", [str(account_id)]
    )
    assert [r["balance_minor"] for r in rows] == [1150]
    assert verify(app, postgres_runtime.db).ok
