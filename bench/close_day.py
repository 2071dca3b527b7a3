"""The close of day over many accounts of which few have something due.

    uv run python -m bench.close_day [--accounts 100000] [--due-percent 1]

Records ``--accounts`` accounts into a scratch PostgreSQL database, each with an invoice of
100.00; on ``--due-percent`` of them the invoice is 20 days overdue on the day closed (a
reminder is due under the policy below), and on half of those a promise to pay fell due the
day before (it is broken, then the account is dunned); the rest owe nothing due for months.
The agenda read model is brought up to date first (a running server's projector keeps it so),
then one business day is closed and timed, next to a bare ``SELECT`` of the same due accounts
from the agenda's table in the same run: the close's wall time, the events it recorded per
second, and the close's time over the select's. Benchmarks are not tests: nothing here asserts
a time. The result is printed as JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from pydantic import SecretStr

from bench.scratch import local_postgres_url, scratch_database
from domain.account import Account
from domain.money import Money
from domain.provenance import Provenance
from services.bootstrap import Runtime, bootstrap
from services.close_day import CloseOfDay
from services.logging import configure_logging
from services.settings import Settings
from services.tenants import TenantSettings

TENANT = "bench"
DAY = date(2026, 3, 1)
CLERK = Provenance(actor="bench-clerk", correlation_id="bench-close-day")
BATCH = 500
HUNDRED = Money("100.00", "USD")
LADDER = [(15, "reminder"), (30, "second_notice"), (60, "final_notice"), (90, "collections")]


def record(runtime: Runtime, accounts: int, due_every: int) -> int:
    """Open the accounts, each owing 100.00; every ``due_every``-th has something due on DAY.
    Built with the domain's own commands and saved a batch of accounts per transaction (the
    setup is not what is measured). The number of accounts with something due."""
    app = runtime.app
    batch: list[Account] = []
    due = 0
    for n in range(accounts):
        is_due = n % due_every == 0
        due += is_due
        account = Account.open(
            tenant_id=TENANT,
            account_number=f"B-{n:07d}",
            name=f"Customer {n}",
            currency="USD",
            effective_on=date(2026, 1, 1),
            meta=CLERK,
        )
        account.post_charge(
            charge_id="c1",
            code="VISIT",
            description="Visit",
            quantity=Decimal(1),
            unit_price=HUNDRED,
            tax=Money.zero("USD"),
            service_date=date(2026, 1, 2),
            effective_on=date(2026, 1, 2),
            meta=CLERK,
        )
        account.issue_invoice(
            invoice_number="I-1",
            issued_on=date(2026, 1, 2),
            due_on=DAY - timedelta(days=20) if is_due else DAY + timedelta(days=120),
            meta=CLERK,
        )
        if is_due and (n // due_every) % 2:
            account.record_promise_to_pay(
                promise_id="P-1",
                amount=HUNDRED,
                pay_by=DAY - timedelta(days=2),
                promised_on=DAY - timedelta(days=10),
                meta=CLERK,
            )
        batch.append(account)
        if len(batch) == BATCH:
            app.save(*batch)
            batch = []
    if batch:
        app.save(*batch)
    return due


def _timed(work: Any) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def measure_here(
    runtime: Runtime, accounts: int, due_percent: float, repeats: int = 5
) -> dict[str, Any]:
    """Record, bring the agenda up to date, close DAY and time it against the bare select."""
    due = record(runtime, accounts, max(1, round(100 / due_percent)))
    moment = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)
    TenantSettings(runtime.app, lambda: moment).set_dunning_policy(
        TENANT, LADDER, date(2026, 1, 1), CLERK
    )
    closer = CloseOfDay(runtime, clock=lambda: moment)
    catch_up = _timed(closer.bring_agenda_current)
    cutoff = (DAY - timedelta(days=LADDER[0][0] - 1)).isoformat()

    def bare_select() -> list[dict[str, Any]]:
        return runtime.db.query(
            "SELECT account_number FROM account_agenda WHERE tenant_id = ?"
            " AND (next_sweep_on <= ? OR overdue_from <= ?)",
            (TENANT, DAY.isoformat(), cutoff),
        )

    selected = len(bare_select())
    bare = statistics.median(_timed(bare_select) for _ in range(repeats))
    run: Any = None

    def close() -> None:
        nonlocal run
        run = closer.close(TENANT, DAY, started_by="bench")

    seconds = _timed(close)
    (day,) = run.days
    return {
        "accounts": accounts,
        "accounts_due": day.summary.accounts_due,
        "accounts_made_due": due,
        "bare_select_rows": selected,
        "events": day.events,
        "close_seconds": round(seconds, 3),
        "events_per_second": round(day.events / seconds, 1),
        "bare_select_ms": round(bare * 1000, 2),
        "ratio": round(seconds / bare, 1),
        "agenda_catch_up_seconds": round(catch_up, 1),
        "summary": day.summary.counts(),
    }


def measure(url: str, accounts: int, due_percent: float) -> dict[str, Any]:
    with scratch_database(url, "closeday") as scratch, TemporaryDirectory() as folder:
        settings = Settings(
            data_dir=Path(folder), database_url=SecretStr(scratch), log_level="WARNING"
        )
        configure_logging(settings)
        runtime = bootstrap(settings)
        try:
            return measure_here(runtime, accounts, due_percent)
        finally:
            runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--due-percent", type=float, default=1.0)
    args = parser.parse_args()
    print(json.dumps(measure(local_postgres_url(), args.accounts, args.due_percent), indent=2))


if __name__ == "__main__":
    main()
