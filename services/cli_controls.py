"""The controls in ``ar``: four-eyes approval and closed accounting periods.

- ``ar approvals policy`` / ``set-policy --rule write_off:USD:500.00 ... [--expires-after-days
  N]``: which commands wait for a second person, above which amount (``0``: always).
- ``ar approvals list [--status pending] [--as-of DATE]``: the tenant's requests, soonest to
  expire first; ``approve ACCOUNT REQUEST`` / ``reject ACCOUNT REQUEST --reason TEXT``: the
  decision, recorded in the name of ``--actor`` (never the maker's own);
  ``decisions --from DATE --to DATE``: every decision of the period, maker beside checker.
- ``ar periods list`` / ``close YYYY-MM`` / ``reopen YYYY-MM --reason TEXT`` / ``backdating
  refuse|first_open_day``: closing and sealing a month once its days are closed.

The command line works on the store directly, as its operator: it has no API key, so the
roles of the HTTP API (only an approver decides, only an approver reopens) are the operator's
to keep; the rule that the maker never decides their own request holds here too (by name).
They do what ``services.api.controls`` does over HTTP. A refusal ends with its sentence on
stderr and exit status 1, nothing recorded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Annotated, Any

import typer

from services.cli_days import Actor, AsJson, OptionalDay
from services.cli_guard import cli_provenance
from services.cli_guard import refusals_exit as guarded_refusals_exit
from services.cli_reports import current

if TYPE_CHECKING:
    from domain.approvals import ApprovalPolicy
    from services.bootstrap import Runtime
    from services.controls import PeriodView

Tenant = Annotated[str, typer.Option(envvar="AR_TENANT", help="The tenant.")]
Day = Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="Business date (YYYY-MM-DD).")]
Reason = Annotated[str, typer.Option("--reason", help="Why (recorded with the decision).")]


def _rule(text: str) -> tuple[str, str, Decimal]:
    command, _, rest = text.partition(":")
    currency, _, above = rest.partition(":")
    try:
        return command, currency, Decimal(above)
    except InvalidOperation:
        typer.echo(
            f"error: --rule {text!r} is COMMAND:CURRENCY:AMOUNT, such as write_off:USD:500.00.",
            err=True,
        )
        raise typer.Exit(1) from None


def _print_policy(policy: ApprovalPolicy | None, as_json: bool) -> None:
    rules = [] if policy is None else policy.rules
    listed = [{"command": r.command, "currency": r.currency, "above": str(r.above)} for r in rules]
    document = {
        "rules": listed,
        "expires_after_days": 0 if policy is None else policy.expires_after_days,
    }
    if as_json:
        typer.echo(json.dumps(document, indent=2))
        return
    from services.cli_render import show, table

    if policy is None:
        show("no approval policy: every command takes effect on its maker's word")
        return
    show(
        table(
            ["command", "currency", "held back above"],
            [
                {"command": r["command"], "currency": r["currency"], "held back above": r["above"]}
                for r in listed
            ],
        )
    )
    show(f"requests expire after {policy.expires_after_days} days")


def _print_periods(views: list[PeriodView], as_json: bool) -> None:
    rows = [
        {
            "period": v.period,
            "closed_through": v.closed_through.isoformat(),
            "seal": v.seal,
            "events": v.events,
            "closed_by": v.closed_by,
        }
        for v in views
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    from services.cli_render import show, table

    show(
        table(["period", "closed_through", "events", "closed_by", "seal"], rows)
        if rows
        else "no period is closed"
    )


def register(app: typer.Typer, runtime_factory: Callable[[], Runtime]) -> None:
    """Add ``ar approvals`` and ``ar periods`` to ``app``."""

    def refusals_exit(what: str = "the input") -> AbstractContextManager[Runtime]:
        return guarded_refusals_exit(runtime_factory, what)

    approvals = typer.Typer(help="Four-eyes approval: the policy, the queue, the decisions.")
    periods = typer.Typer(help="Accounting periods: close and seal a month, reopen it.")
    app.add_typer(approvals, name="approvals")
    app.add_typer(periods, name="periods")

    @approvals.command("policy")
    def show_policy(tenant: Tenant, as_json: AsJson = False) -> None:
        """The approval policy in force."""
        from services.controls import Controls

        with refusals_exit() as runtime:
            _print_policy(Controls(runtime).approval_policy(tenant), as_json)

    @approvals.command("set-policy")
    def set_policy(
        tenant: Tenant,
        actor: Actor,
        rule: Annotated[
            list[str],
            typer.Option("--rule", help="COMMAND:CURRENCY:AMOUNT, e.g. write_off:USD:500.00."),
        ],
        expires_after_days: Annotated[int, typer.Option(help="Days a request stays open.")] = 30,
        as_json: AsJson = False,
    ) -> None:
        """Hold the commands named back for a second person, above their amounts."""
        from services.controls import Controls

        rules = [_rule(text) for text in rule]
        with refusals_exit() as runtime:
            policy = Controls(runtime).set_approval_policy(
                tenant, rules, expires_after_days, cli_provenance(actor)
            )
            _print_policy(policy, as_json)

    @approvals.command("list")
    def list_requests(
        tenant: Tenant,
        status: Annotated[
            str | None, typer.Option(help="pending, approved, rejected or expired.")
        ] = None,
        as_of: OptionalDay = None,
        as_json: AsJson = False,
    ) -> None:
        """The tenant's approval requests, soonest to expire first."""
        from projections.approvals import requests

        with refusals_exit() as runtime:
            current(runtime)
            day = as_of.date() if as_of is not None else runtime.app.today(tenant)
            rows = [r.as_json() for r in requests(runtime.db, tenant, as_of=day, status=status)]
        _print_rows(rows, as_json, "no approval request")

    def decide(
        tenant: str,
        actor: str,
        account: str,
        request_id: str,
        approve: bool,
        reason: str | None,
        on: date | None,
    ) -> None:
        with refusals_exit() as runtime:
            outcome = runtime.app.decide_approval(
                tenant_id=tenant,
                account_number=account,
                request_id=request_id,
                approve=approve,
                meta=cli_provenance(actor, reason),
                decided_on=on,
            ).result()
            request = outcome.body["approval_request"]
            typer.echo(
                f"{request['request_id']} {request['status']}: {request['command']} of"
                f" {request['amount']} {request['currency']} on {account}"
                f" (asked by {request['maker']}, decided by {request['checker']});"
                f" balance now {outcome.body['balance']}"
            )

    @approvals.command("approve")
    def approve(
        tenant: Tenant,
        actor: Actor,
        account: Annotated[str, typer.Argument(help="The account number.")],
        request_id: Annotated[str, typer.Argument(help="The request id (apr_...).")],
        decided_on: OptionalDay = None,
    ) -> None:
        """Approve a request: its command takes effect now."""
        decide(
            tenant,
            actor,
            account,
            request_id,
            True,
            None,
            decided_on.date() if decided_on else None,
        )

    @approvals.command("reject")
    def reject(
        tenant: Tenant,
        actor: Actor,
        account: Annotated[str, typer.Argument(help="The account number.")],
        request_id: Annotated[str, typer.Argument(help="The request id (apr_...).")],
        reason: Reason,
        decided_on: OptionalDay = None,
    ) -> None:
        """Reject a request, saying why."""
        decide(
            tenant,
            actor,
            account,
            request_id,
            False,
            reason,
            decided_on.date() if decided_on else None,
        )

    @approvals.command("decisions")
    def list_decisions(
        tenant: Tenant,
        first: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First day.")],
        last: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="Last day.")],
        as_json: AsJson = False,
    ) -> None:
        """Every decision of the period, maker beside checker: the auditor's sample."""
        from projections.approvals import decisions

        with refusals_exit() as runtime:
            current(runtime)
            rows = [r.as_json() for r in decisions(runtime.db, tenant, first.date(), last.date())]
        _print_rows(rows, as_json, "no decision in the period")

    @periods.command("list")
    def list_periods(tenant: Tenant, as_json: AsJson = False) -> None:
        """The closed periods, with their seals."""
        from services.controls import Controls

        with refusals_exit() as runtime:
            _print_periods(Controls(runtime).periods(tenant), as_json)

    @periods.command("close")
    def close(
        tenant: Tenant,
        actor: Actor,
        period: Annotated[str, typer.Argument(help="The month, YYYY-MM.")],
        as_json: AsJson = False,
    ) -> None:
        """Close and seal a month whose days are all closed."""
        from services.controls import Controls

        with refusals_exit() as runtime:
            view = Controls(runtime).close_period(tenant, period, cli_provenance(actor))
            _print_periods([view], as_json)

    @periods.command("reopen")
    def reopen(
        tenant: Tenant,
        actor: Actor,
        period: Annotated[str, typer.Argument(help="The month, YYYY-MM.")],
        reason: Reason,
    ) -> None:
        """Open the latest closed period again (an approver's act)."""
        from services.controls import Controls

        with refusals_exit() as runtime:
            through = Controls(runtime).reopen_period(tenant, period, cli_provenance(actor, reason))
        typer.echo(f"{period} reopened; closed through {through or 'no period'}")

    @periods.command("backdating")
    def backdating(
        tenant: Tenant,
        actor: Actor,
        policy: Annotated[str, typer.Argument(help="refuse or first_open_day.")],
    ) -> None:
        """What becomes of a command dated in a closed period."""
        from services.controls import Controls

        with refusals_exit() as runtime:
            Controls(runtime).set_backdating(tenant, policy, cli_provenance(actor))
        typer.echo(f"back-dated commands: {policy}")


def _print_rows(rows: list[dict[str, Any]], as_json: bool, none: str) -> None:
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    from services.cli_render import show, table

    columns = [
        "request_id",
        "account_number",
        "command",
        "amount",
        "currency",
        "status",
        "maker",
        "checker",
        "expires_on",
        "decided_on",
    ]
    show(table(columns, [{c: r[c] for c in columns} for r in rows]) if rows else none)
