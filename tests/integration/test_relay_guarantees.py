"""The relay's guarantees on the real broker: every event once, in order per account, through
kills, a broker outage and a second relay started by mistake.

Histories are recorded through the application (``bench.history``: charges, invoices and
partial payments over many accounts); the topic is read back whole with a plain consumer.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from kafka import KafkaConsumer, TopicPartition

from bench.history import record
from services.bootstrap import Runtime
from services.commands import PostCharge
from services.envelope import SCHEMA_VERSION
from services.event_contract import validate
from services.relay import LockLost, Relay
from services.relay_lock import AdvisoryLock, FileLock
from services.relay_positions import relay_position
from services.settings import Settings
from tests.support import CLERK

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "schemas/events" / f"v{SCHEMA_VERSION}"


@dataclass(frozen=True)
class Published:
    partition: int
    offset: int
    key: str
    headers: dict[str, str]
    value: dict[str, Any]


def read_topic(bootstrap_servers: str, topic: str) -> list[Published]:
    """Every record of the topic, partition by partition, in offset order."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    try:
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        found: list[Published] = []
        deadline = time.monotonic() + 60
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            assert time.monotonic() < deadline, "the topic could not be read back in time"
            for tp, records in consumer.poll(timeout_ms=500).items():
                found += [
                    Published(
                        tp.partition,
                        r.offset,
                        r.key.decode(),
                        {k: v.decode() for k, v in r.headers},
                        json.loads(r.value),
                    )
                    for r in records
                ]
        return sorted(found, key=lambda p: (p.partition, p.offset))
    finally:
        consumer.close()


def assert_every_event_once_in_order(records: list[Published], head: int) -> int:
    """Every position 1..head is there, each account's events in version order in one
    partition; returns how many duplicates there were (each the same event as its original)."""
    first: dict[str, Published] = {}
    by_account: dict[str, list[Published]] = defaultdict(list)
    for published in records:
        event_id = published.value["event_id"]
        if event_id in first:
            assert published.value == first[event_id].value  # a duplicate is the same event
            continue
        first[event_id] = published
        by_account[published.key].append(published)
    assert sorted(p.value["position"] for p in first.values()) == list(range(1, head + 1))
    for account, published in by_account.items():
        assert len({p.partition for p in published}) == 1, account
        assert [p.value["account_version"] for p in published] == list(
            range(1, len(published) + 1)
        ), account
    return len(records) - len(first)


def publish_all(relay: Relay) -> None:
    relay.ensure_topic()
    while relay.publish_pending():
        pass


def test_ten_thousand_events_of_five_hundred_accounts_are_each_published_once_in_order(
    kafka_runtime: Runtime, kafka_bootstrap: str, kafka_topic: str
) -> None:
    head = record(kafka_runtime.app, "acme", accounts=500, commands_each=19)
    assert head >= 10_000  # 10,000 commands; payment plans add events of their own
    relay = Relay(kafka_runtime)
    publish_all(relay)
    relay.close()
    records = read_topic(kafka_bootstrap, kafka_topic)
    assert len(records) == head
    assert assert_every_event_once_in_order(records, head) == 0
    assert relay_position(kafka_runtime.db) == head
    validators: dict[str, Draft202012Validator] = {}
    for published in records:
        kind = published.value["type"]
        if kind not in validators:
            schema = json.loads((SCHEMAS / f"{kind}.json").read_text())
            validators[kind] = Draft202012Validator(
                schema, format_checker=Draft202012Validator.FORMAT_CHECKER
            )
        validators[kind].validate(published.value)  # the committed JSON Schema of its type
        validate(published.value)  # and the pydantic model it was exported from
    assert set(validators) >= {
        "Opened",
        "ChargePosted",
        "InvoiceIssued",
        "PaymentReceived",
        "CreditNoteIssued",
        "PaymentPlanAgreed",
        "PlanInstallmentPaid",
    }
    one = records[0]
    assert one.headers["event_id"] == one.value["event_id"]
    assert one.headers["position"] == str(one.value["position"])
    assert one.headers["account_version"] == str(one.value["account_version"])
    assert one.headers["tenant_id"] == "acme"


def test_a_relay_that_died_after_the_ack_but_before_its_bookkeeping_does_not_publish_again(
    kafka_runtime: Runtime, kafka_bootstrap: str, kafka_topic: str
) -> None:
    head = record(kafka_runtime.app, "acme", accounts=20, commands_each=5)
    relay = Relay(kafka_runtime, batch_size=1_000)
    relay.ensure_topic()
    # Publish everything but "die" before recording the position: the broker has it all.
    relay._record_position = lambda _position: None  # type: ignore[method-assign]
    assert relay.publish_pending() == head
    relay.close()
    assert relay_position(kafka_runtime.db) == 0

    restarted = Relay(kafka_runtime, batch_size=1_000)
    assert restarted.publish_pending() == head
    restarted.close()
    assert restarted.skipped == head
    assert relay_position(kafka_runtime.db) == head
    records = read_topic(kafka_bootstrap, kafka_topic)
    assert assert_every_event_once_in_order(records, head) == 0


def _relay_process(settings: Settings, batch_size: int) -> subprocess.Popen[bytes]:
    assert settings.database_url is not None
    env = os.environ | {
        "AR_DATABASE_URL": settings.database_url.get_secret_value(),
        "AR_DATA_DIR": str(settings.data_dir),
        "AR_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "AR_KAFKA_TOPIC": settings.kafka_topic,
        "AR_BATCH_SIZE": str(batch_size),
        "AR_RELAY_POLL_SECONDS": "0.05",
        "AR_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "services.cli", "relay"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_a_relay_killed_twenty_times_while_publishing_loses_nothing_and_keeps_order(
    kafka_runtime: Runtime, kafka_settings: Settings, kafka_bootstrap: str, kafka_topic: str
) -> None:
    head = record(kafka_runtime.app, "acme", accounts=300, commands_each=15)
    rng = random.Random(11)
    for _ in range(20):
        before = relay_position(kafka_runtime.db)
        process = _relay_process(kafka_settings, batch_size=25)
        deadline = time.monotonic() + 60
        while relay_position(kafka_runtime.db) == before and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.05))
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert relay_position(kafka_runtime.db) < head, "the kills should land while there is work left"
    process = _relay_process(kafka_settings, batch_size=500)
    try:
        deadline = time.monotonic() + 120
        while relay_position(kafka_runtime.db) < head and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert relay_position(kafka_runtime.db) == head
    duplicates = assert_every_event_once_in_order(read_topic(kafka_bootstrap, kafka_topic), head)
    assert duplicates == 0


def _kafka(command: str) -> None:
    subprocess.run(
        [str(REPO / "deploy/local/kafka.sh"), command],
        check=True,
        capture_output=True,
        timeout=180,
    )


def test_a_broker_outage_under_load_fails_no_command_and_loses_no_event(
    kafka_runtime: Runtime, kafka_bootstrap: str, kafka_topic: str
) -> None:
    record(kafka_runtime.app, "acme", accounts=50, commands_each=2)
    relay = Relay(kafka_runtime, batch_size=200)
    relay.ensure_topic()
    stop_relay, stop_load = threading.Event(), threading.Event()
    failures: list[BaseException] = []
    sent = [0]

    def load() -> None:
        while not stop_load.is_set():
            number = f"C0-{sent[0] % 50}"
            try:
                kafka_runtime.app.execute(
                    tenant_id="acme",
                    account_number=number,
                    command=PostCharge(
                        charge_id=f"outage-{sent[0]}",
                        code="LAB",
                        description="Lab",
                        quantity=Decimal(1),
                        unit_price=Decimal("12.50"),
                        service_date=date(2026, 2, 1),
                    ),
                    meta=CLERK,
                )
            except BaseException as error:
                failures.append(error)
            sent[0] += 1
            time.sleep(0.005)

    loader = threading.Thread(target=load)
    publisher = threading.Thread(target=relay.run, args=(stop_relay,))
    loader.start()
    publisher.start()
    try:
        time.sleep(1)
        _kafka("stop")
        during = sent[0]
        time.sleep(4)
        assert sent[0] > during, "commands kept being accepted while the broker was down"
    finally:
        _kafka("start")
    time.sleep(1)
    stop_load.set()
    loader.join()
    head = kafka_runtime.app.recorder.max_notification_id() or 0
    deadline = time.monotonic() + 120
    while relay_position(kafka_runtime.db) < head and time.monotonic() < deadline:
        time.sleep(0.2)
    stop_relay.set()
    publisher.join(timeout=60)
    assert failures == []
    assert relay_position(kafka_runtime.db) == head
    records = read_topic(kafka_bootstrap, kafka_topic)
    assert assert_every_event_once_in_order(records, head) == 0


def test_a_second_relay_stands_by_while_the_first_holds_the_lock(
    kafka_runtime: Runtime, kafka_bootstrap: str, kafka_topic: str
) -> None:
    head = record(kafka_runtime.app, "acme", accounts=40, commands_each=5)
    first, second = Relay(kafka_runtime, batch_size=20), Relay(kafka_runtime, batch_size=20)
    assert first.lock.acquire()
    assert not second.lock.acquire()
    stop = threading.Event()
    threads = [threading.Thread(target=r.run, args=(stop,)) for r in (first, second)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while relay_position(kafka_runtime.db) < head and time.monotonic() < deadline:
        time.sleep(0.1)
    assert second.lock.held() is False
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    assert relay_position(kafka_runtime.db) == head
    assert assert_every_event_once_in_order(read_topic(kafka_bootstrap, kafka_topic), head) == 0
    # The lock went with the first relay: the second takes it now.
    assert second.lock.acquire()
    second.lock.release()


def test_the_lock_is_released_when_its_holder_goes(fresh_postgres_url: str, tmp_path: Path) -> None:
    holder, other = AdvisoryLock(fresh_postgres_url, "t"), AdvisoryLock(fresh_postgres_url, "t")
    assert holder.acquire()
    assert not other.acquire()
    assert AdvisoryLock(fresh_postgres_url, "another-topic").acquire()
    holder.release()
    assert other.acquire()
    other.release()
    one, two = FileLock(tmp_path / "relay.lock"), FileLock(tmp_path / "relay.lock")
    assert one.acquire()
    assert not two.acquire()
    one.release()
    assert two.acquire()
    two.release()


class _SlippingLock:
    """A lock that is taken, then found gone: its connection died while a batch was sent."""

    def __init__(self) -> None:
        self.checks = 0

    def acquire(self) -> bool:
        return True

    def held(self) -> bool:
        self.checks += 1
        return self.checks == 1  # held when the batch starts, gone when it is to be recorded

    def release(self) -> None:
        pass


def test_a_relay_that_lost_its_lock_mid_batch_does_not_record_the_batch(
    kafka_runtime: Runtime, kafka_bootstrap: str, kafka_topic: str
) -> None:
    head = record(kafka_runtime.app, "acme", accounts=10, commands_each=3)
    relay = Relay(kafka_runtime, lock=_SlippingLock())
    relay.ensure_topic()
    with pytest.raises(LockLost):
        relay.publish_pending()
    relay.close()
    assert relay_position(kafka_runtime.db) == 0
    # Whoever holds the lock next learns what arrived and sends nothing twice.
    successor = Relay(kafka_runtime)
    publish_all(successor)
    successor.close()
    assert successor.skipped == head
    assert assert_every_event_once_in_order(read_topic(kafka_bootstrap, kafka_topic), head) == 0


def test_a_relay_rides_out_failures_that_are_not_kafka(
    kafka_runtime: Runtime, kafka_bootstrap: str, kafka_topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = record(kafka_runtime.app, "acme", accounts=10, commands_each=3)
    relay = Relay(kafka_runtime)
    real = relay.publish_pending
    failures = iter([RuntimeError("database restarting"), OSError("connection reset")])

    def flaky() -> int:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real()

    monkeypatch.setattr(relay, "publish_pending", flaky)
    stop = threading.Event()
    publisher = threading.Thread(target=relay.run, args=(stop,))
    publisher.start()
    deadline = time.monotonic() + 60
    while relay_position(kafka_runtime.db) < head and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    publisher.join(timeout=30)
    assert not publisher.is_alive()
    assert relay_position(kafka_runtime.db) == head
    assert assert_every_event_once_in_order(read_topic(kafka_bootstrap, kafka_topic), head) == 0
