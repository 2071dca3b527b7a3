"""The subscriber helper against the real broker: events recorded by the application, published
by the relay, read by a consumer group that commits only what its handler finished.

Every run is bounded (``max_events`` and ``idle_timeout``), so a failing test fails, it never
hangs. Where a test must show that something is *not* delivered, it publishes one more event
after it (a sentinel on the same account, hence the same partition) and waits for that.
"""

from __future__ import annotations

import json
import subprocess
import threading
import uuid
from datetime import UTC, date
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from domain.account import Account
from services.bootstrap import Runtime
from services.relay import Relay
from services.subscriber import BillingEvent, BillingEvents
from tests.support import open_charge_and_pay, payment, run

IDLE = 20.0  # seconds a run waits for a record before giving up: the bound on a failing test


class Boom(Exception):
    pass


@pytest.fixture
def runtime(kafka_runtime: Runtime) -> Runtime:
    """The store and topic of tests/integration/conftest.py."""
    return kafka_runtime


@pytest.fixture
def group() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def publish(runtime: Runtime) -> int:
    """Publish everything recorded and not yet published, as the relay does in production."""
    relay = Relay(runtime)
    try:
        relay.ensure_topic()
        sent = 0
        while published := relay.publish_pending():
            sent += published
        return sent
    finally:
        relay.close()


def subscriber(kafka_bootstrap: str, kafka_topic: str, group: str, **options: Any) -> BillingEvents:
    return BillingEvents(kafka_bootstrap, group, topic=kafka_topic, **options)


def versions_by_account(events: list[BillingEvent]) -> dict[str, list[int]]:
    by_account: dict[str, list[int]] = {}
    for event in events:
        by_account.setdefault(event.account_id, []).append(event.account_version)
    return by_account


def committed_and_end_offsets(
    kafka_bootstrap: str, kafka_topic: str, group: str
) -> tuple[dict[int, int | None], dict[int, int]]:
    """Per partition: the group's committed offset (None if none) and the topic's end offset."""
    consumer = KafkaConsumer(
        bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    try:
        partitions = [
            TopicPartition(kafka_topic, p) for p in consumer.partitions_for_topic(kafka_topic)
        ]
        ends = consumer.end_offsets(partitions)
        return (
            {tp.partition: consumer.committed(tp) for tp in partitions},
            {tp.partition: ends[tp] for tp in partitions},
        )
    finally:
        consumer.close(autocommit=False)


def read_raw(kafka_bootstrap: str, kafka_topic: str, expected: int) -> list[Any]:
    """The topic's records as a plain consumer without a group reads them (bounded wait)."""
    consumer = KafkaConsumer(
        bootstrap_servers=kafka_bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        consumer_timeout_ms=int(IDLE * 1000),
    )
    try:
        consumer.assign(
            [TopicPartition(kafka_topic, p) for p in consumer.partitions_for_topic(kafka_topic)]
        )
        records = []
        for record in consumer:
            records.append(record)
            if len(records) == expected:
                break
        return records
    finally:
        consumer.close(autocommit=False)


def produce(kafka_bootstrap: str, kafka_topic: str, *records: dict[str, Any]) -> None:
    """Write records as any other client would, bypassing the relay."""
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    try:
        for record in records:
            producer.send(kafka_topic, **record).get(timeout=30)
    finally:
        producer.close(timeout=10)


def two_accounts(runtime: Runtime) -> tuple[Account, Account]:
    """A-1 and A-2, each opened, charged and paid: six events, versions 1-3 per account."""
    first = open_charge_and_pay(runtime.app, account_number="A-1")
    second = open_charge_and_pay(runtime.app, account_number="A-2")
    assert publish(runtime) == 6
    return first, second


def test_a_consumer_group_receives_every_event_once_in_version_order_per_account(
    runtime: Runtime, kafka_bootstrap: str, kafka_topic: str, group: str
) -> None:
    first, second = two_accounts(runtime)
    received: list[BillingEvent] = []

    summary = subscriber(kafka_bootstrap, kafka_topic, group).run(
        received.append, max_events=6, idle_timeout=IDLE
    )

    assert summary.handled == 6
    assert (summary.duplicates, summary.unreadable) == (0, 0)
    assert len({e.event_id for e in received}) == 6
    assert versions_by_account(received) == {str(first.id): [1, 2, 3], str(second.id): [1, 2, 3]}
    for account in (first, second):
        events = [e for e in received if e.account_id == str(account.id)]
        assert len({e.partition for e in events}) == 1  # one account, one partition
        assert [e.offset for e in events] == sorted(e.offset for e in events)
        assert [e.type for e in events] == ["Opened", "ChargePosted", "PaymentReceived"]
    paid = next(e for e in received if e.account_id == str(first.id) and e.account_version == 3)
    assert paid.tenant_id == "acme"
    assert paid.actor == "clerk-ann"
    assert paid.correlation_id == "test-correlation"
    assert paid.effective_on == date(2026, 1, 3)
    assert paid.recorded_at.tzinfo is not None
    assert paid.recorded_at.astimezone(UTC).date() >= date(2026, 1, 1)
    assert paid.payload["amount"] == {"amount": "5.00", "currency": "USD"}
    assert isinstance(paid.position, int)
    # Everything handled was committed: the group's offsets are at the end of every partition.
    committed, ends = committed_and_end_offsets(kafka_bootstrap, kafka_topic, group)
    assert {p: committed[p] or 0 for p in ends} == ends


def test_a_new_consumer_in_the_group_resumes_after_the_last_committed_event(
    runtime: Runtime, kafka_bootstrap: str, kafka_topic: str, group: str
) -> None:
    two_accounts(runtime)
    stop = threading.Event()
    before: list[BillingEvent] = []

    def handle_four_then_stop(event: BillingEvent) -> None:
        before.append(event)
        if len(before) == 4:
            stop.set()

    subscriber(kafka_bootstrap, kafka_topic, group).run(
        handle_four_then_stop, stop=stop, idle_timeout=IDLE
    )
    after: list[BillingEvent] = []
    # A new instance: its duplicate check knows nothing, so a redelivery would reach the handler.
    subscriber(kafka_bootstrap, kafka_topic, group).run(
        after.append, max_events=2, idle_timeout=IDLE
    )

    assert len(before) == 4  # stop ends the run after the event being handled
    handled_before = {e.event_id for e in before}
    handled_after = {e.event_id for e in after}
    assert handled_before.isdisjoint(handled_after)  # nothing delivered again
    assert len(handled_before | handled_after) == 6  # nothing skipped
    assert all(v == sorted(v) for v in versions_by_account(before + after).values())


def test_an_event_whose_handler_raised_is_delivered_again_to_the_next_consumer(
    runtime: Runtime, kafka_bootstrap: str, kafka_topic: str, group: str
) -> None:
    first, _ = two_accounts(runtime)
    before: list[BillingEvent] = []

    def fail_on_the_charge_of_a1(event: BillingEvent) -> None:
        if event.account_id == str(first.id) and event.type == "ChargePosted":
            raise Boom("the downstream database is down")
        before.append(event)

    with pytest.raises(Boom):
        subscriber(kafka_bootstrap, kafka_topic, group).run(
            fail_on_the_charge_of_a1, idle_timeout=IDLE
        )
    after: list[BillingEvent] = []
    subscriber(kafka_bootstrap, kafka_topic, group).run(
        after.append, max_events=6 - len(before), idle_timeout=IDLE
    )

    assert versions_by_account(before).get(str(first.id)) == [1]  # stopped at the charge
    assert versions_by_account(after)[str(first.id)] == [2, 3]  # the charge comes again, first
    assert {e.event_id for e in before}.isdisjoint({e.event_id for e in after})
    assert len(before) + len(after) == 6


def _duplicate_and_sentinel(
    runtime: Runtime, kafka_bootstrap: str, kafka_topic: str, account_number: str
) -> None:
    """Append a copy of the account's version-2 record (same key, value and headers, as a relay
    that re-sent a batch would), then publish version 4 after it."""
    records = read_raw(kafka_bootstrap, kafka_topic, expected=3)
    original = next(r for r in records if json.loads(r.value)["account_version"] == 2)
    produce(
        kafka_bootstrap,
        kafka_topic,
        {
            "key": original.key,
            "value": original.value,
            "headers": original.headers,
            "partition": original.partition,
        },
    )
    run(runtime.app, payment("1.00", "pay-2"), account_number)
    assert publish(runtime) == 1


def test_a_record_published_twice_reaches_the_handler_once(
    runtime: Runtime, kafka_bootstrap: str, kafka_topic: str, group: str
) -> None:
    account = open_charge_and_pay(runtime.app, account_number="A-1")
    assert publish(runtime) == 3
    _duplicate_and_sentinel(runtime, kafka_bootstrap, kafka_topic, "A-1")
    received: list[BillingEvent] = []

    summary = subscriber(kafka_bootstrap, kafka_topic, group).run(
        received.append, max_events=4, idle_timeout=IDLE
    )

    assert versions_by_account(received) == {str(account.id): [1, 2, 3, 4]}
    assert summary.duplicates == 1


def test_after_a_restart_the_seen_hook_drops_a_duplicate_of_an_event_handled_before(
    runtime: Runtime, kafka_bootstrap: str, kafka_topic: str, group: str
) -> None:
    open_charge_and_pay(runtime.app, account_number="A-1")
    assert publish(runtime) == 3
    store: set[str] = set()  # what a service keeps under a unique constraint

    def record(event: BillingEvent) -> None:
        store.add(event.event_id)

    subscriber(kafka_bootstrap, kafka_topic, group).run(record, max_events=3, idle_timeout=IDLE)
    _duplicate_and_sentinel(runtime, kafka_bootstrap, kafka_topic, "A-1")
    received: list[BillingEvent] = []

    # A new process remembers nothing itself; the service's own store answers for it.
    summary = subscriber(kafka_bootstrap, kafka_topic, group, seen=store.__contains__).run(
        received.append, max_events=1, idle_timeout=IDLE
    )

    assert [e.account_version for e in received] == [4]
    assert summary.duplicates == 1


def test_records_that_are_not_billing_events_are_skipped_and_committed_without_stopping(
    runtime: Runtime, kafka_bootstrap: str, kafka_topic: str, group: str
) -> None:
    account = open_charge_and_pay(runtime.app, account_number="A-1")
    assert publish(runtime) == 3
    key = str(account.id).encode()
    junk = [
        b"not json {",
        b"\xff\xfe",
        b"[1, 2]",
        b'{"event_id": "e-1", "type": "Opened"}',
        None,
    ]
    produce(kafka_bootstrap, kafka_topic, *({"key": key, "value": value} for value in junk))
    run(runtime.app, payment("1.00", "pay-2"), "A-1")
    assert publish(runtime) == 1
    received: list[BillingEvent] = []

    summary = subscriber(kafka_bootstrap, kafka_topic, group).run(
        received.append, max_events=4, idle_timeout=IDLE
    )

    assert versions_by_account(received) == {str(account.id): [1, 2, 3, 4]}
    assert summary.unreadable == len(junk)
    committed, ends = committed_and_end_offsets(kafka_bootstrap, kafka_topic, group)
    assert committed[received[-1].partition] == ends[received[-1].partition]


def test_kcat_reads_the_same_records_as_plain_json(
    runtime: Runtime, kafka_bootstrap: str, kafka_topic: str, group: str
) -> None:
    two_accounts(runtime)
    received: list[BillingEvent] = []
    subscriber(kafka_bootstrap, kafka_topic, group).run(
        received.append, max_events=6, idle_timeout=IDLE
    )

    # -e: exit at the end of the partitions; -c: at most six records; -f: each value alone
    kcat = f"kcat -C -b {kafka_bootstrap} -t {kafka_topic} -o beginning -e -q -c 6 -f".split()
    out = subprocess.run(
        [*kcat, "%s\n"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    documents = [json.loads(line) for line in out.splitlines()]

    assert len(documents) == 6
    assert {d["event_id"]: d for d in documents} == {e.event_id: e.envelope for e in received}
    assert all(isinstance(d["payload"], dict) for d in documents)
