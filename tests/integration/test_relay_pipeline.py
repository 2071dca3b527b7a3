"""The relay's fast way and its pipeline keep the records and the guarantees they had.

- Each stored event is published from its stored JSON (``services.envelope.stored_envelope``):
  the record's bytes and headers are exactly what decoding the event and encoding its
  envelope give, for every event type of a month of billing; an event whose stored content no
  longer matches its hash is left to the decoding way.
- Batches are pipelined, and a position is recorded only once its batch and every batch before
  it were acknowledged: a lost acknowledgement leaves the position after the last batch
  acknowledged whole, and the relay that goes on publishes every event once, in order.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4, uuid5

import pytest
from eventsourcing.persistence import Notification
from kafka.errors import KafkaTimeoutError

from bench.history import record
from services.bootstrap import Runtime
from services.commands import PostCharge
from services.envelope import _EVENT_ID_NAMESPACE, encode, envelope, event_id, stored_envelope
from services.relay import KafkaUnavailable, Relay, _headers
from services.relay_positions import relay_position
from tests.integration.test_relay_guarantees import (
    assert_every_event_once_in_order,
    publish_all,
    read_topic,
)
from tests.service.test_event_contract import a_month_of_billing
from tests.service.test_projections import TENANT
from tests.support import run


def decoded_record(runtime: Runtime, notification: Notification) -> tuple[bytes, Any]:
    """The record's value and headers the way the relay made them before: decode, envelope,
    encode."""
    event = runtime.app.mapper.to_domain_event(notification)
    document = envelope(event, tenant_id=TENANT, position=notification.id)
    return encode(document), _headers(document)


def test_every_stored_event_is_published_byte_for_byte_as_its_decoded_envelope(
    runtime: Runtime,
) -> None:
    a_month_of_billing(runtime)
    # Text that JSON escapes, and letters beyond ASCII, which both encoders must write alike.
    charge = PostCharge(
        charge_id="ch-text",
        code="VISIT",
        description='Ärztliche "Beratung" \\ 诊疗 😀',
        unit_price=Decimal("12.50"),
        service_date=date(2026, 2, 12),
    )
    run(runtime.app, charge, "A-1", TENANT)
    relay = Relay(runtime)
    relay._partitions = [0, 1]  # as the topic would have them; nothing is sent here
    notifications = runtime.app.recorder.select_notifications(start=1, limit=10_000)
    relay._learn_tenants(notifications)  # one query for the batch's accounts
    assert relay._tenants == {n.originator_id: TENANT for n in notifications}
    types = set()
    for notification in notifications:
        fast = stored_envelope(notification, tenant_id=TENANT)
        assert fast is not None, notification.topic  # read from the stored JSON, not decoded
        document, value = fast
        types.add(document["type"])
        assert (value, _headers(document)) == decoded_record(runtime, notification)
        published = relay._record_of(notification)
        assert (published["value"], published["headers"]) == (value, _headers(document))
    assert len(types) >= 28  # every type a_month_of_billing covers

    # Content that no longer matches its hash is not vouched for: it goes the decoding way.
    charged = next(n for n in notifications if n.topic.endswith(":ChargePosted"))
    altered = dataclasses.replace(
        charged, state=charged.state.replace(b'"actor":"', b'"actor":"not ', 1)
    )
    assert stored_envelope(altered, tenant_id=TENANT) is None
    assert relay._record_of(altered)["value"] == decoded_record(runtime, altered)[0]


def test_event_ids_are_the_version_5_uuids_of_account_and_version() -> None:
    rng = random.Random(5)
    for account in [UUID("3d3e1c7e-8450-5c52-a995-6b022a911f6b"), *(uuid4() for _ in range(200))]:
        version = rng.randint(1, 10_000_000)
        assert event_id(account, version) == str(uuid5(_EVENT_ID_NAMESPACE, f"{account}:{version}"))
    # As published since the first release (services/event_contract's example record).
    account = UUID("3d3e1c7e-8450-5c52-a995-6b022a911f6b")
    assert event_id(account, 2) == "e308860c-ceaf-5d20-839d-dd4be08330be"


class _LostAcknowledgement:
    """The real producer, except that the acknowledgement of one record never comes (the
    broker may well hold the record)."""

    def __init__(self, producer: Any, lost: int) -> None:
        self.producer = producer
        self.lost = lost
        self.sent = 0

    def send(self, topic: str, **record: Any) -> Any:
        future = self.producer.send(topic, **record)
        self.sent += 1
        return _NeverAcknowledged() if self.sent == self.lost else future

    def __getattr__(self, name: str) -> Any:
        return getattr(self.producer, name)


class _NeverAcknowledged:
    def get(self, timeout: float | None = None) -> None:
        raise KafkaTimeoutError("no acknowledgement")


def test_a_lost_acknowledgement_keeps_the_position_after_the_last_batch_acknowledged_whole(
    kafka_runtime: Runtime,
    kafka_bootstrap: str,
    kafka_topic: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    head = record(kafka_runtime.app, "acme", accounts=10, commands_each=5)
    assert head > 50
    relay = Relay(kafka_runtime, batch_size=10)
    relay.ensure_topic()
    relay._producer = _LostAcknowledgement(relay._default_producer(), lost=35)
    positions = [n.id for n in kafka_runtime.app.recorder.select_notifications(1, limit=head)]
    recorded: list[int] = []
    record_position = relay._record_position

    def recording(position: int) -> None:
        recorded.append(position)
        record_position(position)

    monkeypatch.setattr(relay, "_record_position", recording)
    with pytest.raises(KafkaUnavailable):
        relay.publish_pending()
    relay.close()
    # Batches 1-3 were acknowledged and recorded, in order; the fourth lost one acknowledgement
    # (the fifth was on its way meanwhile): nothing from there on counts as published.
    assert recorded == [positions[9], positions[19], positions[29]]
    assert relay_position(kafka_runtime.db) == positions[29]

    successor = Relay(kafka_runtime, batch_size=10)
    monkeypatch.setattr(successor, "_record_position", recording)
    publish_all(successor)
    successor.close()
    assert successor.skipped == 20  # batches 4 and 5 reached the broker: not sent again
    assert recorded == sorted(set(recorded))
    assert recorded[-1] == relay_position(kafka_runtime.db) == head
    records = read_topic(kafka_bootstrap, kafka_topic)
    assert assert_every_event_once_in_order(records, head) == 0
    assert len(records) == head
    assert {r.headers["tenant_id"] for r in records} == {"acme"}
