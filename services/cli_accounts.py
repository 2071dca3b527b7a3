"""The clerk's and the auditor's commands in the ``ar`` CLI.

They run against the configured store directly (as operators on the server do), in the name of
``--tenant`` and ``--actor`` (or ``AR_TENANT`` / ``AR_ACTOR``), through the same application
and group commit as the HTTP API. Every command the API has is available as
``ar exec <command> <account> '<json body>'`` with the same JSON body as over HTTP, and as a
typed subcommand with an option per field (``services.cli_typed``); ``ar commands`` lists them
with their fields' types and which are required. ``ar accounts list|search|show`` find accounts in the account
directory (``projections.directory``, brought up to date first, as the reports are) and show
one with its contact details. Reads print tables and labelled values (``services.cli_render``),
or JSON with ``--json`` for scripts. A refused command prints its sentence on stderr and exits
1; nothing is recorded.

The application, its command models and the store are imported inside the commands, when one
runs: declaring the commands (for ``ar --help``) loads typer and the domain's limit on payment
terms, nothing more.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from domain.schedules import MAX_TERMS_DAYS
from services.cli_guard import cli_provenance
from services.cli_guard import refusals_exit as guarded_refusals_exit

if TYPE_CHECKING:
    from services.bootstrap import Runtime

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


class AccountStatus(StrEnum):
    open = "open"
    closed = "closed"


#: The directory's options, shared by ``ar accounts list`` and ``ar accounts search``.
StatusOption = Annotated[
    AccountStatus | None, typer.Option(help="open or closed.", show_default=False)
]
CurrencyOption = Annotated[
    str | None, typer.Option(help="ISO-4217 code, e.g. USD.", show_default=False)
]
OverdueOption = Annotated[
    bool | None,
    typer.Option(
        "--has-overdue/--no-overdue",
        help="Only accounts with (or without) a term due before --as-of still open.",
        show_default=False,
    ),
]
DunningOption = Annotated[
    int | None, typer.Option(min=0, max=99, help="The dunning level.", show_default=False)
]
CollectorOption = Annotated[
    str | None, typer.Option(help="The collector assigned.", show_default=False)
]
SortOption = Annotated[
    str, typer.Option(help="name, number or opened_on; '-' first for descending (-opened_on).")
]
LimitOption = Annotated[int, typer.Option(min=1, max=200, help="Accounts per page.")]
CursorOption = Annotated[
    str | None,
    typer.Option(help="The next page: the cursor the previous page printed.", show_default=False),
]
DIRECTORY_COLUMNS = (
    "number",
    "name",
    "status",
    "currency",
    "balance",
    "overdue",
    "dunning",
    "collector",
    "email",
    "phone",
    "reference",
)


#: The figures of an account summary and a balance that are amounts of the account's currency.
AMOUNTS = frozenset({"balance", "unapplied_credit", "owed_by_insurers"})


def _print_json(document: Any) -> None:
    typer.echo(json.dumps(document, indent=2, default=str))


def print_account(document: dict[str, Any], as_json: bool) -> None:
    """A command's answer or a balance: JSON for scripts, else labelled values."""
    if as_json:
        _print_json(document)
        return
    from services.cli_render import pairs, show

    show(pairs(document, amounts=AMOUNTS))


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int], None]]:
    """A progress bar on a terminal; nothing at all when the output goes to a pipe or file."""
    if not sys.stderr.isatty():
        yield lambda _done: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

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


def register(app: typer.Typer, runtime_factory: Callable[[], Runtime]) -> None:
    def refusals_exit() -> AbstractContextManager[Runtime]:
        return guarded_refusals_exit(runtime_factory, "the body")

    provenance = cli_provenance

    @app.command("open-account")
    def open_account(
        account: Annotated[str, typer.Argument(help="The account number.")],
        name: Annotated[str, typer.Option(help="The customer's name.")],
        currency: Annotated[str, typer.Option(help="ISO-4217 code, e.g. USD.")],
        opened_on: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="YYYY-MM-DD.")],
        tenant: Tenant,
        actor: Actor,
        payment_terms_days: Annotated[int, typer.Option(min=0, max=MAX_TERMS_DAYS)] = 30,
        idempotency_key: Annotated[str | None, typer.Option(help="Retry-safe key.")] = None,
        as_json: AsJson = False,
    ) -> None:
        """Open an account."""
        from services.commands import OpenAccount

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
            print_account(outcome.body, as_json)

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
        from services.commands import command_models

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
            print_account(outcome.body, as_json)

    @app.command("commands")
    def list_commands(
        names: Annotated[
            list[str] | None,
            typer.Argument(
                help="Only these commands (e.g. receive_payment, pay).", show_default=False
            ),
        ] = None,
        as_json: AsJson = False,
    ) -> None:
        """List every account command with its fields: type, whether required, options."""
        from services.cli_typed import SHORT_NAMES, command_listing, listing_rows

        listing = command_listing(names or [])
        if as_json:
            _print_json(listing)
            return
        from services.cli_render import show, table

        columns = ["command", "field", "type", "required", "options"]
        short = ", ".join(f"{name} ({command})" for name, command in SHORT_NAMES.items())
        show(
            table(columns, listing_rows(listing)),
            "\nEach is `ar exec COMMAND ACCOUNT '<json>'` with these fields, or `ar COMMAND ACCOUNT"
            " --option ...` with its name's _ as - (receive-payment); `ar COMMAND --help` says"
            f" more. Short names: {short}.",
        )

    @app.command("balance")
    def balance(
        account: Annotated[str, typer.Argument(help="The account number.")],
        tenant: Tenant,
        as_of: AsOfOption = None,
        as_known_at: AsKnownAtOption = None,
        as_json: AsJson = False,
    ) -> None:
        """An account's balance, now or as of a date, as known at a moment."""
        from services.views import as_utc, balance_view

        with refusals_exit() as runtime:
            known_at = as_utc(as_known_at)
            state = runtime.app.get_account(tenant, account, as_known_at=known_at)
            view = balance_view(state, as_of.date() if as_of else None, known_at)
            print_account(view, as_json)

    accounts = typer.Typer(
        name="accounts",
        help="Find accounts (list, search) and show one with its contact details.",
        no_args_is_help=True,
    )
    app.add_typer(accounts)

    def directory_page(
        tenant: str,
        q: str | None,
        status: AccountStatus | None,
        currency: str | None,
        has_overdue: bool | None,
        dunning_level: int | None,
        collector: str | None,
        sort: str,
        as_of: datetime | None,
        limit: int,
        cursor: str | None,
    ) -> dict[str, Any]:
        """One page of the directory, brought up to the newest event first."""
        import contextlib

        from domain.contacts import control_character_in
        from projections.directory import (
            AccountDirectory,
            DirectoryQuery,
            InvalidDirectoryQuery,
            search_directory,
        )
        from projections.runner import TrackingConflict

        if q is not None and control_character_in(q):
            typer.echo("error: the search must not contain control characters", err=True)
            raise typer.Exit(1)
        with refusals_exit() as runtime:
            # A running projector that advanced first keeps the table as current as we would.
            with contextlib.suppress(TrackingConflict):
                runtime.projector([AccountDirectory.name]).catch_up()
            query = DirectoryQuery(
                tenant_id=tenant,
                q=q,
                status=None if status is None else status.value,
                currency=currency,
                has_overdue=has_overdue,
                dunning_level=dunning_level,
                collector=collector,
                sort=sort,
                as_of=as_of.date() if as_of else None,
                limit=limit,
            )
            try:
                page = search_directory(runtime.db, query, today=date.today(), cursor=cursor)
            except InvalidDirectoryQuery as refused:
                typer.echo(f"error: {refused}", err=True)
                raise typer.Exit(1) from None
            return _directory_document(page)

    @accounts.command("list")
    def accounts_list(
        tenant: Tenant,
        status: StatusOption = None,
        currency: CurrencyOption = None,
        has_overdue: OverdueOption = None,
        dunning_level: DunningOption = None,
        collector: CollectorOption = None,
        sort: SortOption = "name",
        as_of: AsOfOption = None,
        limit: LimitOption = 50,
        cursor: CursorOption = None,
        as_json: AsJson = False,
    ) -> None:
        """List the tenant's accounts, a page at a time, filtered and sorted."""
        document = directory_page(
            tenant, None, status, currency, has_overdue, dunning_level, collector, sort, as_of,
            limit, cursor,
        )  # fmt: skip
        _print_directory(document, as_json)

    @accounts.command("search")
    def accounts_search(
        query: Annotated[
            str,
            typer.Argument(
                help="Words in the number, name, e-mail, phone or external reference; case, "
                "accents and how a phone number is written do not matter."
            ),
        ],
        tenant: Tenant,
        status: StatusOption = None,
        currency: CurrencyOption = None,
        has_overdue: OverdueOption = None,
        dunning_level: DunningOption = None,
        collector: CollectorOption = None,
        sort: SortOption = "name",
        as_of: AsOfOption = None,
        limit: LimitOption = 50,
        cursor: CursorOption = None,
        as_json: AsJson = False,
    ) -> None:
        """Find accounts by number, name, e-mail, phone or external reference."""
        document = directory_page(
            tenant, query, status, currency, has_overdue, dunning_level, collector, sort, as_of,
            limit, cursor,
        )  # fmt: skip
        _print_directory(document, as_json)

    @accounts.command("show")
    def accounts_show(
        account: Annotated[str, typer.Argument(help="The account number.")],
        tenant: Tenant,
        as_of: AsOfOption = None,
        as_json: AsJson = False,
    ) -> None:
        """One account: its figures, what is overdue, its contact details and collector."""
        with refusals_exit() as runtime:
            state = runtime.app.get_account(tenant, account)
            document = _account_card(state, as_of.date() if as_of else date.today())
        if as_json:
            _print_json(document)
            return
        from services.cli_render import pairs, show

        show(pairs(document, amounts={"balance", "overdue"}))

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
        from services.envelope import envelope, json_ready
        from services.views import as_utc, balance_view, open_items_view

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
                _print_json(document)
                return
            _print_replay(document, day)


def _directory_document(page: Any) -> dict[str, Any]:
    """A directory page as ``--json`` prints it: the shape ``GET /v1/accounts`` answers."""
    from domain.money import from_minor_units

    return {
        "accounts": [
            {
                "account_number": row.account_number,
                "name": row.name,
                "currency": row.currency,
                "status": row.status,
                "opened_on": row.opened_on.isoformat(),
                "balance": str(from_minor_units(row.balance_minor, row.currency)),
                "has_overdue": row.has_overdue,
                "oldest_due_on": row.oldest_due_on.isoformat() if row.oldest_due_on else None,
                "dunning_level": row.dunning_level,
                "collector": row.collector,
                "email": row.email,
                "phone": row.phone,
                "external_reference": row.external_reference,
                "preferred_channel": row.preferred_channel,
                "billing_address": row.address,
            }
            for row in page.rows
        ],
        "next_cursor": page.next_cursor,
        "as_of": page.as_of.isoformat(),
    }


def _print_directory(document: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _print_json(document)
        return
    from services.cli_render import Column, show, table

    rows = [
        {
            "number": a["account_number"],
            "name": a["name"],
            "status": a["status"],
            "currency": a["currency"],
            "balance": a["balance"],
            "overdue": a["has_overdue"],
            "dunning": a["dunning_level"],
            "collector": a["collector"],
            "email": a["email"],
            "phone": a["phone"],
            "reference": a["external_reference"],
        }
        for a in document["accounts"]
    ]
    columns: list[Column | str] = [
        Column("balance", amount=True) if key == "balance" else key for key in DIRECTORY_COLUMNS
    ]
    columns[DIRECTORY_COLUMNS.index("dunning")] = Column("dunning", number=True)
    shown: list[Any] = [table(columns, rows, empty="no accounts found")]
    if document["next_cursor"]:
        shown.append(f"more: add --cursor {document['next_cursor']}")
    show(*shown)


def _account_card(account: Any, as_of: date) -> dict[str, Any]:
    """An account as ``ar accounts show`` prints it, read from the account itself."""
    from domain.money import Money

    overdue = account.overdue(as_of)
    address = account.billing_address
    return {
        "account_number": account.account_number,
        "name": account.name,
        "currency": account.currency,
        "status": account.status,
        "opened_on": account.opened_on.isoformat(),
        "version": account.version,
        "balance": str(account.balance.amount),
        "as_of": as_of.isoformat(),
        "overdue": str(Money.sum((t.outstanding for t in overdue), account.currency).amount),
        "oldest_overdue_on": overdue[0].due_on.isoformat() if overdue else None,
        "dunning_level": account.dunning_level,
        "collector": account.collector,
        "email": account.email,
        "phone": account.phone,
        "preferred_channel": account.preferred_channel,
        "external_reference": account.external_reference,
        "billing_address": None if address is None else address.one_line(),
        "contact_notes": account.contact_notes or None,
    }


def _print_replay(document: dict[str, Any], day: date) -> None:
    from services.cli_render import Column, pairs, show, table

    items = [
        {
            "number": item["number"],
            "kind": item["kind"],
            "due_on": item["terms"][0]["due_on"] if item["terms"] else None,
            "outstanding": item["outstanding"],
        }
        for item in document["open_items"]
    ]
    show(
        pairs(document["balance"], amounts=AMOUNTS),
        "",
        table(
            ["number", "kind", "due_on", Column("outstanding", amount=True)],
            items,
            totals=True,
            title="open items",
            empty="open items: none",
        ),
        "",
        table(
            [
                Column("account_version", "version", number=True),
                "effective_on",
                "type",
                "actor",
            ],
            document["events"],
            title=f"events effective by {day.isoformat()}",
            empty=f"events effective by {day.isoformat()}: none",
        ),
    )
