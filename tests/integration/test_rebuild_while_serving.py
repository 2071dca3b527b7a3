"""``ar rebuild`` while ``ar serve`` runs: the rebuild has the read models to itself.

A real ``ar serve`` (API and projector in one process) keeps the read models of a few thousand
events current on the real PostgreSQL. ``ar rebuild`` runs three times beside it, as its own
process: each run succeeds and rebuilds from every event (the serving projector stands by
meanwhile instead of racing it), the server keeps answering, and afterwards the serving
projector carries on with new events. ``verify`` then finds the live tables identical to a
rebuild.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.history import record
from projections.catalogue import read_models
from projections.runner import install, read_model_progress
from projections.verify import verify
from services.bootstrap import Runtime, bootstrap
from services.settings import Settings

REBUILDS = 3


@pytest.fixture
def store(fresh_postgres_url: str, tmp_path: Path) -> Iterator[Runtime]:
    runtime = bootstrap(Settings(data_dir=tmp_path, database_url=fresh_postgres_url))  # type: ignore[arg-type]
    yield runtime
    runtime.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _env(url: str, data_dir: Path) -> dict[str, str]:
    return os.environ | {
        "AR_DATABASE_URL": url,
        "AR_DATA_DIR": str(data_dir),
        "AR_BATCH_SIZE": "100",
        "AR_PROJECTOR_POLL_SECONDS": "0.05",
        "AR_LOG_LEVEL": "WARNING",
    }


def _behind(runtime: Runtime) -> int:
    return max(p.behind for p in read_model_progress(runtime.app, runtime.db, read_models()))


def _caught_up(runtime: Runtime, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while _behind(runtime) and time.monotonic() < deadline and server.poll() is None:
        time.sleep(0.1)
    assert server.poll() is None, "ar serve ended"
    assert _behind(runtime) == 0


def test_ar_rebuild_beside_a_running_ar_serve_succeeds_every_time(
    store: Runtime, fresh_postgres_url: str, tmp_path: Path
) -> None:
    head = record(store.app, "acme", accounts=250, commands_each=12)
    assert head > 2_000
    install(store.db, read_models())
    env = _env(fresh_postgres_url, tmp_path)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _caught_up(store, server)
        for _ in range(REBUILDS):
            rebuild = subprocess.run(
                [sys.executable, "-m", "services.cli", "rebuild"],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert rebuild.returncode == 0, rebuild.stderr[-2000:]
            assert f"from {head} events" in rebuild.stdout, rebuild.stdout
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as health:
                assert health.status == 200  # the server answered throughout
        # The serving projector carries on after the rebuilds.
        head = record(store.app, "beta", accounts=20, commands_each=5, seed=11) + head
        _caught_up(store, server)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    result = verify(store.app, store.db)
    assert result.discrepancies == []
    assert result.position == store.app.recorder.max_notification_id()
