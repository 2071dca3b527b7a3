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
from collections.abc import Sequence
from typing import Any, ClassVar

from eventsourcing.application import Application

from projections.database import Cursor, Database


class ReadModel(ABC):
    """One read model: its tables, and what each event changes in them."""

    name: ClassVar[str]
    tables: ClassVar[Sequence[str]]
    table_names: ClassVar[Sequence[str]]

    @abstractmethod
    def handle(self, c: Cursor, db: Database, event: Any, position: int) -> None:
        """Apply one event to the model's tables, inside the batch's transaction."""


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
        db.create_tables([TRACKING_TABLE, *(ddl for m in self.models for ddl in m.tables)])
        with db.transaction() as c:
            for model in self.models:
                c.execute(
                    db.sql(
                        "INSERT INTO projection_tracking (projection, notification_id) VALUES (?, 0)"
                        " ON CONFLICT (projection) DO NOTHING"
                    ),
                    (model.name,),
                )

    def positions(self) -> dict[str, int]:
        rows = self.db.query("SELECT projection, notification_id FROM projection_tracking")
        return {r["projection"]: int(r["notification_id"]) for r in rows}

    def lag(self) -> dict[str, int]:
        """How many notifications each read model is behind the event store."""
        head = self.app.recorder.max_notification_id() or 0
        positions = self.positions()
        return {m.name: max(0, head - positions.get(m.name, 0)) for m in self.models}

    def project_pending(self) -> int:
        """Apply the next batch to every read model behind; the number of notifications read."""
        positions = self.positions()
        start = min(positions.get(m.name, 0) for m in self.models) + 1
        notifications = self.app.recorder.select_notifications(start=start, limit=self.batch_size)
        if not notifications:
            return 0
        events = [(n.id, self.app.mapper.to_domain_event(n)) for n in notifications]
        last = notifications[-1].id
        with self.db.transaction() as c:
            for model in self.models:
                seen = positions.get(model.name, 0)
                for position, event in events:
                    if position > seen:
                        model.handle(c, self.db, event, position)
                c.execute(
                    self.db.sql(
                        "UPDATE projection_tracking SET notification_id = ?"
                        " WHERE projection = ? AND notification_id = ?"
                    ),
                    (last, model.name, seen),
                )
                if c.rowcount != 1:
                    raise TrackingConflict(model.name)
        return len(notifications)

    def catch_up(self) -> int:
        total = 0
        while n := self.project_pending():
            total += n
        return total

    def run(self, stop: threading.Event, poll_seconds: float = 0.2) -> None:
        while not stop.is_set():
            if self.project_pending() == 0:
                stop.wait(poll_seconds)
