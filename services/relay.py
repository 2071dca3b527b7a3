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
- **One account never stalls the topic.** An event that cannot be decoded or encoded parks its
  account (``projections.parking``, consumer ``relay:kafka``) and the relay goes on with every
  other account. The account's later events are held back, not published out of order; the
  park row is recorded before the position moves past the event. ``ar relay --retry-parked``
  asks for the account's backlog (from the event that failed up to the position) to be
  published, in order, before the relay's next batch; only then is the account unparked.

**What is published.** Every event of every account: the billing events of the public contract
(``services.event_contract``). A tenant's settings (``domain.tenant``: dunning policy versions,
the close schedule, the days closed) are not billing events and are deliberately passed by:
what a close of day or a policy does to an account is published as that account's own events
(``DunningEscalated``, ``PlanInstallmentMissed``, ...), each naming the close in its correlation
id, and the policy in force on a date is read from the API (``GET /v1/tenant/dunning-policy``).
A remittance's posting (``domain.remittance_posting``) is passed by for the same reason: what it
posts to an account is that account's own events (``ClaimAdjudicated``, ``InsurerPaymentPosted``,
``PaymentReversed``, ...), each with the remittance's trace number as its reference.

``lag()`` (events recorded, not yet published) and the parked accounts are exposed at
``/v1/projections`` and by ``ar relay --status``.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any
from uuid import UUID

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, MessageSizeTooLargeError, TopicAlreadyExistsError
from kafka.partitioner.default import murmur2

from domain.account import is_account_topic
from projections import parking
from services.bootstrap import Runtime
from services.envelope import SCHEMA_VERSION, encode, envelope
from services.logging import get_logger
from services.relay_lock import RelayLock, relay_lock
from services.relay_positions import RELAY_NAME, record_relay_position, relay_position

log = get_logger(__name__)

#: How long a batch may wait for the broker's acknowledgements before it counts as failed.
ACK_TIMEOUT_SECONDS = 30.0
#: Backoff while Kafka is unreachable: doubles from the first to the most, with jitter.
BACKOFF_FIRST_SECONDS = 0.5
BACKOFF_MOST_SECONDS = 30.0
#: How often a relay standing by tries the lock again.
STANDBY_SECONDS = 2.0
#: Records read from the end of each partition to learn what a cut-short batch delivered.
TAIL_RECORDS = 2_000
#: The relay's name among the consumers that park accounts (``projections.parking``).
PARKING_CONSUMER = f"relay:{RELAY_NAME}"
#: Failures of the broker or the database, not of an event: retried, never a reason to park.
_NOT_THE_EVENT: tuple[type[BaseException], ...] = (KafkaError, *parking.TRANSIENT)


class KafkaUnavailable(Exception):
    """The broker did not take a batch; nothing after the recorded position counts as sent."""


class LockLost(Exception):
    """This relay does not hold the relay lock (another does, or its connection died while a
    batch was being published)."""


class RelayStopped(Exception):
    """Publishing would break a guarantee; the relay stops and says why."""


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
        #: Positions beyond the recorded one that the broker already holds (learnt, not assumed).
        self._published: set[int] | None = None
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
            # A record not delivered by then fails, before the relay gives up on the batch
            # (ACK_TIMEOUT_SECONDS): no record of a given-up batch is still being retried.
            request_timeout_ms=10_000,
            delivery_timeout_ms=20_000,
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
                self._producer.close(timeout=5)
            except Exception as error:
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

    def learn_published(self) -> set[int]:
        """The positions after the recorded one that the broker already holds.

        Only the batch that was being sent when a relay died or Kafka failed can be on the
        broker without being recorded, and a batch puts at most ``batch_size`` records in a
        partition: so the tail of each partition that long is read, and the positions found
        beyond the recorded one are the events not to send again. A partition emptied by
        retention, or a record that is not the relay's (no numeric position), is no obstacle.
        """
        partitions = sorted(self.producer.partitions_for(self.topic))
        if self._partitions and partitions != self._partitions:
            msg = (
                f"the topic {self.topic} went from {len(self._partitions)} to {len(partitions)}"
                " partitions: accounts would move between partitions and lose their order"
            )
            raise RelayStopped(msg)
        self._partitions = partitions
        recorded = self.position()
        tail = max(self.batch_size, TAIL_RECORDS)
        consumer = KafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            enable_auto_commit=False,
            group_id=None,
            client_id="receivables-relay-tail",
            request_timeout_ms=15_000,
        )
        published: set[int] = set()
        try:
            tps = [TopicPartition(self.topic, p) for p in partitions]
            consumer.assign(tps)
            begins, ends = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
            waiting = {tp for tp in tps if ends[tp] > begins[tp]}
            for tp in waiting:
                consumer.seek(tp, max(begins[tp], ends[tp] - tail))
            deadline = time.monotonic() + ACK_TIMEOUT_SECONDS
            while waiting and time.monotonic() < deadline:
                for tp, records in consumer.poll(timeout_ms=500).items():
                    for record in records:
                        position = _position_of(record.headers)
                        if position is not None and position > recorded:
                            published.add(position)
                        if record.offset >= ends[tp] - 1:
                            waiting.discard(tp)
                waiting = {tp for tp in waiting if consumer.position(tp) < ends[tp]}
            if waiting:
                msg = f"could not read the tail of {len(waiting)} partitions"
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

        Parked accounts whose retry was asked for have their backlog published first. An event
        that cannot be decoded or encoded parks its account; that account's later events are
        held back. Raises ``KafkaUnavailable`` if the broker did not acknowledge the whole
        batch; the position then stays where it was, and the next attempt first learns what
        arrived."""
        if not self.lock.held() and not self.lock.acquire():
            msg = "another relay holds the relay lock"
            raise LockLost(msg)
        app = self.runtime.app
        db = self.runtime.db
        try:
            published = self._published if self._published is not None else self.learn_published()
        except KafkaError as error:
            self._published = None
            self._drop_producer()
            raise KafkaUnavailable(f"{type(error).__name__}: {error}") from error
        # Before the batch is read: an account resumed now has its later events in the batch.
        self.publish_retried()
        start = self.position() + 1
        notifications = app.recorder.select_notifications(start=start, limit=self.batch_size)
        if not notifications:
            return 0
        held_back = {
            row.account_id: row.position for row in parking.parked_accounts(db, [PARKING_CONSUMER])
        }
        failed: dict[str, tuple[Any, Exception]] = {}
        skipped: dict[tuple[str, str], tuple[int, int]] = {}
        try:
            futures = []
            for notification in notifications:
                if not is_account_topic(notification.topic):
                    continue  # not a billing event: see "What is published" above
                account = str(notification.originator_id)
                if notification.id >= held_back.get(account, notification.id + 1) or (
                    account in failed
                ):
                    # Order per account: nothing of it goes out before the event that failed.
                    key = (PARKING_CONSUMER, account)
                    count, _ = skipped.get(key, (0, 0))
                    skipped[key] = (count + 1, notification.id)
                    continue
                try:
                    futures.append(self._send(notification, published))
                except MessageSizeTooLargeError as error:  # this record alone: park it
                    failed[account] = (notification, error)
                except _NOT_THE_EVENT:
                    raise
                except Exception as error:
                    failed[account] = (notification, error)
            self.producer.flush(timeout=ACK_TIMEOUT_SECONDS)
            for future in futures:
                if future is not None:
                    future.get(timeout=ACK_TIMEOUT_SECONDS)
        except KafkaError as error:
            self._published = None
            self._drop_producer()
            raise KafkaUnavailable(f"{type(error).__name__}: {error}") from error
        if not self.lock.held():
            # Another relay may have taken over while this batch was sent: it will learn
            # what arrived; recording here could move the position under its feet.
            self._published = None
            msg = "the relay lock was lost while publishing"
            raise LockLost(msg)
        tenants = {a: parking.tenant_of(app, n.originator_id) for a, (n, _) in failed.items()}
        # Park rows first, then the position: a relay that dies in between reads the batch
        # again, and holds the parked accounts back from the event that failed on.
        with db.transaction() as c:
            for account, (notification, failure) in failed.items():
                parking.park(c, db, PARKING_CONSUMER, notification, failure, tenants[account])
            parking.record_skipped(c, db, skipped)
        self._record_position(notifications[-1].id)
        for account, (notification, failure) in failed.items():
            log.error(
                "account parked: its events are held back until it is retried",
                account_id=account,
                position=notification.id,
                error=parking.error_text(failure),
            )
        self._published = published - {n.id for n in notifications}
        return len(notifications)

    def publish_retried(self) -> list[tuple[str, str | None]]:
        """Publish the backlog of each parked account whose retry was asked for, in order,
        and unpark it; an account whose events still fail stays parked with the newest error.
        Each account's (id, error or None). Runs only while this relay holds the lock, so
        nothing of the account is published meanwhile by the batches."""
        db = self.runtime.db
        outcomes: list[tuple[str, str | None]] = []
        for row in parking.parked_accounts(db, [PARKING_CONSUMER]):
            if not row.retry_requested:
                continue
            with db.transaction(commit=False) as c:
                backlog = [
                    n
                    for n in parking.account_notifications(
                        self.runtime.app, c, db, row.account_id, self.position()
                    )
                    if n.id >= row.position
                ]
            try:
                records = [self._record_of(n) for n in backlog]
            except _NOT_THE_EVENT:
                raise
            except Exception as error:
                parking.still_failing(db, PARKING_CONSUMER, row.account_id, error)
                outcomes.append((row.account_id, parking.error_text(error)))
                continue
            try:
                futures = [self.producer.send(self.topic, **record) for record in records]
                self.producer.flush(timeout=ACK_TIMEOUT_SECONDS)
                for future in futures:
                    future.get(timeout=ACK_TIMEOUT_SECONDS)
            except KafkaError as error:
                self._published = None
                self._drop_producer()
                raise KafkaUnavailable(f"{type(error).__name__}: {error}") from error
            with db.transaction() as c:
                parking.unpark(c, db, PARKING_CONSUMER, row.account_id)
            log.info("parked account published", account_id=row.account_id, events=len(backlog))
            outcomes.append((row.account_id, None))
        return outcomes

    def _send(self, notification: Any, published: set[int]) -> Any:
        if notification.id in published:
            self.skipped += 1  # the broker holds it already: a batch cut short before
            return None
        return self.producer.send(self.topic, **self._record_of(notification))

    def _record_of(self, notification: Any) -> dict[str, Any]:
        """The Kafka record of one stored event: key, partition, value and headers."""
        event: Any = self.runtime.app.mapper.to_domain_event(notification)
        key = str(event.originator_id).encode()
        tenant_id = self._tenant_of(event.originator_id)
        document = envelope(event, tenant_id=tenant_id, position=notification.id)
        return {
            "key": key,
            "value": encode(document),
            "headers": _headers(document),
            "partition": self._partition_of(key),
        }

    def _load_tenant(self, account_id: UUID) -> str:
        first = next(iter(self.runtime.app.events.get(account_id, lte=1)))
        return str(first.tenant_id)  # type: ignore[attr-defined]  # the Opened event names the tenant

    # --- running -------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Publish until stopped: take the lock, then keep up, riding out outages.

        Kafka or the database being unreachable, or the lock going, never ends the relay: it
        logs once when a trouble starts and once when it is over, and retries with backoff.
        Only ``RelayStopped`` (publishing would break a guarantee) ends it."""
        backoff = Backoff()
        trouble: str | None = None
        standing_by = False
        try:
            while not stop.is_set():
                try:
                    if not self.lock.held():
                        self._published = None  # a new holder learns what the broker has
                        if not self.lock.acquire():
                            if not standing_by:
                                log.info("another relay holds the lock; standing by")
                                standing_by = True
                            stop.wait(STANDBY_SECONDS)
                            continue
                        standing_by = False
                        log.info("relay lock taken", topic=self.topic)
                    if self._published is None:
                        self.ensure_topic()
                        self.learn_published()
                        log.info("relay publishing", topic=self.topic, position=self.position())
                    sent = self.publish_pending()
                except RelayStopped:
                    raise
                except Exception as error:
                    self._published = None
                    self._drop_producer()
                    kind = _trouble_of(error)
                    if trouble != kind:
                        log.warning(f"{kind}; retrying with backoff", error=str(error))
                        trouble = kind
                    stop.wait(backoff.next())
                    continue
                if trouble is not None:
                    log.info(f"{trouble} is over; catching up", lag=self.lag())
                    trouble = None
                backoff.reset()
                if sent == 0:
                    stop.wait(self.settings.relay_poll_seconds)
        finally:
            self.close()

    def close(self) -> None:
        if self._producer is not None:
            try:
                self._producer.close(timeout=10)
            except Exception as error:
                log.debug("producer close failed", error=str(error))
            self._producer = None
        self.lock.release()


def _trouble_of(error: Exception) -> str:
    """What kind of trouble an error is, as logged (once per change of trouble)."""
    if isinstance(error, (KafkaUnavailable, KafkaError)):
        return "kafka unavailable"
    if isinstance(error, LockLost):
        return "relay lock lost"
    return f"relay failing ({type(error).__name__})"


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


def _position_of(headers: Sequence[tuple[str, bytes]] | None) -> int | None:
    """The notification position a record of the relay carries; None for any other record."""
    for name, raw in headers or ():
        if name == "position":
            try:
                return int(raw)
            except ValueError:
                return None
    return None
