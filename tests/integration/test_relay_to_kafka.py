"""The relay publishes the skeleton's events to the real Kafka broker; kcat reads them back.

kcat is a client nobody here wrote: if it can read the records, any downstream service can.
"""

from __future__ import annotations

import json
import subprocess
from collections import defaultdict
from typing import Any

from services.bootstrap import Runtime
from services.relay import Relay
from tests.support import open_charge_and_pay, payment, run


def _consume_with_kcat(bootstrap_servers: str, topic: str, expected: int) -> list[dict[str, Any]]:
    """Every record of the topic as kcat sees it: key, partition, offset, headers, value."""
    fmt = "%k\t%p\t%o\t%h\t%s\n"
    out = subprocess.run(
        [
            "kcat",
            "-C",
            "-b",
            bootstrap_servers,
            "-t",
            topic,
            "-o",
            "beginning",
            "-e",
            "-q",
            "-c",
            str(expected),
            "-f",
            fmt,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    records = []
    for line in out.splitlines():
        key, partition, offset, headers, value = line.split("\t", 4)
        records.append(
            {
                "key": key,
                "partition": int(partition),
                "offset": int(offset),
                "headers": dict(h.split("=", 1) for h in headers.split(",")),
                "value": json.loads(value),
            }
        )
    return records


def test_each_event_is_published_once_keyed_by_account_in_version_order(
    kafka_runtime: Runtime, kafka_bootstrap: str, kafka_topic: str
) -> None:
    first = open_charge_and_pay(kafka_runtime.app, account_number="A-1")
    second = open_charge_and_pay(kafka_runtime.app, account_number="A-2")
    relay = Relay(kafka_runtime)
    relay.ensure_topic()

    assert relay.publish_pending() == 6
    assert relay.lag() == 0
    relay.close()

    records = _consume_with_kcat(kafka_bootstrap, kafka_topic, expected=6)
    assert len(records) == 6
    by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r["partition"], r["offset"])):
        by_key[record["key"]].append(record)
    assert set(by_key) == {str(first.id), str(second.id)}
    for key, account_records in by_key.items():
        assert len({r["partition"] for r in account_records}) == 1  # one account, one partition
        assert [r["value"]["account_version"] for r in account_records] == [1, 2, 3]
        assert [r["value"]["type"] for r in account_records] == [
            "Opened",
            "ChargePosted",
            "PaymentReceived",
        ]
        assert all(r["value"]["account_id"] == key for r in account_records)
    payment = by_key[str(first.id)][2]
    assert payment["headers"]["event_type"] == "PaymentReceived"
    assert payment["headers"]["tenant_id"] == "acme"
    assert payment["headers"]["correlation_id"] == "test-correlation"
    assert payment["value"]["payload"]["amount"] == {"amount": "5.00", "currency": "USD"}
    assert payment["value"]["effective_on"] == "2026-01-03"
    assert payment["value"]["actor"] == "clerk-ann"


def test_a_restarted_relay_resumes_after_what_the_broker_acknowledged(
    kafka_runtime: Runtime, kafka_bootstrap: str, kafka_topic: str
) -> None:
    open_charge_and_pay(kafka_runtime.app, account_number="A-1")
    relay = Relay(kafka_runtime)
    relay.ensure_topic()
    assert relay.publish_pending() == 3
    relay.close()

    run(kafka_runtime.app, payment("1.00", "pay-2"), "A-1")
    restarted = Relay(kafka_runtime)
    assert restarted.lag() == 1
    assert restarted.publish_pending() == 1
    restarted.close()

    records = _consume_with_kcat(kafka_bootstrap, kafka_topic, expected=4)
    assert [r["value"]["account_version"] for r in records] == [1, 2, 3, 4]
    assert len({r["value"]["event_id"] for r in records}) == 4
