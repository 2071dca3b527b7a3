"""A projector killed mid-batch neither loses nor double-counts an event.

``ar project`` runs as its own process against the real PostgreSQL and is killed with
SIGKILL at seeded random moments while it works through a recorded history in small
batches. After the last restart has caught up, ``verify`` rebuilds every read model from the
events and compares: the live tables must be identical to the rebuild.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.history import record
from projections.catalogue import read_models
from projections.runner import install, read_model_progress
from projections.verify import verify
from services.bootstrap import Runtime, bootstrap
from services.settings import Settings

KILLS = 6


@pytest.fixture
def store(fresh_postgres_url: str, tmp_path: Path) -> Iterator[Runtime]:
    runtime = bootstrap(Settings(data_dir=tmp_path, database_url=fresh_postgres_url))  # type: ignore[arg-type]
    yield runtime
    runtime.close()


def _projector(url: str, data_dir: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "AR_DATABASE_URL": url,
        "AR_DATA_DIR": str(data_dir),
        "AR_BATCH_SIZE": "40",
        "AR_PROJECTOR_POLL_SECONDS": "0.05",
        "AR_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "services.cli", "project"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _position(runtime: Runtime) -> int:
    return min(p.position for p in read_model_progress(runtime.app, runtime.db, read_models()))


def _behind(runtime: Runtime) -> int:
    return max(p.behind for p in read_model_progress(runtime.app, runtime.db, read_models()))


def test_a_projector_killed_at_random_moments_ends_identical_to_a_rebuild(
    store: Runtime, fresh_postgres_url: str, tmp_path: Path
) -> None:
    head = record(store.app, "acme", accounts=300, commands_each=12)
    install(store.db, read_models())
    rng = random.Random(5)
    killed_behind = []
    for _ in range(KILLS):
        before = _position(store)
        process = _projector(fresh_postgres_url, tmp_path)
        # Kill it while it works: once it has committed a batch, at a random moment after.
        deadline = time.monotonic() + 60
        while _position(store) == before and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.3))
        process.send_signal(signal.SIGKILL)
        process.wait()
        killed_behind.append(_behind(store))
    # Every kill landed while there was still work to do, not after it was done.
    assert min(killed_behind) > 0, killed_behind
    process = _projector(fresh_postgres_url, tmp_path)
    try:
        deadline = time.monotonic() + 120
        while _behind(store) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _behind(store) == 0
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert process.returncode == 0
    result = verify(store.app, store.db)
    assert result.discrepancies == []
    assert (result.events, result.position) == (head, head)
