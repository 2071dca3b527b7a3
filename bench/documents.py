"""A statement run over many accounts: statements/s in PDF and in HTML, next to the engines alone.

    uv run python -m bench.documents --accounts 10000

Opens ``--accounts`` accounts on a scratch PostgreSQL database, each with a billing address
(one in five with an e-mail address too), one to three charges invoiced, and one or two
payments with the clerk's references on most of them, as a small practice's book looks at
month end; the account directory is then brought up to date (a running server's projector
keeps it so). None of that is timed. The tenant has a letterhead and no mail settings, so
every statement goes to the print batch, as a first statement run does.

Timed, in the same run, on the same server:

- ``run_pdf``: ``DocumentRuns.statement_run`` (what ``ar statements run`` and the API call):
  each account read as known at the run's moment, its statement decided, written out in HTML
  and laid out in PDF, recorded on the account as ``DocumentSent`` and on the run. Then the
  print batch of the whole run (re-rendered, checked against the recorded hashes, one PDF);
- ``html``: the same statements produced as HTML only (``Documents.produce``), per account;
- baselines, the engines alone on the same documents, no store: ``engine_pdf`` lays out a
  sample of the run's HTML with WeasyPrint, ``engine_html`` writes the statements' content
  (decided once, beforehand) through the templates.

The ratios are the product's statements/s over its engine's. Benchmarks are not tests:
nothing here asserts a time. One call is one run. The result is printed as JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Iterator
from concurrent.futures import Future
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from pydantic import SecretStr

from bench.scratch import local_postgres_url, scratch_database
from domain.provenance import Provenance
from services.app import Receivables
from services.bootstrap import Runtime, bootstrap
from services.commands import (
    AccountCommand,
    AddressIn,
    ChangeBillingAddress,
    ChangeEmailAddress,
    IssueInvoice,
    PostCharge,
    ReceivePayment,
)
from services.documents import service
from services.documents.rendering import render_pdf
from services.documents.runs import DocumentRuns
from services.documents.samples import SAMPLE_LETTERHEAD
from services.documents.service import Documents
from services.group_commit import Outcome
from services.settings import Settings
from services.tenants import TenantSettings

TENANT = "bench"
CLERK = Provenance(actor="bench-documents", correlation_id="bench-documents")
OPENED_ON = date(2026, 1, 1)
AS_OF = date(2026, 3, 31)
PERIOD_FROM = date(2026, 3, 1)
WINDOW = 2_048
ENGINE_SAMPLE = 200

_CITIES = [("Portland", "OR", "97201"), ("Salem", "OR", "97301"), ("Eugene", "OR", "97401")]
_SERVICES = [("99213", "Office visit"), ("81001", "Urinalysis"), ("36415", "Blood draw")]


def _book(accounts: int, seed: int) -> Iterator[tuple[str, str, AccountCommand | None, str]]:
    rng = random.Random(seed)  # noqa: S311 - a seeded workload, not secrecy
    for i in range(accounts):
        number = f"A-{i:06d}"
        name = f"Patient {i:06d}"
        yield number, name, None, f"open:{number}"
        city, region, postal = rng.choice(_CITIES)
        address = AddressIn(
            line1=f"{rng.randint(1, 999)} Main Street",
            city=city,
            region=region,
            postal_code=postal,
            country="US",
        )
        yield (
            number,
            name,
            ChangeBillingAddress(address=address, effective_on=OPENED_ON),
            f"a:{number}",
        )
        if i % 5 == 0:
            email = ChangeEmailAddress(email=f"p{i}@example.org", effective_on=OPENED_ON)
            yield number, name, email, f"e:{number}"
        total = 0
        for n in range(rng.randint(1, 3)):
            code, description = rng.choice(_SERVICES)
            cents = rng.randint(2_000, 40_000)
            total += cents
            day = date(2026, rng.choice((1, 2, 3)), rng.randint(1, 28))
            charge = PostCharge(
                charge_id=f"{number}-c{n}",
                code=code,
                description=description,
                unit_price=Decimal(cents) / 100,
                service_date=day,
            )
            yield number, name, charge, f"c:{number}-{n}"
        invoice = IssueInvoice(invoice_number=f"INV-{i:06d}", issued_on=date(2026, 3, 1))
        yield number, name, invoice, f"i:{number}"
        for n in range(rng.choice((0, 1, 1, 2))):
            paid = ReceivePayment(
                payment_id=f"{number}-p{n}",
                amount=Decimal(rng.randint(1_000, max(total // 2, 1_001))) / 100,
                method="cheque",
                reference=f"chq {rng.randint(1000, 9999)}",
                received_on=date(2026, 3, rng.randint(2, 28)),
            )
            yield number, name, paid, f"p:{number}-{n}"


def _windowed(
    app: Receivables, sends: Iterator[tuple[str, str, AccountCommand | None, str]]
) -> int:
    """Submit in order, at most ``WINDOW`` unanswered; every answer awaited (a refusal is
    raised: a figure over a half-built book would mean nothing)."""
    in_flight: list[Future[Outcome]] = []
    done = 0
    for account, name, command, key in sends:
        if command is None:
            future = app.submit_open_account(
                tenant_id=TENANT,
                account_number=account,
                name=name,
                currency="USD",
                opened_on=OPENED_ON,
                meta=CLERK,
                idempotency_key=key,
            )
        else:
            future = app.submit(
                tenant_id=TENANT,
                account_number=account,
                command=command,
                meta=CLERK,
                idempotency_key=key,
            )
        in_flight.append(future)
        if len(in_flight) >= WINDOW:
            for settled in in_flight[: WINDOW // 2]:
                settled.result()
            done += WINDOW // 2
            del in_flight[: WINDOW // 2]
    for settled in in_flight:
        settled.result()
    return done + len(in_flight)


def measure(url: str, accounts: int = 10_000, seed: int = 7) -> dict[str, Any]:
    with scratch_database(url, "bench_documents") as db_url, TemporaryDirectory() as folder:
        runtime: Runtime = bootstrap(
            Settings(data_dir=Path(folder), database_url=SecretStr(db_url), log_level="WARNING")
        )
        try:
            return _measure(runtime, accounts, seed)
        finally:
            runtime.close()


def _measure(runtime: Runtime, accounts: int, seed: int) -> dict[str, Any]:
    started = time.perf_counter()
    commands = _windowed(runtime.app, _book(accounts, seed))
    recorded = time.perf_counter()
    runtime.projector(["account_directory"]).catch_up()
    tenants = TenantSettings(runtime.app)
    tenants.set_letterhead(TENANT, SAMPLE_LETTERHEAD, CLERK)
    documents = Documents(runtime.app, tenants)
    setup = {
        "commands": commands,
        "record_seconds": round(recorded - started, 1),
        "directory_seconds": round(time.perf_counter() - recorded, 1),
    }
    numbers = [f"A-{i:06d}" for i in range(accounts)]

    # HTML: each statement produced on its own, as the API's statement.html does.
    moment = datetime.now(UTC)
    began = time.perf_counter()
    htmls = [
        documents.produce(
            TENANT,
            n,
            "statement",
            as_of=AS_OF,
            period_from=PERIOD_FROM,
            as_known_at=moment,
            pdf=False,
        ).rendered.html
        for n in numbers
    ]
    html_seconds = time.perf_counter() - began

    # The run: PDF, recorded as sent, then its print batch.
    runs = DocumentRuns(runtime, documents)
    began = time.perf_counter()
    summary = runs.statement_run(
        TENANT, AS_OF, started_by="bench", period_from=PERIOD_FROM, delivery="print"
    )
    run_seconds = time.perf_counter() - began
    done = summary.counts.get("done", 0)
    if done != accounts or summary.failures:
        msg = f"the run did not state every account: {summary.as_json()}"
        raise RuntimeError(msg)
    began = time.perf_counter()
    batch = runs.print_batch(TENANT, summary.run_id)
    batch_seconds = time.perf_counter() - began

    # Baselines: the engines alone on the same statements.
    picker = random.Random(seed)  # noqa: S311 - a seeded sample, not secrecy
    sample = picker.sample(htmls, min(ENGINE_SAMPLE, len(htmls)))
    began = time.perf_counter()
    pages = sum(render_pdf(html)[1] for html in sample)
    engine_pdf_seconds = time.perf_counter() - began
    account = runtime.app.get_account(TENANT, numbers[0])
    built = service.build_document(account, "statement", AS_OF, period_from=PERIOD_FROM)
    heading = service.heading_for(SAMPLE_LETTERHEAD, TENANT)
    repeats = max(1_000, accounts // 10)
    began = time.perf_counter()
    for _ in range(repeats):
        service.write_out(built, heading, {}, pdf=False)
    engine_html_seconds = time.perf_counter() - began

    run_rate = accounts / run_seconds
    html_rate = accounts / html_seconds
    engine_pdf_rate = len(sample) / engine_pdf_seconds
    engine_html_rate = repeats / engine_html_seconds
    return {
        "figure": "statement run statements/s",
        "how": "services.documents.runs.DocumentRuns.statement_run in-process (what ar statements run and the API call)",
        "accounts": accounts,
        "seed": seed,
        "setup": setup,
        "run": summary.as_json() | {"failures": len(summary.failures)},
        "print_batch": {"bytes": len(batch), "seconds": round(batch_seconds, 1)},
        "pages_per_statement": round(pages / len(sample), 2),
        "seconds": {
            "run_pdf": round(run_seconds, 1),
            "html": round(html_seconds, 1),
            "engine_pdf_sample": round(engine_pdf_seconds, 1),
            "engine_html": round(engine_html_seconds, 2),
        },
        "rates_per_second": {
            "run_pdf_statements": round(run_rate, 1),
            "html_statements": round(html_rate, 1),
            "engine_pdf_statements": round(engine_pdf_rate, 1),
            "engine_html_statements": round(engine_html_rate, 1),
        },
        "ratio_to_baseline": {
            "pdf": round(run_rate / engine_pdf_rate, 3),
            "html": round(html_rate / engine_html_rate, 3),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(json.dumps(measure(local_postgres_url(), args.accounts, args.seed), indent=2))


if __name__ == "__main__":
    main()
