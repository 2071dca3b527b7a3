"""``ar rebuild`` beside a running projector: the rebuild has the read models to itself.

A projector keeps the read models current in a thread (as inside ``ar serve``) on the embedded
SQLite (file locks) and on PostgreSQL (advisory locks). ``ar rebuild`` runs three times beside
it: each run rebuilds from every event while the projector stands by, and the projector
carries on afterwards. (``tests/integration/test_rebuild_while_serving.py`` does the same with
real ``ar serve`` and ``ar rebuild`` processes.)
"""

from __future__ import annotations

import threading

import pytest
from typer.testing import CliRunner

from bench.history import record
from projections.catalogue import read_models
from projections.runner import Projector, read_model_progress
from projections.verify import verify
from services.bootstrap import Runtime
from services.cli import app as cli
from tests.service.test_verify_and_explain import same_store


def test_ar_rebuild_beside_a_running_projector_succeeds_and_the_projector_carries_on(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    same_store(runtime, monkeypatch)
    head = record(runtime.app, "acme", accounts=40, commands_each=10)
    running = Projector(runtime.app, runtime.db, read_models(), batch_size=20)
    stop = threading.Event()
    worker = threading.Thread(target=running.run, args=(stop, 0.01), daemon=True)
    worker.start()
    try:
        for _ in range(3):
            rebuilt = CliRunner().invoke(cli, ["rebuild"])
            assert rebuilt.exit_code == 0, rebuilt.output
            assert f"from {head} events" in rebuilt.stdout
        head += record(runtime.app, "beta", accounts=5, commands_each=5)
        # The running projector picks up the new events; wait for it through the stop event.
        while max(p.behind for p in read_model_progress(runtime.app, runtime.db, read_models())):
            assert worker.is_alive()
            stop.wait(0.05)
    finally:
        stop.set()
        worker.join(timeout=30)
    assert verify(runtime.app, runtime.db).discrepancies == []
