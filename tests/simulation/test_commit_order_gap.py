"""A position held open while later writers wait: the projector and the relay skip nothing.

On PostgreSQL an event's position (notification id) comes from a sequence when it is
inserted, not when it commits. If a transaction holding position p stayed open while a later
one (p + 1) committed, a follower reading the log would pass p + 1 and never come back for p:
the event would be missing from every read model and from the topic for good.

The product's recorder (eventsourcing's ``PostgresApplicationRecorder``) makes this impossible
today: each insert first takes ``LOCK TABLE ... IN EXCLUSIVE MODE`` and holds it until commit,
so positions are handed out in commit order. These tests keep it so, through the product's own
write path: a save is paused inside its transaction, after its insert and before its commit;
a second application instance's save must then wait on the lock (seen in ``pg_stat_activity``,
not guessed from timing), the projector and the relay must find nothing new, and once both
commit they must take both events, the held one first.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest

from projections.catalogue import read_models
from projections.runner import Projector
from services.app import Receivables
from services.bootstrap import Runtime, bootstrap, eventsourcing_env
from services.relay import Relay
from services.settings import Settings
from tests.simulation.topic import read_topic
from tests.support import CLERK, charge, run

pytestmark = pytest.mark.integration

#: Generous bounds on waiting for a condition; the tests never assert on how long anything took.
WAIT_SECONDS = 60.0


@pytest.fixture
def gap_settings(
    fresh_postgres_url: str, kafka_bootstrap: str, kafka_topic: str, tmp_path: Path
) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=fresh_postgres_url,
        kafka_bootstrap=kafka_bootstrap,
        kafka_topic=kafka_topic,
        log_level="WARNING",
    )


@pytest.fixture
def writers(gap_settings: Settings) -> Iterator[tuple[Runtime, Receivables]]:
    runtime = bootstrap(gap_settings)
    second = Receivables(env=eventsourcing_env(gap_settings))
    for app, number in ((runtime.app, "A-1"), (second, "A-2")):
        app.open_account(
            tenant_id="acme",
            account_number=number,
            name="Ann",
            currency="USD",
            opened_on=date(2026, 1, 1),
            meta=CLERK,
        )
    yield runtime, second
    second.close()
    runtime.close()


class _HeldOpen:
    """Pauses the next save of ``app`` inside its transaction, after its insert, before commit."""

    def __init__(self, app: Receivables) -> None:
        recorder: Any = app.recorder
        self.inserted = threading.Event()
        self.release = threading.Event()
        # Called inside the insert's transaction, once the rows are in: the position is taken.
        original = recorder._fetch_ids_after_insert_events

        def paused(*args: Any, **kwargs: Any) -> Any:
            recorder._fetch_ids_after_insert_events = original  # only once
            self.inserted.set()
            assert self.release.wait(WAIT_SECONDS), "the test never released the held save"
            return original(*args, **kwargs)

        recorder._fetch_ids_after_insert_events = paused


def _in_thread(target: Any) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def body() -> None:
        try:
            target()
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    return thread, errors


def _wait_for_lock_waiter(url: str) -> None:
    """Until a backend of the database waits on a lock (the second writer at LOCK TABLE)."""
    with psycopg.connect(url, autocommit=True) as conn:
        stop = threading.Event()
        for _ in range(int(WAIT_SECONDS / 0.05)):
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()
            if row and row[0] > 0:
                return
            stop.wait(0.05)
    pytest.fail("the second writer never waited on the events table's lock")


def _positions(runtime: Runtime) -> dict[str, int]:
    table = runtime.app.recorder.events_table_name  # type: ignore[attr-defined]
    rows = runtime.db.query(
        f"SELECT originator_id, notification_id FROM {table} WHERE originator_version = 2"
    )
    return {str(r["originator_id"]): int(r["notification_id"]) for r in rows}


def test_a_held_position_makes_later_writers_wait_and_no_follower_skips_it(
    writers: tuple[Runtime, Receivables], gap_settings: Settings
) -> None:
    runtime, second = writers
    projector = Projector(runtime.app, runtime.db, read_models())
    relay = Relay(runtime)
    relay.ensure_topic()
    projector.catch_up()
    assert relay.publish_pending() == 2  # the two openings
    url = gap_settings.database_url.get_secret_value()  # type: ignore[union-attr]

    held = _HeldOpen(runtime.app)
    first, first_errors = _in_thread(
        lambda: run(runtime.app, charge("ch-1", on=date(2026, 1, 2), code="LAB"), "A-1", "acme")
    )
    assert held.inserted.wait(WAIT_SECONDS), "the first save never reached its insert"
    later, later_errors = _in_thread(
        lambda: run(second, charge("ch-2", on=date(2026, 1, 2), code="LAB"), "A-2", "acme")
    )
    try:
        _wait_for_lock_waiter(url)
        # Position p is taken and uncommitted, p + 1 cannot be taken: nothing to follow yet.
        assert projector.catch_up() == 0
        assert relay.publish_pending() == 0
    finally:
        held.release.set()
        first.join(WAIT_SECONDS)
        later.join(WAIT_SECONDS)
    assert not first_errors
    assert not later_errors

    held_position, later_position = (
        _positions(runtime)[str(runtime.app.get_account("acme", n).id)] for n in ("A-1", "A-2")
    )
    assert held_position < later_position
    assert projector.catch_up() == 2
    assert relay.publish_pending() == 2
    relay.close()

    balances = {
        r["account_number"]: (int(r["charged_minor"]), int(r["last_version"]))
        for r in runtime.db.query(
            "SELECT account_number, charged_minor, last_version FROM account_balances"
        )
    }
    assert balances == {"A-1": (1000, 2), "A-2": (1000, 2)}
    published = [
        (value["account_id"], value["account_version"], value["position"])
        for _, _, value in read_topic(gap_settings.kafka_bootstrap, gap_settings.kafka_topic)
    ]
    assert sorted(p for _, v, p in published if v == 2) == [held_position, later_position]
    assert len(published) == len(set(published)) == 4
