"""The general ledger in ``ar``: the chart of accounts, the journal's numbered exports, the tie-out.

- ``ar tenant chart-of-accounts`` / ``set-chart-of-accounts FILE.json``: every ledger account's
  GL account; the file is the body ``PUT /v1/tenant/chart-of-accounts`` takes
  (``{"accounts": {"receivables": {"code": "1200", "name": "Accounts receivable"}, ...}}``).
- ``ar gl export --period 2026-03 [--summary|--detailed] [--format csv|json] [--output FILE]``
  records the period's journal as the tenant's next numbered export and writes it;
  ``ar gl export --number N`` (or ``ar gl show N``) writes export N again, the same bytes;
  ``ar gl exports`` lists them; ``ar gl journal --period 2026-03`` writes the journal as it would
  be exported now, recording nothing.
- ``ar gl tie-out --as-of 2026-03-31 [--as-known-at T]``: whether the AR control account, the
  aging and the balances agree; exit status 1 when they do not, each difference listed with
  the events behind it.

They do what ``services.api.general_ledger`` does over HTTP (``services.general_ledger``,
``projections.tie_out``), after bringing the read models up to date (the embedded default runs
no projector). A refusal ends with its sentence on stderr and exit status 1, nothing recorded.
The journal goes to stdout (or ``--output``); what export it is goes to stderr, so stdout is
the file a GL imports.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from services.cli_accounts import AsKnownAtOption
from services.cli_days import Actor, AsJson
from services.cli_guard import cli_provenance
from services.cli_guard import refusals_exit as guarded_refusals_exit
from services.cli_reports import AsOf, Format, FormatOption, current, decimal

if TYPE_CHECKING:
    from domain.general_ledger import ChartOfAccounts
    from services.bootstrap import Runtime
    from services.general_ledger import Journal

Tenant = Annotated[str, typer.Option(envvar="AR_TENANT", help="The tenant whose ledger it is.")]
PeriodOption = Annotated[
    str | None, typer.Option("--period", help="The month, YYYY-MM.", show_default=False)
]
Detailed = Annotated[
    bool,
    typer.Option(
        "--detailed/--summary",
        help="Every line with the events behind it, or per GL account and currency.",
    ),
]
Output = Annotated[
    Path | None,
    typer.Option("--output", dir_okay=False, help="Write to FILE instead of stdout."),
]


class JournalFormat(StrEnum):
    csv = "csv"
    json = "json"


JournalFormatOption = Annotated[
    JournalFormat, typer.Option("--format", help="csv (default) or json.")
]


def _chart_document(chart: ChartOfAccounts) -> dict[str, Any]:
    return {"accounts": chart.as_mapping(), "ar_control_accounts": list(chart.ar_control_codes)}


def _print_chart(chart: ChartOfAccounts, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(_chart_document(chart), indent=2))
        return
    from services.cli_render import show, table

    rows = [
        {"ledger account": m.ledger_account, "GL account": m.code, "name": m.name}
        for m in chart.mappings
    ]
    show(table(["ledger account", "GL account", "name"], rows))


def _chart_from_file(path: Path) -> ChartOfAccounts:
    """The chart a file gives: the API's body, ``{"accounts": {ledger: {code, name}}}``."""
    from domain.general_ledger import check_chart_of_accounts

    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as unreadable:
        typer.echo(f"error: {path} is not JSON text: {unreadable}", err=True)
        raise typer.Exit(1) from None
    accounts = body.get("accounts") if isinstance(body, dict) else None
    shaped = isinstance(accounts, dict) and all(
        isinstance(a, dict) and isinstance(a.get("code"), str) and isinstance(a.get("name"), str)
        for a in accounts.values()
    )
    if not isinstance(accounts, dict) or not shaped:
        typer.echo(
            f'error: {path} is not a chart of accounts: give {{"accounts": {{"receivables":'
            ' {"code": "1200", "name": "Accounts receivable"}, ...}}, every ledger account'
            " with a code and a name.",
            err=True,
        )
        raise typer.Exit(1)
    return check_chart_of_accounts({k: (v["code"], v["name"]) for k, v in accounts.items()})


def _write(text: str, output: Path | None) -> None:
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_bytes(text.encode("utf-8"))


def _journal_text(journal: Journal, form: JournalFormat) -> str:
    if form is JournalFormat.json:
        return json.dumps(journal.document(), indent=2) + "\n"
    return journal.csv_text()


def _say_which(journal: Journal) -> None:
    export = journal.export
    what = f"{journal.detail} journal of {journal.period}, {len(journal.lines)} lines"
    where = f"through position {journal.through_position}, sha256 {journal.sha256}"
    if export is None:
        typer.echo(f"{what} ({where}; not recorded)", err=True)
    else:
        typer.echo(
            f"GL export {export.number}: {what} ({where}), asked by {export.requested_by}"
            f" at {export.requested_at.isoformat()}",
            err=True,
        )


def register(
    app: typer.Typer, tenant_app: typer.Typer, runtime_factory: Callable[[], Runtime]
) -> None:
    """Add ``ar gl`` to ``app`` and the chart of accounts' commands to ``ar tenant``."""

    def refusals_exit(what: str) -> AbstractContextManager[Runtime]:
        return guarded_refusals_exit(runtime_factory, what)

    @tenant_app.command("chart-of-accounts")
    def show_chart(
        tenant: Tenant, as_known_at: AsKnownAtOption = None, as_json: AsJson = False
    ) -> None:
        """Every ledger account's GL account (the tenant's chart of accounts)."""
        from services.tenants import TenantSettings
        from services.views import as_utc

        with refusals_exit("the chart of accounts") as runtime:
            found = TenantSettings(runtime.app).get(tenant, as_known_at=as_utc(as_known_at))
        if found is None or found.chart_of_accounts is None:
            typer.echo("null" if as_json else f"tenant {tenant} has no chart of accounts")
            return
        _print_chart(found.chart_of_accounts, as_json)

    @tenant_app.command("set-chart-of-accounts")
    def set_chart(
        file: Annotated[
            Path,
            typer.Argument(exists=True, dir_okay=False, readable=True, help="The chart, as JSON."),
        ],
        tenant: Tenant,
        actor: Actor,
    ) -> None:
        """Map every ledger account to a GL account of the tenant's general ledger."""
        from services.tenants import TenantSettings

        with refusals_exit("the chart of accounts") as runtime:
            chart = _chart_from_file(file)
            recorded = TenantSettings(runtime.app).set_chart_of_accounts(
                tenant, chart, cli_provenance(actor)
            )
        _print_chart(chart, False)
        if not recorded:
            typer.echo("(the same as in force: nothing recorded)")

    gl_app = typer.Typer(help="The general-ledger journal, its numbered exports, the tie-out.")
    app.add_typer(gl_app, name="gl")

    @gl_app.command("export")
    def export(
        tenant: Tenant,
        actor: Actor,
        period: PeriodOption = None,
        number: Annotated[
            int | None,
            typer.Option(
                "--number", min=1, help="Write export N again instead.", show_default=False
            ),
        ] = None,
        detailed: Detailed = False,
        form: JournalFormatOption = JournalFormat.csv,
        output: Output = None,
    ) -> None:
        """Record the journal of a period as the next numbered export, and write it."""
        from services.general_ledger import GeneralLedger

        if (period is None) == (number is None):
            typer.echo("error: give --period to export, or --number to repeat an export", err=True)
            raise typer.Exit(2)
        with refusals_exit("the export") as runtime:
            current(runtime)
            ledger = GeneralLedger(runtime.app)
            if number is not None:
                journal = ledger.repeat(tenant, number)
            else:
                assert period is not None
                detail = "detailed" if detailed else "summary"
                journal = ledger.export(tenant, period, detail, actor)
        _write(_journal_text(journal, form), output)
        _say_which(journal)

    @gl_app.command("show")
    def show_export(
        number: Annotated[int, typer.Argument(min=1, help="The export's number.")],
        tenant: Tenant,
        form: JournalFormatOption = JournalFormat.csv,
        output: Output = None,
    ) -> None:
        """Write export N again: the same lines, byte for byte."""
        from services.general_ledger import GeneralLedger

        with refusals_exit("the export") as runtime:
            journal = GeneralLedger(runtime.app).repeat(tenant, number)
        _write(_journal_text(journal, form), output)
        _say_which(journal)

    @gl_app.command("journal")
    def journal_now(
        tenant: Tenant,
        period: Annotated[str, typer.Option("--period", help="The month, YYYY-MM.")],
        detailed: Detailed = False,
        form: JournalFormatOption = JournalFormat.csv,
        output: Output = None,
    ) -> None:
        """Write the journal of a period as it would be exported now (records nothing)."""
        from services.general_ledger import GeneralLedger

        with refusals_exit("the journal") as runtime:
            current(runtime)
            journal = GeneralLedger(runtime.app).journal(
                tenant, period, "detailed" if detailed else "summary"
            )
        _write(_journal_text(journal, form), output)
        _say_which(journal)

    @gl_app.command("exports")
    def list_exports(tenant: Tenant, form: FormatOption = Format.text) -> None:
        """The tenant's GL exports, newest first."""
        from services.cli_reports import emit
        from services.general_ledger import GeneralLedger, export_out

        with refusals_exit("the exports") as runtime:
            rows = [export_out(e) for e in GeneralLedger(runtime.app).exports(tenant)]
        emit(rows, form, rows)

    @gl_app.command("tie-out")
    def tie_out_command(
        tenant: Tenant,
        as_of: AsOf,
        as_known_at: AsKnownAtOption = None,
        form: FormatOption = Format.text,
    ) -> None:
        """Whether the AR control account, the aging and the balances agree (exit 1: not).

        Each account where they differ is listed with the events behind its balance."""
        from services.general_ledger import tie_out
        from services.views import as_utc

        with refusals_exit("the tie-out") as runtime:
            current(runtime)
            report = tie_out(runtime.app, tenant, as_of.date(), as_utc(as_known_at))
        document = _tie_out_document(report)
        if form is Format.json:
            typer.echo(json.dumps(document, indent=2))
        else:
            _print_tie_out(document, form)
        if not report.ties_out:
            raise typer.Exit(1)


def _tie_out_document(report: Any) -> dict[str, Any]:
    def figures(found: Any, currency: str) -> dict[str, Any]:
        return {
            "control": decimal(found.control_minor, currency),
            "aging": decimal(found.aging_minor, currency),
            "not_aged": decimal(found.not_aged_minor, currency),
            "balances": decimal(found.balances_minor, currency),
            "ties_out": found.ties_out,
        }

    return {
        "as_of": report.as_of.isoformat(),
        "as_known_at": None if report.known_at is None else report.known_at.isoformat(),
        "ties_out": report.ties_out,
        "totals": {c: figures(f, c) for c, f in report.totals.items()},
        "differences": [
            {
                "account_number": d.account_number,
                "currency": d.currency,
                "figures": figures(d.figures, d.currency),
                "events": [
                    {
                        "position": e.position,
                        "event_type": e.event_type,
                        "effective_on": e.effective_on.isoformat(),
                        "reference": e.reference,
                        "amount": decimal(e.amount_minor, d.currency),
                    }
                    for e in d.events
                ],
            }
            for d in report.differences
        ],
    }


def _print_tie_out(document: dict[str, Any], form: Format) -> None:
    from services.cli_reports import emit

    rows = [
        {"account": "TOTAL", "currency": currency, **{k: v for k, v in f.items()}}
        for currency, f in document["totals"].items()
    ] + [
        {"account": d["account_number"], "currency": d["currency"], **d["figures"]}
        for d in document["differences"]
    ]
    emit(rows, form)
    if form is not Format.text:
        return
    for difference in document["differences"]:
        typer.echo(f"events behind {difference['account_number']}'s balance:")
        emit(difference["events"], form)
    verdict = "ties out" if document["ties_out"] else "does NOT tie out"
    typer.echo(f"as of {document['as_of']}: the AR control account {verdict}")
