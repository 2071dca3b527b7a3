"""The ``ar`` command: serve the API, run the projector and the relay, manage API keys.

Every command reads the same settings (``AR_*`` environment variables, see
``services.settings``). Errors end with a sentence on stderr and a non-zero exit status.
"""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from services.api_keys import Role
from services.bootstrap import Runtime, bootstrap
from services.cli_accounts import register as register_account_commands
from services.cli_reports import register as register_report_commands
from services.logging import configure_logging, get_logger
from services.settings import Settings

app = typer.Typer(
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


@app.command()
def project() -> None:
    """Keep the read models current with the event store until stopped (SIGTERM/Ctrl-C)."""

    runtime = _runtime()
    stop = _stop_on_signals()
    projector = runtime.projector(batch_size=runtime.settings.batch_size)
    log.info("projector started", positions=projector.positions())
    projector.run(stop, runtime.settings.projector_poll_seconds)
    runtime.close()


@app.command()
def relay(
    status: Annotated[
        bool, typer.Option("--status", help="Print the relay's position and lag, then exit.")
    ] = False,
) -> None:
    """Publish every recorded event to Kafka, in order per account, until stopped."""
    from services.relay import Relay
    from services.relay_positions import relay_position

    runtime = _runtime()
    if status:
        head = runtime.app.recorder.max_notification_id() or 0
        position = relay_position(runtime.db)
        runtime.close()
        typer.echo(f"published through position {position} of {head}: {head - position} behind")
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
