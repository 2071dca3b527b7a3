"""The Kafka end of the simulation: relay every stored event, then read the topic back.

Invariants checked (``check_topic``): every stored event is on the topic exactly once (by
account and version; the relay's own tail check makes a duplicate impossible when Kafka
stays up), each account's events are in one partition, in version order, and nothing is on
the topic that is not in the store.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from services.bootstrap import Runtime
from services.relay import Relay

#: Enough for a simulation's events; a relay that needs more rounds than this is stuck.
MOST_BATCHES = 1_000
READ_SECONDS = 60.0


def relay_everything(runtime: Runtime) -> int:
    """Publish every stored event with the product's relay; the number published."""
    relay = Relay(runtime)
    try:
        relay.ensure_topic()
        published = 0
        for _ in range(MOST_BATCHES):
            sent = relay.publish_pending()
            if sent == 0:
                break
            published += sent
        if relay.lag():
            msg = f"the relay stopped {relay.lag()} events short"
            raise RuntimeError(msg)
        return published
    finally:
        relay.close()


def read_topic(bootstrap: str, topic: str) -> list[tuple[int, int, dict[str, Any]]]:
    """Every record of the topic: (partition, offset, value)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        group_id=None,
        request_timeout_ms=15_000,
    )
    records: list[tuple[int, int, dict[str, Any]]] = []
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        deadline = time.monotonic() + READ_SECONDS
        while time.monotonic() < deadline and any(consumer.position(tp) < ends[tp] for tp in tps):
            for tp, batch in consumer.poll(timeout_ms=500).items():
                records += [(tp.partition, r.offset, json.loads(r.value)) for r in batch]
    finally:
        consumer.close()
    return records


def check_topic(runtime: Runtime) -> tuple[list[str], int]:
    """What is wrong with the topic against the store ([] when nothing), and how many records
    it holds."""
    table = runtime.app.recorder.events_table_name  # type: ignore[attr-defined]
    stored = {
        (str(r["originator_id"]), int(r["originator_version"]))
        for r in runtime.db.query(f"SELECT originator_id, originator_version FROM {table}")
    }
    records = read_topic(runtime.settings.kafka_bootstrap, runtime.settings.kafka_topic)
    problems: list[str] = []
    seen: dict[tuple[str, int], int] = defaultdict(int)
    by_account: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    for partition, offset, value in records:
        key = (str(value["account_id"]), int(value["account_version"]))
        seen[key] += 1
        by_account[key[0]].append((partition, offset, key[1]))
    twice = [k for k, n in seen.items() if n > 1]
    if twice:
        problems.append(f"{len(twice)} events published more than once, e.g. {twice[:3]}")
    missing = stored - seen.keys()
    if missing:
        problems.append(
            f"{len(missing)} stored events not on the topic, e.g. {sorted(missing)[:3]}"
        )
    extra = seen.keys() - stored
    if extra:
        problems.append(
            f"{len(extra)} events on the topic not in the store, e.g. {sorted(extra)[:3]}"
        )
    for account, placed in by_account.items():
        if len({p for p, _, _ in placed}) > 1:
            problems.append(f"account {account} is in more than one partition")
        versions = [v for _, _, v in sorted(placed)]
        if versions != sorted(versions):
            problems.append(f"account {account} is out of order on the topic: {versions[:10]}")
    return problems, len(records)
