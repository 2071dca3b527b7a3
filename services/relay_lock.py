"""One relay at a time: a lock that several relays started by mistake take turns on.

Two relays publishing the same notification log would interleave and duplicate records. Each
relay must hold this lock before it publishes; the others stand by and try again now and then,
so a second relay is a hot standby rather than a hazard.

- PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) on a connection of the
  relay's own. The server releases it when that connection ends, however the relay died, so a
  killed relay never leaves a stale lock. ``held()`` checks the connection is still alive.
- Embedded SQLite: an exclusive ``flock`` on a file beside the database; the kernel releases it
  when the process ends.

The lock is per topic: relays to different topics do not exclude each other.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from typing import Protocol

import psycopg

from services.settings import Settings


class RelayLock(Protocol):
    def acquire(self) -> bool:
        """Take the lock if free; True if this relay holds it now."""

    def held(self) -> bool:
        """Whether this relay still holds the lock."""

    def release(self) -> None: ...


def _lock_key(topic: str) -> int:
    """A stable signed 64-bit key for the topic (advisory locks take a bigint)."""
    digest = hashlib.sha256(f"receivables.relay:{topic}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class AdvisoryLock:
    def __init__(self, url: str, topic: str) -> None:
        self.url = url
        self.key = _lock_key(topic)
        self._connection: psycopg.Connection[tuple[object, ...]] | None = None

    def acquire(self) -> bool:
        if self.held():
            return True
        self.release()
        # Keepalives: a lock whose server vanished must be noticed, not waited on forever.
        connection = psycopg.connect(
            self.url,
            autocommit=True,
            connect_timeout=10,
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=5,
            keepalives_count=3,
            options="-c statement_timeout=10000",
        )
        row = connection.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
        if row is not None and row[0]:
            self._connection = connection
            return True
        connection.close()
        return False

    def held(self) -> bool:
        if self._connection is None:
            return False
        try:
            self._connection.execute("SELECT 1")
        except psycopg.Error:
            self.release()
            return False
        return True

    def release(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(psycopg.Error):
                self._connection.close()  # closing the session releases its advisory locks
            self._connection = None


class FileLock:
    def __init__(self, path: os.PathLike[str] | str) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None


def relay_lock(settings: Settings, topic: str) -> RelayLock:
    """The lock for relays of this store and topic."""
    if settings.database_url is not None:
        return AdvisoryLock(settings.database_url.get_secret_value(), topic)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in topic)
    return FileLock(settings.data_dir / f"relay-{safe}.lock")


# --- named locks: one holder in a cluster for a named piece of work -----------------------------


def _named_key(name: str) -> int:
    digest = hashlib.sha256(f"receivables.close-day:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class _NamedAdvisoryLock(AdvisoryLock):
    """The relay's session-level advisory lock, under a key of its name's own (the prefix is
    the close of day's, which named the first of them: keys must not change under a cluster)."""

    def __init__(self, url: str, name: str) -> None:
        super().__init__(url, name)
        self.key = _named_key(name)


def named_lock(settings: Settings, name: str) -> RelayLock:
    """A lock one process in a cluster holds at a time: PostgreSQL's advisory lock (released
    when its session ends, however the process died), or a file lock beside the SQLite
    database (released with the process)."""
    if settings.database_url is not None:
        return _NamedAdvisoryLock(settings.database_url.get_secret_value(), name)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return FileLock(settings.data_dir / f"close-day-{digest}.lock")
