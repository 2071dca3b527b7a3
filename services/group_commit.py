"""Group commit: the commands that arrive together are saved together, in one transaction.

eventsourcing's PostgreSQL recorder serialises writers with a table lock, so one command per
transaction caps throughput near a thousand commands a second on two cores. The committer's
writer thread instead takes every command waiting in its queue (up to ``max_batch``), applies
each to its account — from an in-process cache, so a busy account is not replayed per command —
and saves all the new events, with the idempotency keys of the batch, in ONE transaction.

Each caller still gets its own answer, and a failure stays with the command that caused it: a
command refused by a business rule, or one that fails in a way no rule foresaw, fails alone; if
it may have half-changed its account, that account leaves the batch and its other commands are
applied one by one to a fresh copy. The cache only ever holds accounts as they are stored: the
accounts a batch changed enter it once the store has the batch, and leave it whenever a save
fails, for any reason (a conflict, a database that is away or read-only, a timeout) — so no
later command builds on events that were never stored, and no answer counts them. A batch that
fails other than on a conflict is answered with the store's error to each of its commands; the
client's retry with the same key then learns whether it was stored after all. A refusal is
reported only once the state it was judged on is known to be the stored one (the batch that
touched the account was saved, or the cached account is still the store's newest version);
otherwise the command is judged again on a fresh copy. A caller that cancels its future before
the writer reaches the command withdraws it. The writer thread survives any fault, and
``close`` answers whatever is still queued: no caller is ever left waiting.
If the batch's transaction fails on a conflict — another process wrote one of the accounts, or
recorded one of the keys, first — nothing of it is stored; the cached accounts are dropped and
each command is retried on its own, with a fresh account, a bounded number of times, then
reported as a concurrent update. A command is never saved twice: a retried request with the
same idempotency key finds the key, on file with the events, and gets the original answer.

Keys are checked optimistically: a batch is applied without first reading the keys on file,
because a retry is rare and the key's primary key catches it anyway — a retry that applies
again makes the batch's insert fail on the key, and a retry the domain refuses (the charge or
invoice is already there) is looked up before its refusal is reported. Either way the caller
gets the original answer, and a batch costs one round trip to the database, not two.

The accounts a batch needs that are not cached are read before it is applied, all in one
query (each from its newest snapshot); an account whose history does not read that way, or a
query that fails, falls back to loading that account alone, so its failure stays its own.

When several callers are busy, the writer gathers for a moment (at most ``gather_seconds``)
until as many commands wait as made up its recent busiest batch: callers answered by one
batch send their next command while the writer would otherwise already be committing a few.
"""

from __future__ import annotations

import hashlib
import json
import queue
import random
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg.errors
from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError

from domain.account import Account
from domain.errors import DomainError
from projections.database import Database
from services.errors import (
    ConcurrentUpdate,
    IdempotencyKeyReused,
    ServiceError,
    ServiceStopping,
)
from services.logging import get_logger
from services.period_barriers import Barrier, earliest_dates, read_barrier
from services.recorders import (
    IdempotencyRecord,
    IdempotentPostgresRecorder,
    IdempotentSQLiteRecorder,
)
from services.unreadable import load_account_or_problem

log = get_logger(__name__)

#: What a command does to its account: given the account (None when it does not exist yet),
#: return the account to save. It raises DomainError/ServiceError before changing anything.
Apply = Callable[[Account | None], Account]
#: The answer for the caller, built from the account after the command and the events the
#: command recorded on it: JSON-ready.
Respond = Callable[[Account, Sequence[Any]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Idempotency:
    tenant_id: str
    key: str
    request_sha256: str


def fingerprint(name: str, params: dict[str, Any]) -> str:
    """The SHA-256 of a command and its parameters, to tell a retry from a different request."""
    document = json.dumps(
        {"command": name, "params": params}, sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(document.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Outcome:
    """A command's answer: the response body, and whether it replays an earlier request."""

    body: dict[str, Any]
    replayed: bool = False
    status: int = 200


@dataclass(slots=True)
class Command:
    account_id: UUID
    apply: Apply
    respond: Respond
    idempotency: Idempotency | None = None
    status: int = 201
    future: Future[Outcome] = field(default_factory=Future)


class _Stop:
    pass


@dataclass(slots=True)
class _Batch:
    """What the writer knows of the batch it is applying."""

    #: Each command's place in the batch (by ``id``): commands of one account keep that order.
    order: dict[int, int] = field(default_factory=dict)
    #: The accounts the batch changed, as the batch left them (unsaved until ``_save``).
    touched: dict[UUID, Account] = field(default_factory=dict)
    #: The accounts not cached, read from the store in one query before the batch is applied
    #: (None: no such account); one missing here is loaded alone when its command needs it.
    loaded: dict[UUID, Account | None] = field(default_factory=dict)
    #: The version of each account taken from the cache rather than loaded by this batch: a
    #: refusal judged on it is checked against the store, which another process may have moved.
    cached: dict[UUID, int] = field(default_factory=dict)
    #: The commands applied, in order, whose events go into the batch's transaction.
    applied: list[Command] = field(default_factory=list)
    bodies: dict[int, dict[str, Any]] = field(default_factory=dict)
    records: dict[int, IdempotencyRecord] = field(default_factory=dict)
    #: The first command of the batch with each (tenant, key): a second one follows its answer.
    keyed: dict[tuple[str, str], Command] = field(default_factory=dict)
    followers: list[tuple[Command, Command]] = field(default_factory=list)
    #: Accounts that may hold a change that will not be saved: their commands are redone.
    distrusted: set[UUID] = field(default_factory=set)
    #: Commands to apply again, one at a time and in order, on a fresh copy of their account.
    redo: list[Command] = field(default_factory=list)
    #: Refusals, final only once the state they were judged on is known to be the stored one.
    refused: list[tuple[Command, DomainError | ServiceError]] = field(default_factory=list)

    def in_order(self, commands: Iterable[Command]) -> list[Command]:
        return sorted(commands, key=lambda c: self.order[id(c)])


def nothing_was_written(failure: BaseException) -> bool:
    """Whether a save that failed is known to have written nothing and may simply be redone.

    A conflict (an account's version or a key already on file, or a version gap refused) is one.
    So are the two ways an earlier failure inside psycopg's pipeline on the same connection
    shows on the next insert, before the server ran any of it: a prepared statement the driver
    believed was on the connection but was not, and a pipeline aborted (the server skips every
    statement after a failed one until the next sync; the transaction is rolled back).
    """
    if isinstance(failure, IntegrityError):
        return True
    cause: BaseException | None = failure
    while cause is not None:
        if isinstance(
            cause, psycopg.errors.InvalidSqlStatementName | psycopg.errors.PipelineAborted
        ):
            return True
        cause = cause.__cause__
    return False


def _conflict_text(conflict: BaseException | None) -> str:
    if conflict is None:
        return "none"
    return f"{type(conflict).__name__}: {conflict}"[:300]


class GroupCommitter:
    """One writer thread per process; every command of the application goes through it."""

    def __init__(
        self,
        app: Application[UUID],
        db: Database,
        *,
        max_batch: int = 256,
        cache_size: int = 10_000,
        retries: int = 10,
        snapshot_interval: int = 200,
        gather_seconds: float = 0.001,
    ) -> None:
        self.app = app
        self.db = db
        self.max_batch = max_batch
        self.gather_seconds = gather_seconds
        self._busy = 1
        self.cache_size = cache_size
        self.retries = retries
        self.snapshot_interval = snapshot_interval
        self._queue: queue.SimpleQueue[Command | _Stop] = queue.SimpleQueue()
        self._cache: OrderedDict[UUID, Account] = OrderedDict()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        self.batches = 0
        self.commands = 0
        #: Each tenant's period barrier as read for the batch being applied (read once a batch).
        self._barriers: dict[str, Barrier | None] = {}

    # --- the callers' side ----------------------------------------------------------------

    def submit(self, command: Command) -> Future[Outcome]:
        """Queue the command; its future holds its answer (or its error). Commands submitted
        one after another are applied in that order. A caller that cancels the future before
        the writer reaches the command withdraws it: nothing of it is applied."""
        with self._lock:
            if self._closed:
                command.future.set_exception(ServiceStopping())
                return command.future
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
                self._thread.start()
            self._queue.put(command)
        return command.future

    def close(self) -> None:
        """Answer everything submitted so far, then stop; later submissions are refused."""
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
            if thread is not None:
                self._queue.put(_Stop())
        if thread is not None:
            thread.join()
        while True:  # nothing is left waiting, whatever happened to the writer
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, Command) and not item.future.done():
                item.future.set_exception(ServiceStopping())

    # --- the writer thread ----------------------------------------------------------------

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if isinstance(first, _Stop):
                return
            batch, stop = self._gather(first)
            # Aim for the busiest recent batch, forgetting it slowly when callers go quiet.
            self._busy = max(len(batch), self._busy * 7 // 8)
            try:
                self._commit_batch(batch)
            except BaseException as exc:  # a fault of the committer itself: every caller hears it
                # Whatever the batch did to cached accounts is not known to be stored. The
                # writer lives on: every later caller still needs an answer.
                self._cache.clear()
                log.exception("group commit failed", commands=len(batch))
                for command in batch:
                    if not command.future.done():
                        command.future.set_exception(exc)
            if stop:
                return

    def _gather(self, first: Command) -> tuple[list[Command], bool]:
        """The commands to commit together, and whether a stop came after them."""
        batch = [first]
        wanted = min(self._busy, self.max_batch)
        deadline = time.monotonic() + (self.gather_seconds if wanted > 1 else 0)
        while True:
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, _Stop):
                    return batch, True
                batch.append(item)
            if len(batch) >= wanted or time.monotonic() >= deadline:
                return batch, False
            time.sleep(self.gather_seconds / 10)

    def barrier_of(self, tenant_id: str) -> Barrier | None:
        """The tenant's period barrier, read once for the batch (or lone command) being
        applied; the recorder checks it again inside the insert (``services.recorders``)."""
        if tenant_id not in self._barriers:
            self._barriers[tenant_id] = read_barrier(self.db, tenant_id)
        return self._barriers[tenant_id]

    def _commit_batch(self, batch: list[Command]) -> None:
        work = _Batch()
        self._barriers.clear()
        uncached = dict.fromkeys(c.account_id for c in batch if c.account_id not in self._cache)
        work.loaded = self._load_many(list(uncached))
        for position, command in enumerate(batch):
            if not command.future.set_running_or_notify_cancel():
                continue  # its caller gave up waiting before it was applied: it is withdrawn
            work.order[id(command)] = position
            idem = command.idempotency
            if idem is not None:
                twin = work.keyed.get((idem.tenant_id, idem.key))
                if twin is not None:
                    if (
                        twin.idempotency is not None
                        and twin.idempotency.request_sha256 != idem.request_sha256
                    ):
                        # Whose key it is, is settled by what is on file once the batch is
                        # saved: it may be this request's own, stored before (its twin then
                        # being the misuse). Judged alone, after the batch, key first.
                        work.redo.append(command)
                    else:
                        work.followers.append((command, twin))
                    continue
                # The key belongs to the first request that sent it, whatever becomes of it.
                work.keyed[(idem.tenant_id, idem.key)] = command
            self._apply(command, work)
        failure = self._save(work)
        self._settle_refusals(work, failure)
        for command in work.redo:
            self._execute_alone(command)
        for follower, twin in work.followers:
            self._follow(follower, twin)

    def _apply(self, command: Command, work: _Batch) -> None:
        """Apply one command of the batch to its account; whatever goes wrong stays with it."""
        if command.account_id in work.distrusted:
            work.redo.append(command)  # after its account's earlier commands, in order
            return
        account = work.touched.get(command.account_id)
        if account is None:
            try:
                account = self._cache.get(command.account_id)
                if account is not None:
                    self._cache.move_to_end(command.account_id)
                    work.cached.setdefault(command.account_id, account.version)
                elif command.account_id in work.loaded:
                    account = work.loaded[command.account_id]
                else:
                    account = self._load(command.account_id)
            except BaseException as unloadable:  # the store is away, or the history does not load
                command.future.set_exception(unloadable)
                return
        pending_before = len(account.pending_events) if account is not None else 0
        try:
            result = command.apply(account)
            # The answer describes the account as this command left it, not as the batch did.
            body = command.respond(result, result.pending_events[pending_before:])
            record = self._record(command, body) if command.idempotency is not None else None
        except (DomainError, ServiceError) as refusal:
            work.refused.append((command, refusal))
            if account is not None and len(account.pending_events) != pending_before:
                self._distrust(command.account_id, work)  # a rule broke after an event
            return
        except BaseException as fault:
            # Not a rule's refusal but a fault (a bug, an input no rule foresaw): it fails this
            # command alone, and the account it may have half-changed is not trusted.
            log.exception("command failed", account_id=str(command.account_id))
            if account is not None:
                self._distrust(command.account_id, work)
            command.future.set_exception(fault)
            return
        work.touched[command.account_id] = result
        work.applied.append(command)
        work.bodies[id(command)] = body
        if record is not None:
            work.records[id(command)] = record

    def _distrust(self, account_id: UUID, work: _Batch) -> None:
        """The account may hold a change that will never be saved: nothing may build on it, so
        it leaves the batch and the cache, and its commands so far (applied or refused) go
        through again one by one, in order, on a copy loaded afresh from the store."""
        work.distrusted.add(account_id)
        work.touched.pop(account_id, None)
        self._cache.pop(account_id, None)
        again = [c for c in work.applied if c.account_id == account_id]
        again += [c for c, _ in work.refused if c.account_id == account_id]
        work.redo += work.in_order(again)
        work.applied = [c for c in work.applied if c.account_id != account_id]
        work.refused = [(c, r) for c, r in work.refused if c.account_id != account_id]

    def _save(self, work: _Batch) -> BaseException | None:
        """Save the batch in one transaction and answer its applied commands; the failure, if
        it was not saved.

        Until the store says the batch is saved, the accounts it changed exist only in memory:
        whatever the failure, they leave the cache, so no later command builds on events that
        were never stored (a version gap) and no answer counts them (a phantom balance). On a
        conflict (another writer came first: an account's version or a key is on file) each
        command is redone alone on a fresh account, and a retried key finds its original
        answer; on any other failure each command hears it.
        """
        if not work.touched:
            return None
        records = [work.records[id(c)] for c in work.applied if id(c) in work.records]
        try:
            recordings = self.app.save(
                *work.touched.values(),
                idempotency=records,
                period_guard=earliest_dates(work.touched.values()),
            )
        except BaseException as failure:
            for account_id in work.touched:
                self._cache.pop(account_id, None)
            if nothing_was_written(failure):
                return failure  # the caller redoes the commands, refusals included, in order
            log.warning("batch not saved", commands=len(work.applied), error=type(failure).__name__)
            for command in work.applied:
                command.future.set_exception(failure)
            return failure
        self.batches += 1
        self.commands += len(work.applied)
        for account_id, account in work.touched.items():
            self._remember(account_id, account)
        for command in work.applied:
            command.future.set_result(Outcome(work.bodies[id(command)], status=command.status))
        self._take_snapshots(
            work.touched.values(), Counter(r.domain_event.originator_id for r in recordings)
        )
        return None

    def _settle_refusals(self, work: _Batch, failure: BaseException | None) -> None:
        """A refusal is reported only when the state it was judged on is the stored one.

        On an account the batch wrote, that holds once the batch is saved (a stale copy would
        have failed the save on its version); if the save failed, the refusal may rest on what
        was never stored, so it is redone with the batch's other commands after a conflict, or
        answered with the store's failure. On an account the batch only read from the cache,
        another process may have moved the account since: if the store's version differs, the
        command is redone on a fresh copy.
        """
        if failure is not None and nothing_was_written(failure):
            on_touched = [c for c, _ in work.refused if c.account_id in work.touched]
            for command in work.in_order([*work.applied, *on_touched]):
                self._execute_alone(command)
        final: list[tuple[Command, DomainError | ServiceError]] = []
        for command, refusal in work.refused:
            if command.account_id in work.touched:
                if failure is None:
                    final.append((command, refusal))
                elif not nothing_was_written(failure):
                    command.future.set_exception(failure)
            elif command.account_id in work.cached:
                try:
                    moved = (
                        self._stored_version(command.account_id) != work.cached[command.account_id]
                    )
                except Exception as unknown:
                    command.future.set_exception(unknown)
                    continue
                if moved:
                    self._cache.pop(command.account_id, None)
                    work.redo.append(command)
                else:
                    final.append((command, refusal))
            else:
                final.append((command, refusal))
        self._refuse(final)

    def _execute_alone(self, command: Command) -> None:
        """One command in a transaction of its own; any failure is its answer."""
        try:
            self._execute_alone_or_raise(command)
        except BaseException as failure:
            if not command.future.done():
                command.future.set_exception(failure)

    def _execute_alone_or_raise(self, command: Command) -> None:
        conflict: BaseException | None = None
        for attempt in range(self.retries):
            if attempt:
                # Another process keeps winning this account: step aside for a random moment
                # that grows with each attempt, so the two stop colliding in lockstep.
                time.sleep(random.uniform(0, min(0.05, 0.002 * 2**attempt)))  # noqa: S311 - jitter, not secrecy
            idem = command.idempotency
            if idem is not None:
                earlier = self._recorded_keys([command]).get((idem.tenant_id, idem.key))
                if earlier is not None:
                    self._answer_from_record(command, earlier)
                    return
            # Always a fresh copy: the account is remembered only once its events are stored.
            account = self._load(command.account_id)
            self._barriers.clear()
            pending_before = len(account.pending_events) if account is not None else 0
            try:
                result = command.apply(account)
            except (DomainError, ServiceError) as refusal:
                # The key is looked up again: another process may have stored this very
                # request since (which would be why it is refused now).
                self._refuse([(command, refusal)])
                return
            body = command.respond(result, result.pending_events[pending_before:])
            records = [self._record(command, body)] if idem is not None else []
            try:
                self.app.save(result, idempotency=records, period_guard=earliest_dates([result]))
            except Exception as failure:
                if nothing_was_written(failure):
                    conflict = failure
                    continue
                raise
            self._remember(command.account_id, result)
            command.future.set_result(Outcome(body, status=command.status))
            return
        # The last conflict is kept as the cause: the log and a caller can tell another
        # writer's version from a key, a version gap or a closed period refused every time.
        log.warning(
            "command given up after conflicts",
            account_id=str(command.account_id),
            tries=self.retries,
            conflict=_conflict_text(conflict),
        )
        gave_up = ConcurrentUpdate(str(command.account_id))
        gave_up.__cause__ = conflict
        command.future.set_exception(gave_up)

    def _refuse(self, refused: list[tuple[Command, DomainError | ServiceError]]) -> None:
        """Report each refusal — unless the command's key is on file: then the command is a
        retry of a request already recorded (which is why the domain refused it again), and
        its answer is the original one. If the keys cannot be looked up, a keyed command hears
        the store's failure rather than a refusal that may be wrong: its retry will know."""
        if not refused:
            return
        try:
            on_file = self._recorded_keys([command for command, _ in refused])
        except Exception as unknown:
            for command, refusal in refused:
                command.future.set_exception(
                    unknown if command.idempotency is not None else refusal
                )
            return
        for command, refusal in refused:
            idem = command.idempotency
            earlier = on_file.get((idem.tenant_id, idem.key)) if idem is not None else None
            if earlier is not None:
                self._answer_from_record(command, earlier)
            else:
                command.future.set_exception(refusal)

    def _follow(self, follower: Command, twin: Command) -> None:
        """A second request with the same key in the same batch gets the first one's answer."""
        try:
            # Every command of the batch is answered by now; never wait here, or the writer
            # (and every caller behind it) would wait with it.
            outcome = twin.future.result(timeout=0)
        except BaseException as exc:  # the twin's error is the follower's answer too
            follower.future.set_exception(exc)
        else:
            follower.future.set_result(Outcome(outcome.body, replayed=True, status=outcome.status))

    # --- accounts, keys and snapshots -----------------------------------------------------

    def _stored_version(self, account_id: UUID) -> int:
        """The account's newest stored version (0: none), read without decoding an event."""
        newest = self.app.recorder.select_events(account_id, desc=True, limit=1)
        return newest[0].originator_version if newest else 0

    def _load(self, account_id: UUID) -> Account | None:
        """The account as stored (None: there is none); ``AccountUnreadable`` (a refusal of the
        command, 409) when its history does not read, rather than a fault repeated for ever."""
        return load_account_or_problem(self.app, account_id)

    def _load_many(self, account_ids: list[UUID]) -> dict[UUID, Account | None]:
        """The accounts as stored, read in one query (None: there is none). An account left
        out — its history does not read, or the query failed — is loaded alone later, where
        its failure is its command's own answer."""
        recorder = self.app.recorder
        if not account_ids or not isinstance(
            recorder, IdempotentPostgresRecorder | IdempotentSQLiteRecorder
        ):
            return {}
        snapshots = self.app.snapshots
        table: str | None = None
        if snapshots is not None:
            table = getattr(snapshots.recorder, "events_table_name", None)
            if table is None:
                return {}  # snapshots kept where one query cannot reach: each loads alone
        try:
            histories = recorder.select_histories(account_ids, table)
        except Exception as failure:
            log.warning("accounts not read together", error=type(failure).__name__)
            return {}
        loaded: dict[UUID, Account | None] = {}
        for account_id in account_ids:
            history = histories.get(account_id)
            if history is None:
                loaded[account_id] = None
                continue
            stored = (
                history.events if history.snapshot is None else [history.snapshot, *history.events]
            )
            try:
                account: Any = None
                for stored_event in stored:
                    event: Any = self.app.mapper.to_domain_event(stored_event)
                    account = event.mutate(account)
            except Exception:  # noqa: S112 - loaded alone, it answers AccountUnreadable
                continue
            loaded[account_id] = account if isinstance(account, Account) else None
        return loaded

    def _remember(self, account_id: UUID, account: Account) -> None:
        self._cache[account_id] = account
        self._cache.move_to_end(account_id)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def _take_snapshots(self, accounts: Iterable[Account], saved: Counter[UUID]) -> None:
        """Snapshot each account whose saved events crossed a multiple of the interval."""
        if self.app.snapshots is None:
            return
        snapshots = []
        for account in accounts:
            before = account.version - saved[account.id]
            if account.version // self.snapshot_interval > before // self.snapshot_interval:
                snapshots.append(Account.Snapshot.take(account))
        if not snapshots:
            return
        try:
            self.app.snapshots.put(snapshots)
        except IntegrityError:
            pass  # a snapshot at that version is on file
        except Exception as failure:  # the events are stored; a snapshot can wait for the next
            log.warning("snapshot not saved", error=type(failure).__name__)

    def _recorded_keys(self, batch: list[Command]) -> dict[tuple[str, str], dict[str, Any]]:
        keys = [c.idempotency for c in batch if c.idempotency is not None]
        if not keys:
            return {}
        placeholders = ", ".join("?" for _ in keys)
        statement = (
            "SELECT tenant_id, idempotency_key, request_sha256, status, response FROM idempotency_keys"  # noqa: S608 - only placeholders are joined in
            " WHERE idempotency_key IN (" + placeholders + ")"
        )
        rows = self.db.query(statement, [k.key for k in keys])
        wanted = {(k.tenant_id, k.key) for k in keys}
        return {
            (r["tenant_id"], r["idempotency_key"]): r
            for r in rows
            if (r["tenant_id"], r["idempotency_key"]) in wanted
        }

    @staticmethod
    def _answer_from_record(command: Command, record: dict[str, Any]) -> None:
        idem = command.idempotency
        assert idem is not None  # only commands with a key are looked up
        if record["request_sha256"] != idem.request_sha256:
            command.future.set_exception(IdempotencyKeyReused(idem.key))
        else:
            command.future.set_result(
                Outcome(json.loads(record["response"]), replayed=True, status=int(record["status"]))
            )

    @staticmethod
    def _record(command: Command, body: dict[str, Any]) -> IdempotencyRecord:
        idem = command.idempotency
        assert idem is not None  # only called for commands with a key
        return IdempotencyRecord(
            tenant_id=idem.tenant_id,
            key=idem.key,
            request_sha256=idem.request_sha256,
            status=command.status,
            response=json.dumps(body, separators=(",", ":")),
            account_id=str(command.account_id),
            recorded_at=datetime.now(UTC).isoformat(),
        )
