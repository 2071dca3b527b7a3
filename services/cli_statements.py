"""Statement runs in the ``ar`` CLI: a statement for every account of a tenant, and what each
run did (``services.documents.runs``; the same runs as ``/v1/statement-runs`` over HTTP).

- ``ar statements run --as-of DATE [--from DATE] [--open-items-only] [--delivery
  auto|email|print|none] [--print-to FILE]``: the run of statements as of the date (one that
  has come in the tenant's time zone), with a progress bar on a terminal, then its summary and
  each account that failed (code and sentence). Asked again with the same options it is the
  same run, resumed: what it did is not done again. ``--print-to`` writes the run's print
  batch (a cover list, then each printed statement in account order) when it has one.
- ``ar statements list``, ``show RUN_ID [--items]``, ``resume RUN_ID``, ``print RUN_ID --out
  FILE``: the tenant's runs (of every kind: the dunning letters of a close of day too).

Exit status: 0 when the run finished with no account failed; 1 when an account failed (the
summary names it; the others were done, and ``resume`` retries it), as ``ar close-day``; 1 with
a sentence on stderr when the command is refused (a date to come, an unknown run, a run busy
elsewhere, nothing to print). The application and the store are imported when a command runs.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from services.cli_guard import refusals_exit as guarded_refusals_exit

if TYPE_CHECKING:
    from services.bootstrap import Runtime
    from services.documents.runs import DocumentRuns, RunItem, RunSummary

Tenant = Annotated[str, typer.Option(envvar="AR_TENANT", help="The tenant whose runs these are.")]
Actor = Annotated[
    str, typer.Option(envvar="AR_ACTOR", help="Your name, recorded as the one who did it.")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
RunId = Annotated[str, typer.Argument(help="The run's id, as its summary gives it.")]
HELP = "Statement runs: a statement for every account, e-mailed or printed in one batch."


class Delivery(StrEnum):
    """The deliveries of ``services.documents.runs.DELIVERIES`` (that module comes with the
    store, so it is not imported to declare the option; a test holds the two equal)."""

    auto = "auto"
    email = "email"
    print = "print"
    none = "none"


#: The summary's figures, in the order a person reads them.
FIGURES = ("accounts", "done", "skipped", "failed", "emailed", "printed", "pending", "sent")


def _document_runs(runtime: Runtime) -> DocumentRuns:
    from services.documents.runs import DocumentRuns
    from services.documents.service import Documents
    from services.tenants import TenantSettings

    return DocumentRuns(runtime, Documents(runtime.app, TenantSettings(runtime.app)))


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on a terminal; nothing when the output goes to a pipe, a file or JSON."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("accounts"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    ) as progress:
        task = progress.add_task("statements", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield advance


def _print_summary(summary: RunSummary, note: str | None = None) -> None:
    from services.cli_render import pairs, show, table

    figures = summary.as_json()
    period = (
        f"{summary.period_from.isoformat()} – {summary.as_of.isoformat()}"
        if summary.period_from
        else None
    )
    show(
        pairs(
            {
                "run": summary.run_id,
                "kind": summary.kind,
                "as of": summary.as_of,
                "period": period,
                "open items only": summary.open_items_only,
                "delivery": summary.delivery,
                "started": f"{summary.started_at} by {summary.started_by}",
                "finished": summary.finished_at,
                **{key: figures[key] for key in FIGURES[:6]},
                # Only a run cut short has items pending or sent but not recorded.
                **{key: figures[key] for key in FIGURES[6:] if figures[key]},
            }
        )
    )
    if note:
        show(note)
    if summary.failures:
        rows = [
            {"account": f.account_number, "code": f.code, "sentence": f.sentence}
            for f in summary.failures
        ]
        typer.echo("")
        show("accounts that failed (resume retries them):", table(list(rows[0]), rows))


def _print_items(items: list[RunItem]) -> None:
    from services.cli_render import Column, show, table

    rows = [
        {
            "account": i.account_number,
            "status": i.status,
            "channel": i.channel,
            "recipient": i.recipient,
            "pages": i.pages,
            "code": i.code,
            "sentence": i.sentence,
        }
        for i in items
    ]
    columns: list[Column | str] = ["account", "status", "channel", "recipient"]
    columns += [Column("pages", number=True), "code", "sentence"]
    typer.echo("")
    show(table(columns, rows, empty="no accounts in the run"))


def _write_batch(runs: DocumentRuns, tenant: str, summary: RunSummary, out: Path) -> str:
    """Write the run's print batch to ``out``; the sentence saying so."""
    pdf = runs.print_batch(tenant, summary.run_id)
    try:
        out.write_bytes(pdf)
    except OSError as failed:
        typer.echo(
            f"error: the print batch could not be written to {out}: {failed.strerror}", err=True
        )
        raise typer.Exit(1) from None
    count = summary.as_json()["printed"]
    return f"print batch: {count} document{'s' if count != 1 else ''} written to {out}"


def _exit_for(summary: RunSummary) -> None:
    if summary.failures:
        raise typer.Exit(1)


def register(app: typer.Typer, runtime_factory: Callable[[], Runtime]) -> None:
    """Add the ``ar statements`` group."""

    def refusals_exit() -> AbstractContextManager[Runtime]:
        return guarded_refusals_exit(runtime_factory, "the run")

    statements = typer.Typer(name="statements", help=HELP, no_args_is_help=True)
    app.add_typer(statements)

    @statements.command("run")
    def run(
        as_of: Annotated[
            datetime, typer.Option(formats=["%Y-%m-%d"], help="Business date (YYYY-MM-DD).")
        ],
        tenant: Tenant,
        actor: Actor = "statements-cli",
        period_from: Annotated[
            datetime | None,
            typer.Option(
                "--from",
                formats=["%Y-%m-%d"],
                help="The period's first day (default: the 1st of the month).",
                show_default=False,
            ),
        ] = None,
        open_items_only: Annotated[
            bool, typer.Option("--open-items-only", help="List what is open, not the activity.")
        ] = False,
        delivery: Annotated[
            Delivery,
            typer.Option(
                help="auto: each account's preferred channel; email, print: all so; none:"
                " produce only."
            ),
        ] = Delivery.auto,
        print_to: Annotated[
            Path | None,
            typer.Option(
                "--print-to",
                help="Write the print batch (PDF) here when there is one.",
                dir_okay=False,
                show_default=False,
            ),
        ] = None,
        as_json: AsJson = False,
    ) -> None:
        """A statement for every account of the tenant as of a date (resumed if run before)."""
        day = as_of.date()
        with refusals_exit() as runtime:
            runs = _document_runs(runtime)
            with _progress(not as_json) as bar:
                summary = runs.statement_run(
                    tenant,
                    day,
                    started_by=actor,
                    period_from=period_from.date() if period_from else None,
                    open_items_only=open_items_only,
                    delivery=delivery.value,
                    progress=bar,
                )
            batch = None
            if print_to is not None and summary.as_json()["printed"]:
                batch = _write_batch(runs, tenant, summary, print_to)
        if as_json:
            typer.echo(json.dumps(summary.as_json(), indent=2))
        else:
            note = "run asked before: resumed, nothing done twice" if summary.asked_before else None
            _print_summary(summary, note)
        if print_to is not None:
            # With --json the standard output is the summary alone.
            typer.echo(
                batch or f"nothing printed: {print_to} not written", err=as_json or not batch
            )
        _exit_for(summary)

    @statements.command("list")
    def list_runs(
        tenant: Tenant,
        limit: Annotated[int, typer.Option(min=1, max=500, help="At most this many.")] = 50,
        as_json: AsJson = False,
    ) -> None:
        """The tenant's document runs (statements and dunning letters), newest first."""
        with refusals_exit() as runtime:
            found = _document_runs(runtime).runs(tenant, limit)
        if as_json:
            typer.echo(json.dumps([s.as_json() for s in found], indent=2))
            return
        from services.cli_render import Column, show, table

        rows = [{**s.as_json(), "started": s.started_at} for s in found]
        columns: list[Column | str] = ["run_id", "kind", "as_of", "delivery", "started"]
        columns += [Column(key, number=True) for key in FIGURES[:6]]
        show(table(columns, rows, empty=f"tenant {tenant} has no document runs"))

    @statements.command("show")
    def show_run(
        run_id: RunId,
        tenant: Tenant,
        items: Annotated[bool, typer.Option("--items", help="Each account's item too.")] = False,
        as_json: AsJson = False,
    ) -> None:
        """What a run did (with --items: each account's document)."""
        from services.documents.runs import UnknownDocumentRun

        with refusals_exit() as runtime:
            runs = _document_runs(runtime)
            summary = runs.summary(tenant, run_id)
            if summary is None:
                raise UnknownDocumentRun(run_id)
            listed = runs.items(tenant, run_id) if items else []
        if as_json:
            document: dict[str, Any] = summary.as_json()
            if items:
                document["items"] = [i.as_json() for i in listed]
            typer.echo(json.dumps(document, indent=2))
            return
        _print_summary(summary)
        if items:
            _print_items(listed)

    @statements.command("resume")
    def resume_run(
        run_id: RunId,
        tenant: Tenant,
        actor: Actor = "statements-cli",
        as_json: AsJson = False,
    ) -> None:
        """Finish a run: retry the accounts that failed or were left undone."""
        with refusals_exit() as runtime:
            summary = _document_runs(runtime).resume(tenant, run_id, started_by=actor)
        if as_json:
            typer.echo(json.dumps(summary.as_json(), indent=2))
        else:
            _print_summary(summary)
        _exit_for(summary)

    @statements.command("print")
    def print_batch(
        run_id: RunId,
        tenant: Tenant,
        out: Annotated[Path, typer.Option("--out", help="Where to write the PDF.", dir_okay=False)],
    ) -> None:
        """Write a run's print batch (one PDF: a cover list, then each printed document)."""
        from services.documents.runs import UnknownDocumentRun

        with refusals_exit() as runtime:
            runs = _document_runs(runtime)
            summary = runs.summary(tenant, run_id)
            if summary is None:
                raise UnknownDocumentRun(run_id)
            written = _write_batch(runs, tenant, summary, out)
        typer.echo(written)
