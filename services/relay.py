"""The relay: publishes every recorded event to Kafka, in order, keyed by account id.

The event store's notification log is the outbox. The relay reads it from the position it last
recorded, sends each event as a JSON envelope (``services.envelope``) to the topic with the
account id as key, and records the new position only after the broker acknowledged every record
of the batch.

Guarantees, and how they are kept:

- **Order per account.** The partition is the key's murmur2 hash modulo the topic's partitions
  (what every Kafka client's default partitioner does), so one account's events share one
  partition; the idempotent producer (``acks=all``) keeps them in send order through retries.
  Adding partitions to the topic later would move accounts: don't.
- **Nothing lost.** The position is recorded only after the acknowledgements, so a relay that
  dies at any point resumes at or before the first event the broker may not have.
- **Nothing published twice, as far as can be known.** Between the broker's acknowledgement and
  the relay's bookkeeping a relay can die, or Kafka can fail a batch half-way. So on start, and
  after any failure, the relay reads the last record of each partition: an event whose position
  is at or below the last position its partition already holds was published and is skipped.
  This is exact because a partition holds its events in position order. What remains (a request
  the broker appended after its answer was lost) is a duplicate with the same ``event_id`` and
  account version, which a consumer drops (``services.subscriber``).
- **Kafka down is not an outage.** Commands are recorded in the event store whatever Kafka does;
  the relay retries with bounded exponential backoff, logs once when Kafka becomes unreachable
  and once when it is back, and catches up.
- **One relay at a time.** A relay publishes only while it holds the relay lock
  (``services.relay_lock``); others stand by.

``lag()`` (events recorded, not yet published) is exposed at ``/v1/projections`` and by
``ar relay --status``.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any
from uuid import UUID

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError
from kafka.partitioner.default import murmur2

from services.bootstrap import Runtime
from services.envelope import SCHEMA_VERSION, encode, envelope
from services.logging import get_logger
from services.relay_lock import RelayLock, relay_lock
from services.relay_positions import record_relay_position, relay_position

log = get_logger(__name__)

#: How long a batch may wait for the broker's acknowledgements before it counts as failed.
ACK_TIMEOUT_SECONDS = 30.0
#: Backoff while Kafka is unreachable: doubles from the first to the most, with jitter.
BACKOFF_FIRST_SECONDS = 0.5
BACKOFF_MOST_SECONDS = 30.0
#: How often a relay standing by tries the lock again.
STANDBY_SECONDS = 2.0


class KafkaUnavailable(Exception):
    """The broker did not take a batch; nothing after the recorded position counts as sent."""


class Relay:
    def __init__(
        self,
        runtime: Runtime,
        *,
        producer_factory: Callable[[], KafkaProducer] | None = None,
        topic: str | None = None,
        batch_size: int | None = None,
        lock: RelayLock | None = None,
    ) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.topic = topic or self.settings.kafka_topic
        self.batch_size = batch_size or self.settings.batch_size
        self.lock = lock or relay_lock(self.settings, self.topic)
        self._producer_factory = producer_factory or self._default_producer
        self._producer: KafkaProducer | None = None
        #: Per partition, the highest position the broker already holds (learnt, not assumed).
        self._published: dict[int, int] | None = None
        self._partitions: list[int] = []
        self._tenant_of = lru_cache(maxsize=100_000)(self._load_tenant)
        self._partition_of = lru_cache(maxsize=100_000)(self._hash_partition)
        self.skipped = 0

    # --- Kafka clients -----------------------------------------------------------------------

    def _default_producer(self) -> KafkaProducer:
        return KafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            max_in_flight_requests_per_connection=5,
            max_block_ms=10_000,
            client_id="receivables-relay",
        )

    @property
    def producer(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = self._producer_factory()
        return self._producer

    def _drop_producer(self) -> None:
        """Forget the producer after a failure: what it still buffers is not ours to trust."""
        if self._producer is not None:
            try:
                self._producer.close(timeout=0)
            except Exception as error:  # closing a broken client may fail any way
                log.debug("producer close failed", error=str(error))
            self._producer = None

    def ensure_topic(self) -> None:
        admin = KafkaAdminClient(
            bootstrap_servers=self.settings.kafka_bootstrap,
            client_id="receivables-relay-admin",
            request_timeout_ms=10_000,
        )
        try:
            admin.create_topics(
                [
                    NewTopic(
                        self.topic,
                        num_partitions=self.settings.kafka_partitions,
                        replication_factor=1,
                    )
                ]
            )
            log.info("topic created", topic=self.topic, partitions=self.settings.kafka_partitions)
        except TopicAlreadyExistsError:
            pass
        finally:
            admin.close()

    # --- what was published --------------------------------------------------------------------

    def position(self) -> int:
        return relay_position(self.runtime.db)

    def _record_position(self, notification_id: int) -> None:
        record_relay_position(self.runtime.db, notification_id)

    def lag(self) -> int:
        """Events recorded but not yet published."""
        return max(0, (self.runtime.app.recorder.max_notification_id() or 0) - self.position())

    def learn_published(self) -> dict[int, int]:
        """Read the last record of each partition: the highest position each already holds."""
        self._partitions = sorted(self.producer.partitions_for(self.topic))
        consumer = KafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            enable_auto_commit=False,
            group_id=None,
            client_id="receivables-relay-tail",
            request_timeout_ms=15_000,
        )
        try:
            partitions = [TopicPartition(self.topic, p) for p in self._partitions]
            consumer.assign(partitions)
            ends = consumer.end_offsets(partitions)
            published = dict.fromkeys(self._partitions, 0)
            waiting = {tp for tp in partitions if ends[tp] > 0}
            for tp in waiting:
                consumer.seek(tp, ends[tp] - 1)
            deadline = time.monotonic() + ACK_TIMEOUT_SECONDS
            while waiting and time.monotonic() < deadline:
                for tp, records in consumer.poll(timeout_ms=500).items():
                    for record in records:
                        published[tp.partition] = max(
                            published[tp.partition], _position_of(record.headers, record.value)
                        )
                        if record.offset >= ends[tp] - 1:
                            waiting.discard(tp)
            if waiting:
                msg = f"could not read the last record of {len(waiting)} partitions"
                raise KafkaUnavailable(msg)
        finally:
            consumer.close()
        self._published = published
        return published

    # --- publishing ----------------------------------------------------------------------------

    def _hash_partition(self, key: bytes) -> int:
        hashed: int = murmur2(key) & 0x7FFFFFFF
        return self._partitions[hashed % len(self._partitions)]

    def publish_pending(self) -> int:
        """Publish the next batch after the recorded position; the number of events read.

        Raises ``KafkaUnavailable`` if the broker did not acknowledge the whole batch; the
        position then stays where it was, and the next attempt first learns what arrived."""
        app = self.runtime.app
        start = self.position() + 1
        notifications = app.recorder.select_notifications(start=start, limit=self.batch_size)
        if not notifications:
            return 0
        try:
            published = self._published if self._published is not None else self.learn_published()
            futures = [self._send(n, published) for n in notifications]
            self.producer.flush(timeout=ACK_TIMEOUT_SECONDS)
            for future in futures:
                if future is not None:
                    future.get(timeout=ACK_TIMEOUT_SECONDS)
        except KafkaError as error:
            self._published = None
            self._drop_producer()
            raise KafkaUnavailable(f"{type(error).__name__}: {error}") from error
        self._record_position(notifications[-1].id)
        return len(notifications)

    def _send(self, notification: Any, published: dict[int, int]) -> Any:
        event: Any = self.runtime.app.mapper.to_domain_event(notification)
        key = str(event.originator_id).encode()
        partition = self._partition_of(key)
        if notification.id <= published.get(partition, 0):
            self.skipped += 1  # the broker holds it already: a batch cut short before
            return None
        tenant_id = self._tenant_of(event.originator_id)
        document = envelope(event, tenant_id=tenant_id, position=notification.id)
        return self.producer.send(
            self.topic,
            key=key,
            value=encode(document),
            headers=_headers(document),
            partition=partition,
        )

    def _load_tenant(self, account_id: UUID) -> str:
        first = next(iter(self.runtime.app.events.get(account_id, lte=1)))
        return str(first.tenant_id)  # type: ignore[attr-defined]  # the Opened event names the tenant

    # --- running -------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Publish until stopped: take the lock, then keep up, riding out Kafka outages."""
        backoff = Backoff()
        kafka_ok = True
        standing_by = False
        while not stop.is_set():
            if not self.lock.acquire():
                if not standing_by:
                    log.info("another relay holds the lock; standing by", topic=self.topic)
                    standing_by = True
                self._published = None
                stop.wait(STANDBY_SECONDS)
                continue
            if standing_by:
                log.info("relay lock taken; publishing", topic=self.topic)
                standing_by = False
            try:
                if self._published is None:
                    self.ensure_topic()
                    self.learn_published()
                    log.info(
                        "relay publishing",
                        topic=self.topic,
                        position=self.position(),
                        lag=self.lag(),
                    )
                sent = self.publish_pending()
            except (KafkaUnavailable, KafkaError) as error:
                self._published = None
                self._drop_producer()
                if kafka_ok:
                    log.warning("kafka unavailable; retrying", error=str(error), lag=self.lag())
                    kafka_ok = False
                stop.wait(backoff.next())
                continue
            if not kafka_ok:
                log.info("kafka reachable again; catching up", lag=self.lag())
                kafka_ok = True
            backoff.reset()
            if sent == 0:
                stop.wait(self.settings.relay_poll_seconds)
        self.close()

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=10)
            self._producer = None
        self.lock.release()


class Backoff:
    """Bounded exponential backoff with jitter: 0.5 s, 1 s, 2 s, … up to 30 s."""

    def __init__(
        self, first: float = BACKOFF_FIRST_SECONDS, most: float = BACKOFF_MOST_SECONDS
    ) -> None:
        self.first = first
        self.most = most
        self._next = first

    def next(self) -> float:
        wait = self._next
        self._next = min(self.most, self._next * 2)
        return wait * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not secrecy

    def reset(self) -> None:
        self._next = self.first


def _headers(document: dict[str, Any]) -> list[tuple[str, bytes]]:
    return [
        ("event_type", str(document["type"]).encode()),
        ("schema_version", str(SCHEMA_VERSION).encode()),
        ("tenant_id", str(document["tenant_id"]).encode()),
        ("position", str(document["position"]).encode()),
        ("correlation_id", str(document["correlation_id"] or "").encode()),
        ("event_id", str(document["event_id"]).encode()),
        ("account_version", str(document["account_version"]).encode()),
    ]


def _position_of(headers: Sequence[tuple[str, bytes]] | None, value: bytes | None) -> int:
    """The notification position a published record carries (header, else the envelope)."""
    for name, raw in headers or ():
        if name == "position":
            return int(raw)
    try:
        return int(json.loads(value or b"{}").get("position") or 0)
    except (ValueError, AttributeError):
        return 0
