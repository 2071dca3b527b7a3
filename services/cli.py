"""The ``ar`` command: serve the API, run the projector and the relay, manage API keys, close
business days and keep the tenant's settings (``services.cli_days``,
``services.cli_tenant_documents``), and the reports (``services.cli_reports``).

Every command reads the same settings (``AR_*`` environment variables, see
``services.settings``). Errors end with a sentence on stderr and a non-zero exit status.
Results are printed for a person (``services.cli_render``); ``--json`` and ``--format`` print
for scripts.

Declaring the commands loads typer and little else, so that ``ar --help`` answers at once: the
application, the store, the read models and Kafka are imported inside a command, when it runs
(``tests/service/test_cli.py`` holds every command module to this). The help is typer's boxed
rich help, drawn without the Markdown and traceback renderers it imports and ``ar`` never asks
for (``ArGroup.main``).
"""

import importlib
import signal
import sys
import threading
import types
from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from services.cli_accounts import register as register_account_commands
from services.cli_controls import register as register_control_commands
from services.cli_days import register as register_day_commands
from services.cli_documents import register as register_document_commands
from services.cli_general_ledger import register as register_general_ledger_commands
from services.cli_guard import GuardedTyper
from services.cli_import import register as register_import_commands
from services.cli_remittances import register as register_remittance_commands
from services.cli_reports import register as register_report_commands
from services.cli_statements import register as register_statement_commands
from services.cli_tenant_documents import register as register_tenant_document_commands
from services.cli_typed import typed_command

if TYPE_CHECKING:
    from services.bootstrap import Runtime
    from services.settings import Settings

#: The project's name in pyproject.toml: ``ar --version`` prints its installed version.
DISTRIBUTION = "receivables"


class _Deferred(type):
    """A class of rich's that typer's help module imports and the help never uses: the real
    class is imported the first time it is called or asked for an attribute."""

    _module: str

    def _real(cls) -> Any:
        return getattr(importlib.import_module(cls._module), cls.__name__)

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls._real()(*args, **kwargs)

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(cls._real(), name)


# typer.rich_utils imports these at its top for Markdown help text and pretty tracebacks; ``ar``
# writes its help as rich text and turns pretty tracebacks off, and the two (with markdown_it
# and pygments beneath them) would be half the time of ``ar --help``.
_UNUSED_BY_HELP = {"rich.markdown": "Markdown", "rich.traceback": "Traceback"}


def _import_help_without_markdown() -> None:
    """Import typer's rich help with stand-ins for what it does not use; once, before typer
    imports it itself. The stand-ins are in ``sys.modules`` only meanwhile: anything importing
    rich.markdown afterwards gets the real module."""
    if "typer.rich_utils" in sys.modules:
        return
    standing_in = [name for name in _UNUSED_BY_HELP if name not in sys.modules]
    for name in standing_in:
        stand_in = types.ModuleType(name)
        deferred = _Deferred(_UNUSED_BY_HELP[name], (), {"_module": name})
        setattr(stand_in, _UNUSED_BY_HELP[name], deferred)
        sys.modules[name] = stand_in
    try:
        importlib.import_module("typer.rich_utils")
    finally:
        for name in standing_in:
            del sys.modules[name]


class ArGroup(TyperGroup):
    """``ar``'s commands; asked for help, it draws it without loading what help never uses.

    Beside the commands declared here, every account command is a typed subcommand
    (``services.cli_typed``), made from its model when its name is asked for."""

    def main(self, args: Sequence[str] | None = None, *rest: Any, **options: Any) -> Any:
        asked = sys.argv[1:] if args is None else list(args)
        if not asked or "--help" in asked:
            _import_help_without_markdown()
        return super().main(args, *rest, **options)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        declared = super().get_command(ctx, cmd_name)
        return declared if declared is not None else typed_command(cmd_name, _runtime)


# Guarded: bad settings or a database that is away end in a sentence, not a traceback.
app = GuardedTyper(
    name="ar",
    cls=ArGroup,
    help="Receivables: event-sourced accounts receivable.",
    epilog="Every account command is also a command of its own: ar receive-payment A-1 --amount"
    " 20.00 --method cash --reference desk --received-on 2026-01-06 (ar pay for short). ar"
    " commands lists them with their fields; ar COMMAND --help shows its options.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _print_version(asked: bool) -> None:
    if asked:
        from importlib.metadata import version

        typer.echo(version(DISTRIBUTION))
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    pass


def _runtime(settings: "Settings | None" = None) -> "Runtime":
    from services.bootstrap import CannotStart, bootstrap
    from services.logging import configure_logging
    from services.settings import Settings

    settings = settings or Settings()
    configure_logging(settings)
    try:
        return bootstrap(settings)
    except CannotStart as refused:
        typer.echo(f"error: {refused}", err=True)
        raise typer.Exit(1) from None


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def _handler(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _handler)
    signal.signal(signal.SIGINT, _handler)
    return stop


def _ensure_local_admin_key(runtime: "Runtime") -> str:
    """On the first start, make the admin key, keep it in the data folder and show it, as one
    step (``services.admin_key``); on later starts, say where it is."""
    from services.admin_key import AdminKeyNotStored, ensure_admin_key

    try:
        return ensure_admin_key(runtime).banner
    except AdminKeyNotStored as refused:
        runtime.close()
        typer.echo(f"error: {refused}", err=True)
        raise typer.Exit(1) from None


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default AR_HOST).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default AR_PORT).")] = None,
    projector: Annotated[
        bool, typer.Option(help="Keep the read models current in this process too.")
    ] = True,
    close_schedule: Annotated[
        bool,
        typer.Option(
            help="Close each tenant's business day at its set time (one server in a cluster"
            " does it; the others stand by)."
        ),
    ] = True,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="HTTP worker processes (PostgreSQL only), each with its own group committer;"
            " the projector and the close schedule run once, in this process.",
        ),
    ] = 1,
) -> None:
    """Serve the HTTP API."""
    import uvicorn

    from services.api.app import create_app
    from services.settings import Settings

    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = Settings(**overrides)  # type: ignore[arg-type]  # pydantic-settings accepts field overrides
    if workers > 1 and not settings.uses_postgres:
        typer.echo(
            "error: several workers need PostgreSQL (AR_DATABASE_URL): the embedded SQLite"
            " store takes one writing process",
            err=True,
        )
        raise typer.Exit(2)
    runtime = _runtime(settings)
    key_line = _ensure_local_admin_key(runtime)
    stop = threading.Event()
    worker = None
    if projector:
        proj = runtime.projector(batch_size=settings.batch_size)
        worker = threading.Thread(
            target=proj.run,
            args=(stop, settings.projector_poll_seconds),
            name="projector",
            daemon=True,
        )
        worker.start()
    scheduler = None
    if close_schedule:
        from services.scheduler import CloseScheduler

        scheduler = threading.Thread(
            target=CloseScheduler(runtime).run, args=(stop,), name="close-schedule", daemon=True
        )
        scheduler.start()
    base = f"http://{settings.host}:{settings.port}"
    store = settings.sqlite_path if not settings.uses_postgres else "PostgreSQL"
    typer.echo(
        f"Receivables API on {base}\n  docs: {base}/docs\n  events and read models: {store}\n  {key_line}",
        err=True,
    )
    # uvloop and httptools: the event loop and HTTP parser made for this, named so that a
    # missing one is an error at start rather than a quietly slower server.
    served: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "access_log": False,
        "loop": "uvloop",
        "http": "httptools",
    }
    try:
        if workers == 1:
            uvicorn.run(create_app(runtime), **served)
        else:
            uvicorn.run(
                "services.api.worker:create_worker_app",
                factory=True,
                workers=workers,
                **served,
            )
    finally:
        stop.set()
        if worker is not None:
            worker.join(timeout=5)
        if scheduler is not None:
            scheduler.join(timeout=5)
        runtime.close()


def _account_ids(accounts: list[str]) -> list[str]:
    """Accounts as ids: an id as printed by ``--status``, or TENANT/NUMBER."""
    from uuid import UUID

    from domain.account import Account

    ids = []
    for account in accounts:
        tenant, slash, number = account.partition("/")
        if slash:
            ids.append(str(Account.id_for(tenant, number)))
            continue
        try:
            ids.append(str(UUID(account)))
        except ValueError:
            typer.echo(f"error: {account!r} is neither an account id nor TENANT/NUMBER", err=True)
            raise typer.Exit(2) from None
    return ids


def _print_parked(rows: list[Any], retry: str) -> None:
    from services.cli_render import Column, show, table

    if not rows:
        typer.echo("no parked accounts")
        return
    columns: list[Column | str] = [
        "consumer",
        "account",
        "tenant",
        Column("position", number=True),
        "event",
        Column("version", number=True),
        "since",
        Column("later_events", number=True),
        "error",
    ]
    parked = [
        {
            "consumer": row.consumer,
            "account": row.account_id,
            "tenant": row.tenant_id,
            "position": row.position,
            "event": row.event_type,
            "version": row.event_version,
            "since": row.first_seen_at,
            "later_events": row.skipped,
            "error": row.error,
        }
        for row in rows
    ]
    show(f"{len(rows)} parked (resume with {retry} after a fix):", table(columns, parked))


def _print_retried(outcomes: list[dict[str, Any]]) -> None:
    from services.cli_render import show, table

    show(table(list(outcomes[0]), outcomes))


# ``project`` and ``relay`` share their options; the help says what each does in each command.
def _status(help: str) -> Any:
    return typer.Option("--status", help=help)


def _retry_parked(help: str) -> Any:
    return typer.Option("--retry-parked", help=help)


ParkedAccounts = Annotated[
    list[str] | None,
    typer.Argument(help="With --retry-parked: account ids or TENANT/NUMBER (default all)."),
]


def _refuse_accounts_without_retry(accounts: list[str] | None, retry_parked: bool) -> None:
    if accounts and not retry_parked:
        typer.echo("error: accounts are named only with --retry-parked", err=True)
        raise typer.Exit(2)


@app.command()
def project(
    status: Annotated[
        bool,
        _status("Print each read model's position and the parked accounts, then exit."),
    ] = False,
    retry_parked: Annotated[
        bool,
        _retry_parked(
            "Re-project parked accounts (those named, default all) from their first event,"
            " then exit."
        ),
    ] = False,
    accounts: ParkedAccounts = None,
    from_kafka: Annotated[
        bool,
        typer.Option(
            "--from-kafka",
            help="Build the read models in the reporting database (--database-url) from the"
            " Kafka topic, as a member of the consumer group --group.",
        ),
    ] = False,
    group: Annotated[str, typer.Option(help="With --from-kafka: the consumer group.")] = "",
    member: Annotated[
        str | None,
        typer.Option(help="With --from-kafka: this member's lasting name in the group."),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            envvar="AR_REPORTING_DATABASE_URL",
            help="With --from-kafka: the reporting database (postgresql://...).",
        ),
    ] = None,
) -> None:
    """Keep the read models current with the event store until stopped (SIGTERM/Ctrl-C)."""
    from projections.runner import read_model_progress
    from services.logging import get_logger

    if from_kafka:
        _project_from_kafka(group, member, database_url)
        return
    _refuse_accounts_without_retry(accounts, retry_parked)
    runtime = _runtime()
    if status or retry_parked:
        try:
            projector = runtime.projector()
            if retry_parked:
                wanted = _account_ids(accounts) if accounts else None
                outcomes = projector.retry_parked(wanted)
                if outcomes:
                    _print_retried(
                        [
                            {
                                "consumer": o.consumer,
                                "account": o.account_id,
                                "outcome": f"resumed from {o.events} events"
                                if o.resumed
                                else f"still failing: {o.error}",
                            }
                            for o in outcomes
                        ]
                    )
                else:
                    typer.echo("no parked accounts to retry")
                if any(not o.resumed for o in outcomes):
                    raise typer.Exit(1)
                return
            from services.cli_render import Column, show, table

            progress = [
                {"read_model": p.name, "position": p.position, "head": p.head, "behind": p.behind}
                for p in read_model_progress(runtime.app, runtime.db, projector.models)
            ]
            counts = [Column(key, number=True) for key in ("position", "head", "behind")]
            show(table(["read_model", *counts], progress))
            _print_parked(projector.parked(), "ar project --retry-parked")
        finally:
            runtime.close()
        return
    stop = _stop_on_signals()
    projector = runtime.projector(batch_size=runtime.settings.batch_size)
    get_logger("receivables.cli").info("projector started", positions=projector.positions())
    projector.run(stop, runtime.settings.projector_poll_seconds)
    runtime.close()


def _project_from_kafka(group: str, member: str | None, database_url: str | None) -> None:
    from services.reporting import run_reporting_member

    if not group or not database_url:
        typer.echo("error: --from-kafka needs --group and --database-url", err=True)
        raise typer.Exit(2)
    run_reporting_member(group, member, database_url, _stop_on_signals())


@app.command()
def relay(
    status: Annotated[
        bool, _status("Print the relay's position, lag and parked accounts, then exit.")
    ] = False,
    retry_parked: Annotated[
        bool,
        _retry_parked(
            "Publish the backlog of parked accounts (those named, default all) in order:"
            " now if no relay runs, else by the running relay before its next batch."
        ),
    ] = False,
    accounts: ParkedAccounts = None,
) -> None:
    """Publish every recorded event to Kafka, in order per account, until stopped."""
    from projections.parking import parked_accounts, request_retry
    from services.relay import PARKING_CONSUMER, Relay
    from services.relay_positions import relay_position

    _refuse_accounts_without_retry(accounts, retry_parked)
    runtime = _runtime()
    if status:
        head = runtime.app.recorder.max_notification_id() or 0
        position = relay_position(runtime.db)
        parked = parked_accounts(runtime.db, [PARKING_CONSUMER])
        runtime.close()
        typer.echo(f"published through position {position} of {head}: {head - position} behind")
        _print_parked(parked, "ar relay --retry-parked")
        return
    if retry_parked:
        try:
            wanted = _account_ids(accounts) if accounts else None
            asked = request_retry(runtime.db, PARKING_CONSUMER, wanted)
            if not asked:
                typer.echo("no parked accounts to retry")
                return
            publisher = Relay(runtime)
            if not publisher.lock.acquire():
                typer.echo(
                    f"a relay is running: it publishes the backlog of {asked} parked accounts"
                    " before its next batch (see ar relay --status)"
                )
                return
            try:
                publisher.ensure_topic()
                publisher.learn_published()
                outcomes = publisher.publish_retried()
            finally:
                publisher.close()
        finally:
            runtime.close()
        if outcomes:
            _print_retried(
                [
                    {
                        "account": account_id,
                        "outcome": f"still failing: {error}" if error else "published",
                    }
                    for account_id, error in outcomes
                ]
            )
        if any(error for _, error in outcomes):
            raise typer.Exit(1)
        return
    stop = _stop_on_signals()
    Relay(runtime).run(stop)
    runtime.close()


@app.command()
def migrate(
    status: Annotated[
        bool,
        typer.Option(
            "--status",
            help="Print the migration the database is at and those still to run; change nothing.",
        ),
    ] = False,
) -> None:
    """Bring the product's own tables to this release (every command does it as it starts)."""
    from services.bootstrap import CannotStart, ensure_data_folder
    from services.migrations import MigrationRefused
    from services.migrations import migrate as run_migrations
    from services.migrations import status as migration_status
    from services.settings import Settings

    settings = Settings()
    place = settings.database_place
    if status and not settings.uses_postgres and not settings.sqlite_path.exists():
        typer.echo(f"no database at {place} yet: the first start makes it, at the newest migration")
        return
    try:
        if not settings.uses_postgres:
            ensure_data_folder(settings)
        found = migration_status(settings) if status else run_migrations(settings)
    except (CannotStart, MigrationRefused) as refused:
        typer.echo(f"error: {refused}", err=True)
        raise typer.Exit(1) from None
    at = found.current or "none (no migration run yet)"
    if status:
        typer.echo(f"{place}: at migration {at}; this release's newest is {found.head}")
        for pending in found.pending:
            typer.echo(f"  to run: {pending.revision}  {pending.what}")
        if found.up_to_date:
            typer.echo("  up to date")
        return
    if found.up_to_date:
        typer.echo(f"{place}: at migration {found.head}, up to date; nothing to run")
        return
    ran = ", ".join(m.revision for m in found.pending)
    typer.echo(f"{place}: migrated from {at} to {found.head} (ran {ran})")


register_account_commands(app, _runtime)
register_import_commands(app, _runtime)
tenant_app = register_day_commands(app, _runtime)
register_tenant_document_commands(tenant_app, _runtime)
register_general_ledger_commands(app, tenant_app, _runtime)
register_report_commands(app, _runtime)
register_remittance_commands(app, _runtime)
register_document_commands(app, _runtime)
register_statement_commands(app, _runtime)
register_control_commands(app, _runtime)


class KeyRole(StrEnum):
    """The roles of ``services.api_keys.Role``, for ``--role``: that module comes with the key
    store, so it is imported when a key is created, not to declare the option (a test in
    tests/service/test_cli.py holds the two equal)."""

    clerk = "clerk"
    auditor = "auditor"
    reporter = "reporter"
    admin = "admin"
    approver = "approver"


keys_app = typer.Typer(name="keys", help="Create, list and revoke API keys.", no_args_is_help=True)
app.add_typer(keys_app)


@keys_app.command("create")
def keys_create(
    name: Annotated[
        str, typer.Option(help="Who holds the key; recorded as the actor on their events.")
    ],
    tenant: Annotated[str, typer.Option(envvar="AR_TENANT", help="The tenant the key works in.")],
    role: Annotated[KeyRole, typer.Option(help="clerk, auditor, reporter, admin or approver.")],
) -> None:
    """Create an API key and print it once."""
    from services.api_keys import Role

    runtime = _runtime()
    issued = runtime.keys.create(name=name, tenant_id=tenant, role=Role(role.value))
    typer.echo(issued.secret)
    runtime.close()


def _to_the_second(moment: Any) -> str | None:
    """A stored moment (text on SQLite, a datetime on PostgreSQL) in UTC, to the second."""
    from datetime import UTC, datetime

    if moment is None:
        return None
    parsed = moment if isinstance(moment, datetime) else datetime.fromisoformat(str(moment))
    return parsed.astimezone(UTC).isoformat(timespec="seconds")


@keys_app.command("list")
def keys_list(
    tenant: Annotated[str, typer.Option(envvar="AR_TENANT", help="The tenant whose keys to list.")],
) -> None:
    """List a tenant's keys (never their secrets)."""
    from services.cli_render import show, table

    runtime = _runtime()
    rows = runtime.keys.list(tenant)
    runtime.close()
    keys = [
        {
            "key_id": row["key_id"],
            "role": row["role"],
            "name": row["name"],
            "created": _to_the_second(row["created_at"]),
            "status": "revoked" if row["revoked_at"] else "live",
            "revoked": _to_the_second(row["revoked_at"]),
        }
        for row in rows
    ]
    show(
        table(
            ["key_id", "role", "name", "created", "status", "revoked"],
            keys,
            empty=f"tenant {tenant} has no keys",
        )
    )


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (the part after 'ar_').")],
    tenant: Annotated[str, typer.Option(envvar="AR_TENANT", help="The tenant the key belongs to.")],
) -> None:
    """Revoke a key: it stops working at once."""
    runtime = _runtime()
    revoked = runtime.keys.revoke(tenant, key_id)
    runtime.close()
    if not revoked:
        typer.echo(f"error: tenant {tenant} has no live key {key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {key_id}")


@keys_app.command("reset-admin")
def keys_reset_admin() -> None:
    """Make a new local admin key (tenant default) in place of a lost one.

    The key is kept in the data folder's admin-api-key (mode 600) and printed once; the earlier
    local-admin keys stop working."""
    from services.admin_key import AdminKeyNotStored, reset_admin_key

    runtime = _runtime()
    try:
        issued = reset_admin_key(runtime)
    except AdminKeyNotStored as refused:
        typer.echo(f"error: {refused}", err=True)
        raise typer.Exit(1) from None
    finally:
        runtime.close()
    typer.echo(issued.secret)
    typer.echo(f"kept in {runtime.settings.admin_key_file}", err=True)


if __name__ == "__main__":
    app()
