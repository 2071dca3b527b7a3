"""The projector: keeps every read model current with the event store, exactly once.

It follows the event store's notification log. For each batch of events, every read model's
changes and its tracking record (the last notification it has seen) are written in ONE
transaction, so a projector killed at any point neither loses nor double-counts an event: after
a restart it resumes from the tracking record, and what it had half-done was rolled back.
The tracking update only moves forward (``WHERE notification_id < new``); two projectors
started by mistake cannot both apply a batch — the second one's transaction fails and rolls back.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import structlog
from eventsourcing.application import Application

from projections.database import Cursor, Database
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

    @abstractmethod
    def handle(self, change: Change) -> None:
        """Queue what one event changes in the model's tables (see ``write``)."""

    def write(self, statement: str, *rows: Sequence[Any]) -> None:
        """Queue rows for a statement (``?`` placeholders); written at the batch's flush."""
        self._writes.setdefault(statement, []).extend(rows)

    def flush(self, c: Cursor, db: Database) -> None:
        """Write what the batch queued, inside its transaction."""
        ordered = sorted(self._writes.items(), key=lambda item: item[0].startswith("UPDATE"))
        self._writes = {}
        for statement, rows in ordered:
            if rows:
                c.executemany(db.sql(statement), rows)

    def discard(self) -> None:
        """Forget what was queued (the batch was rolled back)."""
        self._writes = {}


class TrackingConflict(Exception):
    """Another projector advanced this read model first; the batch was rolled back."""


class ReplayFailed(Exception):
    """A stored event could not be decoded or applied; its batch was rolled back."""

    def __init__(self, position: int, error: Exception) -> None:
        super().__init__(f"event at position {position}: {type(error).__name__}: {error}")
        self.position = position
        self.error = error


#: Accounts the projector keeps replayed in memory. Events of an account not among them cost a
#: load from the store; when more accounts are active at once than this, a rebuild slows down
#: (about 1,100 events/s instead of 5,000 with 100,000 accounts interleaved) and memory grows
#: with it: ``AR_PROJECTOR_CACHE_ACCOUNTS`` trades one for the other.
DEFAULT_CACHE_ACCOUNTS = 20_000
#: The longest pause between attempts while projecting fails.
RETRY_MOST_SECONDS = 30.0
log = structlog.get_logger("receivables.projector")

#: A catch-up that applied this many events refreshes the planner's statistics.
ANALYZE_AFTER = 5_000

VERSIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS projection_versions ("
    " projection TEXT PRIMARY KEY,"
    " version INTEGER NOT NULL)"
)
TRACKING_TABLE = (
    "CREATE TABLE IF NOT EXISTS projection_tracking ("
    " projection TEXT PRIMARY KEY,"
    " notification_id {bigint} NOT NULL)"
)


def install(db: Database, models: Sequence[ReadModel]) -> None:
    """Create the models' tables, and their tracking rows at the first event, where missing;
    what exists is left as it is, so every process may run this at start. A model whose
    tables have an older shape (its ``version`` changed) is dropped and tracked from the first
    event again: the projector rebuilds it."""
    db.create_tables([TRACKING_TABLE, VERSIONS_TABLE])
    versions = {
        r["projection"]: int(r["version"])
        for r in db.query("SELECT projection, version FROM projection_versions")
    }
    tracked = tracked_positions(db)
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
        install(db, self.models)

    def _replayer(self) -> AccountReplayer:
        return AccountReplayer(self.app, self.cache_accounts, from_snapshots=self.from_snapshots)

    def positions(self) -> dict[str, int]:
        return tracked_positions(self.db)

    def lag(self) -> dict[str, int]:
        """How many notifications each read model is behind the event store."""
        return {p.name: p.behind for p in read_model_progress(self.app, self.db, self.models)}

    def project_pending(self, until: int | None = None) -> int:
        """Apply the next batch (up to notification ``until``, if given) to every read model
        behind; the number of notifications read."""
        positions = self.positions()
        start = min(positions.get(m.tracking_name, 0) for m in self.models) + 1
        if until is not None and start > until:
            return 0
        notifications = self.app.recorder.select_notifications(
            start=start, limit=self.batch_size, stop=until
        )
        if not notifications:
            return 0
        last = notifications[-1].id
        seen = {model: positions.get(model.tracking_name, 0) for model in self.models}
        try:
            self._apply(notifications, seen, last)
        except BaseException:
            for model in self.models:
                model.discard()
            raise
        return len(notifications)

    def _apply(self, notifications: Sequence[Any], seen: dict[ReadModel, int], last: int) -> None:
        for notification in notifications:
            # A change describes the account just after its event: every model reads it
            # before the next event moves the account on.
            try:
                event = self.app.mapper.to_domain_event(notification)
                for observe in self.observers:
                    observe(event, notification.id)
                change = self.replayer.advance(event, notification.id)
            except Exception as error:
                raise ReplayFailed(notification.id, error) from error
            for model in self.models:
                if change.position > seen[model]:
                    model.handle(change)
        # Only the writes take the transaction: the batch's rows, then the tracking records.
        with self.db.transaction() as c:
            for model in self.models:
                model.flush(c, self.db)
                c.execute(
                    self.db.sql(
                        "UPDATE projection_tracking SET notification_id = ?"
                        " WHERE projection = ? AND notification_id = ?"
                    ),
                    (last, model.tracking_name, seen[model]),
                )
                if c.rowcount != 1:
                    raise TrackingConflict(model.tracking_name)

    def reset(self) -> None:
        """Empty the models' tables and rewind their tracking to the first event, in one
        transaction; ``catch_up`` then rebuilds them. Other read models are untouched."""
        with self.db.transaction() as c:
            for model in self.models:
                for table in model.table_names:
                    c.execute(f"DROP TABLE IF EXISTS {model.t(table)}")
                _create(c, self.db, model, rewind=True)
        self.replayer = self._replayer()

    def drop(self) -> None:
        """Remove the models' tables and tracking rows (scratch copies, once compared)."""
        with self.db.transaction() as c:
            for model in self.models:
                for table in model.table_names:
                    c.execute(f"DROP TABLE IF EXISTS {model.t(table)}")
                for table in ("projection_tracking", "projection_versions"):
                    c.execute(
                        self.db.sql(f"DELETE FROM {table} WHERE projection = ?"),
                        (model.tracking_name,),
                    )

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
        projector applied first is simply read past; any other failure (the database gone, an
        event that cannot be applied) is logged once, and retried with a growing pause, so a
        projector inside ``ar serve`` never dies silently while the API goes on."""
        failing: str | None = None
        pause = poll_seconds
        while not stop.is_set():
            try:
                applied = self.project_pending()
            except TrackingConflict:
                continue
            except Exception as error:
                if failing != str(error):
                    log.error("projector failing; retrying", error=str(error))
                    failing = str(error)
                pause = min(RETRY_MOST_SECONDS, pause * 2)
                stop.wait(pause)
                continue
            if failing is not None:
                log.info("projector recovered", was=failing)
                failing, pause = None, poll_seconds
            if applied == 0:
                stop.wait(poll_seconds)
