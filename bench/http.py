"""Sustained commands/s over HTTP, and command latency at half the sustained rate.

One ``measure`` call runs, each on a fresh database of the same PostgreSQL server:

- ``insert_baseline``: plain psycopg single-row INSERT transactions (``bench.commands``);
- ``product_in_process``: the clerks' mixed commands (``bench.workload``) through
  ``Receivables.execute`` from ``clients`` threads, as ``bench.commands`` does;
- ``product_http``: the same commands as POSTs to ``ar serve`` as users run it: a separate
  process with its projector keeping every read model current as the commands arrive, over
  ``accounts`` accounts (10,000 by default, opened beforehand through the application and
  projected before the clock starts), from ``clients`` threads, each with its own keep-alive
  connection and every request with its own ``Idempotency-Key``. Only 2xx answers count; any
  other answer is counted apart, by status. How far the read models are behind when the clock
  stops is reported beside it (a projector that does not keep up is not hidden).
- ``product_http_hot_account``: the same server, every clerk sending to ONE account
  (``bench.workload.HotAccountClient``: charges and unapplied payments).

Then, on the same application and the same database, latency: commands arrive open-loop on a
fixed schedule at half the sustained rate just measured (in process, then over HTTP), taken by
whichever of the ``clients`` threads is free. A command's latency runs from its scheduled
arrival to its answer, so time spent waiting for a free thread counts.

Client, server and database share the machine's cores: each phase reports the CPU each side
used (cores busy on average), read from ``/proc``, so a figure limited by the load generator
says so.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from pydantic import SecretStr

from bench.commands import CLERK, TENANT, Rate, drive, insert_baseline
from bench.cpu import CpuMeter
from bench.scratch import local_postgres_url, scratch_database
from bench.workload import Client, HotAccountClient, clients, hot_account_clients
from services.api_keys import Role
from services.app import Receivables
from services.bootstrap import bootstrap
from services.settings import Settings

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
OPENED_ON = date(2026, 1, 1)
SERVER_START_SECONDS = 60.0
SERVER_STOP_SECONDS = 15.0


# --- clerks: one thread's connection and command stream -----------------------------------


@dataclass
class Tally:
    """What one clerk sent that did not succeed, by HTTP status or exception, with samples."""

    failures: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)
    reconnects: int = 0

    def fail(self, what: str, detail: str) -> None:
        self.failures[what] += 1
        if len(self.samples) < 3:
            self.samples.append(f"{what}: {detail[:300]}")


def _summed(tallies: Sequence[Tally]) -> dict[str, Any]:
    failures: Counter[str] = Counter()
    for tally in tallies:
        failures.update(tally.failures)
    return {
        "failures": sum(failures.values()),
        "failures_by_status": dict(failures),
        "failure_samples": [s for tally in tallies for s in tally.samples][:5],
        "reconnects": sum(t.reconnects for t in tallies),
    }


class InProcessClerk:
    """One clerk's commands through ``Receivables.execute``, as ``bench.commands`` sends them."""

    def __init__(self, app: Receivables, client: Client) -> None:
        self.app = app
        self.client = client
        self.stream = client.commands()
        self.tally = Tally()

    def open_accounts(self) -> None:
        for script in self.client.accounts:
            self.app.open_account(
                tenant_id=TENANT,
                account_number=script.number,
                name=f"Customer {script.number}",
                currency="USD",
                opened_on=OPENED_ON,
                meta=CLERK,
            )

    def send(self) -> bool:
        number, command = next(self.stream)
        try:
            self.app.execute(
                tenant_id=TENANT,
                account_number=number,
                command=command,
                meta=CLERK,
                idempotency_key=uuid.uuid4().hex,
            )
        except Exception as exc:  # a refused command is reported, and must not stop the others
            self.tally.fail(type(exc).__name__, str(exc))
            return False
        return True


class HttpClerk:
    """One clerk's commands as POSTs on one keep-alive connection.

    A connection the server closed (an idle keep-alive timing out) is reopened and the request
    sent again with the same Idempotency-Key, which is what the key is for: the server answers
    a repeat with the first answer and records nothing twice.
    """

    def __init__(
        self, port: int, api_key: str, paths: dict[str, str], client: Client | HotAccountClient
    ) -> None:
        self.port = port
        self.paths = paths
        self.client = client
        self.stream = client.commands()
        self.headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        self.conn = http.client.HTTPConnection(HOST, port, timeout=60)
        self.tally = Tally()

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        headers = self.headers | {"Idempotency-Key": uuid.uuid4().hex}
        for attempt in (1, 2):
            try:
                self.conn.request("POST", path, body=body, headers=headers)
                response = self.conn.getresponse()
                return response.status, response.read()
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
                if attempt == 2:
                    raise
                self.tally.reconnects += 1
        raise AssertionError  # pragma: no cover - the loop returns or raises

    def open_accounts(self) -> None:
        for script in self.client.accounts:
            body = {
                "account_number": script.number,
                "name": f"Customer {script.number}",
                "currency": "USD",
                "opened_on": OPENED_ON.isoformat(),
            }
            status, answer = self.post("/v1/accounts", json.dumps(body).encode())
            if status != 201:
                msg = f"opening {script.number} over HTTP answered {status}: {answer[:300]!r}"
                raise RuntimeError(msg)

    def send(self) -> bool:
        number, command = next(self.stream)
        path = self.paths[command.calls].replace("{account_number}", number)
        status, answer = self.post(path, command.model_dump_json(exclude_none=True).encode())
        if 200 <= status < 300:
            return True
        self.tally.fail(str(status), answer.decode(errors="replace"))
        return False

    def close(self) -> None:
        self.conn.close()


def _all_at_once(calls: Sequence[Callable[[], None]]) -> None:
    """Run each call on a thread of its own; re-raise the first error."""
    errors: list[BaseException] = []

    def run(call: Callable[[], None]) -> None:
        try:
            call()
        except BaseException as exc:  # reported below, on the caller's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(c,), daemon=True) for c in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


# --- the two ways of loading: as fast as it goes, and on a schedule -----------------------


def sustained(
    clerks: Sequence[InProcessClerk | HttpClerk], seconds: float, cpu: CpuMeter
) -> dict[str, Any]:
    """Every clerk sends its next command as soon as the last is answered; count the successes."""
    for clerk in clerks:
        clerk.tally = Tally()

    def work(i: int) -> Callable[[], None]:
        send = clerks[i].send

        def step() -> None:
            send()

        return step

    start = cpu.mark()
    rate: Rate = drive(len(clerks), seconds, work)
    used = cpu.since(start)
    outcome = _summed([c.tally for c in clerks])
    succeeded = rate.done - outcome["failures"]
    return {"per_second": succeeded / rate.seconds, "cpu_cores_used": used, **outcome}


def _percentile(ordered: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted values."""
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def paced(
    clerks: Sequence[InProcessClerk | HttpClerk], rate: float, seconds: float, cpu: CpuMeter
) -> dict[str, Any]:
    """Commands arrive at ``rate`` per second for ``seconds``, on a fixed schedule whatever the
    answers do (open loop); each is sent by the next free clerk. Latency is from the scheduled
    arrival to the answer."""
    for clerk in clerks:
        clerk.tally = Tally()
    arrivals = max(1, int(rate * seconds))
    latencies: list[list[float]] = [[] for _ in clerks]
    finished = [0.0] * len(clerks)
    schedule = iter(range(arrivals))
    take = threading.Lock()
    ready = threading.Barrier(len(clerks) + 1)
    errors: list[BaseException] = []
    began = 0.0

    def loop(i: int) -> None:
        send = clerks[i].send
        ready.wait()
        try:
            while True:
                with take:
                    k = next(schedule, None)
                if k is None:
                    return
                due = began + k / rate
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                send()
                finished[i] = time.perf_counter()
                latencies[i].append(finished[i] - due)
        except BaseException as exc:  # a benchmark that errors must say so, not report a figure
            errors.append(exc)

    workers = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(len(clerks))]
    for worker in workers:
        worker.start()
    start = cpu.mark()
    began = time.perf_counter() + 0.01  # every thread sees it: it is set before the barrier
    ready.wait()
    for worker in workers:
        worker.join()
    used = cpu.since(start)
    if errors:
        raise errors[0]
    ordered = sorted(x for per_thread in latencies for x in per_thread)
    return {
        "target_rate": round(rate, 1),
        "achieved_rate": round(len(ordered) / (max(finished) - began), 1),
        "commands": len(ordered),
        "p50_ms": round(_percentile(ordered, 0.50) * 1000, 2),
        "p99_ms": round(_percentile(ordered, 0.99) * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
        "cpu_cores_used": used,
        **_summed([c.tally for c in clerks]),
    }


# --- in process ---------------------------------------------------------------------------


def in_process(url: str, clients_: int, seconds: float, accounts_each: int) -> dict[str, Any]:
    with TemporaryDirectory() as folder:
        runtime = bootstrap(Settings(data_dir=Path(folder), database_url=SecretStr(url)))
        try:
            clerks = [InProcessClerk(runtime.app, c) for c in clients(clients_, accounts_each)]
            for clerk in clerks:
                clerk.open_accounts()
            cpu = CpuMeter()
            full = sustained(clerks, seconds, cpu)
            half = paced(clerks, full["per_second"] / 2, seconds, cpu)
            return {"sustained": full, "latency": half}
        finally:
            runtime.close()


# --- over HTTP ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    process: subprocess.Popen[bytes]
    port: int
    api_key: str
    log: Path

    def get(self, path: str) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=10)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _clerk_key(url: str, folder: Path) -> str:
    """A clerk's API key, made by the product's own key store on the benchmark's database."""
    runtime = bootstrap(Settings(data_dir=folder, database_url=SecretStr(url)))
    try:
        return runtime.keys.create(name="bench-clerk", tenant_id=TENANT, role=Role.clerk).secret
    finally:
        runtime.close()


@contextmanager
def served(url: str, *, projector: bool = True, workers: int = 1) -> Iterator[Server]:
    """``ar serve`` on database ``url`` in a process of its own (its projector running unless
    told not to, with ``workers`` HTTP worker processes), until the end."""
    with TemporaryDirectory() as folder:
        api_key = _clerk_key(url, Path(folder))
        port = _free_port()
        env = os.environ | {
            "AR_DATABASE_URL": url,
            "AR_DATA_DIR": folder,
            "AR_HOST": HOST,
            "AR_PORT": str(port),
            "AR_LOG_LEVEL": "WARNING",
            "AR_LOG_FORMAT": "json",
        }
        log = Path(folder) / "server.log"
        with log.open("wb") as sink:
            serve = ["serve", "--workers", str(workers), *([] if projector else ["--no-projector"])]
            process = subprocess.Popen(  # noqa: S603 - our own CLI, arguments of our own
                [sys.executable, "-m", "services.cli", *serve],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        server = Server(process=process, port=port, api_key=api_key, log=log)
        try:
            _wait_until_healthy(server)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(SERVER_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_healthy(server: Server) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            msg = f"ar serve exited with {server.process.returncode}:\n{server.log_tail()}"
            raise RuntimeError(msg)
        try:
            if server.get("/health")[0] == 200:
                return
        except OSError:
            pass  # not listening yet
        time.sleep(0.05)
    msg = (
        f"ar serve did not answer /health within {SERVER_START_SECONDS:.0f} s:\n{server.log_tail()}"
    )
    raise RuntimeError(msg)


def command_paths(server: Server) -> dict[str, str]:
    """Each account command's path, by the ``Account`` method it calls (its operationId, which
    the server publishes in camelCase: ``postCharge`` is ``post_charge``), as the server
    publishes them, so the workload can send any command a clerk can."""
    status, document = server.get("/openapi.json")
    if status != 200:
        msg = f"GET /openapi.json answered {status}"
        raise RuntimeError(msg)
    return {
        re.sub(r"(?<!^)(?=[A-Z])", "_", operation["operationId"]).lower(): path
        for path, operations in json.loads(document)["paths"].items()
        if path.startswith("/v1/accounts/{account_number}/")
        for method, operation in operations.items()
        if method == "post"
    }


def _open_in_process(url: str, numbers: Sequence[str]) -> None:
    """Open the accounts through the application (the setup, not timed), in large batches."""
    with TemporaryDirectory() as folder:
        runtime = bootstrap(Settings(data_dir=Path(folder), database_url=SecretStr(url)))
        try:
            pending = [
                runtime.app.submit_open_account(
                    tenant_id=TENANT,
                    account_number=number,
                    name=f"Customer {number}",
                    currency="USD",
                    opened_on=OPENED_ON,
                    meta=CLERK,
                )
                for number in numbers
            ]
            for opened in pending:
                opened.result()
        finally:
            runtime.close()


def _read_models_behind(server: Server) -> int:
    """Events the furthest-behind read model has still to project, as the server reports it."""
    conn = http.client.HTTPConnection(HOST, server.port, timeout=30)
    try:
        conn.request(
            "GET", "/v1/projections", headers={"Authorization": f"Bearer {server.api_key}"}
        )
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    if response.status != 200:
        msg = f"GET /v1/projections answered {response.status}: {body[:300]!r}"
        raise RuntimeError(msg)
    behind: int = max(p["behind"] for p in json.loads(body)["projections"])
    return behind


def _wait_for_read_models(server: Server, timeout: float = 900.0) -> None:
    deadline = time.monotonic() + timeout
    while _read_models_behind(server):
        if time.monotonic() > deadline:
            msg = f"the read models did not catch up within {timeout:.0f} s"
            raise RuntimeError(msg)
        time.sleep(0.5)


HOT_ACCOUNT = "HOT-1"


def over_http(
    url: str, clients_: int, seconds: float, accounts: int, workers: int
) -> dict[str, Any]:
    """Spread over ``accounts`` accounts, then every clerk on one account, on one server."""
    workload = clients(clients_, max(1, math.ceil(accounts / clients_)))
    _open_in_process(url, [a.number for c in workload for a in c.accounts] + [HOT_ACCOUNT])
    with served(url, projector=True, workers=workers) as server:
        _wait_for_read_models(server)
        paths = command_paths(server)
        clerks = [HttpClerk(server.port, server.api_key, paths, c) for c in workload]
        hot = [
            HttpClerk(server.port, server.api_key, paths, c)
            for c in hot_account_clients(clients_, HOT_ACCOUNT)
        ]
        try:
            cpu = CpuMeter(server.process.pid)
            full = sustained(clerks, seconds, cpu)
            full["read_models_behind_at_end"] = _read_models_behind(server)
            half = paced(clerks, full["per_second"] / 2, seconds, cpu) if full["per_second"] else {}
            one = sustained(hot, seconds, cpu)
            return {"sustained": full, "hot_account": one, "latency": half}
        finally:
            for clerk in [*clerks, *hot]:
                clerk.close()


# --- one run ------------------------------------------------------------------------------


def measure(
    url: str, clients: int, seconds: float, accounts: int, workers: int = 1
) -> dict[str, Any]:
    """One run: the baseline, the product in process and over HTTP, each on a fresh database of
    the PostgreSQL server at ``url``; then latency at half of each sustained rate."""
    with scratch_database(url, "bench_http_insert") as database:
        baseline = insert_baseline(database, clients, seconds).per_second
    with scratch_database(url, "bench_http_inproc") as database:
        inside = in_process(database, clients, seconds, accounts_each=20)
    with scratch_database(url, "bench_http") as database:
        web = over_http(database, clients, seconds, accounts, workers)
    http_rate = web["sustained"]["per_second"]
    hot_rate = web["hot_account"]["per_second"]
    inside_rate = inside["sustained"]["per_second"]
    return {
        "clients": clients,
        "seconds": seconds,
        "accounts": accounts,
        "workers": workers,
        "http": {
            "rates_per_second": {
                "insert_baseline": round(baseline, 1),
                "product_in_process": round(inside_rate, 1),
                "product_http": round(http_rate, 1),
                "product_http_hot_account": round(hot_rate, 1),
            },
            "ratio_to_baseline": round(http_rate / baseline, 3),
            "hot_account_ratio_to_baseline": round(hot_rate / baseline, 3),
            "ratio_to_in_process": round(http_rate / inside_rate, 3) if inside_rate else None,
            "failures": web["sustained"]["failures"] + web["hot_account"]["failures"],
            "detail": {
                "in_process": _without_rate(inside["sustained"]),
                "http": _without_rate(web["sustained"]),
                "http_hot_account": _without_rate(web["hot_account"]),
            },
        },
        "latency": {"in_process": inside["latency"], "http": web["latency"]},
    }


def _without_rate(phase: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in phase.items() if k != "per_second"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.http", description=__doc__)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each timed phase")
    parser.add_argument("--accounts", type=int, default=10_000, help="accounts over HTTP")
    parser.add_argument("--workers", type=int, default=1, help="HTTP worker processes")
    parser.add_argument("--url", help="PostgreSQL server (default: the deploy/local cluster)")
    args = parser.parse_args(argv)
    url = args.url or local_postgres_url()
    found = measure(url, args.clients, args.seconds, args.accounts, args.workers)
    print(json.dumps(found, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
