"""The reporting projector: read models built from the Kafka topic by a consumer group.

Reporting can run on other machines than the event store. Each member of a Kafka consumer
group owns some of the topic's partitions and keeps the read models (``projections.catalogue``)
in a PostgreSQL database of its own, given to it (the reporting database), beside the
projector that follows the store (``projections.runner``), which it never touches. The
members of one group share one reporting database; each writes only its partitions' accounts.

What it reads. The relay publishes every account event as a JSON envelope
(``services.envelope``), keyed by account id, so one account's events are in one partition, in
version order. ``domain_event`` turns an envelope back into the domain event it was published
from: the payload is the hash chain's canonical JSON, decoded field by field by the event
class's own type hints, and the result must hash to the envelope's ``event_hash`` or it is
refused. The read models' handlers then take it exactly as from the store: the same
``AccountReplayer`` applies it to its account with the domain's code and hands each model the
``Change``. An account the replayer does not hold (after a start, a rebalance, or evicted from
its cache) is replayed from the envelopes of its partition that precede the record, read from
the partition's first offset; the member owns that partition, so it sees them all.

Exactly once. The last offset applied of each (topic, partition) is a row of
``kafka_projection_tracking`` in the reporting database, written in the same transaction as
the batch's read-model rows. On every (re)assignment a member seeks each of its partitions to
its row's offset + 1; Kafka's committed offsets are written too, after the commit, but only
for monitoring: they are never read. The tracking update is fenced — ``WHERE last_offset =``
the offset the batch started after — and taken first in the transaction, so when a rebalance
hands a partition over mid-batch only one member's batch commits: the other one's update
matches no row, it rolls back and seeks again. A member killed at any point loses nothing and
applies nothing twice: what it had not committed is read again by whoever owns the partition.

Duplicates. The relay may publish an event twice (same event id and account version). A
record whose account version is at or below the version the account already has is passed by;
one that skips a version is a history the topic does not hold, and parks the account.

One account never stops the others: an envelope that cannot be decoded, does not hash to its
``event_hash`` or cannot be handled parks its account (``projections.parking``, consumer
``kafka-projector``) in the same transaction as the batch; the account's later records are
passed by and counted. A record that is not an envelope at all (not the relay's) is logged and
passed by, as ``services.subscriber`` does.

Covered and not covered:

- every read model of the catalogue: they are made from accounts' events alone. A tenant's
  settings (dunning policy, close schedule, chart of accounts, letterhead) and a remittance's
  posting are not on the topic (the relay passes them by), so nothing that reads them can be
  built here: the reporting database holds the read models, not the tenant's settings, the
  general-ledger exports nor the period seals, which stay with the store;
- the topic must hold every record from its first (``retention.ms=-1``, as ``deploy/local``
  makes it): a partition whose first offsets were deleted is refused, not half-built, and so
  is a gap between offsets;
- a parked account stays parked: there is no retry yet; rebuild the reporting database
  (``reset``) once the cause is fixed;
- when a model's ``version`` changes, every model is rebuilt from the first offset (tracking
  is per partition, shared by the models);
- the rows a model's flush writes that the database refuses fail the batch (retried with a
  pause) instead of being narrowed down to one account as the store-following projector does.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any, cast
from uuid import UUID

import structlog
from eventsourcing.application import Application
from eventsourcing.persistence import Notification
from eventsourcing.utils import TopicError, get_topic, resolve_topic
from kafka import KafkaConsumer, OffsetAndMetadata, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import KafkaError

from domain.account import TOPIC_PREFIX, Account
from domain.hash_chain import ENVELOPE_FIELDS, hash_of
from domain.money import Money
from projections import parking
from projections.database import Database
from projections.replay import AccountReplayer, Change
from projections.runner import (
    DEFAULT_CACHE_ACCOUNTS,
    RETRY_MOST_SECONDS,
    ReadModel,
    TrackingConflict,
    install,
)

log = structlog.get_logger("receivables.kafka_projector")

#: The projector's name among the consumers that park accounts (``projections.parking``).
PARKING_CONSUMER = "kafka-projector"
TRACKING_TABLE = "kafka_projection_tracking"
_TRACKING_DDL = (
    f"CREATE TABLE IF NOT EXISTS {TRACKING_TABLE} ("
    " topic TEXT NOT NULL,"
    " kafka_partition INTEGER NOT NULL,"
    " last_offset {bigint} NOT NULL,"
    " PRIMARY KEY (topic, kafka_partition))"
)
_POLL_MS = 500
#: How long reading a partition's history may go without a record before it counts as failed.
_HISTORY_TIMEOUT_MS = 15_000


class Unreadable(Exception):
    """An envelope that is not the faithful form of an account event; the message says why."""


class HistoryMissing(Exception):
    """The topic does not hold a partition's records from where this projector must go on."""


#: Failures of the database, Kafka or the topic, not of an account: never a reason to park.
_NOT_THE_ACCOUNT: tuple[type[BaseException], ...] = (*parking.TRANSIENT, KafkaError, HistoryMissing)


# --- envelopes back into domain events -------------------------------------------------------


def _same(value: Any) -> Any:
    return value


def _money(value: Mapping[str, str]) -> Money:
    return Money(value["amount"], value["currency"])


def _decoder(hint: Any, *, tuples: bool) -> Callable[[Any], Any]:
    """How a value of the canonical JSON becomes the domain's value of type ``hint``, as the
    event store's transcodings give it back (``domain.transcodings``): arrays are lists, but
    a domain dataclass's ``tuple`` fields are tuples."""
    origin = typing.get_origin(hint)
    arguments = typing.get_args(hint)
    simple: dict[Any, Callable[[Any], Any]] = {
        Money: _money,
        Decimal: Decimal,
        datetime: datetime.fromisoformat,
        date: date.fromisoformat,
        UUID: UUID,
        str: _same,
        int: _same,
        bool: _same,
    }
    if hint in simple:
        return simple[hint]
    if origin in (typing.Union, types.UnionType) and type(None) in arguments:
        (inner,) = (argument for argument in arguments if argument is not type(None))
        decode = _decoder(inner, tuples=tuples)
        return lambda value: None if value is None else decode(value)
    if origin in (list, tuple, Sequence) and arguments:
        item = _decoder(arguments[0], tuples=tuples)
        if origin is tuple and tuples:
            return lambda values: tuple(item(value) for value in values)
        return lambda values: [item(value) for value in values]
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _dataclass_decoder(hint)
    if origin is dict:
        return _same  # free-form JSON (an approval request's arguments)
    raise TypeError(f"{hint!r} has no decoding from the canonical JSON")


@cache
def _dataclass_decoder(cls: type) -> Callable[[Any], Any]:
    hints = typing.get_type_hints(cls)
    fields = {f.name: _decoder(hints[f.name], tuples=True) for f in dataclasses.fields(cls)}
    return lambda value: cls(**{name: decode(value[name]) for name, decode in fields.items()})


@cache
def _payload_decoders(cls: type) -> dict[str, Callable[[Any], Any]]:
    hints = typing.get_type_hints(cls)
    return {
        f.name: _decoder(hints[f.name], tuples=False)
        for f in dataclasses.fields(cls)
        if f.name not in ENVELOPE_FIELDS and f.name != "originator_topic"
    }


def domain_event(document: Mapping[str, Any]) -> Any:
    """The account event ``document`` (a published envelope) was made from; ``Unreadable``
    unless the event rebuilt hashes to the envelope's ``event_hash``."""
    try:
        cls = resolve_topic(TOPIC_PREFIX + str(document["type"]))
        payload = document["payload"]
        state = {name: decode(payload[name]) for name, decode in _payload_decoders(cls).items()}
        state |= {
            "originator_id": UUID(document["account_id"]),
            "originator_version": int(document["account_version"]),
            "timestamp": datetime.fromisoformat(document["recorded_at"]),
            "effective_on": date.fromisoformat(document["effective_on"]),
            "actor": document["actor"],
            "reason": document["reason"],
            "correlation_id": document["correlation_id"],
            "previous_hash": document["previous_hash"],
            "event_hash": document["event_hash"],
        }
    except (TopicError, KeyError, TypeError, ValueError, ArithmeticError) as error:
        raise Unreadable(f"not an account event's envelope: {parking.error_text(error)}") from None
    if any(f.name == "originator_topic" for f in dataclasses.fields(cls)):
        # The account's first event names the aggregate's class: not published, always Account.
        state["originator_topic"] = get_topic(Account)
    event = object.__new__(cls)
    object.__setattr__(event, "__dict__", state)
    if hash_of(event) != document["event_hash"]:
        raise Unreadable("the envelope's content does not hash to its event_hash")
    return event


# --- the reporting database ------------------------------------------------------------------


def install_reporting(db: Database, models: Sequence[ReadModel]) -> None:
    """The models' tables and the tracking table, where missing. If any model's tables have an
    older shape, every model is emptied and rebuilt from the first offset (``reset``)."""
    db.create_tables([_TRACKING_DDL])
    versions = {
        r["projection"]: int(r["version"])
        for r in db.query("SELECT projection, version FROM projection_versions")
    }
    if any(m.tracking_name in versions and versions[m.tracking_name] != m.version for m in models):
        reset(db, models)
    install(db, models)


def reset(db: Database, models: Sequence[ReadModel]) -> None:
    """Drop the models' tables, the tracking rows and the park rows: the group rebuilds
    everything from the first offset."""
    with db.transaction() as c:
        for model in models:
            for table in model.table_names:
                c.execute(f"DROP TABLE IF EXISTS {model.t(table)}")
            c.execute(
                db.sql("DELETE FROM projection_versions WHERE projection = ?"),
                (model.tracking_name,),
            )
        c.execute(f"DELETE FROM {TRACKING_TABLE}")
        parking.forget_consumers(c, db, [PARKING_CONSUMER])
    install(db, models)


def tracked_offsets(db: Database, topic: str) -> dict[int, int]:
    """The last offset applied of each partition of ``topic`` (-1: none yet)."""
    rows = db.query(
        f"SELECT kafka_partition, last_offset FROM {TRACKING_TABLE} WHERE topic = ?", (topic,)
    )
    return {int(r["kafka_partition"]): int(r["last_offset"]) for r in rows}


def behind(db: Database, bootstrap_servers: str | list[str], topic: str) -> int:
    """Records of ``topic`` not yet applied to the reporting database's read models."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends = consumer.end_offsets(partitions)
    finally:
        consumer.close()
    applied = tracked_offsets(db, topic)
    return sum(end - (applied.get(tp.partition, -1) + 1) for tp, end in ends.items())


# --- the member --------------------------------------------------------------------------------


@dataclass
class _Failure:
    """A record that parks its account; the batch is done again without it."""

    offset: int
    notification: Notification
    tenant_id: str | None
    error: BaseException


class _Unhandled(Exception):
    def __init__(self, account_id: str, failure: _Failure) -> None:
        super().__init__(parking.error_text(failure.error))
        self.account_id = account_id
        self.failure = failure


def _unhandled(
    account: str, document: Mapping[str, Any], offset: int, error: BaseException
) -> _Unhandled:
    """The failure of the record at ``offset``, which parks its account."""
    notification = Notification(
        id=int(document.get("position") or 0),
        originator_id=UUID(account),
        originator_version=int(document["account_version"]),
        topic=TOPIC_PREFIX + str(document.get("type")),
        state=b"",
    )
    tenant = document.get("tenant_id")
    return _Unhandled(
        account, _Failure(offset, notification, str(tenant) if tenant else None, error)
    )


class _PartitionHistory:
    """Where the replayer loads an account it does not hold (it asks ``repository.get``, as of
    the event store): the account replayed from the envelopes of its partition."""

    def __init__(self, load: Callable[[UUID, int], Account]) -> None:
        self.repository = self
        self._load = load

    def get(self, account_id: UUID, version: int) -> Account:
        return self._load(account_id, version)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]  # kafka-python is untyped
    def __init__(self, on_change: Callable[[], None]) -> None:
        self._on_change = on_change

    def on_partitions_revoked(self, revoked: Any) -> None:
        self._on_change()

    def on_partitions_assigned(self, assigned: Any) -> None:
        self._on_change()


class KafkaProjector:
    """One member of a reporting group (see the module docstring)."""

    def __init__(
        self,
        db: Database,
        models: Sequence[ReadModel],
        *,
        bootstrap_servers: str | list[str],
        topic: str,
        group: str,
        member: str | None = None,
        batch_size: int = 2_000,
        cache_accounts: int = DEFAULT_CACHE_ACCOUNTS,
        consumer_config: Mapping[str, Any] | None = None,
    ) -> None:
        self.db = db
        self.models = list(models)
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.group = group
        self.batch_size = batch_size
        self.cache_accounts = cache_accounts
        #: Records applied (and committed) by this member, for its report.
        self.applied = 0
        install_reporting(db, self.models)
        config: dict[str, Any] = {
            "client_id": f"{group}-reporting",
            "allow_auto_create_topics": False,
            **(consumer_config or {}),
        }
        if member is not None:
            # Static membership: a member restarted under the same name takes its partitions
            # back at once, without the group waiting out the session of the one that died.
            config["group_instance_id"] = member
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=group,
            enable_auto_commit=False,
            max_poll_records=batch_size,
            **config,
        )
        self.consumer.subscribe([topic], listener=_Listener(self._assignment_changed))
        #: Last offset applied per owned partition, as the reporting database says.
        self._applied: dict[int, int] = {}
        self._parked: set[str] = set()
        self._rewind_needed = True
        self._forget()

    def owned(self) -> list[int]:
        """The partitions this member owns, as of its last (re)assignment."""
        return sorted(self._applied)

    # --- memory, derived from what was committed -------------------------------------------

    def _forget(self) -> None:
        """Drop every account held in memory: it may be ahead of what was committed."""
        history = cast(Application[UUID], _PartitionHistory(self._load_account))
        self.replayer = AccountReplayer(history, self.cache_accounts)
        self._versions: dict[str, int] = {}
        #: Each account's last change of the batch, with its record (``_settle``).
        self._settling: dict[str, tuple[Change, Mapping[str, Any], int]] = {}
        self._loaded: dict[str, Account] = {}
        self._unloadable: dict[str, Exception] = {}
        self._read_from_start: set[int] = set()
        self._reading: tuple[int, int] = (0, 0)
        for model in self.models:
            model.discard()

    def _assignment_changed(self) -> None:
        # Called inside ``poll``: the batch polled is dropped and the partitions sought again.
        self._applied = {}
        self._rewind_needed = True

    def _rewind(self) -> None:
        """Seek every owned partition to its tracking row's offset + 1 (rows made where
        missing), and forget what memory holds."""
        owned = sorted(tp.partition for tp in self.consumer.assignment())
        with self.db.transaction() as c:
            c.executemany(
                self.db.sql(
                    f"INSERT INTO {TRACKING_TABLE} (topic, kafka_partition, last_offset)"
                    " VALUES (?, ?, -1) ON CONFLICT (topic, kafka_partition) DO NOTHING"
                ),
                [(self.topic, p) for p in owned],
            )
        tracked = tracked_offsets(self.db, self.topic)
        self._applied = {p: tracked[p] for p in owned}
        with self.db.transaction(commit=False) as c:
            self._parked = parking.parked_ids(c, self.db, [PARKING_CONSUMER])[PARKING_CONSUMER]
        for partition, offset in self._applied.items():
            self.consumer.seek(TopicPartition(self.topic, partition), offset + 1)
        self._forget()
        self._rewind_needed = False
        if owned:
            log.info("reporting partitions assigned", group=self.group, offsets=self._applied)

    # --- one batch ---------------------------------------------------------------------------

    def project_pending(self, timeout_ms: int = _POLL_MS) -> int:
        """Read the next batch of the owned partitions and apply it; the records read (0 when
        there were none, or the group rebalanced meanwhile)."""
        if self._rewind_needed:
            self._rewind()
        polled = self.consumer.poll(timeout_ms=timeout_ms, max_records=self.batch_size)
        if self._rewind_needed:
            # The group moved partitions during the poll: what came was read from Kafka's
            # committed offsets, not from ours.
            self._rewind()
            return 0
        batch = {}
        for tp, records in polled.items():
            if tp.partition in self._applied:
                # Records at or below the tracking offset are applied already.
                fresh = [r for r in records if r.offset > self._applied[tp.partition]]
                if fresh:
                    batch[tp.partition] = fresh
        if not batch:
            return 0
        failures: dict[str, _Failure] = {}
        try:
            while True:
                try:
                    self._apply(batch, failures)
                except _Unhandled as unhandled:
                    failures[unhandled.account_id] = unhandled.failure
                    self._forget()
                    continue
                read = sum(len(records) for records in batch.values())
                self.applied += read
                return read
        except BaseException:
            self._rewind_needed = True  # the consumer's position is past the batch
            raise

    def _apply(self, batch: dict[int, list[Any]], failures: dict[str, _Failure]) -> None:
        lasts: dict[int, int] = {}
        for partition, records in batch.items():
            expected = self._applied[partition] + 1
            if records[0].offset != expected:
                msg = (
                    f"partition {partition} of {self.topic} goes on at offset"
                    f" {records[0].offset}, not {expected}: the topic no longer holds the"
                    " records in between"
                )
                raise HistoryMissing(msg)
            lasts[partition] = records[-1].offset
            self._load_histories(partition, records)
        skipped: dict[tuple[str, str], tuple[int, int]] = {}
        for partition, records in batch.items():
            for record in records:
                document = _envelope_of(record)
                if document is None:
                    continue
                account = str(document["account_id"])
                failure = failures.get(account)
                if account in self._parked or (failure and record.offset >= failure.offset):
                    if failure is None or record.offset > failure.offset:
                        count, _ = skipped.get((PARKING_CONSUMER, account), (0, 0))
                        position = int(document.get("position") or 0)
                        skipped[(PARKING_CONSUMER, account)] = (count + 1, position)
                    continue
                self._reading = (partition, record.offset)
                self._project(account, document, record.offset)
        self._settle()
        self._commit(lasts, failures, skipped)

    def _project(self, account: str, document: Mapping[str, Any], offset: int) -> None:
        version = int(document["account_version"])
        held = self._versions.get(account, 0)
        if version <= held:
            return  # published twice: applied already
        try:
            if account in self._unloadable:
                raise self._unloadable[account]
            if version != held + 1:
                msg = f"version {version} follows version {held} on the partition"
                raise Unreadable(msg)
            event = domain_event(document)
            change = self.replayer.advance(event, int(document["position"]))
            for model in self.models:
                model.handle(change)
        except _NOT_THE_ACCOUNT:
            raise
        except Exception as error:
            raise _unhandled(account, document, offset, error) from error
        self._versions[account] = version
        self._settling[account] = (change, document, offset)

    def _settle(self) -> None:
        """Each model's rows computed from the whole account, once per batch, from the
        account's last change in it (``ReadModel.settle``); a failure parks the account at
        that record."""
        settling, self._settling = self._settling, {}
        for account, (change, document, offset) in settling.items():
            try:
                for model in self.models:
                    model.settle(change)
            except _NOT_THE_ACCOUNT:
                raise
            except Exception as error:
                raise _unhandled(account, document, offset, error) from error

    def _commit(
        self,
        lasts: dict[int, int],
        failures: dict[str, _Failure],
        skipped: dict[tuple[str, str], tuple[int, int]],
    ) -> None:
        with self.db.transaction() as c:
            # The fence first: a member that lost the partition meanwhile stops here, before
            # writing a row, and the row lock makes a concurrent one wait for this commit.
            for partition, last in lasts.items():
                c.execute(
                    self.db.sql(
                        f"UPDATE {TRACKING_TABLE} SET last_offset = ?"
                        " WHERE topic = ? AND kafka_partition = ? AND last_offset = ?"
                    ),
                    (last, self.topic, partition, self._applied[partition]),
                )
                if c.rowcount != 1:
                    raise TrackingConflict(f"{self.topic}[{partition}]")
            for failure in failures.values():
                parking.park(
                    c, self.db, PARKING_CONSUMER, failure.notification, failure.error,
                    failure.tenant_id,
                )  # fmt: skip
            parking.record_skipped(c, self.db, skipped)
            for model in self.models:
                model.flush(c, self.db)
        self._applied.update(lasts)
        self._parked |= set(failures)
        for account, failure in failures.items():
            log.error(
                "account parked: its records are passed by",
                account_id=account,
                position=failure.notification.id,
                error=parking.error_text(failure.error),
            )
        self._note_offsets(lasts)

    def _note_offsets(self, lasts: dict[int, int]) -> None:
        """Kafka's committed offsets, for the group's lag in Kafka's own tools; never read."""
        offsets = {
            TopicPartition(self.topic, p): OffsetAndMetadata(last + 1, "", -1)
            for p, last in lasts.items()
        }
        try:
            self.consumer.commit_async(offsets)
        except KafkaError as error:
            log.debug("offsets not noted in Kafka", error=str(error))

    # --- accounts the replayer does not hold -------------------------------------------------

    def _load_histories(self, partition: int, records: Sequence[Any]) -> None:
        """On the first batch of a partition since the member took it (or forgot what it
        held), replay the partition's accounts from its first offset, in one read: the
        accounts of the batch, and as many others as the cache holds. An account met later
        and not among them is either new or loaded then on its own (``_load_account``)."""
        if partition in self._read_from_start:
            return
        self._read_from_start.add(partition)
        wanted = {record.key for record in records}
        for account_id, account in self._replay(partition, records[0].offset, None).items():
            self._versions[account_id] = account.version
            if account_id.encode() in wanted or len(self._loaded) < self.cache_accounts:
                self._loaded[account_id] = account

    def _load_account(self, account_id: UUID, version: int) -> Account:
        """The account at ``version``, for the replayer: as read with its batch, or (evicted
        from the replayer's memory since) replayed again up to the record being read."""
        account = self._loaded.pop(str(account_id), None)
        if account is None or account.version != version:
            partition, offset = self._reading
            key = str(account_id).encode()
            account = self._replay(partition, offset, {key}).get(str(account_id))
        if account is None or account.version != version:
            msg = f"the partition does not hold the account's events up to version {version}"
            raise Unreadable(msg)
        return account

    def _replay(self, partition: int, before: int, keys: set[bytes] | None) -> dict[str, Account]:
        """The accounts of ``keys`` (None: all) as their envelopes at offsets below ``before``
        leave them.
        An account whose history cannot be replayed is noted in ``_unloadable``."""
        accounts: dict[str, Account] = {}
        for record in _partition_records(self.bootstrap_servers, self.topic, partition, before):
            if keys is not None and record.key not in keys:
                continue
            document = _envelope_of(record)
            if document is None:
                continue
            account_id = str(document["account_id"])
            if account_id in self._unloadable:
                continue
            held = accounts.get(account_id)
            version = int(document["account_version"])
            if held is not None and version <= held.version:
                continue  # published twice
            try:
                if version != (held.version if held is not None else 0) + 1:
                    raise Unreadable(f"version {version} follows a gap on the partition")
                accounts[account_id] = domain_event(document).mutate(held)
            except _NOT_THE_ACCOUNT:
                raise
            except Exception as error:
                self._unloadable[account_id] = error
                accounts.pop(account_id, None)
        return accounts

    # --- running -----------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Keep the read models of the owned partitions current until ``stop``; a batch
        another member applied first is read past, any other failure (the database or Kafka
        away) is logged once and retried with a growing pause."""
        failing: str | None = None
        pause = _POLL_MS / 1000
        while not stop.is_set():
            try:
                self.project_pending()
            except TrackingConflict:
                continue
            except HistoryMissing as missing:
                log.error("reporting projector stopped", error=str(missing))
                raise
            except Exception as error:
                if failing != str(error):
                    log.error("reporting projector failing; retrying", error=str(error))
                    failing = str(error)
                pause = min(RETRY_MOST_SECONDS, pause * 2)
                stop.wait(pause)
                continue
            if failing is not None:
                log.info("reporting projector recovered", was=failing)
                failing, pause = None, _POLL_MS / 1000

    def close(self) -> None:
        self.consumer.close(autocommit=False)


def _envelope_of(record: Any) -> dict[str, Any] | None:
    """The record's envelope, or None (logged) for a record that is not one of the relay's."""
    try:
        document = json.loads(record.value)
    except (TypeError, ValueError, RecursionError):
        document = None
    if isinstance(document, dict) and {"account_id", "account_version"} <= document.keys():
        return document
    log.warning(
        "passed by a record that is not a billing event",
        partition=record.partition,
        offset=record.offset,
    )
    return None


def _partition_records(
    bootstrap_servers: str | list[str], topic: str, partition: int, before: int
) -> Iterable[Any]:
    """The records of one partition from its first offset up to ``before`` (excluded)."""
    if before <= 0:
        return
    tp = TopicPartition(topic, partition)
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        max_poll_records=10_000,
    )
    try:
        consumer.assign([tp])
        first = consumer.beginning_offsets([tp])[tp]
        if first > 0:
            msg = f"partition {partition} of {topic} starts at offset {first}: history deleted"
            raise HistoryMissing(msg)
        consumer.seek(tp, 0)
        while consumer.position(tp) < before:
            polled = consumer.poll(timeout_ms=_HISTORY_TIMEOUT_MS).get(tp, [])
            if not polled:
                msg = f"partition {partition} of {topic} could not be read up to {before}"
                raise HistoryMissing(msg)
            for record in polled:
                if record.offset >= before:
                    return
                yield record
    finally:
        consumer.close()
