"""Subscribing to billing events: a consumer-group helper for downstream Python services.

The relay (``services.relay``) publishes every recorded event to Kafka as a JSON envelope
(``services.envelope``), keyed by account id. A downstream service joins a consumer group and
hands each event to a function of its own::

    from services.subscriber import BillingEvent, BillingEvents

    def on_event(event: BillingEvent) -> None:
        if event.type == "PaymentReceived":
            ...  # record it, idempotently by event.event_id (see below)

    BillingEvents("kafka:9092", group_id="dunning-letters").run(on_event, stop=stop)

``examples/print_billing_events.py`` is a complete service in a page.

The delivery contract: **at least once, in version order per account.**

- **Commit after processing.** A record's offset is committed only after the handler returned
  for it: once per poll batch, and when ``run`` returns. A process that dies after handling a
  record and before committing it leaves the record to the next consumer of the group, which
  delivers it again.
- **A handler that raises** stops ``run``: the records handled before it are committed, that
  record is not, and the exception propagates unchanged. The record and everything after it in
  its partition are delivered again to the next consumer of the group (this instance too, if
  ``run`` is called again). There is no dead-letter topic: a record the handler can never accept
  holds up its partition until the handler is fixed.
- **Order.** One account's events are in one partition, in account-version order, and reach
  the handler in that order. Events of different accounts have no order relative to each other.
- **Duplicates.** The relay may publish an event twice (same ``event_id``). Within one
  ``BillingEvents`` instance a record is dropped — committed, not handed over — if its
  ``account_version`` is at or below the highest version already handled for its account, or
  its ``event_id`` is among the last ``remember_event_ids`` handled. As an account's events
  arrive in version order, that catches every duplicate, and every record redelivered to this
  instance after a rebalance. It does not survive the process: after a restart, or when
  another member of the group takes over a partition, records handled but not yet committed
  are delivered again. **So a handler must be idempotent by ``event_id``**, e.g. by storing
  the id under a unique constraint in the same transaction as its effect. ``seen``, if given,
  is asked with the ``event_id`` of each record that passed the checks above; when it answers
  True the record is dropped as a duplicate. It is called once per record: make it a lookup by
  index.
- **Unreadable records.** A record whose value is not JSON, not a JSON object, or lacks an
  envelope field (or has one of the wrong type) is logged at WARNING with its partition and
  offset and skipped — committed like a handled record, never retried: it is not something the
  relay wrote, and reading it again would not change it. The consumer never stops for one.
- **Where a group starts.** A group without committed offsets starts at the first event of the
  topic (``from_beginning=True``, the default: a new service sees the whole history) or at the
  end; a group that has committed resumes after its last committed record, whatever this says.
- **Stopping.** ``stop`` (a ``threading.Event``) is looked at between records and at least every
  half second while idle; ``run`` then commits what was handled and returns. ``max_events`` and
  ``idle_timeout`` end a run the same way, after that many events or that long without a record.

What the handler receives is a ``BillingEvent``: the envelope's fields with ``effective_on`` as a
``date`` and ``recorded_at`` as a ``datetime``, the whole envelope as decoded, and where it was
read (partition, offset). The helper does not interpret ``payload``: check ``type`` (and
``schema_version``) and ignore types you do not know, as new ones will be added. Amounts in a
payload are decimal strings with their currency (``{"amount": "5.00", "currency": "USD"}``):
read them with ``Decimal``, never ``float``.

Cost and limits: the duplicate check keeps one entry per account seen (a few hundred bytes
each) for the life of the instance. A poll batch (``max_poll_records``, 500) must be handled
within Kafka's ``max_poll_interval_ms`` (5 minutes), or the group evicts this consumer and
delivers the batch to another member. One instance is one consumer, not thread-safe: run one per
thread or process; members of one group share the topic's partitions.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from kafka import KafkaConsumer, OffsetAndMetadata, TopicPartition
from kafka.errors import CommitFailedError, RebalanceInProgressError
from structlog.contextvars import bound_contextvars

from services.logging import get_logger
from services.settings import Settings

log = get_logger(__name__)

DEFAULT_TOPIC: str = Settings.model_fields["kafka_topic"].default

_POLL_MS = 500

# Settings the delivery contract depends on; everything else may be passed in consumer_config.
_OWNED_SETTINGS = frozenset(
    {
        "bootstrap_servers",
        "group_id",
        "enable_auto_commit",
        "auto_offset_reset",
        "key_deserializer",
        "value_deserializer",
    }
)


@dataclass(frozen=True)
class BillingEvent:
    """One published billing event, as a handler receives it."""

    event_id: str
    type: str
    schema_version: int
    tenant_id: str
    account_id: str
    account_version: int
    position: int | None  # place in the event store's notification log
    effective_on: date  # the business date
    recorded_at: datetime  # when it was recorded (UTC)
    actor: str
    correlation_id: str | None
    payload: Mapping[str, Any] = field(hash=False)
    envelope: Mapping[str, Any] = field(hash=False, compare=False, repr=False)
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
class RunSummary:
    """What one ``run`` did with the records it read."""

    handled: int
    duplicates: int
    unreadable: int


class _Unreadable(ValueError):
    """A record that is not a billing event envelope; the message says why."""


Outcome = Literal["handled", "duplicate", "unreadable"]


class BillingEvents:
    """A consumer-group subscription to the billing events topic (see the module docstring)."""

    def __init__(
        self,
        bootstrap_servers: str | list[str],
        group_id: str,
        *,
        topic: str = DEFAULT_TOPIC,
        from_beginning: bool = True,
        seen: Callable[[str], bool] | None = None,
        remember_event_ids: int = 10_000,
        consumer_config: Mapping[str, Any] | None = None,
    ) -> None:
        if not group_id:
            msg = "a group_id is required: it is where the committed offsets are kept"
            raise ValueError(msg)
        owned = _OWNED_SETTINGS.intersection(consumer_config or {})
        if owned:
            msg = f"consumer_config may not set {sorted(owned)}: the delivery contract depends on them"
            raise ValueError(msg)
        self.bootstrap_servers = bootstrap_servers
        self.group_id = group_id
        self.topic = topic
        self.from_beginning = from_beginning
        self._seen = seen
        self._consumer_config = dict(consumer_config or {})
        self._highest_version: dict[str, int] = {}
        self._recent_ids: set[str] = set()
        self._recent_order: deque[str] = deque()
        self._remember = remember_event_ids

    def run(
        self,
        handler: Callable[[BillingEvent], object],
        *,
        stop: threading.Event | None = None,
        max_events: int | None = None,
        idle_timeout: float | None = None,
    ) -> RunSummary:
        """Hand each event to ``handler`` until stopped; commit each record after handling it.

        Returns when ``stop`` is set, after ``max_events`` handled events, or after
        ``idle_timeout`` seconds without a record (None: no limit). Re-raises what the handler
        raises, without committing that record."""
        if max_events is not None and max_events < 1:
            msg = f"max_events must be at least 1, not {max_events}"
            raise ValueError(msg)
        consumer = self._open()
        counts: dict[Outcome, int] = {"handled": 0, "duplicate": 0, "unreadable": 0}
        done: dict[TopicPartition, OffsetAndMetadata] = {}

        def finished() -> bool:
            stopped = stop is not None and stop.is_set()
            return stopped or (max_events is not None and counts["handled"] >= max_events)

        last_record = time.monotonic()
        try:
            while not finished():
                batch = consumer.poll(timeout_ms=_POLL_MS)
                if not batch:
                    if idle_timeout is not None and time.monotonic() - last_record >= idle_timeout:
                        break
                    continue
                last_record = time.monotonic()
                for record in (r for records in batch.values() for r in records):
                    if finished():
                        break  # the rest of the batch stays uncommitted: delivered next time
                    counts[self._deliver(record, handler)] += 1
                    done[TopicPartition(record.topic, record.partition)] = OffsetAndMetadata(
                        record.offset + 1, "", record.leader_epoch
                    )
                self._commit(consumer, done)
        except BaseException:
            try:
                self._commit(consumer, done)  # what was handled before the failure
            except Exception as error:  # the original failure is the one to report
                log.warning(
                    "could not commit the records handled before a failure", error=str(error)
                )
            raise
        finally:
            consumer.close(autocommit=False)
        return RunSummary(
            handled=counts["handled"],
            duplicates=counts["duplicate"],
            unreadable=counts["unreadable"],
        )

    def _open(self) -> KafkaConsumer:
        config: dict[str, Any] = {
            "client_id": f"{self.group_id}-billing-events",
            # A consumer must not create the topic: the relay creates it with its partition count.
            "allow_auto_create_topics": False,
            **self._consumer_config,
        }
        consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest" if self.from_beginning else "latest",
            **config,
        )
        consumer.subscribe([self.topic])
        return consumer

    def _deliver(self, record: Any, handler: Callable[[BillingEvent], object]) -> Outcome:
        try:
            event = _parse(record)
        except _Unreadable as why:
            log.warning(
                "skipped a record that is not a billing event",
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                reason=str(why),
            )
            return "unreadable"
        if self._already_handled(event):
            log.debug(
                "dropped a duplicate",
                event_id=event.event_id,
                partition=event.partition,
                offset=event.offset,
            )
            return "duplicate"
        with bound_contextvars(event_id=event.event_id, correlation_id=event.correlation_id):
            try:
                handler(event)
            except Exception:
                log.exception(
                    "the handler failed; stopping without committing this event",
                    partition=event.partition,
                    offset=event.offset,
                    type=event.type,
                )
                raise
        self._remember_handled(event)
        return "handled"

    def _already_handled(self, event: BillingEvent) -> bool:
        if event.account_version <= self._highest_version.get(event.account_id, 0):
            return True
        if event.event_id in self._recent_ids:
            return True
        return self._seen is not None and self._seen(event.event_id)

    def _remember_handled(self, event: BillingEvent) -> None:
        self._highest_version[event.account_id] = event.account_version
        self._recent_ids.add(event.event_id)
        self._recent_order.append(event.event_id)
        if len(self._recent_order) > self._remember:
            self._recent_ids.discard(self._recent_order.popleft())

    def _commit(
        self, consumer: KafkaConsumer, done: dict[TopicPartition, OffsetAndMetadata]
    ) -> None:
        if not done:
            return
        offsets = dict(done)
        done.clear()
        try:
            consumer.commit(offsets=offsets)
        except (CommitFailedError, RebalanceInProgressError) as error:
            # The partitions moved to another member, which starts from the last commit.
            log.warning(
                "offsets not committed: the group rebalanced; these records will be delivered again",
                partitions=sorted(tp.partition for tp in offsets),
                error=type(error).__name__,
            )


_TEXT_FIELDS = ("event_id", "type", "tenant_id", "account_id", "actor")


def _parse(record: Any) -> BillingEvent:
    """The record's value as a ``BillingEvent``; ``_Unreadable`` if it is not an envelope."""
    if record.value is None:
        raise _Unreadable("no value")
    try:
        document = json.loads(record.value)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise _Unreadable(f"not JSON: {error}") from None
    if not isinstance(document, dict):
        raise _Unreadable(f"a JSON {type(document).__name__}, not an object")
    missing = [
        name
        for name in (
            *_TEXT_FIELDS,
            "schema_version",
            "account_version",
            "position",
            "effective_on",
            "recorded_at",
            "correlation_id",
            "payload",
        )
        if name not in document
    ]
    if missing:
        raise _Unreadable(f"missing {', '.join(missing)}")
    for name in _TEXT_FIELDS:
        if not isinstance(document[name], str) or not document[name]:
            raise _Unreadable(f"{name} is not a non-empty string")
    version = _integer(document, "account_version")
    if version < 1:
        raise _Unreadable(f"account_version {version} is not positive")
    position = None if document["position"] is None else _integer(document, "position")
    correlation_id = document["correlation_id"]
    if correlation_id is not None and not isinstance(correlation_id, str):
        raise _Unreadable("correlation_id is not a string")
    if not isinstance(document["payload"], dict):
        raise _Unreadable("payload is not an object")
    try:
        effective_on = date.fromisoformat(document["effective_on"])
        recorded_at = datetime.fromisoformat(document["recorded_at"])
    except (TypeError, ValueError) as error:
        raise _Unreadable(f"a date is not ISO 8601: {error}") from None
    return BillingEvent(
        event_id=document["event_id"],
        type=document["type"],
        schema_version=_integer(document, "schema_version"),
        tenant_id=document["tenant_id"],
        account_id=document["account_id"],
        account_version=version,
        position=position,
        effective_on=effective_on,
        recorded_at=recorded_at,
        actor=document["actor"],
        correlation_id=correlation_id,
        payload=document["payload"],
        envelope=document,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
    )


def _integer(document: dict[str, Any], name: str) -> int:
    value = document[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Unreadable(f"{name} is not an integer")
    return value
