"""The reporting and projection commands of ``ar``: rebuild, and reports with exports.

``ar rebuild [MODEL...]`` empties read models and replays every event into them, with a
progress bar on a terminal. ``ar report aging|trial-balance|statement`` bring the read models
up to date (so the embedded default needs no projector running), then print the report as
text, CSV or JSON. Amounts are decimal strings in the account's currency.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

import typer

from domain.money import MINOR_UNITS
from projections.catalogue import MODELS, read_models
from projections.reports import AgingRow, aging, check_buckets, statement, trial_balance
from projections.runner import Projector, TrackingConflict
from services.bootstrap import Runtime
from services.cli_accounts import AsKnownAtOption, Tenant, progress_bar
from services.views import as_utc


class Format(StrEnum):
    text = "text"
    csv = "csv"
    json = "json"


class Basis(StrEnum):
    due = "due"
    invoice = "invoice"


FormatOption = Annotated[Format, typer.Option("--format", help="text, csv or json.")]
AsOf = Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="Business date (YYYY-MM-DD).")]


def decimal(minor: int, currency: str) -> str:
    """Minor units as the decimal string of the currency (1050 USD → "10.50")."""
    return str(Decimal(minor).scaleb(-MINOR_UNITS[currency]))


def current(runtime: Runtime) -> None:
    """Bring every read model up to the newest event (another projector may be doing it too)."""
    # A running projector that advanced first keeps the tables as current as we would.
    with contextlib.suppress(TrackingConflict):
        Projector(runtime.app, runtime.db, read_models()).catch_up()


def emit(rows: list[dict[str, Any]], form: Format, document: Any = None) -> None:
    """Print rows as an aligned table, CSV with a header, or JSON (``document`` if given)."""
    if form is Format.json:
        typer.echo(json.dumps(rows if document is None else document, indent=2, default=str))
        return
    if not rows:
        if form is Format.text:
            typer.echo("(nothing)")
        return
    if form is Format.csv:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        typer.echo(out.getvalue(), nl=False)
        return
    widths = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in rows[0]}
    typer.echo("  ".join(k.ljust(widths[k]) for k in rows[0]))
    for row in rows:
        typer.echo("  ".join(str(row[k]).ljust(widths[k]) for k in row))


def aging_out(row: AgingRow, disputed: str | None = None) -> dict[str, Any]:
    """One aging row as printed: amounts as decimal strings of its currency."""
    return {
        "account": row.account_number,
        "currency": row.currency,
        **{label: decimal(v, row.currency) for label, v in row.buckets.items()},
        "open": decimal(row.open_minor, row.currency),
        "unapplied_credit": decimal(row.unapplied_credit_minor, row.currency),
        "disputed": decimal(row.disputed_minor, row.currency) if disputed is None else disputed,
    }


def register(app: typer.Typer, runtime_factory: Callable[[], Runtime]) -> None:
    report_app = typer.Typer(help="Reports from the read models, as text, CSV or JSON.")
    app.add_typer(report_app, name="report")

    @app.command("rebuild")
    def rebuild(
        models: Annotated[
            list[str] | None,
            typer.Argument(help=f"Read models to rebuild (default all): {', '.join(MODELS)}."),
        ] = None,
    ) -> None:
        """Rebuild read models from the first event."""
        unknown = [m for m in models or [] if m not in MODELS]
        if unknown:
            typer.echo(
                f"error: no read model {', '.join(unknown)}; there are {', '.join(MODELS)}",
                err=True,
            )
            raise typer.Exit(2)
        runtime = runtime_factory()
        try:
            projector = Projector(runtime.app, runtime.db, read_models(names=models))
            projector.reset()
            with progress_bar("rebuilding") as advance:
                events = projector.catch_up(advance)
            typer.echo(
                f"rebuilt {', '.join(m.name for m in projector.models)} from {events} events"
            )
        finally:
            runtime.close()

    @report_app.command("aging")
    def aging_report(
        tenant: Tenant,
        as_of: AsOf,
        as_known_at: AsKnownAtOption = None,
        basis: Annotated[Basis, typer.Option(help="Age by due date or invoice date.")] = Basis.due,
        buckets: Annotated[str, typer.Option(help="Bucket limits in days.")] = "30,60,90",
        account: Annotated[str | None, typer.Option(help="One account only.")] = None,
        detail: Annotated[
            bool, typer.Option(help="One line per open term: why it is where.")
        ] = False,
        form: FormatOption = Format.text,
    ) -> None:
        """Aging of open items per account, with a total row."""
        try:
            bounds = tuple(int(b) for b in buckets.split(","))
            check_buckets(bounds)
        except ValueError:
            typer.echo(
                "error: --buckets takes rising whole numbers of days, e.g. 30,60,90", err=True
            )
            raise typer.Exit(2) from None
        runtime = runtime_factory()
        try:
            current(runtime)
            report = aging(
                runtime.db,
                tenant,
                as_of.date(),
                known_at=as_utc(as_known_at),
                basis=basis.value,
                buckets=bounds,
                account_number=account,
            )
        finally:
            runtime.close()
        if detail:
            lines = [
                {
                    "account": line.account_number,
                    "item": line.item_number,
                    "term": line.term_index + 1,
                    "issued_on": line.issued_on.isoformat(),
                    "due_on": line.due_on.isoformat(),
                    "days_past_due": line.days_past_due,
                    "bucket": line.bucket,
                    "open": decimal(line.open_minor, line.currency),
                    "currency": line.currency,
                    "disputed": line.disputed,
                }
                for row in report
                for line in row.lines
            ]
            emit(lines, form)
            return
        totals: dict[str, AgingRow] = {}
        for row in report:
            total = totals.setdefault(
                row.currency, AgingRow("TOTAL", row.currency, dict.fromkeys(row.buckets, 0))
            )
            for label, amount in row.buckets.items():
                total.buckets[label] += amount
            total.unapplied_credit_minor += row.unapplied_credit_minor
        rows = [aging_out(row) for row in report]
        rows += [aging_out(total, disputed="") for _, total in sorted(totals.items())]
        emit(rows, form)

    @report_app.command("trial-balance")
    def trial_balance_report(
        tenant: Tenant,
        as_of: AsOf,
        as_known_at: AsKnownAtOption = None,
        form: FormatOption = Format.text,
    ) -> None:
        """Each ledger account's balance (debit positive) as of the date; sums to zero."""
        runtime = runtime_factory()
        try:
            current(runtime)
            balances = trial_balance(runtime.db, tenant, as_of.date(), known_at=as_utc(as_known_at))
        finally:
            runtime.close()
        emit(
            [
                {"currency": currency, "ledger_account": name, "balance": decimal(amount, currency)}
                for currency, by_account in sorted(balances.items())
                for name, amount in by_account.items()
            ],
            form,
        )

    @report_app.command("statement")
    def statement_report(
        account: Annotated[str, typer.Argument(help="The account number.")],
        tenant: Tenant,
        period_from: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"])],
        period_to: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"])],
        as_known_at: AsKnownAtOption = None,
        form: FormatOption = Format.text,
    ) -> None:
        """Opening balance, every movement of the period, closing balance."""
        runtime = runtime_factory()
        try:
            current(runtime)
            found = statement(
                runtime.db,
                tenant,
                account,
                period_from.date(),
                period_to.date(),
                known_at=as_utc(as_known_at),
            )
        finally:
            runtime.close()
        if found is None:
            typer.echo(f"error: there is no account {account}", err=True)
            raise typer.Exit(1)
        currency = found.currency
        rows = [
            {
                "date": found.period_from.isoformat(),
                "movement": "opening balance",
                "reference": "",
                "amount": "",
                "balance": decimal(found.opening_minor, currency),
            }
        ]
        running = found.opening_minor
        for m in found.movements:
            running += m["amount_minor"]
            rows.append(
                {
                    "date": m["effective_on"].isoformat(),
                    "movement": m["category"],
                    "reference": m["reference"],
                    "amount": decimal(m["amount_minor"], currency),
                    "balance": decimal(running, currency),
                }
            )
        rows.append(
            {
                "date": found.period_to.isoformat(),
                "movement": "closing balance",
                "reference": "",
                "amount": "",
                "balance": decimal(found.closing_minor, currency),
            }
        )
        document = {
            "account": account,
            "currency": currency,
            "from": found.period_from.isoformat(),
            "to": found.period_to.isoformat(),
            "opening_balance": decimal(found.opening_minor, currency),
            "movements": rows[1:-1],
            "closing_balance": decimal(found.closing_minor, currency),
        }
        emit(rows, form, document)
