"""The reporting and projection commands of ``ar``: rebuild, and reports with exports.

``ar rebuild [MODEL...]`` empties read models and replays every event into them, with a
progress bar on a terminal; running projectors stand by meanwhile and carry on after it. ``ar report aging|trial-balance|statement|worklist`` bring the
read models up to date (so the embedded default needs no projector running), then print the
report as text, CSV or JSON. Amounts are decimal strings in the account's currency.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
from collections.abc import Callable
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

import typer

from domain.aging import InvalidBuckets, parse_limits
from domain.money import from_minor_units
from projections.audit_trail import AuditRow, audit_trail, event_types
from projections.catalogue import MODELS
from projections.collections import WorklistRow, worklist
from projections.database import stored_moment
from projections.reports import AgingRow, aging, aging_totals, statement, trial_balance
from projections.runner import TrackingConflict
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
MOMENT_FORMATS = ["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]


def decimal(minor: int, currency: str) -> str:
    """Minor units as printed: the decimal string of the currency (1050 USD → "10.50")."""
    return str(from_minor_units(minor, currency))


def current(runtime: Runtime) -> None:
    """Bring every read model up to the newest event (another projector may be doing it too)."""
    # A running projector that advanced first keeps the tables as current as we would.
    with contextlib.suppress(TrackingConflict):
        runtime.projector().catch_up()


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


def aging_out(row: AgingRow) -> dict[str, Any]:
    """One aging row as printed: amounts as decimal strings of its currency."""
    return {
        "account": row.account_number,
        "currency": row.currency,
        **{label: decimal(v, row.currency) for label, v in row.buckets.items()},
        "open": decimal(row.open_minor, row.currency),
        "unapplied_credit": decimal(row.unapplied_credit_minor, row.currency),
        "disputed": decimal(row.disputed_minor, row.currency),
    }


def worklist_out(row: WorklistRow) -> dict[str, Any]:
    """One worklist row as printed: amounts as decimal strings, "" where there is nothing."""

    def day(value: date | None) -> str:
        return "" if value is None else value.isoformat()

    return {
        "account": row.account_number,
        "name": row.name,
        "currency": row.currency,
        "overdue": decimal(row.overdue_minor, row.currency),
        "oldest_days_past_due": row.oldest_days_past_due,
        "priority": str(row.priority),
        "disputed": decimal(row.disputed_minor, row.currency),
        "last_contact_on": day(row.last_contact_on),
        "last_contact_channel": row.last_contact_channel or "",
        "last_contact_outcome": row.last_contact_outcome or "",
        "promise": "" if row.promise_minor is None else decimal(row.promise_minor, row.currency),
        "promise_pay_by": day(row.promise_pay_by),
        "plan": row.plan_id or "",
        "plan_status": row.plan_status or "",
        "dunning_level": row.dunning_level,
    }


def _bucket_bounds(buckets: str) -> tuple[int, ...]:
    try:
        return parse_limits(buckets)
    except InvalidBuckets as invalid:
        typer.echo(f"error: --{invalid}", err=True)
        raise typer.Exit(2) from None


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
            projector = runtime.projector(models)
            # Running projectors (``ar serve``, ``ar project``) step aside until it is over,
            # rather than race the rebuild batch for batch (see ``projections.locks``).
            with projector.exclusively():
                projector.reset()
                with progress_bar("rebuilding") as advance:
                    events = projector.catch_up(advance)
            typer.echo(
                f"rebuilt {', '.join(m.name for m in projector.models)} from {events} events"
            )
        finally:
            runtime.close()

    @app.command("verify")
    def verify_command(form: FormatOption = Format.text) -> None:
        """Rebuild every read model from the events, compare with the live tables, walk every
        account's hash chain; print each discrepancy. Exit status 1 if there is any."""
        from projections.verify import ModelsMoving, verify

        runtime = runtime_factory()
        try:
            with progress_bar("verifying") as advance:
                result = verify(runtime.app, runtime.db, progress=advance)
        except ModelsMoving as moving:
            typer.echo(f"error: {moving}", err=True)
            raise typer.Exit(2) from None
        finally:
            runtime.close()
        rows = [dataclasses.asdict(d) for d in result.discrepancies]
        summary = (
            f"verified {result.events} events of {result.accounts} accounts up to position"
            f" {result.position}: {len(rows)} discrepancies"
        )
        if rows or form is not Format.text:
            emit(
                rows,
                form,
                {
                    "position": result.position,
                    "events": result.events,
                    "accounts": result.accounts,
                    "discrepancies": rows,
                },
            )
        typer.echo(summary, err=True)
        if not result.ok:
            raise typer.Exit(1)

    @app.command("explain")
    def explain_command(
        account: Annotated[str, typer.Argument(help="The account number.")],
        figure: Annotated[
            str,
            typer.Argument(
                help="balance, unapplied_credit, invoiced, paid, credited, … ,"
                " outstanding:<invoice> or aging:<bucket> (e.g. aging:31-60)."
            ),
        ],
        tenant: Tenant,
        as_of: AsOf,
        as_known_at: AsKnownAtOption = None,
        buckets: Annotated[str, typer.Option(help="Bucket limits in days.")] = "30,60,90",
        basis: Annotated[
            Basis, typer.Option(help="For aging:<bucket>: age by due or invoice date.")
        ] = Basis.due,
        form: FormatOption = Format.text,
    ) -> None:
        """The events that make up a figure, each with its amount, and their sum."""
        from projections.explain import UnknownFigure, explain

        bounds = _bucket_bounds(buckets)
        runtime = runtime_factory()
        try:
            current(runtime)
            found = explain(
                runtime.db,
                tenant,
                account,
                figure,
                as_of.date(),
                known_at=as_utc(as_known_at),
                buckets=bounds,
                basis=basis.value,
            )
        except UnknownFigure as unknown:
            typer.echo(f"error: {unknown}", err=True)
            raise typer.Exit(2) from None
        finally:
            runtime.close()
        if found is None:
            typer.echo(f"error: there is no account {account}", err=True)
            raise typer.Exit(1)
        rows = [
            {
                "position": line.position,
                "event": line.event_type,
                "date": line.effective_on.isoformat(),
                "reference": line.reference,
                "note": line.note,
                "amount": decimal(line.amount_minor, found.currency),
            }
            for line in found.lines
        ]
        total = decimal(found.total_minor, found.currency)
        document = {
            "account": account,
            "figure": figure,
            "as_of": found.as_of.isoformat(),
            "currency": found.currency,
            "events": rows,
            "total": total,
        }
        if form is Format.text:
            emit(rows, form)
            typer.echo(f"{figure} as of {found.as_of.isoformat()}: {total} {found.currency}")
        else:
            emit(rows, form, document)

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
        bounds = _bucket_bounds(buckets)
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
                detail=detail,
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
        emit([aging_out(row) for row in [*report, *aging_totals(report)]], form)

    @report_app.command("worklist")
    def worklist_report(
        tenant: Tenant,
        as_of: AsOf,
        as_known_at: AsKnownAtOption = None,
        currency: Annotated[str | None, typer.Option(help="One currency only.")] = None,
        form: FormatOption = Format.text,
    ) -> None:
        """Accounts to chase: undisputed overdue, highest amount × days past due first."""
        runtime = runtime_factory()
        try:
            current(runtime)
            rows = worklist(
                runtime.db,
                tenant,
                as_of.date(),
                known_at=as_utc(as_known_at),
                currency=currency.upper() if currency else None,
            )
        finally:
            runtime.close()
        emit([worklist_out(row) for row in rows], form)

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

    @report_app.command("audit-trail")
    def audit_trail_report(
        tenant: Tenant,
        account: Annotated[str | None, typer.Option(help="One account only.")] = None,
        actor: Annotated[str | None, typer.Option(help="Only what this actor recorded.")] = None,
        event_type: Annotated[
            str | None, typer.Option(help="Only events of this type, e.g. PaymentReceived.")
        ] = None,
        recorded_from: Annotated[
            datetime | None,
            typer.Option("--from", formats=MOMENT_FORMATS, help="Recorded at or after (UTC)."),
        ] = None,
        recorded_to: Annotated[
            datetime | None,
            typer.Option("--to", formats=MOMENT_FORMATS, help="Recorded before (UTC)."),
        ] = None,
        form: FormatOption = Format.text,
    ) -> None:
        """Every event, oldest first: who, why, when, how much, and its hash-chain link.

        Text leaves out the payloads and hashes; CSV and JSON carry them for auditors."""
        if event_type is not None and event_type not in event_types():
            typer.echo(f"error: there is no event type {event_type!r}", err=True)
            raise typer.Exit(2)
        start, end = as_utc(recorded_from), as_utc(recorded_to)
        try:
            if start is not None and end is not None and end < start:
                typer.echo("error: --to is before --from", err=True)
                raise typer.Exit(2)
            for moment in (start, end):
                if moment is not None:
                    stored_moment(moment)
        except OverflowError:
            typer.echo("error: --from and --to are moments between the years 1 and 9999", err=True)
            raise typer.Exit(2) from None
        runtime = runtime_factory()
        try:
            current(runtime)
            found: list[AuditRow] = []
            while page := audit_trail(
                runtime.db,
                tenant,
                account_number=account,
                actor=actor,
                event_type=event_type,
                recorded_from=start,
                recorded_to=end,
                after_position=found[-1].position if found else 0,
                limit=1000,
            ):
                found += page
        finally:
            runtime.close()
        rows: list[dict[str, Any]] = [
            {
                "position": row.position,
                "recorded_at": row.recorded_at.isoformat(),
                "effective_on": row.effective_on.isoformat(),
                "account": row.account_number,
                "version": row.account_version,
                "event_type": row.event_type,
                "actor": row.actor,
                "reason": row.reason or "",
                "correlation_id": row.correlation_id,
                "amount": decimal(row.balance_effect_minor, row.currency),
                "currency": row.currency,
                "previous_hash": row.previous_hash,
                "event_hash": row.event_hash,
                "payload": row.payload,
            }
            for row in found
        ]
        if form is Format.json:
            emit(rows, form, [r | {"payload": json.loads(r["payload"])} for r in rows])
            return
        if form is Format.text:
            rows = [
                {k: v for k, v in r.items() if k not in ("payload", "previous_hash", "event_hash")}
                for r in rows
            ]
        emit(rows, form)
