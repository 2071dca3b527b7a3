"""The projector: keeps every read model current with the event store, exactly once.

It follows the event store's notification log. For each batch of events, every read model's
changes and its tracking record (the last notification it has seen) are written in ONE
transaction, so a projector killed at any point neither loses nor double-counts an event: after
a restart it resumes from the tracking record, and what it had half-done was rolled back.
The tracking update only moves forward (``WHERE notification_id < new``); two projectors
started by mistake cannot both apply a batch — the second one's transaction fails and rolls back.

Only accounts' events reach the read models: a tenant's settings (``domain.tenant``) are passed
by, and shown only to observers (``ar verify`` walks their hash chains).

One account never stops the others: an event that cannot be decoded or handled parks its
account for the read models concerned (``projections.parking``). The batch that met it is
redone without that account, nothing of the first attempt written; the park row, the rows of
every other account and the tracking record then commit together, so exactly-once holds. The
account's later events are passed by (and counted) until an operator retries it
(``retry_parked``): its rows are deleted and rebuilt from its first event, and the park row
removed, in one transaction.

A rebuild and a retry have their read models to themselves: they hold the models' locks
exclusively (``projections.locks``) while running projectors step aside.

A rebuild (``Projector.rebuild``) does not follow the log: it reads the store account after
account and replays each from its first event to its newest before the next, so it keeps one
account in memory however many the store holds, and writes the rows in bulk. It runs in one
transaction, which replaces the models' rows and moves their tracking records together:
exactly once holds as for a batch, and readers see the old models until the new ones commit.
"""

from __future__ import annotations

import contextlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from uuid import UUID

import structlog
from eventsourcing.application import Application
from eventsourcing.persistence import Notification

from domain.account import is_account_topic
from projections import parking
from projections.database import Cursor, Database, events_table
from projections.locks import LockHeld, ReadModelLocks
from projections.replay import AccountReplayer, Change


class ReadModel(ABC):
    """One read model: its tables, and the rows each event adds or changes in them.

    Table names are written ``{t}name`` in ``tables`` and in the model's SQL (``self.t``): the
    live model has no prefix; ``ar verify`` rebuilds each model under a scratch prefix and
    compares the two.

    ``handle`` only queues writes (``write``); the projector ``flush``es them once per batch,
    in the batch's transaction, so a batch costs one round trip per statement rather than one
    per event. Flush order: inserts and upserts first, then updates, each statement's rows in
    event order — so an update may refer to a row inserted earlier in the same batch.
    """

    name: ClassVar[str]
    #: The shape of the model's tables: raised when they change, so that every store drops
    #: and rebuilds the model from the first event (``install``) instead of misreading it.
    version: ClassVar[int] = 1
    #: DDL of the model's tables, with ``{t}`` before each name it creates.
    tables: ClassVar[Sequence[str]]
    table_names: ClassVar[Sequence[str]]

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self._writes: dict[str, list[Sequence[Any]]] = {}

    def t(self, table: str) -> str:
        return f"{self.prefix}{table}"

    @property
    def tracking_name(self) -> str:
        """The model's row in ``projection_tracking`` (scratch copies track on their own)."""
        return self.t(self.name)

    def ddl(self) -> list[str]:
        return [statement.replace("{t}", self.prefix) for statement in self.tables]

    def engine_ddl(self, db: Database) -> list[str]:
        """Statements only ``db``'s engine understands (an index of a PostgreSQL extension),
        run as they are after ``ddl``; none by default."""
        return []

    @abstractmethod
    def handle(self, change: Change) -> None:
        """Queue what one event changes in the model's tables (see ``write``)."""

    def settle(self, change: Change) -> None:
        """Queue what is computed from the whole account, once per batch: called after the
        last of an account's events this model handles in a batch (and before the batch is
        written), with that event's change, the account as the batch leaves it. A failure here
        parks the account at that event, like one in ``handle``. Nothing by default."""
        return

    def write(self, statement: str, *rows: Sequence[Any]) -> None:
        """Queue rows for a statement (``?`` placeholders); written at the batch's flush."""
        self._writes.setdefault(statement, []).extend(rows)

    def flush(self, c: Cursor, db: Database) -> None:
        """Write what the batch queued, inside its transaction."""
        ordered = sorted(self._writes.items(), key=lambda item: item[0].startswith("UPDATE"))
        self._writes = {}
        for statement, rows in ordered:
            if rows:
                db.write_rows(c, statement, rows)

    def discard(self) -> None:
        """Forget what was queued (the batch was rolled back)."""
        self._writes = {}


class TrackingConflict(Exception):
    """Another projector advanced this read model first; the batch was rolled back."""


class RebuildRunning(TrackingConflict):
    """A read model is being rebuilt (or its parked accounts retried): the batch stepped aside
    and nothing of it was written; the running projector tries again at its next poll."""


class ParkingChanged(TrackingConflict):
    """An account was parked or resumed by another process while the batch was prepared; the
    batch was rolled back and is read again."""


@dataclass(frozen=True)
class RetryOutcome:
    """What ``retry_parked`` did with one parked account of one read model."""

    consumer: str
    account_id: str
    resumed: bool
    events: int
    error: str | None = None


class _Refused(Exception):
    """The database refused a row a model's flush wrote; the batch was rolled back."""

    def __init__(self, model: ReadModel, error: BaseException) -> None:
        super().__init__(parking.error_text(error))
        self.model = model
        self.error = error


class _Unhandled(Exception):
    """An event the models named could not decode or handle: its account is to be parked."""

    def __init__(self, notification: Any, error: BaseException, models: Sequence[str]) -> None:
        super().__init__(parking.error_text(error))
        self.notification = notification
        self.error = error
        self.models = list(models)


#: Accounts the projector keeps replayed in memory. Events of an account not among them cost a
#: load from the store; when more accounts are active at once than this, a catch-up from far
#: behind slows down (about 1,100 events/s instead of 5,000 with 100,000 accounts interleaved)
#: and memory grows with it: ``AR_PROJECTOR_CACHE_ACCOUNTS`` trades one for the other. A
#: rebuild needs none of it (see ``Projector.rebuild``).
DEFAULT_CACHE_ACCOUNTS = 20_000
#: The longest pause between attempts while projecting fails.
RETRY_MOST_SECONDS = 30.0
log = structlog.get_logger("receivables.projector")

#: How long a rebuild's transaction may wait on its replay between two statements.
REBUILD_IDLE = "5min"
#: A catch-up that applied this many events refreshes the planner's statistics.
ANALYZE_AFTER = 5_000


def install(db: Database, models: Sequence[ReadModel]) -> None:
    """Create the models' tables, and their tracking rows at the first event, where missing;
    what exists is left as it is, so every process may run this at start. A model whose
    tables have an older shape (its ``version`` changed) is dropped and tracked from the first
    event again: the projector rebuilds it. The bookkeeping tables (``projection_tracking``,
    ``projection_versions``, ``parked_accounts``) are the product's migrations' to make
    (``services.migrations``, run at every start), not a model's."""
    versions = {
        r["projection"]: int(r["version"])
        for r in db.query("SELECT projection, version FROM projection_versions")
    }
    tracked = tracked_positions(db)
    if all(
        m.tracking_name in tracked and versions.get(m.tracking_name) == m.version for m in models
    ):
        # Nothing to create: no write, so a process starting beside a busy projector or
        # rebuild never waits for (or, on SQLite, collides with) their transactions.
        return
    with db.transaction() as c:
        for model in models:
            outdated = (
                model.tracking_name in tracked
                and versions.get(model.tracking_name) != model.version
            )
            if outdated:
                for table in model.table_names:
                    c.execute(f"DROP TABLE IF EXISTS {model.t(table)}")
            _create(c, db, model, rewind=outdated)


def _create(c: Cursor, db: Database, model: ReadModel, *, rewind: bool) -> None:
    """The model's tables, its tracking row (at the first event if ``rewind``) and version."""
    for statement in model.ddl():
        c.execute(db.sql(statement))
    for statement in model.engine_ddl(db):
        c.execute(statement)
    c.execute(
        db.sql(
            "INSERT INTO projection_tracking (projection, notification_id) VALUES (?, 0)"
            " ON CONFLICT (projection) DO "
            + ("UPDATE SET notification_id = 0" if rewind else "NOTHING")
        ),
        (model.tracking_name,),
    )
    c.execute(
        db.sql(
            "INSERT INTO projection_versions (projection, version) VALUES (?, ?)"
            " ON CONFLICT (projection) DO UPDATE SET version = excluded.version"
        ),
        (model.tracking_name, model.version),
    )


def tracked_positions(db: Database) -> dict[str, int]:
    """The last notification each tracked read model has applied, by tracking name."""
    rows = db.query("SELECT projection, notification_id FROM projection_tracking")
    return {r["projection"]: int(r["notification_id"]) for r in rows}


@dataclass(frozen=True)
class Progress:
    """How far one read model has read the event store's notification log.

    ``position``: the last notification it has applied (its tables reflect every event up to
    it). ``head``: the newest notification in the store. ``behind``: the notifications still
    to apply (PostgreSQL's ids can skip a number, so it may overstate by as many).
    """

    name: str
    position: int
    head: int

    @property
    def behind(self) -> int:
        return self.head - self.position


def read_model_progress(
    app: Application[Any], db: Database, models: Sequence[ReadModel]
) -> list[Progress]:
    """Each model's progress, read without writing anything; a model never tracked is at 0.

    The positions are read before the head, so ``behind`` is never understated."""
    positions = tracked_positions(db)
    head = app.recorder.max_notification_id() or 0
    found = []
    for model in models:
        position = positions.get(model.tracking_name, 0)
        found.append(Progress(model.name, position, max(head, position)))
    return found


def _log_parked(found: Sequence[_Unhandled]) -> None:
    for failure in found:
        log.error(
            "account parked: its events are passed by until it is retried",
            account_id=str(failure.notification.originator_id),
            position=failure.notification.id,
            read_models=failure.models,
            error=parking.error_text(failure.error),
        )


def _stored_events(
    app: Application[Any], c: Cursor, db: Database, head: int, page: int
) -> Iterator[list[Notification]]:
    """Every aggregate's stored events up to notification ``head``: one aggregate after the
    other (by id), each in version order, read a page at a time (in ``c``'s transaction) along
    the table's primary key, so that no more than a page and one aggregate are in memory."""
    table = events_table(app)
    if db.is_postgres:
        select = (
            f"SELECT notification_id AS id, originator_id, originator_version, topic, state"
            f" FROM {table} WHERE (originator_id, originator_version) > (%s, %s)"
            " AND notification_id <= %s ORDER BY originator_id, originator_version LIMIT %s"
        )
        after: tuple[Any, int] = (UUID(int=0), 0)
    else:
        select = (
            f"SELECT rowid AS id, originator_id, originator_version, topic, state FROM {table}"
            " WHERE (originator_id, originator_version) > (?, ?) AND rowid <= ?"
            " ORDER BY originator_id, originator_version LIMIT ?"
        )
        after = ("", 0)  # eventsourcing's SQLite stores ids as hex text
    aggregate: list[Notification] = []
    while True:
        c.execute(select, (*after, head, page))
        rows = c.fetchall()
        for r in rows:
            notification = Notification(
                id=int(r["id"]),
                originator_id=UUID(str(r["originator_id"])),
                originator_version=int(r["originator_version"]),
                topic=r["topic"],
                state=bytes(r["state"]),
            )
            if aggregate and aggregate[0].originator_id != notification.originator_id:
                yield aggregate
                aggregate = []
            aggregate.append(notification)
        if len(rows) < page:
            break
        after = (rows[-1]["originator_id"], int(rows[-1]["originator_version"]))
    if aggregate:
        yield aggregate


class Projector:
    def __init__(
        self,
        app: Application[Any],
        db: Database,
        models: Sequence[ReadModel],
        *,
        batch_size: int = 2_000,
        from_snapshots: bool = True,
        observers: Sequence[Callable[[Any, int], None]] = (),
        cache_accounts: int = DEFAULT_CACHE_ACCOUNTS,
    ) -> None:
        self.app = app
        self.db = db
        self.models = list(models)
        self.batch_size = batch_size
        self.from_snapshots = from_snapshots
        #: Called with each decoded event and its position, as the projector passes it.
        self.observers = list(observers)
        self.cache_accounts = cache_accounts
        self.replayer = self._replayer()
        self.locks = ReadModelLocks(db)
        #: True while this projector holds its models' locks exclusively (``exclusively``).
        self._exclusive = False
        install(db, self.models)

    def _replayer(self) -> AccountReplayer:
        return AccountReplayer(self.app, self.cache_accounts, from_snapshots=self.from_snapshots)

    def positions(self) -> dict[str, int]:
        return tracked_positions(self.db)

    def lag(self) -> dict[str, int]:
        """How many notifications each read model is behind the event store."""
        return {p.name: p.behind for p in read_model_progress(self.app, self.db, self.models)}

    @property
    def names(self) -> list[str]:
        return [model.tracking_name for model in self.models]

    @contextlib.contextmanager
    def exclusively(self) -> Iterator[None]:
        """Have the models to this projector alone (a rebuild, a retry): running projectors
        step aside until it is over; waits for the batches they have in flight."""
        with self.locks.exclusive(self.names):
            self._exclusive = True
            try:
                yield
            finally:
                self._exclusive = False

    def parked(self) -> list[parking.Parked]:
        """The accounts the models have parked."""
        return parking.parked_accounts(self.db, self.names)

    def project_pending(self, until: int | None = None) -> int:
        """Apply the next batch (up to notification ``until``, if given) to every read model
        behind; the number of notifications read.

        An event that cannot be decoded or handled parks its account for the models that
        needed it, and the batch is redone without it (see the module's docstring)."""
        positions = self.positions()
        start = min(positions.get(m.tracking_name, 0) for m in self.models) + 1
        if until is not None and start > until:
            return 0
        notifications = self.app.recorder.select_notifications(
            start=start, limit=self.batch_size, stop=until
        )
        if not notifications:
            return 0
        seen = {model: positions.get(model.tracking_name, 0) for model in self.models}
        with self.db.transaction(commit=False) as c:
            known = parking.parked_ids(c, self.db, self.names)
        found: list[_Unhandled] = []
        while True:
            last = notifications[-1].id
            # Where each parked account stops, per model: before the batch (parked earlier),
            # or at the event of the batch that failed (what came before it is good).
            parked = {(name, account): 0 for name, ids in known.items() for account in ids}
            for failure in found:
                for name in failure.models:
                    key = (name, str(failure.notification.originator_id))
                    parked[key] = failure.notification.id
            try:
                self._apply(notifications, seen, last, known, parked, found)
            except _Unhandled as failure:
                self._discard(failure.notification.originator_id)
                found.append(failure)
                continue
            except _Refused as refused:
                # The database refused a row of the batch (a handler's bug): narrow the batch
                # down to the event whose rows it is, and park that event's account.
                self._discard()
                notifications = self._narrowed(notifications, seen, parked, found, refused)
                found = [f for f in found if f.notification.id <= notifications[-1].id]
                continue
            except BaseException:
                self._discard()
                raise
            return len(notifications)

    def _narrowed(
        self,
        notifications: Sequence[Any],
        seen: dict[ReadModel, int],
        parked: dict[tuple[str, str], int],
        found: list[_Unhandled],
        refused: _Refused,
    ) -> Sequence[Any]:
        """The first half of a batch whose rows the database refused; with one event left,
        the same event after parking its account (its models append to ``found``)."""
        # A row refused because another projector wrote it first is a conflict, not a bug.
        positions = self.positions()
        if any(positions.get(m.tracking_name, 0) != seen[m] for m in self.models):
            raise TrackingConflict(", ".join(self.names)) from refused
        if len(notifications) > 1:
            return notifications[: len(notifications) // 2]
        (notification,) = notifications
        account = str(notification.originator_id)
        model = refused.model
        if notification.id <= seen[model] or (model.tracking_name, account) in parked:
            raise refused.error  # not the rows of this event: not one account's doing
        found.append(_Unhandled(notification, refused.error, [model.tracking_name]))
        return notifications

    def _discard(self, account_id: UUID | None = None) -> None:
        for model in self.models:
            model.discard()
        if account_id is not None:
            # Its replay may have stopped half-way through the event: never reuse it.
            self.replayer.forget(account_id)

    def _apply(
        self,
        notifications: Sequence[Any],
        seen: dict[ReadModel, int],
        last: int,
        known: dict[str, set[str]],
        parked: dict[tuple[str, str], int],
        found: Sequence[_Unhandled],
    ) -> None:
        passed, skipped = self._handle(notifications, seen, parked, self.replayer)
        # Observers see each event once, from the attempt that is written.
        self._observe(passed)
        tenants = [parking.tenant_of(self.app, f.notification.originator_id) for f in found]
        # Only the writes take the transaction: the batch's rows, then the tracking records.
        with self.db.transaction() as c, self._shared(c):
            # Write first: the transaction takes the write lock now rather than upgrading from
            # a read, which SQLite refuses at once if a command committed in between.
            c.execute(
                self.db.sql(
                    "UPDATE projection_tracking SET notification_id = notification_id"
                    " WHERE projection = ?"
                ),
                (self.models[0].tracking_name,),
            )
            if parking.parked_ids(c, self.db, self.names) != known:
                raise ParkingChanged(", ".join(self.names))
            self._write(c, found, tenants, skipped)
            for model in self.models:
                c.execute(
                    self.db.sql(
                        "UPDATE projection_tracking SET notification_id = ?"
                        " WHERE projection = ? AND notification_id = ?"
                    ),
                    (last, model.tracking_name, seen[model]),
                )
                if c.rowcount != 1:
                    raise TrackingConflict(model.tracking_name)
        _log_parked(found)

    def _handle(
        self,
        notifications: Sequence[Any],
        seen: dict[ReadModel, int],
        parked: dict[tuple[str, str], int],
        replayer: AccountReplayer,
    ) -> tuple[list[tuple[Any, int]], dict[tuple[str, str], tuple[int, int]]]:
        """Have every model queue the rows of the notifications it has not seen; the events
        passed (for observers) and the events of parked accounts passed by, per model and
        account (how many, the last). Raises ``_Unhandled`` at an event that fails."""
        passed: list[tuple[Any, int]] = []
        skipped: dict[tuple[str, str], tuple[int, int]] = {}
        settles_at = self._last_handled(notifications, seen, parked)
        for notification in notifications:
            if not is_account_topic(notification.topic):
                # Not an account's (a tenant's settings, a remittance's posting): every model
                # passes it by. Observers (verify's chain walk) still see it, decoded like any.
                if self.observers and any(notification.id > seen[m] for m in self.models):
                    try:
                        passed.append(
                            (self.app.mapper.to_domain_event(notification), notification.id)
                        )
                    except parking.TRANSIENT:
                        raise
                    except Exception as error:
                        raise _Unhandled(notification, error, self.names) from error
                continue
            account_id = str(notification.originator_id)
            wanted: list[ReadModel] = []
            for model in self.models:
                if notification.id <= seen[model]:
                    continue
                key = (model.tracking_name, account_id)
                stops_at = parked.get(key)
                if stops_at is None or notification.id < stops_at:
                    wanted.append(model)
                elif notification.id > stops_at:  # the failed event itself is the park row's
                    count, _ = skipped.get(key, (0, 0))
                    skipped[key] = (count + 1, notification.id)
            if not wanted:
                continue  # a parked account's event is not even decoded
            # A change describes the account just after its event: every model reads it
            # before the next event moves the account on.
            try:
                event = self.app.mapper.to_domain_event(notification)
                change = replayer.advance(event, notification.id)
            except parking.TRANSIENT:
                raise
            except Exception as error:
                raise _Unhandled(notification, error, [m.tracking_name for m in wanted]) from error
            passed.append((event, notification.id))
            for model in wanted:
                try:
                    model.handle(change)
                    if settles_at[(model, account_id)] == notification.id:
                        model.settle(change)
                except parking.TRANSIENT:
                    raise
                except Exception as error:
                    raise _Unhandled(notification, error, [model.tracking_name]) from error
        return passed, skipped

    def _last_handled(
        self,
        notifications: Sequence[Any],
        seen: dict[ReadModel, int],
        parked: dict[tuple[str, str], int],
    ) -> dict[tuple[ReadModel, str], int]:
        """The last event of each account that each model handles in the batch (``_handle``'s
        choice: not seen yet, and before where the account is parked for the model)."""
        last: dict[tuple[ReadModel, str], int] = {}
        for notification in notifications:
            if not is_account_topic(notification.topic):
                continue
            account_id = str(notification.originator_id)
            for model in self.models:
                stops_at = parked.get((model.tracking_name, account_id))
                if notification.id > seen[model] and (
                    stops_at is None or notification.id < stops_at
                ):
                    last[(model, account_id)] = notification.id
        return last

    def _write(
        self,
        c: Cursor,
        found: Sequence[_Unhandled],
        tenants: Sequence[str | None],
        skipped: dict[tuple[str, str], tuple[int, int]],
    ) -> None:
        """Write the park rows of the accounts that failed, the events passed by, and every
        model's queued rows, in ``c``'s transaction."""
        for failure, tenant in zip(found, tenants, strict=True):
            for name in failure.models:
                parking.park(c, self.db, name, failure.notification, failure.error, tenant)
        parking.record_skipped(c, self.db, skipped)
        for model in self.models:
            try:
                model.flush(c, self.db)
            except parking.REFUSED_ROWS as error:
                raise _Refused(model, error) from error

    def _observe(self, passed: Sequence[tuple[Any, int]]) -> None:
        for event, position in passed:
            for observe in self.observers:
                observe(event, position)

    @contextlib.contextmanager
    def _shared(self, c: Cursor) -> Iterator[None]:
        """The models' locks, shared, for the batch's transaction (none needed while this
        projector holds them exclusively)."""
        if self._exclusive:
            yield
            return
        try:
            with self.locks.shared(c, self.names):
                yield
        except LockHeld as held:
            raise RebuildRunning(str(held)) from None

    def retry_parked(self, accounts: Sequence[str] | None = None) -> list[RetryOutcome]:
        """Resume parked accounts (all of them, or the account ids given): for each, in one
        transaction, delete its rows in each model that parked it, project its events from the
        first up to the model's tracking position, and remove the park row. Its rows then read
        as a rebuild would have made them; an account whose events still fail stays parked,
        with the newest error. Running projectors step aside meanwhile."""
        outcomes: list[RetryOutcome] = []
        with self.exclusively():
            by_account: dict[str, list[str]] = {}
            for row in self.parked():
                if accounts is None or row.account_id in accounts:
                    by_account.setdefault(row.account_id, []).append(row.consumer)
            for account_id, consumers in by_account.items():
                models = [m for m in self.models if m.tracking_name in consumers]
                outcomes += self._retry_one(account_id, models)
        return outcomes

    def _retry_one(self, account_id: str, models: Sequence[ReadModel]) -> list[RetryOutcome]:
        try:
            events = self._reproject(account_id, models)
        except parking.REFUSED_ROWS as refused:  # the bug is still there: a row refused
            return self._still_failing(account_id, models, refused)
        except parking.TRANSIENT:
            raise
        except Exception as error:
            return self._still_failing(account_id, models, error)
        return [RetryOutcome(m.tracking_name, account_id, True, events) for m in models]

    def _still_failing(
        self, account_id: str, models: Sequence[ReadModel], error: BaseException
    ) -> list[RetryOutcome]:
        for model in models:
            model.discard()
            parking.still_failing(self.db, model.tracking_name, account_id, error)
        said = parking.error_text(error)
        return [RetryOutcome(m.tracking_name, account_id, False, 0, said) for m in models]

    def _reproject(self, account_id: str, models: Sequence[ReadModel]) -> int:
        replayer = AccountReplayer(self.app, 1, from_snapshots=False)
        with self.db.transaction() as c:
            # The deletes first: the transaction writes from its first statement (see _apply).
            for model in models:
                for table in model.table_names:
                    c.execute(
                        self.db.sql(f"DELETE FROM {model.t(table)} WHERE account_id = ?"),
                        (account_id,),
                    )
            c.execute(self.db.sql("SELECT projection, notification_id FROM projection_tracking"))
            tracked = {r["projection"]: int(r["notification_id"]) for r in c.fetchall()}
            upto = {m: tracked.get(m.tracking_name, 0) for m in models}
            notifications = parking.account_notifications(
                self.app, c, self.db, account_id, max(upto.values(), default=0)
            )
            last: dict[ReadModel, Change] = {}
            for notification in notifications:
                change = replayer.advance(
                    self.app.mapper.to_domain_event(notification), notification.id
                )
                for model in models:
                    if notification.id <= upto[model]:
                        model.handle(change)
                        last[model] = change
            for model, change in last.items():
                model.settle(change)
            for model in models:
                model.flush(c, self.db)
                parking.unpark(c, self.db, model.tracking_name, account_id)
        log.info("parked account resumed", account_id=account_id, events=len(notifications))
        return len(notifications)

    def rebuild(self, progress: Callable[[int], None] | None = None) -> int:
        """Rebuild the models from the first event up to the newest, in one transaction; the
        number of events read.

        Account after account rather than in the log's order: each account is replayed from
        its first event to its newest and forgotten, so memory holds one part of the store
        (about ``batch_size`` events, whole accounts) whatever its size, and no account is
        ever loaded back from the store. Each model's rows depend on its own account's events
        only, so the tables end as a catch-up from the first event leaves them (``ar verify``
        compares the two). An account that fails is parked as a running projector would park
        it, its part of the store redone without it.

        Readers see the models as they were until the rebuild commits: the old rows are
        deleted in the same transaction, and the tracking records moved to the last event read
        with them, so a rebuild stopped half-way leaves everything as it was. Running
        projectors step aside meanwhile (the models' locks), then carry on from there; on the
        embedded SQLite, commands wait for the rebuild to commit."""
        events = 0
        holding = contextlib.nullcontext() if self._exclusive else self.exclusively()
        with holding, self.db.transaction() as c:
            if self.db.is_postgres:
                # The transaction idles while each part is replayed: longer than the seconds
                # the pool allows a forgotten transaction (a rebuild that dies ends it anyway).
                c.execute(f"SET LOCAL idle_in_transaction_session_timeout = '{REBUILD_IDLE}'")
            # The deletes first: the transaction writes from its first statement (see _apply).
            for model in self.models:
                for table in model.table_names:
                    c.execute(f"DELETE FROM {model.t(table)}")
            parking.forget_consumers(c, self.db, self.names)
            head = _head(self.app, c, self.db)
            part: list[Notification] = []
            for aggregate in _stored_events(self.app, c, self.db, head, self.batch_size):
                part += aggregate
                if len(part) >= self.batch_size:
                    self._rebuild_part(c, part)
                    events += len(part)
                    if progress is not None:
                        progress(len(part))
                    part = []
            if part:
                self._rebuild_part(c, part)
                events += len(part)
                if progress is not None:
                    progress(len(part))
            for model in self.models:
                c.execute(
                    self.db.sql(
                        "UPDATE projection_tracking SET notification_id = ? WHERE projection = ?"
                    ),
                    (head, model.tracking_name),
                )
        self.replayer = self._replayer()
        if events >= ANALYZE_AFTER:
            self.analyze()
        return events

    def _rebuild_part(self, c: Cursor, part: Sequence[Notification]) -> None:
        """Project whole accounts' events (account after account, each in version order) in
        the rebuild's transaction, under a savepoint so that a failed attempt leaves nothing:
        an event that cannot be handled parks its account and the part is redone; rows the
        database refuses are narrowed down to one account's event, which parks the account for
        that model."""
        unseen = dict.fromkeys(self.models, 0)
        found: list[_Unhandled] = []
        while True:
            parked = _stops(found)
            try:
                with _savepoint(c, keep=True):
                    # Accounts come whole and one after the other: one in memory is enough.
                    replayer = AccountReplayer(self.app, 1, from_snapshots=self.from_snapshots)
                    tenants = [
                        parking.tenant_of(self.app, f.notification.originator_id) for f in found
                    ]
                    passed: list[tuple[Any, int]] = []
                    # Written every batch, so that one long account's rows never pile up.
                    for start in range(0, len(part), self.batch_size):
                        handled, skipped = self._handle(
                            part[start : start + self.batch_size], unseen, parked, replayer
                        )
                        if self.observers:
                            passed += handled
                        first = start == 0
                        self._write(c, found if first else (), tenants if first else (), skipped)
            except _Unhandled as failure:
                self._discard()
                found.append(failure)
                continue
            except _Refused as refused:
                self._discard()
                accounts = _by_account(part)
                if len(accounts) > 1:
                    half = len(accounts) // 2
                    self._rebuild_part(c, [n for a in accounts[:half] for n in a])
                    self._rebuild_part(c, [n for a in accounts[half:] for n in a])
                    return
                found.append(self._refused_event(c, part, parked, found, refused))
                continue
            except BaseException:
                self._discard()
                raise
            self._observe(passed)
            _log_parked(found)
            return

    def _refused_event(
        self,
        c: Cursor,
        events: Sequence[Notification],
        parked: dict[tuple[str, str], int],
        found: Sequence[_Unhandled],
        refused: _Refused,
    ) -> _Unhandled:
        """The first of one account's events whose rows the database refuses (with every
        earlier event's rows written), found by trying ever shorter beginnings of the account
        and undoing each try: its account is to be parked for the model that wrote them."""
        tenants = [parking.tenant_of(self.app, f.notification.originator_id) for f in found]
        unseen = dict.fromkeys(self.models, 0)

        def attempt(length: int) -> _Refused | None:
            try:
                with _savepoint(c, keep=False):
                    replayer = AccountReplayer(self.app, 1, from_snapshots=self.from_snapshots)
                    _, skipped = self._handle(events[:length], unseen, parked, replayer)
                    self._write(c, found, tenants, skipped)
            except _Refused as refusal:
                return refusal
            finally:
                self._discard()
            return None

        shortest, refusal = len(events), refused
        longest_written = 0
        while longest_written + 1 < shortest:
            middle = (longest_written + shortest) // 2
            found_refusal = attempt(middle)
            if found_refusal is None:
                longest_written = middle
            else:
                shortest, refusal = middle, found_refusal
        notification = events[shortest - 1]
        key = (refusal.model.tracking_name, str(notification.originator_id))
        if key in parked:
            raise refusal.error  # not the rows of one account's event: not its doing
        return _Unhandled(notification, refusal.error, [refusal.model.tracking_name])

    def reset(self) -> None:
        """Empty the models' tables and rewind their tracking to the first event, in one
        transaction; ``catch_up`` then rebuilds them (and finds anything to park again).
        Other read models are untouched."""
        with self.db.transaction() as c:
            for model in self.models:
                for table in model.table_names:
                    c.execute(f"DROP TABLE IF EXISTS {model.t(table)}")
                _create(c, self.db, model, rewind=True)
            parking.forget_consumers(c, self.db, self.names)
        self.replayer = self._replayer()

    def drop(self) -> None:
        """Remove the models' tables, tracking rows and park rows (scratch copies, once
        compared)."""
        with self.db.transaction() as c:
            for model in self.models:
                for table in model.table_names:
                    c.execute(f"DROP TABLE IF EXISTS {model.t(table)}")
                for table in ("projection_tracking", "projection_versions"):
                    c.execute(
                        self.db.sql(f"DELETE FROM {table} WHERE projection = ?"),
                        (model.tracking_name,),
                    )
            parking.forget_consumers(c, self.db, self.names)

    def catch_up(
        self, progress: Callable[[int], None] | None = None, until: int | None = None
    ) -> int:
        """Project until nothing is pending (or notification ``until`` is reached)."""
        total = 0
        while n := self.project_pending(until):
            total += n
            if progress is not None:
                progress(n)
        if total >= ANALYZE_AFTER:
            self.analyze()
        return total

    def analyze(self) -> None:
        """Refresh PostgreSQL's statistics of the models' tables. Tables filled from empty
        in one go (a rebuild) otherwise keep the planner's empty-table guesses until
        autovacuum comes by, and a report's joins turn into nested loops: 12 s instead of
        16 ms for aging over 2,000 accounts."""
        if not self.db.is_postgres:
            return
        with self.db.transaction() as c:
            for model in self.models:
                for table in model.table_names:
                    c.execute(f"ANALYZE {model.t(table)}")

    def run(self, stop: threading.Event, poll_seconds: float = 0.2) -> None:
        """Keep the models current until stopped. Nothing ends it but ``stop``: a batch another
        projector applied first is simply read past; while a rebuild holds a model the
        projector stands by; an event it cannot handle parks its account; any other failure (the database gone) is
        logged once, and retried with a growing pause, so a
        projector inside ``ar serve`` never dies silently while the API goes on."""
        failing: str | None = None
        pause = poll_seconds
        stepped_aside = False
        while not stop.is_set():
            try:
                applied = self.project_pending()
            except RebuildRunning as rebuilding:
                if not stepped_aside:
                    log.info("a read model is being rebuilt; standing by", model=str(rebuilding))
                    stepped_aside = True
                stop.wait(poll_seconds)
                continue
            except TrackingConflict:
                continue
            except Exception as error:
                if failing != str(error):
                    log.error("projector failing; retrying", error=str(error))
                    failing = str(error)
                pause = min(RETRY_MOST_SECONDS, pause * 2)
                stop.wait(pause)
                continue
            if stepped_aside:
                log.info("rebuild over; projecting again")
                stepped_aside = False
            if failing is not None:
                log.info("projector recovered", was=failing)
                failing, pause = None, poll_seconds
            if applied == 0:
                stop.wait(poll_seconds)


def _head(app: Application[Any], c: Cursor, db: Database) -> int:
    """The newest notification of the store, read in ``c``'s transaction."""
    table = events_table(app)
    column = "notification_id" if db.is_postgres else "rowid"
    c.execute(f"SELECT MAX({column}) AS head FROM {table}")
    row = c.fetchone()
    return int(row["head"] or 0)


def _stops(found: Sequence[_Unhandled]) -> dict[tuple[str, str], int]:
    """Where each account that failed stops, per model: at the event that failed."""
    return {
        (name, str(failure.notification.originator_id)): failure.notification.id
        for failure in found
        for name in failure.models
    }


def _by_account(events: Sequence[Notification]) -> list[list[Notification]]:
    """Events that come account after account, cut into one list per account."""
    accounts: list[list[Notification]] = []
    for notification in events:
        if not accounts or accounts[-1][0].originator_id != notification.originator_id:
            accounts.append([])
        accounts[-1].append(notification)
    return accounts


@contextlib.contextmanager
def _savepoint(c: Cursor, *, keep: bool) -> Iterator[None]:
    """Undo what the block wrote if it raises (or always, unless ``keep``), and only that."""
    c.execute("SAVEPOINT rebuild_part")
    try:
        yield
    except BaseException:
        # A connection gone cannot roll back either: the error to raise is the first one.
        with contextlib.suppress(*parking.TRANSIENT):
            c.execute("ROLLBACK TO SAVEPOINT rebuild_part")
            c.execute("RELEASE SAVEPOINT rebuild_part")
        raise
    if not keep:
        c.execute("ROLLBACK TO SAVEPOINT rebuild_part")
    c.execute("RELEASE SAVEPOINT rebuild_part")
