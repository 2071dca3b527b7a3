"""A running ``ar project`` parks an unreadable account and keeps every other account current.

On the real PostgreSQL, a projector process meets acme's A-1 payment altered by hand: it parks
A-1 and keeps projecting both tenants while new events arrive. ``ar project --status`` names
A-1. Once the bytes are restored, ``ar project --retry-parked`` (its own process, beside the
running projector) brings A-1 back; A-1's next event is projected by the running projector
as usual, and ``verify`` finds the live tables identical to a rebuild.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.history import record
from projections.catalogue import read_models
from projections.parking import parked_accounts
from projections.runner import install, read_model_progress
from projections.verify import verify
from services.bootstrap import Runtime, bootstrap
from services.settings import Settings
from tests.service.test_parked_accounts import A1, TENANT, paid, poisoned, restored, two_tenants


@pytest.fixture
def store(fresh_postgres_url: str, tmp_path: Path) -> Iterator[Runtime]:
    runtime = bootstrap(Settings(data_dir=tmp_path, database_url=fresh_postgres_url))  # type: ignore[arg-type]
    yield runtime
    runtime.close()


def _env(url: str, data_dir: Path) -> dict[str, str]:
    return os.environ | {
        "AR_DATABASE_URL": url,
        "AR_DATA_DIR": str(data_dir),
        "AR_BATCH_SIZE": "50",
        "AR_PROJECTOR_POLL_SECONDS": "0.05",
        "AR_LOG_LEVEL": "WARNING",
    }


def _current(runtime: Runtime, projector: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and projector.poll() is None:
        if max(p.behind for p in read_model_progress(runtime.app, runtime.db, read_models())) == 0:
            return
        time.sleep(0.1)
    pytest.fail("the running projector did not catch up")


def test_a_running_projector_parks_one_account_and_keeps_the_others_current(
    store: Runtime, fresh_postgres_url: str, tmp_path: Path
) -> None:
    install(store.db, read_models())
    env = _env(fresh_postgres_url, tmp_path)
    two_tenants(store)
    poisoned(store)
    projector = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "project"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        record(store.app, "gamma", accounts=60, commands_each=10)  # arrives while it runs
        _current(store, projector)
        assert {row.account_id for row in parked_accounts(store.db)} == {A1}
        balances = store.db.query("SELECT count(*) AS n FROM account_balances")
        assert balances[0]["n"] == 63  # every account has its row, A-1's frozen

        status = subprocess.run(
            [sys.executable, "-m", "services.cli", "project", "--status"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        # The parked table's columns: consumer, account, tenant, ...
        assert [A1, TENANT] in [line.split()[1:3] for line in status.stdout.splitlines()]

        restored(store)
        retried = subprocess.run(
            [sys.executable, "-m", "services.cli", "project", "--retry-parked", f"{TENANT}/A-1"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert retried.returncode == 0, retried.stderr[-2000:]
        assert parked_accounts(store.db) == []
        paid(store, "5.00", "p-5")
        _current(store, projector)
        row = store.db.query_one(
            "SELECT balance_minor, last_version FROM account_balances WHERE account_id = ?", (A1,)
        )
        assert row is not None
        assert (row["balance_minor"], row["last_version"]) == (4500, 6)
    finally:
        projector.send_signal(signal.SIGTERM)
        projector.wait(timeout=30)
    assert projector.returncode == 0
    result = verify(store.app, store.db)
    assert result.discrepancies == []
