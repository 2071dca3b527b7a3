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
from typing import Any, ClassVar

from eventsourcing.application import Application

from projections.database import Cursor, Database
from projections.replay import AccountReplayer, Change


class ReadModel(ABC):
    """One read model: its tables, and what each event changes in them.

    Table names are written ``{t}name`` in ``tables`` and in the model's SQL (``self.t``): the
    live model has no prefix; ``ar verify`` rebuilds each model under a scratch prefix and
    compares the two.
    """

    name: ClassVar[str]
    #: DDL of the model's tables, with ``{t}`` before each name it creates.
    tables: ClassVar[Sequence[str]]
    table_names: ClassVar[Sequence[str]]

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix

    def t(self, table: str) -> str:
        return f"{self.prefix}{table}"

    @property
    def tracking_name(self) -> str:
        """The model's row in ``projection_tracking`` (scratch copies track on their own)."""
        return self.t(self.name)

    def ddl(self) -> list[str]:
        return [statement.replace("{t}", self.prefix) for statement in self.tables]

    @abstractmethod
    def handle(self, c: Cursor, db: Database, change: Change) -> None:
        """Apply one event's change to the model's tables, inside the batch's transaction."""


class TrackingConflict(Exception):
    """Another projector advanced this read model first; the batch was rolled back."""


TRACKING_TABLE = (
    "CREATE TABLE IF NOT EXISTS projection_tracking ("
    " projection TEXT PRIMARY KEY,"
    " notification_id {bigint} NOT NULL)"
)


class Projector:
    def __init__(
        self,
        app: Application[Any],
        db: Database,
        models: Sequence[ReadModel],
        *,
        batch_size: int = 500,
    ) -> None:
        self.app = app
        self.db = db
        self.models = list(models)
        self.batch_size = batch_size
        self.replayer = AccountReplayer(app)
        db.create_tables([TRACKING_TABLE, *(ddl for m in self.models for ddl in m.ddl())])
        with db.transaction() as c:
            for model in self.models:
                c.execute(
                    db.sql(
                        "INSERT INTO projection_tracking (projection, notification_id) VALUES (?, 0)"
                        " ON CONFLICT (projection) DO NOTHING"
                    ),
                    (model.tracking_name,),
                )

    def positions(self) -> dict[str, int]:
        rows = self.db.query("SELECT projection, notification_id FROM projection_tracking")
        return {r["projection"]: int(r["notification_id"]) for r in rows}

    def lag(self) -> dict[str, int]:
        """How many notifications each read model is behind the event store."""
        head = self.app.recorder.max_notification_id() or 0
        positions = self.positions()
        return {m.name: max(0, head - positions.get(m.tracking_name, 0)) for m in self.models}

    def project_pending(self) -> int:
        """Apply the next batch to every read model behind; the number of notifications read."""
        positions = self.positions()
        start = min(positions.get(m.tracking_name, 0) for m in self.models) + 1
        notifications = self.app.recorder.select_notifications(start=start, limit=self.batch_size)
        if not notifications:
            return 0
        last = notifications[-1].id
        seen = {model: positions.get(model.tracking_name, 0) for model in self.models}
        with self.db.transaction() as c:
            for notification in notifications:
                # A change describes the account just after its event: every model reads it
                # before the next event moves the account on.
                event = self.app.mapper.to_domain_event(notification)
                change = self.replayer.advance(event, notification.id)
                for model in self.models:
                    if change.position > seen[model]:
                        model.handle(c, self.db, change)
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
        return len(notifications)

    def reset(self) -> None:
        """Empty the models' tables and rewind their tracking to the first event, in one
        transaction; ``catch_up`` then rebuilds them. Other read models are untouched."""
        with self.db.transaction() as c:
            for model in self.models:
                for table in model.table_names:
                    c.execute(f"DROP TABLE IF EXISTS {model.t(table)}")
                for statement in model.ddl():
                    c.execute(self.db.sql(statement))
                c.execute(
                    self.db.sql(
                        "UPDATE projection_tracking SET notification_id = 0 WHERE projection = ?"
                    ),
                    (model.tracking_name,),
                )
        self.replayer = AccountReplayer(self.app)

    def catch_up(self, progress: Callable[[int], None] | None = None) -> int:
        total = 0
        while n := self.project_pending():
            total += n
            if progress is not None:
                progress(n)
        return total

    def run(self, stop: threading.Event, poll_seconds: float = 0.2) -> None:
        while not stop.is_set():
            if self.project_pending() == 0:
                stop.wait(poll_seconds)
