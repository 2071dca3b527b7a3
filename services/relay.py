"""The relay: publishes every recorded event to Kafka, in order, keyed by account id.

The event store's notification log is the outbox. The relay reads it from the position it last
published, sends each event as a JSON envelope (``services.envelope``) to the topic with the
account id as key — so one account's events land in one partition, in version order — and
records the new position only after the broker acknowledged every record of the batch. A relay
stopped at any moment therefore resumes without losing an event; at worst it re-sends the
records of one unacknowledged batch, which carry the same ``event_id`` as before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import lru_cache
from typing import Any
from uuid import UUID

from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from services.bootstrap import Runtime
from services.envelope import SCHEMA_VERSION, encode, envelope, event_type
from services.logging import get_logger

log = get_logger(__name__)

RELAY_NAME = "kafka"


class Relay:
    def __init__(
        self,
        runtime: Runtime,
        *,
        producer_factory: Callable[[], KafkaProducer] | None = None,
        topic: str | None = None,
        batch_size: int | None = None,
    ) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.topic = topic or self.settings.kafka_topic
        self.batch_size = batch_size or self.settings.batch_size
        self._producer_factory = producer_factory or self._default_producer
        self._producer: KafkaProducer | None = None
        runtime.db.create_tables(
            [
                "CREATE TABLE IF NOT EXISTS relay_positions (name TEXT PRIMARY KEY, notification_id {bigint} NOT NULL)"
            ]
        )
        self._tenant_of = lru_cache(maxsize=100_000)(self._load_tenant)

    def _default_producer(self) -> KafkaProducer:
        return KafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            max_in_flight_requests_per_connection=5,
            client_id="receivables-relay",
        )

    @property
    def producer(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = self._producer_factory()
        return self._producer

    def ensure_topic(self) -> None:
        admin = KafkaAdminClient(
            bootstrap_servers=self.settings.kafka_bootstrap, client_id="receivables-relay-admin"
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

    def position(self) -> int:
        row = self.runtime.db.query_one(
            "SELECT notification_id FROM relay_positions WHERE name = ?", (RELAY_NAME,)
        )
        return int(row["notification_id"]) if row else 0

    def _record_position(self, notification_id: int) -> None:
        self.runtime.db.execute(
            "INSERT INTO relay_positions (name, notification_id) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET notification_id = excluded.notification_id",
            (RELAY_NAME, notification_id),
        )

    def lag(self) -> int:
        """Events recorded but not yet published."""
        return max(0, (self.runtime.app.recorder.max_notification_id() or 0) - self.position())

    def publish_pending(self) -> int:
        """Publish the next batch after the recorded position; the number of events sent."""
        app = self.runtime.app
        start = self.position() + 1
        notifications = app.recorder.select_notifications(start=start, limit=self.batch_size)
        if not notifications:
            return 0
        futures = []
        for notification in notifications:
            event: Any = app.mapper.to_domain_event(notification)
            tenant_id = self._tenant_of(event.originator_id)
            document = envelope(event, tenant_id=tenant_id, position=notification.id)
            headers = [
                ("event_type", event_type(event).encode()),
                ("schema_version", str(SCHEMA_VERSION).encode()),
                ("tenant_id", tenant_id.encode()),
                ("position", str(notification.id).encode()),
                ("correlation_id", (event.correlation_id or "").encode()),
                ("event_id", document["event_id"].encode()),
            ]
            futures.append(
                self.producer.send(
                    self.topic,
                    key=str(event.originator_id).encode(),
                    value=encode(document),
                    headers=headers,
                )
            )
        self.producer.flush()
        for future in futures:
            future.get(timeout=30)  # raises if the broker refused any record of the batch
        self._record_position(notifications[-1].id)
        return len(notifications)

    def _load_tenant(self, account_id: UUID) -> str:
        first = next(iter(self.runtime.app.events.get(account_id, lte=1)))
        return str(first.tenant_id)  # type: ignore[attr-defined]  # the Opened event names the tenant

    def run(self, stop: threading.Event) -> None:
        self.ensure_topic()
        log.info("relay started", topic=self.topic, position=self.position())
        while not stop.is_set():
            if self.publish_pending() == 0:
                stop.wait(self.settings.relay_poll_seconds)
        self.close()

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=10)
            self._producer = None
