"""Account search over a directory of many accounts, next to a bare indexed SELECT of the same rows.

    uv run python -m bench.directory --accounts 100000

Fills the account directory (``projections.directory``) of a scratch PostgreSQL database with
``--accounts`` seeded accounts: names (common and rare, with accents), e-mail addresses, phone
numbers, the customer's own references, currencies, statuses, collectors, dunning levels and
due dates. The rows are made by the read model's own ``row_values`` (what its event handler
writes, normalisation included) and inserted in bulk, so filling a large directory costs
seconds rather than the hours of recording its events; the table, its indexes and the trigram
index are the model's own (``install``).

Then ``--repeats`` rounds of the query mix below, each query timed twice, alternating:

- ``search``: the product's read, ``search_directory`` (normalising the query, the SQL, the
  rows made into results, the next page's cursor);
- ``bare``: ``SELECT`` of the same columns of the same rows by the ``(tenant_id,
  account_number)`` unique index — what fetching the answer costs once it is known.

The mix: a rare name written without its accents, a common name (a full first page), an
account number, an e-mail address, a phone number written otherwise than stored, an external
reference, the second page of a common name (through its cursor), an unfiltered listing by
name, accounts with something overdue, a collector's accounts, the closed accounts by opening
date. The figure is p50 and p99 of each over every query and round; the ratio is the search's
p50 over the bare SELECT's. Benchmarks are not tests: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from pydantic import SecretStr

from bench.scratch import local_postgres_url, scratch_database
from projections.database import Database
from projections.directory import (
    COLUMNS,
    AccountDirectory,
    DirectoryQuery,
    row_values,
    search_directory,
)
from projections.runner import install
from services.bootstrap import bootstrap
from services.settings import Settings

TENANT = "bench"
TODAY = date(2026, 6, 30)
CHUNK = 5_000

_FIRST = ["José", "María", "Zoë", "Søren", "Łukasz", "François", "Jürgen", "Ana", "John",
          "Mary", "Wei", "Aiko", "Noah", "Emma", "Ines", "Björn", "Chloé", "Dmitri"]  # fmt: skip
_LAST = ["García", "Müller", "Ørsted", "Nowak", "Smith", "Johnson", "O'Brien", "Dubois",
         "Rossi", "Kowalski", "Silva", "Nguyen", "Pérez", "Hernández", "Öztürk"]  # fmt: skip
_SYLLABLES = ["ka", "lo", "mi", "ne", "ra", "so", "tu", "vi", "zé", "do", "pé", "gu", "ri"]
_COLLECTORS = ["carol", "dave", "erin", "frank", "grace"]


def accounts(count: int, seed: int = 11) -> list[tuple[Any, ...]]:
    """``count`` directory rows: half the surnames common, half made up (rare)."""
    rng = random.Random(seed)  # noqa: S311 - a seeded workload, not secrecy
    rows = []
    for n in range(count):
        first = rng.choice(_FIRST)
        last = (
            rng.choice(_LAST)
            if rng.random() < 0.5
            else "".join(rng.choices(_SYLLABLES, k=rng.randint(3, 4))).title()
        )
        due = TODAY + timedelta(days=rng.randint(-120, 60)) if rng.random() < 0.4 else None
        rows.append(
            row_values(
                account_id=f"acc-{n}",
                tenant_id=TENANT,
                account_number=f"P-{n:07}",
                name=f"{first} {last}",
                currency=rng.choice(["USD", "USD", "USD", "EUR", "GBP"]),
                status="closed" if rng.random() < 0.05 else "open",
                opened_on=TODAY - timedelta(days=rng.randint(0, 3650)),
                email=f"{first[0].lower()}.{n}@example.com" if rng.random() < 0.8 else None,
                phone=f"+1 ({rng.randint(200, 999)}) {n % 1000:03}-{n // 1000:04}",
                external_reference=f"MRN-{n * 7 + 100_000}" if rng.random() < 0.7 else None,
                preferred_channel=None,
                address=None,
                collector=rng.choice(_COLLECTORS) if rng.random() < 0.3 else None,
                dunning_level=rng.choice([0, 0, 0, 1, 2, 3]),
                balance_minor=rng.randint(0, 500_000),
                oldest_due_on=due,
                last_version=1,
                last_position=n + 1,
            )
        )
    return rows


def fill(db: Database, rows: list[tuple[Any, ...]]) -> float:
    """The rows into the directory (tables and indexes as the model makes them); seconds."""
    started = time.perf_counter()
    install(db, [AccountDirectory()])
    columns, marks = ", ".join(COLUMNS), ", ".join("?" for _ in COLUMNS)
    statement = db.sql(f"INSERT INTO account_directory ({columns}) VALUES ({marks})")  # noqa: S608
    for start in range(0, len(rows), CHUNK):
        with db.transaction() as c:
            c.executemany(statement, rows[start : start + CHUNK])
    with db.transaction() as c:
        c.execute("ANALYZE account_directory")
    return time.perf_counter() - started


def query_mix(rows: list[tuple[Any, ...]], rng: random.Random) -> list[tuple[str, DirectoryQuery]]:
    """One round's queries, each naming accounts that exist."""
    column = {name: index for index, name in enumerate(COLUMNS)}

    def some(predicate: Callable[[tuple[Any, ...]], bool]) -> tuple[Any, ...]:
        while True:
            row = rng.choice(rows)
            if predicate(row):
                return row

    rare = some(lambda r: r[column["name"]].split()[1] not in _LAST)
    with_email = some(lambda r: r[column["email"]] is not None)
    with_reference = some(lambda r: r[column["external_reference"]] is not None)
    phoned = rng.choice(rows)
    digits = "".join(c for c in phoned[column["phone"]] if c.isdigit())
    common = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
    unaccented = rare[column["name_key"]]  # written without accents, in lower case
    return [
        ("rare name", DirectoryQuery(TENANT, q=unaccented)),
        ("common name", DirectoryQuery(TENANT, q=common)),
        ("number", DirectoryQuery(TENANT, q=rng.choice(rows)[column["account_number"]])),
        ("email", DirectoryQuery(TENANT, q=with_email[column["email"]])),
        ("phone", DirectoryQuery(TENANT, q=f"{digits[1:4]}.{digits[4:7]}.{digits[7:]}")),
        ("reference", DirectoryQuery(TENANT, q=with_reference[column["external_reference"]])),
        ("common name, page 2", DirectoryQuery(TENANT, q=common)),
        ("everyone by name", DirectoryQuery(TENANT)),
        ("overdue", DirectoryQuery(TENANT, has_overdue=True)),
        ("a collector's", DirectoryQuery(TENANT, collector=rng.choice(_COLLECTORS))),
        ("closed by opening", DirectoryQuery(TENANT, status="closed", sort="-opened_on")),
    ]


def _bare(db: Database, numbers: list[str]) -> Callable[[], Any]:
    marks = ", ".join("?" for _ in numbers)
    # The model's own column names; the values are parameters.
    statement = (
        f"SELECT {', '.join(COLUMNS[:-3])} FROM account_directory"  # noqa: S608
        f" WHERE tenant_id = ? AND account_number IN ({marks})"
    )
    return lambda: db.query(statement, [TENANT, *numbers])


def _ms(samples: list[float], quantile: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(quantile * len(ordered)))] * 1000, 3)


def measure_on(db: Database, count: int, repeats: int, seed: int = 5) -> dict[str, Any]:
    rows = accounts(count)
    load_seconds = fill(db, rows)
    rng = random.Random(seed)  # noqa: S311 - a seeded workload, not secrecy
    searched: list[float] = []
    bare: list[float] = []
    by_kind: dict[str, list[float]] = {}
    for _ in range(repeats):
        for kind, query in query_mix(rows, rng):
            cursor = None
            if kind.endswith("page 2"):
                cursor = search_directory(db, query, today=TODAY).next_cursor
            page = search_directory(db, query, today=TODAY, cursor=cursor)  # untimed: warm
            numbers = [row.account_number for row in page.rows]
            if not numbers:
                continue
            started = time.perf_counter()
            found = search_directory(db, query, today=TODAY, cursor=cursor)
            searched.append(time.perf_counter() - started)
            by_kind.setdefault(kind, []).append(searched[-1])
            fetch = _bare(db, numbers)
            started = time.perf_counter()
            fetched = fetch()
            bare.append(time.perf_counter() - started)
            if len(fetched) != len(found.rows):
                msg = f"the bare SELECT found {len(fetched)} rows, the search {len(found.rows)}"
                raise RuntimeError(msg)
    trigram = db.query_one(
        "SELECT 1 AS yes FROM pg_indexes WHERE indexname = 'account_directory_search'"
    )
    return {
        "accounts": count,
        "queries": len(searched),
        "load_seconds": round(load_seconds, 1),
        "trigram_index": trigram is not None,
        "search_ms": {"p50": _ms(searched, 0.5), "p99": _ms(searched, 0.99)},
        "bare_select_ms": {"p50": _ms(bare, 0.5), "p99": _ms(bare, 0.99)},
        "p50_by_query_ms": {k: round(statistics.median(v) * 1000, 3) for k, v in by_kind.items()},
        "ratio_to_baseline": round(statistics.median(searched) / statistics.median(bare), 2),
    }


def measure(url: str, count: int = 100_000, repeats: int = 20) -> dict[str, Any]:
    """One run on a scratch database: fill the directory, time the searches."""
    with scratch_database(url, "bench_directory") as db_url, TemporaryDirectory() as folder:
        runtime = bootstrap(
            Settings(data_dir=Path(folder), database_url=SecretStr(db_url), log_level="WARNING")
        )
        try:
            return measure_on(runtime.db, count, repeats)
        finally:
            runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    print(json.dumps(measure(local_postgres_url(), args.accounts, args.repeats), indent=2))


if __name__ == "__main__":
    main()
