"""The API keys a process has authenticated, kept so that a request does not ask the database,
and how a change to a key reaches every process's copy at once.

A *remembered* key is one this process authenticated against the ``api_keys`` table: its id,
the SHA-256 of its secret and the caller it stands for. Only keys that authenticated are
remembered, and at most ``capacity`` of them (the least recently used goes first), so a flood
of made-up keys costs queries, never memory. A presented key matches a remembered one only
when its secret's digest is equal, compared in constant time.

The copy is *trusted* only while a *watch* vouches that no change to a key row can have gone
unseen; otherwise every request reads the table, as if nothing were remembered:

- PostgreSQL: a trigger on ``api_keys`` (migration ``0002``) notifies the channel
  ``api_keys_changed`` with the key's id on every UPDATE or DELETE, and with an empty payload
  on TRUNCATE (every key). Each process keeps one connection that LISTENs on it
  (``PostgresKeyWatch``), connected by the first key it reads from the table. While that
  connection is not listening (not yet, lost, the database away) nothing is trusted; once it
  listens again everything remembered is forgotten, since a key may have changed while nobody
  was listening. A lost connection is found by the watch's thread, or by the first request
  that checks it; its thread then connects again, backing off while the database refuses.
- SQLite (a file): ``PRAGMA data_version`` on a connection of the watch's own
  (``SqliteKeyWatch``) changes whenever any other connection, of any process, commits; then
  everything remembered is forgotten. Writes of events count too, so under a write load this
  costs about what reading the key did; it is correct, and the embedded store is local.
- SQLite in memory: one process only, nothing is remembered.

What "at once" means. In the process that changes a key (``ApiKeys.revoke``, ``store``,
``forget``) the key is forgotten before the call returns: no later request there honours it.
Another process honours the change in every request it starts checking after the
notification has reached its socket: each check first reads what has arrived, in the
requesting thread, so an arrived notification never waits for a thread to be scheduled.
PostgreSQL signals the listening sessions while it commits, before the changing client is
told of the commit; what is left is the listening session being scheduled to write the
notification out: tens of microseconds on an idle host, milliseconds on a saturated one. A
change that commits while the listening session itself is being ended is not delivered to it;
then the window lasts until the end of that session reaches the process (the connection's
close), after which keys are read from the table again. Closing the window altogether would
take a round trip to the database per request, which is what remembering keys saves.

A key read from the table while a change to it is on its way must not be remembered after the
change was seen: every change seen (and every loss or return of the watch) advances the
*generation*, a reading is remembered only if the generation did not move since before the
query, and only while the watch vouches.
"""

from __future__ import annotations

import hmac
import os
import select
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import psycopg
from eventsourcing.postgres import PostgresDatastore

from projections.database import Database
from services.logging import get_logger

if TYPE_CHECKING:
    from services.api_keys import Caller

log = get_logger("receivables.keys")

#: How many keys a process remembers: far more than a tenant's live keys, few enough that a
#: remembered key costs nothing to speak of (a few hundred bytes each).
DEFAULT_CAPACITY = 10_000


@dataclass(frozen=True)
class Remembered:
    secret_sha256: str
    caller: Caller


class Watch(Protocol):
    def start(self) -> None:
        """Begin watching, if not yet; may wait on the database, so not on an event loop."""

    def vouches(self) -> bool:
        """Take in the changes that have arrived; whether the cache may be trusted now."""

    def close(self) -> None: ...


class KeyCache:
    """The remembered keys of one process; thread-safe."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            msg = "a key cache holds at least one key"
            raise ValueError(msg)
        self.capacity = capacity
        self.watch: Watch | None = None
        self._entries: OrderedDict[str, Remembered] = OrderedDict()
        self._generation = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, key_id: str, secret_sha256: str) -> Caller | None:
        """The caller of a remembered key whose secret matches; None means "ask the table"."""
        if self.watch is None or not self.watch.vouches():
            return None
        with self._lock:
            entry = self._entries.get(key_id)
            if entry is None:
                return None
            self._entries.move_to_end(key_id)
        if not hmac.compare_digest(entry.secret_sha256, secret_sha256):
            return None
        return entry.caller

    def ticket(self) -> int | None:
        """Taken before reading a key from the table: the generation then, or None when the
        watch does not vouch (the reading will not be remembered)."""
        if self.watch is None:
            return None
        self.watch.start()
        if not self.watch.vouches():
            return None
        with self._lock:
            return self._generation

    def remember(self, ticket: int | None, key_id: str, secret_sha256: str, caller: Caller) -> None:
        """Keep a key that authenticated, unless a change was seen since ``ticket`` was taken."""
        if ticket is None:
            return
        with self._lock:
            if ticket != self._generation:
                return
            self._entries[key_id] = Remembered(secret_sha256, caller)
            self._entries.move_to_end(key_id)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def forget(self, key_id: str) -> None:
        with self._lock:
            self._generation += 1
            self._entries.pop(key_id, None)

    def forget_all(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def close(self) -> None:
        if self.watch is not None:
            self.watch.close()
        self.forget_all()


#: The channel migration 0002's trigger notifies; an empty payload stands for every key.
CHANNEL = "api_keys_changed"
_RECONNECT_FIRST_SECONDS = 0.2
_RECONNECT_MOST_SECONDS = 5.0
_IDLE_CHECK_SECONDS = 1.0


class PostgresKeyWatch:
    """One LISTEN connection per process. The first key read from the table (``start``, in
    the thread that reads it) connects it, so a process that has read a key is listening
    unless the database refused; then a thread of its own follows it and connects it again
    whenever it is lost. Checks also read it, from the thread that asks."""

    def __init__(
        self,
        cache: KeyCache,
        connect: Callable[[], psycopg.Connection[Any]],
        on_lost: Callable[[], None] = lambda: None,
    ) -> None:
        self._cache = cache
        self._connect = connect
        self._on_lost = on_lost
        self._listening: psycopg.Connection[Any] | None = None
        self._lock = threading.Lock()  # the listening connection is read by one thread at a time
        self._starting = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wake_reader, self._wake_writer = os.pipe()  # wakes the thread to stop at once

    def start(self) -> None:
        if self._thread is not None:
            return
        with self._starting:
            if self._thread is not None or self._stop.is_set():
                return
            connection = self._listen()
            self._thread = threading.Thread(
                target=self._run, args=(connection,), name="api-key-watch", daemon=True
            )
            self._thread.start()

    def vouches(self) -> bool:
        with self._lock:
            connection = self._listening
            if connection is None:
                return False
            try:
                self._take_in(connection)
            except (psycopg.Error, OSError, ValueError):
                self._lose(connection)
                return False
            return True

    def close(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        with self._starting:
            thread, self._thread = self._thread, None
        with self._lock:
            connection = self._listening
            if connection is not None:
                self._lose(connection)
        os.write(self._wake_writer, b"x")
        if thread is not None:
            thread.join()
        elif connection is not None:
            connection.close()
        os.close(self._wake_reader)
        os.close(self._wake_writer)

    def _listen(self) -> psycopg.Connection[Any] | None:
        """A connection listening on the channel, or None when the database refused one."""
        try:
            connection = self._connect()
        except psycopg.Error:
            return None
        try:
            connection.execute(f"LISTEN {CHANNEL}")
        except psycopg.Error:
            connection.close()
            return None
        with self._lock:
            if self._stop.is_set():
                connection.close()
                return None
            # Whatever changed while nobody listened is unknown: start from nothing.
            self._cache.forget_all()
            self._listening = connection
        return connection

    def _run(self, connection: psycopg.Connection[Any] | None) -> None:
        wait = _RECONNECT_FIRST_SECONDS
        while not self._stop.is_set():
            if connection is None:
                connection = self._listen()
                if connection is None:
                    self._pause(wait)
                    wait = min(wait * 2, _RECONNECT_MOST_SECONDS)
                    continue
            wait = _RECONNECT_FIRST_SECONDS
            try:
                self._follow(connection)
            except (psycopg.Error, OSError, ValueError):
                pass
            finally:
                with self._lock:
                    self._lose(connection)
                connection.close()
                connection = None
            if not self._stop.is_set():
                log.warning("api_key_watch_lost", detail="keys are read from the database")
                self._on_lost()
                self._pause(wait)

    def _pause(self, seconds: float) -> None:
        select.select([self._wake_reader], [], [], seconds)

    def _follow(self, connection: psycopg.Connection[Any]) -> None:
        socket = connection.pgconn.socket
        while not self._stop.is_set():
            select.select([socket, self._wake_reader], [], [], _IDLE_CHECK_SECONDS)
            with self._lock:
                if self._listening is not connection:
                    return
                self._take_in(connection)

    def _take_in(self, connection: psycopg.Connection[Any]) -> None:
        """Every notification that has arrived; raises when the connection is gone. Called
        with the lock held."""
        pgconn = connection.pgconn
        while True:
            pgconn.consume_input()  # raises once the server has closed the connection
            while (notification := pgconn.notifies()) is not None:
                key_id = notification.extra.decode()
                if key_id:
                    self._cache.forget(key_id)
                else:
                    self._cache.forget_all()
            if pgconn.status != psycopg.pq.ConnStatus.OK:
                msg = "the listening connection is closed"
                raise psycopg.OperationalError(msg)
            # Still readable after reading: more bytes, or the end of the connection.
            if not select.select([pgconn.socket], [], [], 0)[0]:
                return

    def _lose(self, connection: psycopg.Connection[Any]) -> None:
        """Called with the lock held."""
        if self._listening is connection:
            self._listening = None
            self._cache.forget_all()


class SqliteKeyWatch:
    """``PRAGMA data_version`` on a connection of its own, which never writes."""

    def __init__(self, cache: KeyCache, database: str) -> None:
        self._cache = cache
        self._database = database
        self._connection: sqlite3.Connection | None = None
        self._seen: int | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        pass  # the first check opens the connection: a local file, no waiting

    def vouches(self) -> bool:
        with self._lock:
            try:
                if self._connection is None:
                    # No waiting on a lock: a busy database is read the ordinary way instead.
                    self._connection = sqlite3.connect(
                        self._database,
                        uri=True,
                        timeout=0,
                        check_same_thread=False,
                        isolation_level=None,
                    )
                (version,) = self._connection.execute("PRAGMA data_version").fetchone()
            except sqlite3.Error:
                return False
            if version != self._seen:
                self._cache.forget_all()
                self._seen = version
            return True

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


def watched_cache(db: Database, capacity: int = DEFAULT_CAPACITY) -> KeyCache:
    """A key cache for the store ``db`` is on, with the watch that engine needs."""
    cache = KeyCache(capacity)
    datastore = db.datastore
    if isinstance(datastore, PostgresDatastore):
        pool = datastore.pool
        cache.watch = PostgresKeyWatch(
            cache, connect=lambda: _listening_connection(pool), on_lost=pool.check
        )
    elif not datastore.pool.is_sqlite_memory_mode:
        cache.watch = SqliteKeyWatch(cache, datastore.pool.db_name)
    return cache


def _listening_connection(pool: Any) -> psycopg.Connection[Any]:
    """A connection beside the pool, with the pool's address and credentials."""
    parameters = {k: v for k, v in pool.kwargs.items() if k != "row_factory"}
    if getattr(pool, "get_password_func", None):
        parameters["password"] = pool.get_password_func()
    return psycopg.connect(
        pool.conninfo,
        autocommit=True,
        connect_timeout=max(1, round(pool.timeout)),
        # A connection that went quiet (a host or a network away) is found out, not trusted.
        keepalives=1,
        keepalives_idle=10,
        keepalives_interval=5,
        keepalives_count=3,
        **parameters,
    )
