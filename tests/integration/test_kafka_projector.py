"""Reporting read models built from the Kafka topic by a consumer group, exactly once.

A recorded history is published by the relay to a fresh topic on the real broker; members of a
reporting group (``projections.kafka_projector``) build the read models into a reporting
database of their own, and every read-model table must then equal, row for row, the tables the
store-following projector builds from the event store.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
from kafka import KafkaProducer
from pydantic import SecretStr

from bench.history import record
from bench.scratch import scratch_database
from projections.catalogue import read_models
from projections.database import Database
from projections.kafka_projector import (
    KafkaProjector,
    behind,
    install_reporting,
    tracked_offsets,
)
from projections.runner import Projector
from services.bootstrap import Runtime, bootstrap
from services.envelope import encode, envelope
from services.relay import Relay
from services.settings import Settings

DEADLINE_SECONDS = 60
KILLS = 1


@pytest.fixture
def reporting_url(postgres_url: str) -> Iterator[str]:
    with scratch_database(postgres_url, "reporting") as url:
        yield url


@pytest.fixture
def reporting(reporting_url: str, kafka_settings: Settings, tmp_path: Path) -> Iterator[Runtime]:
    runtime = bootstrap(
        kafka_settings.model_copy(
            update={"database_url": SecretStr(reporting_url), "data_dir": tmp_path / "reporting"}
        )
    )
    yield runtime
    runtime.close()


def _publish(store: Runtime) -> None:
    relay = Relay(store, batch_size=500)
    relay.ensure_topic()
    relay.learn_published()
    while relay.publish_pending():
        pass
    relay.close()


def _tables(db: Database) -> dict[str, list[tuple[str, ...]]]:
    """Every read-model table's rows, as text, in a stable order."""
    return {
        table: sorted(
            tuple(str(v) for v in row.values()) for row in db.query(f"SELECT * FROM {table}")
        )
        for model in read_models()
        for table in model.table_names
    }


def _built_from_the_store(store: Runtime) -> dict[str, list[tuple[str, ...]]]:
    Projector(store.app, store.db, read_models()).catch_up()
    return _tables(store.db)


def _wait_until(done: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not done():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _forge_the_next_event(store: Runtime, settings: Settings) -> str:
    """Publish, after the history, a record of the last account's next version that is its
    last event re-dated: it does not hash to its event_hash. The account's id."""
    last = store.app.recorder.select_notifications(
        start=store.app.recorder.max_notification_id() or 0, limit=1
    )[0]
    forged = envelope(
        store.app.mapper.to_domain_event(last), tenant_id="acme", position=last.id + 1
    )
    forged["account_version"] += 1
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    producer.send(settings.kafka_topic, key=forged["account_id"].encode(), value=encode(forged))
    producer.flush()
    producer.close()
    return str(forged["account_id"])


def test_two_members_of_a_group_build_the_read_models_the_store_projector_builds(
    kafka_runtime: Runtime, reporting: Runtime, kafka_settings: Settings
) -> None:
    """... and a record that is not the faithful form of an event parks its account, whose
    rows stay as its true events left them."""
    store = kafka_runtime
    record(store.app, "acme", accounts=40, commands_each=8)
    Relay(store).ensure_topic()
    group = f"reporting-{uuid.uuid4().hex[:8]}"
    members = [
        KafkaProjector(
            reporting.db,
            read_models(),
            bootstrap_servers=kafka_settings.kafka_bootstrap,
            topic=kafka_settings.kafka_topic,
            group=group,
            batch_size=50,
        )
        for _ in range(2)
    ]
    stop = threading.Event()
    threads = [threading.Thread(target=m.run, args=(stop,)) for m in members]
    for thread in threads:
        thread.start()
    try:
        # Both own partitions before anything is published, so both have work to do.
        every_partition = list(range(kafka_settings.kafka_partitions))
        _wait_until(
            lambda: (
                all(m.owned() for m in members)
                and sorted(p for m in members for p in m.owned()) == every_partition
            ),
            "the group never settled",
        )
        _publish(store)
        forged_account = _forge_the_next_event(store, kafka_settings)
        _wait_until(
            lambda: (
                behind(reporting.db, kafka_settings.kafka_bootstrap, kafka_settings.kafka_topic)
                == 0
            ),
            "the members never caught up",
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        for member in members:
            member.close()
    assert all(member.applied > 0 for member in members)
    expected = _built_from_the_store(store)
    assert len(expected["account_balances"]) == 40
    assert _tables(reporting.db) == expected
    parked = reporting.db.query("SELECT consumer, account_id, error FROM parked_accounts")
    assert [(p["consumer"], p["account_id"]) for p in parked] == [
        ("kafka-projector", forged_account)
    ]
    assert "does not hash to its event_hash" in parked[0]["error"]


def _more_than(count: Callable[[], int], before: int) -> bool:
    return count() > before


def _member(reporting_url: str, settings: Settings, group: str) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "AR_REPORTING_DATABASE_URL": reporting_url,
        "AR_DATA_DIR": str(settings.data_dir),
        "AR_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "AR_KAFKA_TOPIC": settings.kafka_topic,
        "AR_BATCH_SIZE": "10",
        "AR_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "services.cli", "project", "--from-kafka", "--group", group,
         "--member", "member-1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def test_a_member_killed_mid_batch_loses_and_duplicates_nothing(
    kafka_runtime: Runtime, reporting: Runtime, reporting_url: str, kafka_settings: Settings
) -> None:
    store = kafka_runtime
    record(store.app, "acme", accounts=40, commands_each=8)
    _publish(store)
    install_reporting(reporting.db, read_models())
    group = f"reporting-{uuid.uuid4().hex[:8]}"
    topic, servers = kafka_settings.kafka_topic, kafka_settings.kafka_bootstrap

    def applied() -> int:
        return sum(o + 1 for o in tracked_offsets(reporting.db, topic).values())

    rng = random.Random(19)
    killed_behind = []
    for _ in range(KILLS):
        before = applied()
        process = _member(reporting_url, kafka_settings, group)
        # Kill it while it works: once it has committed a batch, at a random moment after.
        _wait_until(partial(_more_than, applied, before), "the member never committed a batch")
        time.sleep(rng.uniform(0, 0.2))
        process.send_signal(signal.SIGKILL)
        process.wait()
        killed_behind.append(behind(reporting.db, servers, topic))
    # Every kill landed while there was still work to do, not after it was done.
    assert min(killed_behind) > 0, killed_behind
    process = _member(reporting_url, kafka_settings, group)
    try:
        _wait_until(lambda: behind(reporting.db, servers, topic) == 0, "never caught up")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert process.returncode == 0
    assert _tables(reporting.db) == _built_from_the_store(store)
