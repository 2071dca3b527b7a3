"""Bulk import events/s, next to PostgreSQL's COPY of the same CSV rows into a plain table.

    uv run python -m bench.importing --invoices 20000

Writes a seeded book of receivables as a CSV file in the import's format (``services.importer``):
every account first, then invoices and payments in date order — many accounts, a few with
long runs of invoices, invoices paid in full, paid in part, or not yet paid, payments allocated
to their invoice or left to the oldest-due-first rule. Then, in the same run, on the same
PostgreSQL server, each in a scratch database of its own:

- ``copy``: psycopg ``COPY ... FROM STDIN (FORMAT csv)`` of the file into one table with the
  CSV's columns, typed (dates, numeric amounts) and without indexes: what the database takes in
  when nothing is checked and nothing is derived;
- ``product``: ``services.importer.import_file`` called in this process, the function
  ``ar import FILE.csv`` runs, on a freshly bootstrapped PostgreSQL store. The timer starts
  after bootstrap (the tables exist) and covers reading and checking the file and recording
  every command; the CLI's progress bar is left out.

The ratio is product events/s ÷ COPY rows/s (the goal is 0.25). The events are counted in the
store (its highest notification id), so the figure counts what the import recorded, not rows.
Benchmarks are not tests: nothing here asserts a time. One call is one run; take medians of
several calls. The results are printed as JSON.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import time
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import psycopg
from pydantic import SecretStr

from bench.cpu import CpuMeter
from bench.scratch import local_postgres_url, scratch_database
from domain.provenance import Provenance
from services.bootstrap import bootstrap
from services.importer import COLUMNS, import_file
from services.settings import Settings

TENANT = "bench"
CLERK = Provenance(actor="bench-importer", correlation_id="bench-import")
#: The business year the book covers; accounts are opened before it starts.
YEAR_START = date(2025, 1, 1)
OPENED_ON = date(2024, 12, 1)
#: The CSV's columns as a plain table: the types COPY has to parse, no keys, no indexes.
COPY_TABLE = (
    "CREATE TABLE imported_rows (kind text, account text, date date, number text,"
    " amount numeric, due_on date, invoice text, method text, name text, currency text,"
    " terms_days integer, description text)"
)


# --- the book ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Fact:
    """An invoice or a payment as planned; payments are settled against the open invoices
    in file order before they are written (see ``_settled``)."""

    day: date
    order: int
    kind: str
    account: str
    number: str
    cents: int
    due_on: date | None = None
    invoice: str | None = None
    method: str = ""
    description: str = ""


@dataclass
class _Open:
    due_on: date
    issued_on: date
    number: str
    cents: int


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _row(**cells: str) -> list[str]:
    return [cells.get(column, "") for column in COLUMNS]


def write_book(path: Path, invoices: int, seed: int = 7) -> int:
    """Write the seeded book of ``invoices`` invoices to ``path``; the number of data rows.

    One account per four invoices on average: a hundredth of the accounts (the large
    customers) take a fifth of the invoices, the rest are spread at random, so most accounts
    have a few invoices and some none yet. Half the invoices are paid in full, a quarter in one
    or two partial payments, the rest not yet; a sixth of the payments name no invoice.
    """
    rng = random.Random(seed)  # noqa: S311 - a seeded workload, not secrecy
    accounts = [f"A{n:06d}" for n in range(max(1, invoices // 4))]
    large = max(1, len(accounts) // 100)
    terms = {a: rng.choice((14, 30, 30, 30, 45, 60)) for a in accounts}
    facts: list[_Fact] = []
    payments = 0
    for n in range(invoices):
        account = accounts[
            rng.randrange(large) if rng.random() < 0.2 else rng.randrange(len(accounts))
        ]
        issued = YEAR_START + timedelta(days=rng.randrange(365))
        cents = min(5_000_000, max(500, int(rng.lognormvariate(math.log(25_000), 1.0))))
        number = f"INV-{n:07d}"
        facts.append(
            _Fact(
                day=issued,
                order=len(facts),
                kind="invoice",
                account=account,
                number=number,
                cents=cents,
                due_on=issued + timedelta(days=terms[account]) if rng.random() < 0.7 else None,
                description=rng.choice(("", "", "Consulting", "Annual licence", "Support")),
            )
        )
        plan = rng.random()
        if plan < 0.5:
            parts = [cents]
        elif plan < 0.75:
            parts = [cents * rng.randint(20, 60) // 100 for _ in range(rng.randint(1, 2))]
        else:
            parts = []
        day = issued
        for part in parts:
            day += timedelta(days=rng.randint(3, 45))
            payments += 1
            facts.append(
                _Fact(
                    day=day,
                    order=len(facts),
                    kind="payment",
                    account=account,
                    number=f"PAY-{payments:07d}",
                    cents=part,
                    invoice=None if rng.random() < 1 / 6 else number,
                    method=rng.choice(("ach", "card", "cheque", "wire")),
                )
            )
    facts.sort(key=lambda f: (f.day, f.order))
    currencies = {a: rng.choice(("USD", "USD", "USD", "EUR", "GBP")) for a in accounts}
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        rows = 0
        for account in accounts:
            writer.writerow(
                _row(
                    kind="account",
                    account=account,
                    date=OPENED_ON.isoformat(),
                    name=f"Customer {account}",
                    currency=currencies[account],
                    terms_days=str(terms[account]),
                )
            )
            rows += 1
        for fact in _settled(facts, terms):
            writer.writerow(
                _row(
                    kind=fact.kind,
                    account=fact.account,
                    date=fact.day.isoformat(),
                    number=fact.number,
                    amount=_money(fact.cents),
                    due_on=fact.due_on.isoformat() if fact.due_on else "",
                    invoice=fact.invoice or "",
                    method=fact.method,
                    description=fact.description,
                )
            )
            rows += 1
    return rows


def _settled(facts: list[_Fact], terms: dict[str, int]) -> list[_Fact]:
    """The facts with each payment cut to what is still open where it goes, in file order, so
    no row is refused: a payment for an invoice to what that invoice still owes, one naming
    no invoice to the account's total open (it is applied oldest-due-first, as the product
    does). A payment that would find nothing open is left out."""
    open_items: dict[str, list[_Open]] = {}
    kept: list[_Fact] = []
    for fact in facts:
        items = open_items.setdefault(fact.account, [])
        if fact.kind == "invoice":
            due = fact.due_on or fact.day + timedelta(days=terms[fact.account])
            items.append(_Open(due, fact.day, fact.number, fact.cents))
            kept.append(fact)
            continue
        targets = [i for i in items if i.number == fact.invoice] if fact.invoice else items
        targets = sorted(targets, key=lambda i: (i.due_on, i.issued_on, i.number))
        cents = min(fact.cents, sum(i.cents for i in targets))
        if cents <= 0:
            continue
        remaining = cents
        for item in targets:
            paid = min(item.cents, remaining)
            item.cents -= paid
            remaining -= paid
        open_items[fact.account] = [i for i in items if i.cents > 0]
        kept.append(replace(fact, cents=cents))
    return kept


# --- the contenders ---------------------------------------------------------------------


def copy_rows(url: str, path: Path) -> dict[str, float]:
    """COPY the file into the plain table in one transaction: rows and seconds."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(COPY_TABLE)
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        with (
            conn.cursor() as cur,
            path.open("rb") as source,
            cur.copy(
                f"COPY imported_rows ({', '.join(COLUMNS)}) FROM STDIN (FORMAT csv, HEADER true)"
            ) as copy,
        ):
            while chunk := source.read(1 << 16):
                copy.write(chunk)
        conn.commit()
        seconds = time.perf_counter() - started
        row = conn.execute("SELECT count(*) FROM imported_rows").fetchone()
    return {"rows": float(row[0] if row else 0), "seconds": seconds}


def product_import(url: str, path: Path) -> dict[str, Any]:
    """Import the file through ``import_file`` on a fresh store: events, seconds, the report."""
    with TemporaryDirectory() as folder:
        runtime = bootstrap(Settings(data_dir=Path(folder), database_url=SecretStr(url)))
        try:
            meter = CpuMeter()
            start = meter.mark()
            started = time.perf_counter()
            report = import_file(runtime.app, path, tenant_id=TENANT, meta=CLERK)
            seconds = time.perf_counter() - started
            cores = meter.since(start)
            events = runtime.app.recorder.max_notification_id() or 0
            # The import's own transactions, and the committer's for any chunk it redid.
            batches = report.transactions + runtime.app.committer.batches
        finally:
            runtime.close()
    if report.refused or report.recorded != report.commands:
        # A figure over a partly refused file would flatter the product: say so instead.
        msg = f"the seeded book was not imported whole: {report.as_dict()}"
        raise RuntimeError(msg)
    return {
        "events": events,
        "seconds": seconds,
        "report": report,
        "batches": batches,
        "cpu_cores_used": cores,
    }


def measure(url: str, invoices: int, seed: int = 7) -> dict[str, Any]:
    """One run: write the book, COPY it, import it; both rates and their ratio."""
    with TemporaryDirectory() as folder:
        path = Path(folder) / "book.csv"
        rows = write_book(path, invoices, seed)
        size = path.stat().st_size
        with scratch_database(url, "bench_copy") as copy_url:
            copied = copy_rows(copy_url, path)
        with scratch_database(url, "bench_import") as import_url:
            imported = product_import(import_url, path)
    if copied["rows"] != rows:
        msg = f"COPY stored {copied['rows']:.0f} rows of {rows}"
        raise RuntimeError(msg)
    copy_rate = rows / copied["seconds"]
    event_rate = imported["events"] / imported["seconds"]
    report = imported["report"]
    return {
        "figure": "bulk import events/s (CSV of invoices and payments)",
        "how": "services.importer.import_file in-process (the function `ar import` calls)",
        "invoices": invoices,
        "seed": seed,
        "rows": rows,
        "csv_bytes": size,
        "commands": report.commands,
        "events": imported["events"],
        "batches": imported["batches"],
        "seconds": {
            "product": round(imported["seconds"], 3),
            "copy": round(copied["seconds"], 4),
        },
        "rates_per_second": {
            "product_events": round(event_rate, 1),
            "product_rows": round(rows / imported["seconds"], 1),
            "copy_rows": round(copy_rate, 1),
        },
        "ratio_to_baseline": round(event_rate / copy_rate, 4),
        "cpu_cores_used": imported["cpu_cores_used"],
        "goal": ">= 0.05",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--invoices", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(json.dumps(measure(local_postgres_url(), args.invoices, args.seed), indent=2))


if __name__ == "__main__":
    main()
