"""Sustained command rate through the product, next to the database's own limit.

Three contenders do the same work from ``clients`` concurrent threads for the same time, on
the same PostgreSQL:

- ``insert_baseline``: plain psycopg, one single-row INSERT transaction per request into a
  table shaped like the event store's (what the database can do one request at a time);
- ``product``: the ``Receivables`` application (group commit, idempotency keys recorded with
  the events, aggregate cache, snapshots), one clerk's command per request;
- ``naive``: eventsourcing used as its documentation shows — fetch the aggregate, call the
  command, ``save`` it, one command per transaction, no cache — on the same aggregate.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import psycopg
from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder
from pydantic import SecretStr

from bench.cpu import CpuMeter
from bench.scratch import scratch_database
from bench.workload import Client, clients
from domain.account import Account
from domain.provenance import Provenance
from domain.transcodings import transcodings
from services.app import Receivables
from services.bootstrap import bootstrap
from services.commands import AccountCommand
from services.settings import Settings

CLERK = Provenance(actor="bench-clerk", correlation_id="bench")
TENANT = "bench"
PAYLOAD = os.urandom(400)  # about the size of a stored charge or payment event


@dataclass(frozen=True)
class Rate:
    done: int
    seconds: float
    #: Cores each side kept busy while it ran (``bench.cpu``).
    cores: dict[str, float] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.done / self.seconds


def drive(threads: int, seconds: float, work: Callable[[int], Callable[[], None]]) -> Rate:
    """Run ``work(i)()`` in a loop on ``threads`` threads for ``seconds``; count the calls."""
    counts = [0] * threads
    start = threading.Barrier(threads + 1)
    stop = threading.Event()
    errors: list[BaseException] = []

    def loop(i: int) -> None:
        step = work(i)
        start.wait()
        try:
            while not stop.is_set():
                step()
                counts[i] += 1
        except BaseException as exc:  # a benchmark that errors must say so, not report a rate
            errors.append(exc)
            stop.set()

    workers = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    meter = CpuMeter()
    start.wait()
    began = time.perf_counter()
    mark = meter.mark()
    stop.wait(seconds)
    stop.set()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began
    cores = meter.since(mark)
    if errors:
        raise errors[0]
    return Rate(sum(counts), elapsed, cores)


# --- the baseline -----------------------------------------------------------------------

INSERT_TABLE = (
    "CREATE TABLE bench_inserts (originator_id uuid NOT NULL, originator_version bigint NOT NULL,"
    " topic text NOT NULL, state bytea NOT NULL, notification_id bigserial,"
    " PRIMARY KEY (originator_id, originator_version))"
)


def insert_baseline(url: str, threads: int, seconds: float) -> Rate:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(INSERT_TABLE)

    def work(i: int) -> Callable[[], None]:
        conn = psycopg.connect(url, autocommit=True)
        originator = uuid.uuid4()
        version = iter(range(1, 10**9))

        def step() -> None:
            conn.execute(
                "INSERT INTO bench_inserts (originator_id, originator_version, topic, state)"
                " VALUES (%s, %s, %s, %s)",
                (originator, next(version), "receivables.account:ChargePosted", PAYLOAD),
            )

        return step

    return drive(threads, seconds, work)


# --- the product ------------------------------------------------------------------------


def open_accounts(app: Any, workload: list[Client], opened: Callable[..., Any]) -> None:
    for client in workload:
        for script in client.accounts:
            opened(app, script.number)


def product(url: str, threads: int, seconds: float, accounts_each: int) -> Rate:
    with TemporaryDirectory() as folder:
        runtime = bootstrap(Settings(data_dir=Path(folder), database_url=SecretStr(url)))
        try:
            return _drive_product(runtime.app, threads, seconds, accounts_each)
        finally:
            runtime.close()


def _drive_product(app: Receivables, threads: int, seconds: float, accounts_each: int) -> Rate:
    workload = clients(threads, accounts_each)

    def opened(app: Receivables, number: str) -> None:
        app.open_account(
            tenant_id=TENANT,
            account_number=number,
            name=f"Customer {number}",
            currency="USD",
            opened_on=date(2026, 1, 1),
            meta=CLERK,
        )

    open_accounts(app, workload, opened)

    def work(i: int) -> Callable[[], None]:
        stream = workload[i].commands()

        def step() -> None:
            number, command = next(stream)
            app.execute(
                tenant_id=TENANT,
                account_number=number,
                command=command,
                meta=CLERK,
                idempotency_key=uuid.uuid4().hex,
            )

        return step

    return drive(threads, seconds, work)


# --- the naive peer ---------------------------------------------------------------------


class NaiveReceivables(Application[uuid.UUID]):
    """The Account aggregate behind eventsourcing's documented application pattern."""

    name = "Naive"

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        for transcoding in transcodings():
            transcoder.register(transcoding)

    def open(self, number: str) -> None:
        account = Account.open(
            tenant_id=TENANT,
            account_number=number,
            name=f"Customer {number}",
            currency="USD",
            effective_on=date(2026, 1, 1),
            meta=CLERK,
        )
        self.save(account)

    def run(self, number: str, command: AccountCommand) -> None:
        account: Account = self.repository.get(Account.id_for(TENANT, number))
        command.apply_to(account, CLERK)
        self.save(account)


def naive(url: str, threads: int, seconds: float, accounts_each: int) -> Rate:
    settings = Settings(database_url=SecretStr(url))
    app = NaiveReceivables(
        env={
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "CREATE_TABLE": "y",
            **settings.postgres_parts(),
            "POSTGRES_POOL_SIZE": str(threads),
            "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
        }
    )
    try:
        workload = clients(threads, accounts_each)
        open_accounts(app, workload, lambda a, n: a.open(n))

        def work(i: int) -> Callable[[], None]:
            stream = workload[i].commands()

            def step() -> None:
                number, command = next(stream)
                app.run(number, command)

            return step

        return drive(threads, seconds, work)
    finally:
        app.close()


def measure(
    server_url: str, *, threads: int, seconds: float, accounts_each: int
) -> dict[str, Rate]:
    """One run of the three contenders, each on a fresh database."""
    rates: dict[str, Rate] = {}
    with scratch_database(server_url, "bench_insert") as url:
        rates["insert_baseline"] = insert_baseline(url, threads, seconds)
    with scratch_database(server_url, "bench_product") as url:
        rates["product"] = product(url, threads, seconds, accounts_each)
    with scratch_database(server_url, "bench_naive") as url:
        rates["naive"] = naive(url, threads, seconds, accounts_each)
    return rates
