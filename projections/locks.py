"""Read-model locks: a rebuild (or a retry of parked accounts) has a read model to itself.

Running projectors and ``ar rebuild`` write the same tables and tracking rows. Without
coordination a projector inside ``ar serve`` sees the tracking row rewound by the rebuild,
races it batch for batch, and one of the two fails with ``TrackingConflict``. So every read
model has a lock:

- each batch of a running projector takes it *shared*, inside the batch's transaction and
  without waiting: projectors do not exclude each other (their tracking rows already do);
  when it is taken exclusively, the projector steps aside (``RebuildRunning``) and tries again
  at its next poll (``projections.runner.RebuildRunning``);
- a rebuild, and a retry of parked accounts, take it *exclusively* for their whole run, waiting
  for the batches in flight to commit.

PostgreSQL: advisory locks keyed by the model's tracking name: ``pg_try_advisory_xact_lock_shared``
on the batch's own transaction (released at its commit or rollback), ``pg_advisory_lock`` on a
connection held for the rebuild (released by ``pg_advisory_unlock_all``, or by the server when
the session ends, so a killed rebuild leaves no stale lock). Embedded SQLite: ``flock`` on a
file per model beside the database, shared or exclusive; the kernel drops it with the process.
An in-memory SQLite database is one process's own: no lock is needed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from projections.database import Cursor, Database


class LockHeld(Exception):
    """A read model's lock is held exclusively: it is being rebuilt, or its parked accounts
    retried."""


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for the read model (advisory locks take a bigint)."""
    digest = hashlib.sha256(f"receivables.projection:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class ReadModelLocks:
    """The locks of the read models of one database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._folder: Path | None = None
        datastore = db.datastore
        if isinstance(datastore, SQLiteDatastore) and not datastore.pool.is_sqlite_memory_mode:
            self._folder = Path(datastore.pool.db_name).resolve().parent

    def _path(self, name: str) -> Path:
        assert self._folder is not None
        safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)
        return self._folder / f"projection-{safe}.lock"

    @contextlib.contextmanager
    def shared(self, c: Cursor, names: Sequence[str]) -> Iterator[None]:
        """Hold the models' locks shared while the batch's transaction (``c``) runs; raise
        ``LockHeld`` at once if any is held exclusively."""
        if self.db.is_postgres:
            for name in names:
                c.execute("SELECT pg_try_advisory_xact_lock_shared(%s) AS taken", (lock_key(name),))
                row = c.fetchone()
                if not row["taken"]:
                    raise LockHeld(name)
            yield  # the transaction's end releases them
            return
        if self._folder is None:
            yield
            return
        with self._flocks(names, fcntl.LOCK_SH | fcntl.LOCK_NB):
            yield

    @contextlib.contextmanager
    def exclusive(self, names: Sequence[str]) -> Iterator[None]:
        """Hold the models' locks exclusively, waiting for batches in flight to commit."""
        if self.db.is_postgres:
            assert isinstance(self.db.datastore, PostgresDatastore)
            with self.db.datastore.get_connection() as connection:
                try:
                    for name in sorted(names):  # one order for all: two rebuilds never deadlock
                        connection.execute("SELECT pg_advisory_lock(%s)", (lock_key(name),))
                    yield
                finally:
                    with contextlib.suppress(Exception):
                        connection.execute("SELECT pg_advisory_unlock_all()")
            return
        if self._folder is None:
            yield
            return
        with self._flocks(sorted(names), fcntl.LOCK_EX):
            yield

    @contextlib.contextmanager
    def _flocks(self, names: Sequence[str], mode: int) -> Iterator[None]:
        descriptors: list[int] = []
        try:
            for name in names:
                fd = os.open(self._path(name), os.O_RDWR | os.O_CREAT, 0o600)
                descriptors.append(fd)
                try:
                    fcntl.flock(fd, mode)
                except BlockingIOError:
                    raise LockHeld(name) from None
            yield
        finally:
            for fd in descriptors:
                os.close(fd)  # closing the descriptor releases its flock
