"""The reporting and projection commands of ``ar``: rebuild, verify, explain, and the reports.

``ar rebuild [MODEL...]`` empties read models and replays every event into them, with a
progress bar on a terminal; running projectors stand by meanwhile and carry on after it.
``ar report aging|worklist|trial-balance|statement|audit-trail`` and ``ar explain`` bring the
read models up to date (so the embedded default needs no projector running), then print the
report. Amounts are decimal strings in the account's currency.

For a person a report is a table (``services.cli_render``): amounts right-aligned, nothing
shown as a dash, and the total rows the report itself works out (aging's ``TOTAL`` per
currency) under a rule. For scripts, ``--format csv`` and ``--format json`` print the same
rows as they always have: empty cells are "", the total rows are rows like the others.

Declaring these commands loads typer and nothing of the store: the read models, the
application and the database are imported inside a command, when it runs, so that ``ar
--help`` stays quick (``tests/service/test_cli.py`` holds it so).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperArgument, TyperCommand

from services.cli_accounts import AsKnownAtOption, Tenant, progress_bar

if TYPE_CHECKING:
    from projections.collections import HistoryItem, WorklistRow
    from projections.reports import AgingRow
    from services.bootstrap import Runtime
    from services.cli_render import Column


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

#: What a text report with no rows prints.
NOTHING_FOUND = "(nothing)"


def decimal(minor: int, currency: str) -> str:
    """Minor units as printed: the decimal string of the currency (1050 USD → "10.50")."""
    from domain.money import from_minor_units

    return str(from_minor_units(minor, currency))


def current(runtime: Runtime) -> None:
    """Bring every read model up to the newest event (another projector may be doing it too)."""
    from projections.runner import TrackingConflict

    # A running projector that advanced first keeps the tables as current as we would.
    with contextlib.suppress(TrackingConflict):
        runtime.projector().catch_up()


def _as_utc(moment: datetime | None) -> datetime | None:
    from services.views import as_utc

    return as_utc(moment)


def emit(
    rows: list[dict[str, Any]],
    form: Format,
    document: Any = None,
    *,
    columns: Sequence[Column | str] | None = None,
    totals: Sequence[Mapping[str, Any]] = (),
) -> None:
    """Print rows as a table, CSV with a header, or JSON (``document`` if given).

    The table shows ``columns`` (default every key of the first row, as text) with ``totals``
    under a rule; CSV and JSON carry the total rows among the ``rows``, as scripts expect.
    """
    if form is Format.json:
        typer.echo(json.dumps(rows if document is None else document, indent=2, default=str))
        return
    if form is Format.csv:
        if not rows:
            return
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        typer.echo(out.getvalue(), nl=False)
        return
    from services.cli_render import show, table

    # "" is CSV's nothing; a person reads it as a dash, as everywhere else in ``ar``.
    def shown(row: Mapping[str, Any]) -> dict[str, Any]:
        return {k: None if v == "" else v for k, v in row.items()}

    show(
        table(
            columns if columns is not None else list(rows[0]) if rows else [],
            [shown(r) for r in rows],
            totals=[shown(t) for t in totals],
            empty=NOTHING_FOUND,
        )
    )


def _columns(
    names: Sequence[str], amounts: Sequence[str] = (), numbers: Sequence[str] = ()
) -> list[Column | str]:
    from services.cli_render import Column

    return [
        Column(name, amount=name in amounts, number=name in numbers)
        if name in amounts or name in numbers
        else name
        for name in names
    ]


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


def _day(value: date | None) -> str:
    return "" if value is None else value.isoformat()


def history_out(item: HistoryItem, currency: str) -> dict[str, Any]:
    """One activity or promise of a row's history as ``--format json`` prints it (the API's
    shape)."""
    return {
        "kind": item.kind,
        "on": item.on.isoformat(),
        "id": item.id,
        "channel": item.channel,
        "outcome": item.outcome,
        "amount": None if item.amount_minor is None else decimal(item.amount_minor, currency),
        "pay_by": None if item.pay_by is None else item.pay_by.isoformat(),
        "status": item.status,
    }


def history_text(item: HistoryItem, currency: str) -> str:
    """One history item in a few words: "2026-03-10 call: no answer", "2026-03-10 promise
    60.00 by 2026-03-31: broken"."""
    if item.kind == "promise" and item.amount_minor is not None:
        amount = decimal(item.amount_minor, currency)
        return f"{item.on.isoformat()} promise {amount} by {_day(item.pay_by)}: {item.status}"
    return f"{item.on.isoformat()} {item.channel}: {item.outcome}"


def worklist_out(row: WorklistRow) -> dict[str, Any]:
    """One worklist row as printed: amounts as decimal strings, "" where there is nothing;
    the history is a nested list here (JSON) and a "; "-joined line in text and CSV."""
    day = _day

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
        "collector": row.collector or "",
        "next_action_on": day(row.next_action_on),
        "history": [history_out(item, row.currency) for item in row.history],
    }


def _bucket_bounds(buckets: str) -> tuple[int, ...]:
    from domain.aging import InvalidBuckets, parse_limits

    try:
        return parse_limits(buckets)
    except InvalidBuckets as invalid:
        typer.echo(f"error: --{invalid}", err=True)
        raise typer.Exit(2) from None


class _Rebuild(TyperCommand):
    """``ar rebuild``: its own help names the read models, read from the catalogue only then."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        from projections.catalogue import MODELS

        for param in self.params:
            if isinstance(param, TyperArgument) and param.name == "models":
                param.help = f"Read models to rebuild (default all): {', '.join(MODELS)}."
        super().format_help(ctx, formatter)


def register(app: typer.Typer, runtime_factory: Callable[[], Runtime]) -> None:
    report_app = typer.Typer(help="Reports from the read models, as text, CSV or JSON.")

    @app.command("rebuild", cls=_Rebuild)
    def rebuild(
        models: Annotated[
            list[str] | None,
            typer.Argument(help="Read models to rebuild (default all).", show_default=False),
        ] = None,
    ) -> None:
        """Rebuild read models from the first event."""
        from projections.catalogue import MODELS

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
            with projector.exclusively(), progress_bar("rebuilding") as advance:
                events = projector.rebuild(advance)
            typer.echo(
                f"rebuilt {', '.join(m.name for m in projector.models)} from {events} events"
            )
        finally:
            runtime.close()

    @app.command("verify")
    def verify_command(form: FormatOption = Format.text) -> None:
        """Compare every read model with a rebuild from the events, and walk every hash chain.

        Prints each discrepancy; exit status 1 if there is any."""
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
                known_at=_as_utc(as_known_at),
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
            names = ["position", "event", "date", "reference", "note", "amount"]
            emit(
                rows,
                form,
                columns=_columns(names, amounts=["amount"], numbers=["position"]),
                totals=[{"event": "total", "amount": total}] if rows else (),
            )
            typer.echo(f"{figure} as of {found.as_of.isoformat()}: {total} {found.currency}")
        else:
            emit(rows, form, document)

    app.add_typer(report_app, name="report")

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
        from domain.aging import bucket_labels
        from projections.reports import aging, aging_totals

        bounds = _bucket_bounds(buckets)
        runtime = runtime_factory()
        try:
            current(runtime)
            report = aging(
                runtime.db,
                tenant,
                as_of.date(),
                known_at=_as_utc(as_known_at),
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
            emit(
                lines,
                form,
                columns=_columns(
                    [
                        "account",
                        "item",
                        "term",
                        "issued_on",
                        "due_on",
                        "days_past_due",
                        "bucket",
                        "open",
                        "currency",
                        "disputed",
                    ],
                    amounts=["open"],
                    numbers=["term", "days_past_due"],
                ),
            )
            return
        rows = [aging_out(row) for row in report]
        totals = [aging_out(row) for row in aging_totals(report)]
        if form is not Format.text:
            emit([*rows, *totals], form)
            return
        amounts = [*bucket_labels(bounds), "open", "unapplied_credit", "disputed"]
        emit(
            rows,
            form,
            columns=_columns(["account", "currency", *amounts], amounts=amounts),
            totals=totals,
        )

    @report_app.command("worklist")
    def worklist_report(
        tenant: Tenant,
        as_of: AsOf,
        as_known_at: AsKnownAtOption = None,
        currency: Annotated[str | None, typer.Option(help="One currency only.")] = None,
        collector: Annotated[
            str | None,
            typer.Option(help="Accounts assigned to this collector; 'unassigned': to none."),
        ] = None,
        level: Annotated[
            int | None, typer.Option(min=0, max=9, help="One dunning level only; 0: none.")
        ] = None,
        sort: Annotated[
            str, typer.Option(help="priority (default), next_action or account.")
        ] = "priority",
        limit: Annotated[
            int | None, typer.Option(min=1, max=200, help="A page of this many rows.")
        ] = None,
        cursor: Annotated[
            str | None, typer.Option(help="The next cursor the previous page printed.")
        ] = None,
        form: FormatOption = Format.text,
    ) -> None:
        """Accounts to chase, highest amount × days past due first, with what to do next.

        Filtered by collector, dunning level and currency, a page at a time; each row has its
        next-action date and its latest activities and promises.
        """
        from projections.collections import InvalidWorklistQuery, WorklistQuery, worklist_page
        from services.tenants import TenantSettings

        query = WorklistQuery(
            tenant_id=tenant,
            as_of=as_of.date(),
            known_at=_as_utc(as_known_at),
            currency=currency.upper() if currency else None,
            collector=collector,
            level=level,
            sort=sort,
            limit=limit,
        )
        runtime = runtime_factory()
        try:
            current(runtime)
            found = TenantSettings(runtime.app).get(tenant)
            policy = None if found is None else found.policy_in_force(query.as_of)
            try:
                page = worklist_page(runtime.db, query, policy=policy, cursor=cursor)
            except InvalidWorklistQuery as refused:
                typer.echo(f"error: {refused}", err=True)
                raise typer.Exit(1) from None
        finally:
            runtime.close()
        printed = [worklist_out(row) for row in page.rows]
        if form is Format.json:
            emit(printed, form, {"rows": printed, "next_cursor": page.next_cursor})
            return
        for out, row in zip(printed, page.rows, strict=True):
            out["history"] = "; ".join(history_text(item, row.currency) for item in row.history)
        columns = _columns(
            list(printed[0]) if printed else [],
            amounts=["overdue", "disputed", "promise"],
            numbers=["oldest_days_past_due", "priority", "dunning_level"],
        )
        emit(printed, form, columns=columns)
        if page.next_cursor:
            typer.echo(f"more: add --cursor {page.next_cursor}", err=form is not Format.text)

    @report_app.command("trial-balance")
    def trial_balance_report(
        tenant: Tenant,
        as_of: AsOf,
        as_known_at: AsKnownAtOption = None,
        form: FormatOption = Format.text,
    ) -> None:
        """Each ledger account's balance (debit positive) as of the date; sums to zero."""
        from projections.reports import trial_balance

        runtime = runtime_factory()
        try:
            current(runtime)
            balances = trial_balance(
                runtime.db, tenant, as_of.date(), known_at=_as_utc(as_known_at)
            )
        finally:
            runtime.close()
        emit(
            [
                {"currency": currency, "ledger_account": name, "balance": decimal(amount, currency)}
                for currency, by_account in sorted(balances.items())
                for name, amount in by_account.items()
            ],
            form,
            columns=_columns(["currency", "ledger_account", "balance"], amounts=["balance"]),
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
        from projections.reports import statement

        runtime = runtime_factory()
        try:
            current(runtime)
            found = statement(
                runtime.db,
                tenant,
                account,
                period_from.date(),
                period_to.date(),
                known_at=_as_utc(as_known_at),
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
        columns = _columns(
            ["date", "movement", "reference", "amount", "balance"], amounts=["amount", "balance"]
        )
        emit(rows, form, document, columns=columns)

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
        from projections.audit_trail import AuditRow, audit_trail, event_types
        from projections.database import stored_moment
        from services.errors import UnknownEventType

        if event_type is not None and event_type not in event_types():
            typer.echo(f"error: {UnknownEventType(event_type).message}", err=True)
            raise typer.Exit(2)
        start, end = _as_utc(recorded_from), _as_utc(recorded_to)
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
        if form is Format.csv:
            emit(rows, form)
            return
        shown = [
            "position",
            "recorded_at",
            "effective_on",
            "account",
            "version",
            "event_type",
            "actor",
            "reason",
            "correlation_id",
            "amount",
            "currency",
        ]
        emit(
            [{k: r[k] for k in shown} for r in rows],
            form,
            columns=_columns(shown, amounts=["amount"], numbers=["position", "version"]),
        )
