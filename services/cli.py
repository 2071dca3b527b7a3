"""The ``ar`` command: serve the API, run the projector and the relay, manage API keys.

Every command reads the same settings (``AR_*`` environment variables, see
``services.settings``). Errors end with a sentence on stderr and a non-zero exit status.
"""

from __future__ import annotations

import signal
import threading
from typing import Annotated, Any

import typer

from services.api_keys import Role
from services.bootstrap import Runtime, bootstrap
from services.cli_accounts import register as register_account_commands
from services.cli_guard import GuardedTyper
from services.cli_reports import register as register_report_commands
from services.logging import configure_logging, get_logger
from services.settings import Settings

# Guarded: bad settings or a database that is away end in a sentence, not a traceback.
app = GuardedTyper(
    name="ar",
    help="Receivables: event-sourced accounts receivable.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")

log = get_logger("receivables.cli")


def _runtime(settings: Settings | None = None) -> Runtime:
    settings = settings or Settings()
    configure_logging(settings)
    return bootstrap(settings)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def _handler(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _handler)
    signal.signal(signal.SIGINT, _handler)
    return stop


def _ensure_local_admin_key(runtime: Runtime) -> str:
    """On the first start, create an admin key and keep it in the data folder (mode 600)."""
    key_file = runtime.settings.admin_key_file
    if runtime.keys.any_admin():
        return (
            f"admin API key: in {key_file}"
            if key_file.exists()
            else "admin API key: created earlier"
        )
    issued = runtime.keys.create(name="local-admin", tenant_id="default", role=Role.admin)
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.touch(mode=0o600)
    key_file.write_text(issued.secret + "\n")
    return f"admin API key (shown once, also kept in {key_file}): {issued.secret}"


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default AR_HOST).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default AR_PORT).")] = None,
    projector: Annotated[
        bool, typer.Option(help="Keep the read models current in this process too.")
    ] = True,
) -> None:
    """Serve the HTTP API."""
    import uvicorn

    from services.api.app import create_app

    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = Settings(**overrides)  # type: ignore[arg-type]  # pydantic-settings accepts field overrides
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
    base = f"http://{settings.host}:{settings.port}"
    store = settings.sqlite_path if not settings.uses_postgres else "PostgreSQL"
    typer.echo(
        f"Receivables API on {base}\n  docs: {base}/docs\n  events and read models: {store}\n  {key_line}",
        err=True,
    )
    try:
        uvicorn.run(
            create_app(runtime),
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
        )
    finally:
        stop.set()
        if worker is not None:
            worker.join(timeout=5)
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
    if not rows:
        typer.echo("no parked accounts")
        return
    typer.echo(f"{len(rows)} parked (resume with {retry} after a fix):")
    for row in rows:
        typer.echo(
            f"  {row.consumer}  account {row.account_id}  tenant {row.tenant_id or '?'}"
            f"  at position {row.position} ({row.event_type}, version {row.event_version})"
            f"  since {row.first_seen_at}  {row.skipped} later events passed by: {row.error}"
        )


@app.command()
def project(
    status: Annotated[
        bool,
        typer.Option(
            "--status", help="Print each read model's position and the parked accounts, then exit."
        ),
    ] = False,
    retry_parked: Annotated[
        bool,
        typer.Option(
            "--retry-parked",
            help="Re-project parked accounts (those named, default all) from their first event,"
            " then exit.",
        ),
    ] = False,
    accounts: Annotated[
        list[str] | None,
        typer.Argument(help="With --retry-parked: account ids or TENANT/NUMBER (default all)."),
    ] = None,
) -> None:
    """Keep the read models current with the event store until stopped (SIGTERM/Ctrl-C)."""
    from projections.runner import read_model_progress

    if accounts and not retry_parked:
        typer.echo("error: accounts are named only with --retry-parked", err=True)
        raise typer.Exit(2)
    runtime = _runtime()
    if status or retry_parked:
        try:
            projector = runtime.projector()
            if retry_parked:
                wanted = _account_ids(accounts) if accounts else None
                outcomes = projector.retry_parked(wanted)
                for outcome in outcomes:
                    said = (
                        f"resumed from {outcome.events} events"
                        if outcome.resumed
                        else f"still failing: {outcome.error}"
                    )
                    typer.echo(f"{outcome.consumer}  account {outcome.account_id}: {said}")
                if not outcomes:
                    typer.echo("no parked accounts to retry")
                if any(not o.resumed for o in outcomes):
                    raise typer.Exit(1)
                return
            for p in read_model_progress(runtime.app, runtime.db, projector.models):
                typer.echo(f"{p.name}: at position {p.position} of {p.head}, {p.behind} behind")
            _print_parked(projector.parked(), "ar project --retry-parked")
        finally:
            runtime.close()
        return
    stop = _stop_on_signals()
    projector = runtime.projector(batch_size=runtime.settings.batch_size)
    log.info("projector started", positions=projector.positions())
    projector.run(stop, runtime.settings.projector_poll_seconds)
    runtime.close()


@app.command()
def relay(
    status: Annotated[
        bool,
        typer.Option(
            "--status", help="Print the relay's position, lag and parked accounts, then exit."
        ),
    ] = False,
    retry_parked: Annotated[
        bool,
        typer.Option(
            "--retry-parked",
            help="Publish the backlog of parked accounts (those named, default all) in order:"
            " now if no relay runs, else by the running relay before its next batch.",
        ),
    ] = False,
    accounts: Annotated[
        list[str] | None,
        typer.Argument(help="With --retry-parked: account ids or TENANT/NUMBER (default all)."),
    ] = None,
) -> None:
    """Publish every recorded event to Kafka, in order per account, until stopped."""
    from projections.parking import parked_accounts, request_retry
    from services.relay import PARKING_CONSUMER, Relay
    from services.relay_positions import relay_position

    if accounts and not retry_parked:
        typer.echo("error: accounts are named only with --retry-parked", err=True)
        raise typer.Exit(2)
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
        for account_id, error in outcomes:
            typer.echo(
                f"account {account_id}: " + (f"still failing: {error}" if error else "published")
            )
        if any(error for _, error in outcomes):
            raise typer.Exit(1)
        return
    stop = _stop_on_signals()
    Relay(runtime).run(stop)
    runtime.close()


@keys_app.command("create")
def keys_create(
    name: Annotated[
        str, typer.Option(help="Who holds the key; recorded as the actor on their events.")
    ],
    tenant: Annotated[str, typer.Option(help="The tenant the key works in.")],
    role: Annotated[Role, typer.Option(help="clerk, auditor, reporter or admin.")],
) -> None:
    """Create an API key and print it once."""
    runtime = _runtime()
    issued = runtime.keys.create(name=name, tenant_id=tenant, role=role)
    typer.echo(issued.secret)
    runtime.close()


@keys_app.command("list")
def keys_list(tenant: Annotated[str, typer.Option(help="The tenant whose keys to list.")]) -> None:
    """List a tenant's keys (never their secrets)."""
    runtime = _runtime()
    for row in runtime.keys.list(tenant):
        revoked = f"revoked {row['revoked_at']}" if row["revoked_at"] else "live"
        typer.echo(
            f"{row['key_id']}  {row['role']:<8}  {row['name']}  created {row['created_at']}  {revoked}"
        )
    runtime.close()


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (the part after 'ar_').")],
    tenant: Annotated[str, typer.Option(help="The tenant the key belongs to.")],
) -> None:
    """Revoke a key: it stops working at once."""
    runtime = _runtime()
    revoked = runtime.keys.revoke(tenant, key_id)
    runtime.close()
    if not revoked:
        typer.echo(f"error: tenant {tenant} has no live key {key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {key_id}")


register_account_commands(app, _runtime)
register_report_commands(app, _runtime)


if __name__ == "__main__":
    app()
