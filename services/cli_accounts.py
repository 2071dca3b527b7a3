"""The clerk's and the auditor's commands in the ``ar`` CLI.

They run against the configured store directly (as operators on the server do), in the name of
``--tenant`` and ``--actor`` (or ``AR_TENANT`` / ``AR_ACTOR``), through the same application
and group commit as the HTTP API. Every command the API has is available as
``ar exec <command> <account> '<json body>'`` with the same JSON body as over HTTP;
``ar commands`` lists them. Reads print readable text, or JSON with ``--json`` for scripts.
A refused command prints its sentence on stderr and exits 1; nothing is recorded.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from domain.errors import DomainError
from domain.provenance import Provenance
from services.bootstrap import Runtime
from services.commands import AccountCommand, OpenAccount
from services.envelope import envelope, json_ready
from services.errors import ServiceError
from services.importer import ImportFileInvalid, ImportReport, import_file
from services.views import as_utc, balance_view, open_items_view

Tenant = Annotated[str, typer.Option(envvar="AR_TENANT", help="The tenant the account belongs to.")]
Actor = Annotated[
    str, typer.Option(envvar="AR_ACTOR", help="Your name, recorded as the actor on the events.")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
AsOfOption = Annotated[
    datetime | None,
    typer.Option(formats=["%Y-%m-%d"], help="Business date (YYYY-MM-DD).", show_default=False),
]
AsKnownAtOption = Annotated[
    datetime | None,
    typer.Option(
        formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"],
        help="Recording time; UTC when no offset is given.",
        show_default=False,
    ),
]


def command_models() -> dict[str, type[AccountCommand]]:
    """Every command model, by the name of the Account method it calls."""
    found: dict[str, type[AccountCommand]] = {}
    pending = list(AccountCommand.__subclasses__())
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        if "calls" in model.__dict__:
            found[model.calls] = model
    return dict(sorted(found.items()))


def _print(document: Any, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(document, indent=2, default=str))
        return
    if isinstance(document, dict):
        for key, value in document.items():
            typer.echo(f"{key}: {value}")
    else:
        typer.echo(str(document))


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int], None]]:
    """A progress bar on a terminal; nothing at all when the output goes to a pipe or file."""
    if not sys.stderr.isatty():
        yield lambda _done: None
        return
    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=None)
        yield lambda done: progress.advance(task, done)


def _import_summary(report: ImportReport) -> str:
    return (
        f"{report.rows} rows, {report.commands} commands: {report.recorded} recorded,"
        f" {report.already_imported} already imported, {len(report.refused)} refused"
    )


def register(app: typer.Typer, runtime_factory: Callable[[], Runtime]) -> None:
    @contextmanager
    def refusals_exit() -> Iterator[Runtime]:
        runtime = runtime_factory()
        try:
            yield runtime
        except (DomainError, ServiceError) as refusal:
            typer.echo(f"error: {refusal}", err=True)
            raise typer.Exit(1) from None
        except ValidationError as invalid:
            first = invalid.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "the body"
            typer.echo(f"error: {where}: {first['msg']}", err=True)
            raise typer.Exit(1) from None
        finally:
            runtime.close()

    def provenance(actor: str, reason: str | None = None) -> Provenance:
        return Provenance(actor=actor, correlation_id=f"cli-{uuid.uuid4().hex[:16]}", reason=reason)

    @app.command("open-account")
    def open_account(
        account: Annotated[str, typer.Argument(help="The account number.")],
        name: Annotated[str, typer.Option(help="The customer's name.")],
        currency: Annotated[str, typer.Option(help="ISO-4217 code, e.g. USD.")],
        opened_on: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="YYYY-MM-DD.")],
        tenant: Tenant,
        actor: Actor,
        payment_terms_days: Annotated[int, typer.Option(min=0, max=365)] = 30,
        idempotency_key: Annotated[str | None, typer.Option(help="Retry-safe key.")] = None,
        as_json: AsJson = False,
    ) -> None:
        """Open an account."""
        with refusals_exit() as runtime:
            # The same model as the API's body: the CLI refuses what the API refuses.
            opening = OpenAccount(
                account_number=account,
                name=name,
                currency=currency,
                opened_on=opened_on.date(),
                payment_terms_days=payment_terms_days,
            )
            outcome = runtime.app.open_account(
                tenant_id=tenant,
                account_number=opening.account_number,
                name=opening.name,
                currency=opening.currency,
                opened_on=opening.opened_on,
                payment_terms_days=opening.payment_terms_days,
                meta=provenance(actor),
                idempotency_key=idempotency_key,
            )
            _print(outcome.body, as_json)

    @app.command("exec")
    def execute(
        command: Annotated[
            str, typer.Argument(help="The command, e.g. post_charge (see `ar commands`).")
        ],
        account: Annotated[str, typer.Argument(help="The account number.")],
        body: Annotated[
            str, typer.Argument(help="The JSON body, as over HTTP; '-' reads it from stdin.")
        ],
        tenant: Tenant,
        actor: Actor,
        idempotency_key: Annotated[str | None, typer.Option(help="Retry-safe key.")] = None,
        reason: Annotated[str | None, typer.Option(help="Why: recorded on the events.")] = None,
        as_json: AsJson = False,
    ) -> None:
        """Send one command to an account, with the same JSON body as the HTTP API."""
        models = command_models()
        if command not in models:
            typer.echo(
                f"error: there is no command {command!r}; `ar commands` lists them", err=True
            )
            raise typer.Exit(2)
        text = sys.stdin.read() if body == "-" else body
        try:
            document = json.loads(text)
        except json.JSONDecodeError as bad:
            typer.echo(
                f"error: the body is not valid JSON ({bad.msg} at character {bad.pos})", err=True
            )
            raise typer.Exit(2) from None
        with refusals_exit() as runtime:
            model = models[command].model_validate(document)
            outcome = runtime.app.execute(
                tenant_id=tenant,
                account_number=account,
                command=model,
                meta=provenance(actor, reason),
                idempotency_key=idempotency_key,
            )
            _print(outcome.body, as_json)

    @app.command("import")
    def import_csv(
        file: Annotated[
            Path, typer.Argument(exists=True, dir_okay=False, help="The CSV file to import.")
        ],
        tenant: Tenant,
        actor: Actor,
        reason: Annotated[str | None, typer.Option(help="Why: recorded on the events.")] = None,
        as_json: AsJson = False,
    ) -> None:
        """Import accounts, invoices and payments from a CSV file (see services/importer.py).

        The file is checked whole before anything is recorded; importing it again records
        nothing twice. Refused rows are listed on stderr and the exit status is 1.
        """
        with refusals_exit() as runtime:
            try:
                with progress_bar("importing") as advance:
                    report = import_file(
                        runtime.app,
                        file,
                        tenant_id=tenant,
                        meta=provenance(actor, reason),
                        progress=advance,
                    )
            except ImportFileInvalid as invalid:
                for problem in invalid.problems:
                    typer.echo(f"error: {problem}", err=True)
                typer.echo(f"error: {invalid}", err=True)
                raise typer.Exit(1) from None
            _print(report.as_dict() if as_json else _import_summary(report), as_json)
            for refused in report.refused:
                typer.echo(f"refused: {refused}", err=True)
            if report.refused:
                raise typer.Exit(1)

    @app.command("commands")
    def list_commands(as_json: AsJson = False) -> None:
        """List every command `ar exec` takes, with its JSON fields."""
        listing = {name: sorted(model.model_fields) for name, model in command_models().items()}
        if as_json:
            _print(listing, True)
            return
        for name, fields in listing.items():
            typer.echo(f"{name}: {', '.join(fields)}")

    @app.command("balance")
    def balance(
        account: Annotated[str, typer.Argument(help="The account number.")],
        tenant: Tenant,
        as_of: AsOfOption = None,
        as_known_at: AsKnownAtOption = None,
        as_json: AsJson = False,
    ) -> None:
        """An account's balance, now or as of a date, as known at a moment."""
        with refusals_exit() as runtime:
            known_at = as_utc(as_known_at)
            state = runtime.app.get_account(tenant, account, as_known_at=known_at)
            _print(balance_view(state, as_of.date() if as_of else None, known_at), as_json)

    @app.command("replay")
    def replay(
        account: Annotated[str, typer.Argument(help="The account number.")],
        tenant: Tenant,
        as_of: Annotated[
            datetime, typer.Option(formats=["%Y-%m-%d"], help="Business date (YYYY-MM-DD).")
        ],
        as_known_at: AsKnownAtOption = None,
        as_json: AsJson = False,
    ) -> None:
        """The account as it stood: its figures as of a date and every event behind them."""
        with refusals_exit() as runtime:
            known_at = as_utc(as_known_at)
            day: date = as_of.date()
            state = runtime.app.get_account(tenant, account, as_known_at=known_at)
            events = [
                json_ready(envelope(e, tenant_id=tenant, position=None))
                for e in runtime.app.history(tenant, account, limit=state.version)
                if e.effective_on <= day
            ]
            document: dict[str, Any] = {
                "balance": balance_view(state, day, known_at),
                "open_items": open_items_view(state, day),
                "events": events,
            }
            if as_json:
                _print(document, True)
                return
            _print(document["balance"], False)
            typer.echo("open items:")
            for item in document["open_items"]:
                typer.echo(
                    f"  {item['number']}  due {item['terms'][0]['due_on']}  outstanding {item['outstanding']}"
                )
            typer.echo(f"events effective by {day.isoformat()}:")
            for e in events:
                typer.echo(
                    f"  v{e['account_version']}  {e['effective_on']}  {e['type']}  by {e['actor']}"
                )
