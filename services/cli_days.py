"""The close of day and the tenant's settings in the ``ar`` CLI.

- ``ar close-day --as-of DATE``: close the tenant's business days through the date (the missed
  days first, in order), with a progress bar on a terminal and a summary table per day;
  ``--json`` for scripts. Exit status 1 when an account could not be closed (the summary names
  it) or the close was refused (a sentence on stderr, nothing recorded).
- ``ar tenant policy`` / ``set-policy`` / ``schedule`` / ``set-schedule`` / ``clear-schedule``:
  the dunning policy in force (``--as-of``, ``--all`` versions) and the close schedule, as over
  HTTP (``services.api.tenant``). What the tenant's documents carry is in the same ``ar tenant``
  group, declared in ``services.cli_tenant_documents``.

They run against the configured store, in the name of ``--tenant`` and ``--actor`` (or
``AR_TENANT`` / ``AR_ACTOR``). The application and the store are imported inside the commands,
when one runs: declaring them loads typer and nothing more.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from services.cli_guard import refusals_exit as guarded_refusals_exit

if TYPE_CHECKING:
    from domain.dunning import DunningPolicy
    from domain.provenance import Provenance
    from domain.tenant import DaySummary
    from services.bootstrap import Runtime
    from services.close_day import CloseRun

Tenant = Annotated[str, typer.Option(envvar="AR_TENANT", help="The tenant whose days to close.")]
Actor = Annotated[
    str, typer.Option(envvar="AR_ACTOR", help="Your name, recorded as the one who did it.")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
Day = Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="Business date (YYYY-MM-DD).")]
OptionalDay = Annotated[
    datetime | None,
    typer.Option(formats=["%Y-%m-%d"], help="Business date (YYYY-MM-DD).", show_default=False),
]

#: The summary's figures, as a person reads them, and as a table heads them.
FIGURES = {
    "accounts_due": "accounts due",
    "accounts_failed": "accounts failed",
    "offers_lapsed": "offers lapsed",
    "installments_missed": "installments missed",
    "plans_defaulted": "plans defaulted",
    "promises_broken": "promises broken",
    "dunning_escalated": "dunning escalated",
    "dunning_reset": "dunning reset",
}
SHORT = {
    "accounts_due": "due",
    "accounts_failed": "failed",
    "offers_lapsed": "lapsed",
    "installments_missed": "missed",
    "plans_defaulted": "defaulted",
    "promises_broken": "broken",
    "dunning_escalated": "dunned",
    "dunning_reset": "reset",
}
TENANT_HELP = "The tenant's dunning policy, close schedule and document settings."


def _provenance(actor: str) -> Provenance:
    from domain.provenance import Provenance

    return Provenance(actor=actor, correlation_id=f"cli-{uuid.uuid4().hex[:16]}")


class _Bar:
    """The close's progress as a rich bar on stderr, one task per business day."""

    def __init__(self, progress: Any) -> None:
        self.progress = progress
        self.task: Any = None

    def day_started(self, day: date, accounts: int) -> None:
        self.task = self.progress.add_task(f"closing {day.isoformat()}", total=accounts)

    def accounts_done(self, count: int) -> None:
        self.progress.advance(self.task, count)

    def day_ended(self, day: date, summary: DaySummary) -> None:
        self.progress.update(self.task, completed=summary.accounts_due)


@contextmanager
def _progress(enabled: bool) -> Iterator[_Bar | None]:
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
        yield _Bar(progress)


def _print_run(run: CloseRun) -> None:
    """One day: its figures as labelled values. Several (a catch-up): a row per day, a total."""
    from services.cli_render import Column, pairs, show, table

    if not run.days:
        show(f"{run.through.isoformat()} is before the first day closed: nothing to close")
        return
    if len(run.days) == 1:
        (day,) = run.days
        summary = day.summary
        closed = "now" if day.closed_now else "before (nothing recorded now)"
        show(
            pairs(
                {
                    "business day": day.business_date,
                    "closed": closed,
                    "dunning policy": f"v{summary.policy_version}"
                    if summary.policy_version
                    else None,
                    **{FIGURES[key]: value for key, value in summary.counts().items()},
                    "events recorded": day.events if day.closed_now else None,
                }
            )
        )
    else:
        rows = [
            {
                "day": day.business_date,
                "closed": "now" if day.closed_now else "before",
                **day.summary.counts(),
            }
            for day in run.days
        ]
        columns: list[Column | str] = [
            "day",
            "closed",
            *(Column(key, SHORT[key], number=True) for key in FIGURES),
        ]
        show(table(columns, rows, totals=[{"day": "total", **run.totals()}]))
    failures = [
        {"day": day.business_date, "account": f.account_number, "code": f.code}
        for day in run.days
        for f in day.summary.failures
    ]
    if failures:
        show(
            "",
            "accounts not closed (the others were):",
            table(["day", "account", "code"], failures),
        )


def register(app: typer.Typer, runtime_factory: Callable[[], Runtime]) -> typer.Typer:
    """Add ``ar close-day`` and the ``ar tenant`` group; the group is returned for the other
    tenant commands to join."""

    def refusals_exit() -> AbstractContextManager[Runtime]:
        return guarded_refusals_exit(runtime_factory, "the body")

    @app.command("close-day")
    def close_day(
        as_of: Day,
        tenant: Tenant,
        actor: Actor = "close-of-day-cli",
        as_json: AsJson = False,
    ) -> None:
        """Close the tenant's business days through a date: missed days first, in order."""
        from services.close_day import CloseOfDay

        with refusals_exit() as runtime, _progress(not as_json) as bar:
            run = CloseOfDay(runtime).close(tenant, as_of.date(), started_by=actor, progress=bar)
        if as_json:
            typer.echo(json.dumps(run.as_json(), indent=2))
        else:
            _print_run(run)
        if any(day.summary.accounts_failed for day in run.days if day.closed_now):
            raise typer.Exit(1)

    tenant_app = typer.Typer(name="tenant", help=TENANT_HELP, no_args_is_help=True)
    app.add_typer(tenant_app)

    @tenant_app.command("policy")
    def show_policy(
        tenant: Tenant,
        as_of: OptionalDay = None,
        every: Annotated[bool, typer.Option("--all", help="Every version, oldest first.")] = False,
        as_json: AsJson = False,
    ) -> None:
        """The dunning policy in force on a date (today by default), or every version."""
        from services.errors import NoDunningPolicy
        from services.tenants import TenantSettings

        with refusals_exit() as runtime:
            settings = TenantSettings(runtime.app)
            found = settings.get(tenant)
            on = as_of.date() if as_of else settings.today(tenant, found)
            if every:
                policies = [] if found is None else list(found.policies)
            else:
                policy = None if found is None else found.policy_in_force(on)
                if policy is None:
                    raise NoDunningPolicy(on.isoformat())
                policies = [policy]
        _print_policies(policies, as_json)

    @tenant_app.command("set-policy")
    def set_policy(
        levels: Annotated[
            list[str],
            typer.Argument(
                help="Levels in order, each DAYS:ACTION (reminder, second_notice, final_notice,"
                " collections), e.g. 15:reminder 30:second_notice 60:collections."
            ),
        ],
        tenant: Tenant,
        actor: Actor,
        effective_on: OptionalDay = None,
    ) -> None:
        """Set a new version of the dunning policy (in force from the first day not closed)."""
        from services.tenants import TenantSettings

        steps = [_level(text) for text in levels]
        with refusals_exit() as runtime:
            outcome = TenantSettings(runtime.app).set_dunning_policy(
                tenant,
                steps,
                effective_on.date() if effective_on else None,
                _provenance(actor),
            )
        _print_policies([outcome.policy], False)
        if not outcome.recorded:
            typer.echo("(the same as the latest version: nothing recorded)")

    @tenant_app.command("schedule")
    def show_schedule(tenant: Tenant) -> None:
        """When the server closes the tenant's business day on its own."""
        from services.tenants import TenantSettings

        with refusals_exit() as runtime:
            settings = TenantSettings(runtime.app)
            found = settings.get(tenant)
            schedule = None if found is None else found.schedule
            last = None if found is None else found.last_closed_on
        if schedule is None:
            typer.echo(f"tenant {tenant} closes no day on a schedule (last closed: {last or '—'})")
            return
        typer.echo(
            f"closes each day at {schedule.at} {schedule.time_zone}, from"
            f" {schedule.starts_on.isoformat()} (last closed: {last or '—'})"
        )

    @tenant_app.command("set-schedule")
    def set_schedule(
        at: Annotated[str, typer.Option(help="Local time of day, HH:MM (24-hour clock).")],
        time_zone: Annotated[str, typer.Option(help="IANA time zone, e.g. Europe/Berlin.")],
        tenant: Tenant,
        actor: Actor,
    ) -> None:
        """Close the tenant's business day each day at a local time (``ar serve`` does it)."""
        from services.tenants import TenantSettings

        with refusals_exit() as runtime:
            schedule = TenantSettings(runtime.app).set_close_schedule(
                tenant, at, time_zone, _provenance(actor)
            )
        typer.echo(
            f"closes each day at {schedule.at} {schedule.time_zone}, from"
            f" {schedule.starts_on.isoformat()}"
        )

    @tenant_app.command("clear-schedule")
    def clear_schedule(tenant: Tenant, actor: Actor) -> None:
        """Stop closing the tenant's days on a schedule."""
        from services.tenants import TenantSettings

        with refusals_exit() as runtime:
            cleared = TenantSettings(runtime.app).clear_close_schedule(tenant, _provenance(actor))
        typer.echo("schedule cleared" if cleared else "no schedule was set")

    return tenant_app


def _level(text: str) -> tuple[int, str]:
    days, colon, action = text.partition(":")
    if not colon or not days.isdigit():
        typer.echo(f"error: {text!r} is not DAYS:ACTION, e.g. 15:reminder", err=True)
        raise typer.Exit(2)
    return int(days), action


def _print_policies(policies: list[DunningPolicy], as_json: bool) -> None:
    documents: list[dict[str, Any]] = [
        {
            "version": policy.version,
            "effective_on": policy.effective_on.isoformat(),
            "levels": [
                {"level": s.level, "days_past_due": s.days_past_due, "action": s.action}
                for s in policy.levels
            ],
        }
        for policy in policies
    ]
    if as_json:
        typer.echo(json.dumps(documents if len(documents) != 1 else documents[0], indent=2))
        return
    from services.cli_render import Column, show, table

    for document in documents:
        heading = f"dunning policy v{document['version']}, in force from {document['effective_on']}"
        show(
            heading,
            table(
                [Column("level", number=True), Column("days_past_due", number=True), "action"],
                document["levels"],
                empty="no levels: no automatic dunning",
            ),
        )
