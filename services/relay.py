"""The relay: publishes every recorded event to Kafka, in order, keyed by account id.

The event store's notification log is the outbox. The relay reads it from the position it last
recorded, sends each event as a JSON envelope (``services.envelope``) to the topic with the
account id as key, and records the new position only after the broker acknowledged every record
of the batch.

Batches are pipelined: the next batch is read, enveloped and sent while the broker acknowledges
the one before (at most ``PIPELINE_DEPTH`` batches unacknowledged). Positions are still recorded
one batch at a time, in order, each only once every record up to it was acknowledged. The
envelope is written from the stored JSON, not from decoded events, and is checked against the
event's own hash (``services.envelope.stored_envelope``): the records are byte for byte what
decoding and encoding each event gives.

Guarantees, and how they are kept:

- **Order per account.** The partition is the key's murmur2 hash modulo the topic's partitions
  (what every Kafka client's default partitioner does), so one account's events share one
  partition; the idempotent producer (``acks=all``) keeps them in send order through retries.
  Adding partitions to the topic later would move accounts: don't.
- **Nothing lost.** The position is recorded only after the acknowledgements, so a relay that
  dies at any point resumes at or before the first event the broker may not have.
- **Nothing published twice, as far as can be known.** Between the broker's acknowledgement and
  the relay's bookkeeping a relay can die, or Kafka can fail a batch half-way. So on start, and
  after any failure, the relay reads the tail of each partition, as long as the batches that
  can be unacknowledged at once: an event found there beyond the recorded position was
  published and is skipped. This is exact because a partition holds its events in position
  order, and only unacknowledged batches can be on the broker without being recorded. What
  remains (a request the broker appended after its answer was lost) is a duplicate with the
  same ``event_id`` and account version, which a consumer drops (``services.subscriber``).
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
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import JSONTranscoder, Notification
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, MessageSizeTooLargeError, TopicAlreadyExistsError
from kafka.partitioner.default import murmur2

from domain.account import is_account_topic
from projections import parking
from projections.database import events_table
from services.bootstrap import Runtime
from services.envelope import SCHEMA_VERSION, encode, envelope, stored_envelope
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
#: Batches sent before the oldest of them must be acknowledged: one being acknowledged while
#: the next is read and sent.
PIPELINE_DEPTH = 2
#: Batches one ``publish_pending`` sends, pipelined, before it returns with all of them
#: acknowledged and recorded (so a running relay looks at its stop flag and retries between).
BATCHES_PER_ROUND = 20
#: Records read from the end of each partition (at least) to learn what cut-short batches
#: delivered.
TAIL_RECORDS = 2_000
#: Producer batches per partition: a relay catching up sends few, full requests.
PRODUCER_BATCH_BYTES = 512 * 1024
PRODUCER_LINGER_MS = 20
#: Accounts whose tenant the relay keeps in memory.
TENANTS_KEPT = 100_000
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


@dataclass(slots=True)
class _Batch:
    """One batch on its way: the position it ends at, what the broker must acknowledge, and
    the bookkeeping recorded with its position (accounts parked, events held back)."""

    last: int
    positions: set[int]
    futures: list[Any] = field(default_factory=list)
    failed: dict[str, tuple[Notification, Exception]] = field(default_factory=dict)
    skipped: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)


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
        self._tenants: dict[UUID, str] = {}
        self._partition_of = lru_cache(maxsize=100_000)(self._hash_partition)
        mapper = runtime.app.mapper
        #: Stored events are plain JSON (no cipher, no compression): read without decoding.
        self._plain_json = (
            isinstance(mapper.transcoder, JSONTranscoder)
            and mapper.cipher is None
            and mapper.compressor is None
        )
        self.skipped = 0

    # --- Kafka clients -----------------------------------------------------------------------

    def _default_producer(self) -> KafkaProducer:
        return KafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            client_id="receivables-relay",
            **producer_settings(),
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

        Only the batches that were unacknowledged when a relay died or Kafka failed (at most
        ``PIPELINE_DEPTH``) can be on the broker without being recorded, and a batch puts at
        most ``batch_size`` records in a partition: so the tail of each partition that long is
        read, and the positions found beyond the recorded one are the events not to send again.
        A partition emptied by retention, or a record that is not the relay's (no numeric
        position), is no obstacle.
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
        tail = max(PIPELINE_DEPTH * self.batch_size, TAIL_RECORDS)
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
        """Publish what was recorded after the recorded position, up to ``BATCHES_PER_ROUND``
        batches, pipelined; the number of events read. On return every batch read is
        acknowledged and its position recorded.

        Parked accounts whose retry was asked for have their backlog published first, while
        nothing else is on its way. An event that cannot be decoded or encoded parks its
        account; that account's later events are held back. Raises ``KafkaUnavailable`` if the
        broker did not acknowledge a batch; the position then stays after the last batch that
        was acknowledged whole (and every batch before it), and the next attempt first learns
        what arrived."""
        if not self.lock.held() and not self.lock.acquire():
            msg = "another relay holds the relay lock"
            raise LockLost(msg)
        try:
            published = self._published if self._published is not None else self.learn_published()
        except KafkaError as error:
            self._published = None
            self._drop_producer()
            raise KafkaUnavailable(f"{type(error).__name__}: {error}") from error
        # Before any batch is read: an account resumed now has its later events in the batches.
        self.publish_retried()
        # Each parked account's events from the one that failed on are held back; an account
        # that fails in a batch is held back from then on, before its park row is written.
        held_back = {
            row.account_id: row.position
            for row in parking.parked_accounts(self.runtime.db, [PARKING_CONSUMER])
        }
        on_the_way: deque[_Batch] = deque()
        after, read = self.position(), 0
        try:
            for _ in range(BATCHES_PER_ROUND):
                notifications = self.runtime.app.recorder.select_notifications(
                    start=after + 1, limit=self.batch_size
                )
                if not notifications:
                    break
                on_the_way.append(self._send_batch(notifications, published, held_back))
                after, read = notifications[-1].id, read + len(notifications)
                if len(on_the_way) == PIPELINE_DEPTH:
                    self._settle(on_the_way.popleft())
                if len(notifications) < self.batch_size:
                    break  # caught up
            if on_the_way:
                self.producer.flush(timeout=ACK_TIMEOUT_SECONDS)
            while on_the_way:
                self._settle(on_the_way.popleft())
        except KafkaError as error:
            self._published = None
            self._drop_producer()
            raise KafkaUnavailable(f"{type(error).__name__}: {error}") from error
        except BaseException:
            self._published = None  # what reached the broker is learnt again, not assumed
            raise
        return read

    def _send_batch(
        self, notifications: Sequence[Notification], published: set[int], held_back: dict[str, int]
    ) -> _Batch:
        """Send a batch's records (the broker acknowledges them later: ``_settle``)."""
        batch = _Batch(last=notifications[-1].id, positions={n.id for n in notifications})
        self._learn_tenants(notifications)
        for notification in notifications:
            if not is_account_topic(notification.topic):
                continue  # not a billing event: see "What is published" above
            account = str(notification.originator_id)
            if notification.id >= held_back.get(account, notification.id + 1):
                # Order per account: nothing of it goes out after the event that failed.
                key = (PARKING_CONSUMER, account)
                count, _ = batch.skipped.get(key, (0, 0))
                batch.skipped[key] = (count + 1, notification.id)
                continue
            try:
                future = self._send(notification, published)
            except MessageSizeTooLargeError as error:  # this record alone: park it
                batch.failed[account] = (notification, error)
            except _NOT_THE_EVENT:
                raise
            except Exception as error:
                batch.failed[account] = (notification, error)
            else:
                if future is not None:
                    batch.futures.append(future)
                continue
            held_back[account] = notification.id
        return batch

    def _settle(self, batch: _Batch) -> None:
        """Wait for the broker to acknowledge every record of the batch, then record its park
        rows and its position (the batches before it are settled already)."""
        deadline = time.monotonic() + ACK_TIMEOUT_SECONDS
        for future in batch.futures:
            future.get(timeout=max(0.0, deadline - time.monotonic()))
        if not self.lock.held():
            # Another relay may have taken over while this batch was sent: it will learn
            # what arrived; recording here could move the position under its feet.
            msg = "the relay lock was lost while publishing"
            raise LockLost(msg)
        db = self.runtime.db
        if batch.failed or batch.skipped:
            app = self.runtime.app
            tenants = {
                a: parking.tenant_of(app, _account_id(n)) for a, (n, _) in batch.failed.items()
            }
            # Park rows first, then the position: a relay that dies in between reads the batch
            # again, and holds the parked accounts back from the event that failed on.
            with db.transaction() as c:
                for account, (notification, failure) in batch.failed.items():
                    parking.park(c, db, PARKING_CONSUMER, notification, failure, tenants[account])
                parking.record_skipped(c, db, batch.skipped)
        self._record_position(batch.last)
        for account, (notification, failure) in batch.failed.items():
            log.error(
                "account parked: its events are held back until it is retried",
                account_id=account,
                position=notification.id,
                error=parking.error_text(failure),
            )
        if self._published:
            self._published = self._published - batch.positions

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

    def _send(self, notification: Notification, published: set[int]) -> Any:
        if notification.id in published:
            self.skipped += 1  # the broker holds it already: a batch cut short before
            return None
        return self.producer.send(self.topic, **self._record_of(notification))

    def _record_of(self, notification: Notification) -> dict[str, Any]:
        """The Kafka record of one stored event: key, partition, value and headers."""
        account_id = _account_id(notification)
        key = str(account_id).encode()
        tenant_id = self._tenant_of(account_id)
        read = stored_envelope(notification, tenant_id=tenant_id) if self._plain_json else None
        if read is None:
            event: Any = self.runtime.app.mapper.to_domain_event(notification)
            document = envelope(event, tenant_id=tenant_id, position=notification.id)
            value = encode(document)
        else:
            document, value = read
        return {
            "key": key,
            "value": value,
            "headers": _headers(document),
            "partition": self._partition_of(key),
        }

    # --- tenants ---------------------------------------------------------------------------

    def _tenant_of(self, account_id: UUID) -> str:
        known = self._tenants.get(account_id)
        if known is not None:
            return known
        first: Any = next(iter(self.runtime.app.events.get(account_id, lte=1)))
        tenant = str(first.tenant_id)  # the Opened event names the tenant
        self._keep_tenants({account_id: tenant})
        return tenant

    def _learn_tenants(self, notifications: Iterable[Notification]) -> None:
        """The tenants of a batch's accounts, for those not known yet: one query for all of
        them (an account whose first event does not read is left to ``_tenant_of``)."""
        unknown = {
            _account_id(n) for n in notifications if is_account_topic(n.topic)
        } - self._tenants.keys()
        if not unknown:
            return
        found: dict[UUID, str] = {}
        for account_id, state in self._first_states(sorted(unknown)):
            tenant = _tenant_named(state) if self._plain_json else None
            if tenant is not None:
                found[account_id] = tenant
        self._keep_tenants(found)

    def _keep_tenants(self, tenants: dict[UUID, str]) -> None:
        if len(self._tenants) + len(tenants) > TENANTS_KEPT:
            self._tenants.clear()  # a tenant never changes: forgetting costs a query, no more
        self._tenants.update(tenants)

    def _first_states(self, account_ids: Sequence[UUID]) -> list[tuple[UUID, bytes]]:
        """The stored state of each account's first event."""
        db = self.runtime.db
        table = events_table(self.runtime.app)
        if db.is_postgres:
            rows = db.query(
                f"SELECT originator_id, state FROM {table}"  # noqa: S608 - the store's table
                " WHERE originator_version = 1 AND originator_id = ANY(?)",
                (list(account_ids),),
            )
        else:
            rows = []
            for start in range(0, len(account_ids), _SQLITE_IDS_PER_QUERY):
                chunk = [a.hex for a in account_ids[start : start + _SQLITE_IDS_PER_QUERY]]
                marks = ", ".join("?" for _ in chunk)
                rows += db.query(
                    f"SELECT originator_id, state FROM {table}"  # noqa: S608 - the store's table
                    f" WHERE originator_version = 1 AND originator_id IN ({marks})",
                    chunk,
                )
        return [(UUID(str(r["originator_id"])), bytes(r["state"])) for r in rows]

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


def producer_settings() -> dict[str, Any]:
    """How the relay's producer sends: acknowledged by every replica, idempotent (so retries
    keep each partition's order), in large batches: a relay catching up fills them, and each
    batch costs the producer's thread a request of its own. A round ends with a flush, so the
    linger only delays records while more are coming."""
    return {
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": PRODUCER_LINGER_MS,
        "batch_size": PRODUCER_BATCH_BYTES,
        "max_in_flight_requests_per_connection": 5,
        "max_block_ms": 10_000,
        # A record not delivered by then fails, before the relay gives up on the batch
        # (ACK_TIMEOUT_SECONDS): no record of a given-up batch is still being retried.
        "request_timeout_ms": 10_000,
        "delivery_timeout_ms": 20_000,
    }


#: Account ids per query on SQLite (its limit on a statement's parameters is 999 in old builds).
_SQLITE_IDS_PER_QUERY = 500


def _account_id(notification: Notification) -> UUID:
    account_id = notification.originator_id
    return account_id if isinstance(account_id, UUID) else UUID(account_id)


def _tenant_named(state: bytes) -> str | None:
    """The tenant an account's stored first event names, if it reads as plain JSON."""
    try:
        tenant = orjson.loads(state).get("tenant_id")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return tenant if isinstance(tenant, str) else None


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
