"""Payers' remittances (X12 835 files) in the ``ar`` CLI: posting a file, reading what it did,
and working the held-claims queue.

A remittance is one payment from an insurer with its advice: the claims it pays, denies or
reverses, and the provider-level adjustments (PLB lines) it takes from the payment or adds to
it. Its figures tie when the claims paid less the provider-level adjustments are the payment
(BPR02). Posting matches each claim to an account's claim and posts it there once; a claim that
matches none (or several) is *held*, its money kept on the remittance, until a clerk posts it
to an account's claim or refuses it with a reason (``services.remittances``).

- ``ar remittances import FILE.835``: checks the file whole, then posts it, with a progress bar
  on a terminal, and prints a summary per remittance: payer, trace, payment, what became of the
  claims and how they were matched, the PLB lines and whether the figures tie. A refused file
  prints every problem (line and segment) on stderr and exits 1: nothing was posted. A file
  posted before says so and records nothing (exit 0).
- ``ar remittances list`` / ``show ID`` / ``held`` / ``post-held`` / ``refuse-held`` /
  ``payer-ledger``: the remittances, one posting report, the held queue and what a clerk does
  with it, the payers' provider-level adjustments.

Every command runs against the configured store in the name of ``--tenant`` (and ``--actor``
when it records something), or ``AR_TENANT`` / ``AR_ACTOR``, and prints JSON with ``--json``.
A refusal is a sentence on stderr and exit status 1; nothing is recorded. The posting service
and the X12 reader (with its validator) are imported inside the commands, when one runs:
declaring them loads typer and nothing more, so ``ar --help`` stays quick.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from services.cli_guard import cli_provenance
from services.cli_guard import refusals_exit as guarded_refusals_exit

if TYPE_CHECKING:
    from services.bootstrap import Runtime
    from services.remittances import PostingReport

Tenant = Annotated[str, typer.Option(envvar="AR_TENANT", help="The tenant the payments are for.")]
Actor = Annotated[
    str, typer.Option(envvar="AR_ACTOR", help="Your name, recorded as the actor on the events.")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
RemittanceId = Annotated[
    str, typer.Argument(help="The remittance's id, as `ar remittances list` prints it.")
]
ClaimNumber = Annotated[
    int,
    typer.Argument(min=1, help="The claim's number in the remittance, from 1, as `held` shows."),
]

HELP = "Post payers' remittance files (X12 835) and work the held claims."
TIES = "✓ ties to the payment"
DOES_NOT_TIE = "✗ does not tie to the payment"


def _print_json(document: Any) -> None:
    typer.echo(json.dumps(document, indent=2, default=str))


def _read(file: Path) -> bytes:
    """The file's bytes, or a sentence and exit status 1 (before any database is opened)."""
    from services.x12_835 import MAX_FILE_BYTES

    try:
        # Measured first so a wrong, huge file is never read into memory.
        size = file.stat().st_size
        if size > MAX_FILE_BYTES:
            typer.echo(
                f"error: {file} is {size:,} bytes; a remittance file is at most"
                f" {MAX_FILE_BYTES:,}. Nothing was posted.",
                err=True,
            )
            raise typer.Exit(1)
        return file.read_bytes()
    except OSError as unreadable:
        why = unreadable.strerror or str(unreadable)
        typer.echo(f"error: cannot read {file}: {why}. Nothing was posted.", err=True)
        raise typer.Exit(1) from None


@contextmanager
def _progress(
    enabled: bool,
) -> Iterator[tuple[Callable[[int], None] | None, Callable[[int], None] | None]]:
    """A bar over the file's claims on a terminal (what to call with the total once the file
    is read, and with each claim done); nothing when stderr is a pipe or a file, or for JSON."""
    if not enabled or not sys.stderr.isatty():
        yield None, None
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
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("claims"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task("checking", total=None)
        yield (
            lambda total: progress.update(task, description="posting", total=total),
            lambda done: progress.advance(task, done),
        )


def _ties(figures: dict[str, Any], ties: bool) -> str:
    """The balance check in words: claims paid − provider adjustments = payment."""
    paid = Decimal(figures["claims_paid"])
    adjusted = Decimal(figures["provider_adjusted"])
    arithmetic = f"claims paid {paid} − provider adjustments {adjusted} = {paid - adjusted}"
    if ties:
        return f"{TIES}: {arithmetic}"
    return f"{DOES_NOT_TIE}: {arithmetic}, but the payment is {figures['payment']}"


def _one_per_line(things: list[Any]) -> list[Any]:
    """Rich prints texts given side by side on one line; here each text is a line of its own
    (an empty one a blank line)."""
    merged: list[Any] = []
    for thing in things:
        if isinstance(thing, str) and merged and isinstance(merged[-1], str):
            merged[-1] += "\n" + thing
        else:
            merged.append(thing)
    return merged


def _section(heading: str, columns: list[Any], rows: list[dict[str, Any]]) -> list[Any]:
    """A heading over its table with a total row; one line saying none when there are no rows."""
    from services.cli_render import table

    if not rows:
        return [f"{heading}: none"]
    return [heading, table(columns, rows, totals=True)]


def _plb_section(lines: list[dict[str, Any]]) -> list[Any]:
    from services.cli_render import Column

    return _section(
        "provider-level adjustments (PLB)",
        [Column("reason_code", "code"), "reason", "reference", Column("amount", amount=True)],
        [{**line, "reference": line["reference"] or None} for line in lines],
    )


def _notes(notes: list[str]) -> list[str]:
    return ["notes (kept with the remittance):", *(f"  {note}" for note in notes)] if notes else []


def _print_import(reports: list[PostingReport]) -> None:
    from services.cli_render import pairs, show

    shown: list[Any] = []
    for report in reports:
        document = report.as_dict()
        currency = document["currency"]
        heading = f"remittance {report.trace_number} from {report.payer_name or report.payer_id}"
        if shown:
            shown.append("")
        if report.already_posted:
            shown.append(f"{heading}: already posted, nothing recorded")
            shown.append(
                pairs(
                    {
                        "remittance id": report.remittance_id,
                        "payment": f"{document['payment']} {currency}",
                        "effective on": report.effective_on,
                        "claims held": report.held or None,
                    }
                )
            )
            shown.append(f"its posting report: ar remittances show {report.remittance_id}")
            continue
        held = report.held
        shown.append(f"{heading}: posted")
        shown.append(
            pairs(
                {
                    "remittance id": report.remittance_id,
                    "payer": f"{report.payer_name} ({report.payer_id})",
                    "trace number": report.trace_number,
                    "payment": f"{document['payment']} {currency}",
                    "effective on": report.effective_on,
                    "claims": report.claims,
                    "posted": report.posted,
                    "denied": report.denied,
                    "reversed": report.reversed,
                    "held": f"{held} ({document['held_amount']} {currency} kept unapplied)"
                    if held
                    else 0,
                    # Claims an earlier import of this file posted before it stopped.
                    "already posted": report.replayed,
                    "matched by": document["matched_by"],
                    "balance": _ties(document, document["ties_to_payment"]),
                }
            )
        )
        if report.provider_adjustments:
            shown.extend(_plb_section(report.provider_adjustments))
        shown.extend(_notes(report.notes))
        if held:
            shown.append(
                f"{held} held: `ar remittances held` lists them; `ar remittances post-held`"
                " or `refuse-held` settles each."
            )
    show(*_one_per_line(shown))


def _print_posting(document: dict[str, Any]) -> None:
    """One remittance's posting report, for a person."""
    from services.cli_render import Column, pairs, show

    currency = document["currency"]
    counts = document["counts"]
    claims = [
        {
            **claim,
            "matched_by": (claim["matched_by"] or "").replace("_", " ") or None,
            "sentence": claim["sentence"] or None,
        }
        for claim in document["claims"]
    ]
    balance = document["balance"]
    shown: list[Any] = [
        f"remittance {document['trace_number']} from {document['payer_name']}",
        pairs(
            {
                "remittance id": document["remittance_id"],
                "payer": f"{document['payer_name']} ({document['payer_id']})",
                "payee": f"{document['payee_name']} ({document['payee_id']})",
                "trace number": document["trace_number"],
                "payment": f"{document['payment']} {currency} by {document['method']}",
                "effective on": document["effective_on"],
                "posting": "completed" if document["completed"] else "not completed",
                "claims": counts["claims"],
                "posted": counts["posted"],
                "held": counts["held"],
                "refused": counts["refused"],
                "held amount": f"{document['held_amount']} {currency}",
            }
        ),
        "",
        *_section(
            "claims",
            [
                Column("claim_number", "#", number=True),
                Column("patient_control_number", "patient control number"),
                Column("patient_name", "patient"),
                Column("status_name", "status"),
                Column("billed", amount=True),
                Column("paid", amount=True),
                "result",
                Column("account_number", "account"),
                Column("claim_id", "claim"),
                "matched_by",
                "sentence",
            ],
            claims,
        ),
        "",
        *_section(
            "claim adjustments by group and reason",
            [Column("reason", "group-reason"), Column("amount", amount=True)],
            [{"reason": k, "amount": v} for k, v in document["adjustments_by_reason"].items()],
        ),
        "",
        *_plb_section(document["provider_adjustments"]),
        "",
        "balance check",
        pairs(
            {
                "claims paid": balance["claims_paid"],
                "provider adjustments": balance["provider_adjusted"],
                "expected payment": balance["expected_payment"],
                "payment": balance["payment"],
            },
            amounts={"claims paid", "provider adjustments", "expected payment", "payment"},
        ),
        _ties(balance, balance["balances"]),
        *_notes(document["notes"]),
    ]
    show(*_one_per_line(shown))


def register(app: typer.Typer, runtime_factory: Callable[[], Runtime]) -> None:
    remittances_app = typer.Typer(name="remittances", help=HELP, no_args_is_help=True)
    app.add_typer(remittances_app)

    def refusals_exit() -> AbstractContextManager[Runtime]:
        return guarded_refusals_exit(runtime_factory, "the claim")

    provenance = cli_provenance

    @remittances_app.command("import")
    def import_remittances(
        file: Annotated[Path, typer.Argument(help="The payer's X12 835 file.")],
        tenant: Tenant,
        actor: Actor,
        as_json: AsJson = False,
    ) -> None:
        """Post a payer's 835 file: each claim to its account once, unmatched ones held.

        A refused file lists every problem and posts nothing. Posted before: nothing again."""
        from services.errors import ServiceError
        from services.remittances import RemittanceBusy, Remittances, RemittanceTraceReused
        from services.x12_835 import RemittanceFileRefused

        data = _read(file)
        with refusals_exit() as runtime:
            remittances = Remittances(runtime)
            try:
                with _progress(not as_json) as (on_total, advance):
                    reports = remittances.import_file(
                        data,
                        tenant_id=tenant,
                        meta=provenance(actor),
                        progress=advance,
                        on_total=on_total,
                    )
            except ServiceError as stopped:
                if isinstance(stopped, RemittanceTraceReused | RemittanceBusy):
                    raise
                # A failure of the moment stopped the import part-way; its own sentence speaks
                # of one request, not of the claims posted before it.
                typer.echo(f"error: {stopped}", err=True)
                typer.echo(
                    f"error: the import of {file} stopped; what it posted is kept. Import the"
                    " same file again to post the rest, each claim once.",
                    err=True,
                )
                raise typer.Exit(1) from None
            except RemittanceFileRefused as refused:
                if not refused.problems:
                    typer.echo(f"error: {refused}", err=True)
                    raise typer.Exit(1) from None
                for problem in refused.problems:
                    typer.echo(f"error: {problem}", err=True)
                count = len(refused.problems)
                typer.echo(
                    f"error: {file} is refused ({count} problem{'s' if count > 1 else ''});"
                    " nothing was posted.",
                    err=True,
                )
                raise typer.Exit(1) from None
        if as_json:
            _print_json([report.as_dict() for report in reports])
        else:
            _print_import(reports)

    @remittances_app.command("list")
    def list_remittances(
        tenant: Tenant,
        limit: Annotated[int, typer.Option(min=1, max=1000, help="How many, newest first.")] = 100,
        as_json: AsJson = False,
    ) -> None:
        """The tenant's remittances, newest received first."""
        from services.remittances import Remittances

        with refusals_exit() as runtime:
            rows = Remittances(runtime).listing(tenant, limit)
        if as_json:
            _print_json(rows)
            return
        from services.cli_render import Column, show, table

        show(
            table(
                [
                    Column("remittance_id", "remittance id"),
                    Column("payer_name", "payer"),
                    Column("trace_number", "trace"),
                    "effective_on",
                    "received_on",
                    "currency",
                    Column("payment", amount=True),
                    Column("claims", number=True),
                    Column("posted", number=True),
                    Column("held", number=True),
                    Column("refused", number=True),
                    Column("held_amount", amount=True),
                    "completed",
                ],
                rows,
                empty=f"tenant {tenant} has no remittances",
            )
        )

    @remittances_app.command("show")
    def show_remittance(
        remittance_id: RemittanceId,
        tenant: Tenant,
        as_json: AsJson = False,
    ) -> None:
        """One remittance's posting report: its claims, adjustments and balance check."""
        from services.remittances import Remittances

        with refusals_exit() as runtime:
            remittances = Remittances(runtime)
            document = remittances.describe(remittances.get(tenant, remittance_id))
        if as_json:
            _print_json(document)
        else:
            _print_posting(document)

    @remittances_app.command("held")
    def held_claims(tenant: Tenant, as_json: AsJson = False) -> None:
        """The held claims: paid by a payer, matched to no account's claim yet."""
        from services.remittances import Remittances

        with refusals_exit() as runtime:
            rows = Remittances(runtime).held_claims(tenant)
        if as_json:
            _print_json(rows)
            return
        from services.cli_render import Column, show, table

        shown: list[Any] = [
            table(
                [
                    Column("remittance_id", "remittance id"),
                    Column("claim_number", "#", number=True),
                    Column("trace_number", "trace"),
                    Column("payer_name", "payer"),
                    "effective_on",
                    Column("patient_control_number", "patient control number"),
                    Column("patient_name", "patient"),
                    "currency",
                    Column("billed", number=True),
                    Column("paid", amount=True),
                    Column("sentence", "why held"),
                ],
                rows,
                totals=True,
                per="currency",
                empty="no held claims",
            )
        ]
        if rows:
            shown.append(
                "settle each with `ar remittances post-held ID # --account A --claim C`"
                " or `ar remittances refuse-held ID # --reason TEXT`"
            )
        show(*shown)

    @remittances_app.command("post-held")
    def post_held(
        remittance_id: RemittanceId,
        claim_number: ClaimNumber,
        account: Annotated[str, typer.Option(help="The account number to post it to.")],
        claim: Annotated[str, typer.Option(help="The account's claim id to post it to.")],
        tenant: Tenant,
        actor: Actor,
        as_json: AsJson = False,
    ) -> None:
        """Post a held claim to an account's claim."""
        from services.remittances import Remittances

        with refusals_exit() as runtime:
            document = Remittances(runtime).post_held(
                tenant_id=tenant,
                remittance_id=remittance_id,
                claim_number=claim_number,
                account_number=account,
                claim_id=claim,
                meta=provenance(actor),
            )
        if as_json:
            _print_json(document)
            return
        settled = document["claims"][claim_number - 1]
        typer.echo(
            f"claim {claim_number} of remittance {document['trace_number']}"
            f" ({settled['patient_control_number']}, paid {settled['paid']}"
            f" {document['currency']}): {settled['sentence']}"
        )
        typer.echo(_still_held(document))

    @remittances_app.command("refuse-held")
    def refuse_held(
        remittance_id: RemittanceId,
        claim_number: ClaimNumber,
        reason: Annotated[str, typer.Option(help="Why: recorded with the refusal.")],
        tenant: Tenant,
        actor: Actor,
        as_json: AsJson = False,
    ) -> None:
        """Refuse a held claim with a reason: its money is the payer's to take back."""
        from services.remittances import Remittances

        with refusals_exit() as runtime:
            document = Remittances(runtime).refuse_held(
                tenant_id=tenant,
                remittance_id=remittance_id,
                claim_number=claim_number,
                reason=reason,
                meta=provenance(actor, reason),
            )
        if as_json:
            _print_json(document)
            return
        refused = document["claims"][claim_number - 1]
        typer.echo(
            f"claim {claim_number} of remittance {document['trace_number']}"
            f" ({refused['patient_control_number']}) refused: {reason}; its"
            f" {refused['paid']} {document['currency']} is the payer's to take back"
        )
        typer.echo(_still_held(document))

    @remittances_app.command("payer-ledger")
    def payer_ledger(
        tenant: Tenant,
        payer: Annotated[
            str | None, typer.Option(help="One payer's id only.", show_default=False)
        ] = None,
        as_json: AsJson = False,
    ) -> None:
        """The payers' provider-level adjustments, by payer and date, with forwarded balances."""
        from services.remittances import Remittances

        with refusals_exit() as runtime:
            rows = Remittances(runtime).payer_ledger(tenant, payer)
        if as_json:
            _print_json(rows)
            return
        from services.cli_render import Column, show, table

        show(
            table(
                [
                    Column("payer_name", "payer"),
                    "payer_id",
                    "effective_on",
                    Column("trace_number", "trace"),
                    Column("reason_code", "code"),
                    "reason",
                    "reference",
                    "currency",
                    Column("amount", amount=True),
                    # A running figure: a total of it would mean nothing.
                    Column("forwarding_balance", "forwarded", number=True),
                ],
                [{**row, "reference": row["reference"] or None} for row in rows],
                totals=True,
                per="currency",
                empty="no provider-level adjustments" + (f" from payer {payer}" if payer else ""),
            )
        )

    @remittances_app.command("deposits")
    def import_deposits(
        file: Annotated[Path, typer.Argument(help="The bank's deposit lines (CSV).")],
        tenant: Tenant,
        as_json: AsJson = False,
    ) -> None:
        """Import the bank's deposit lines (CSV), to reconcile with the remittances.

        The header names date and amount, and may name trace, description and currency. The
        file is checked whole, and kept once however often it is imported."""
        from datetime import UTC, datetime

        from services.deposits import BankLinesInvalid, Deposits

        data = _read(file)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            typer.echo(f"error: {file} is not UTF-8 text; nothing was imported.", err=True)
            raise typer.Exit(1) from None
        with refusals_exit() as runtime:
            try:
                imported = Deposits(runtime).import_lines(
                    text, tenant_id=tenant, imported_on=datetime.now(UTC).date()
                )
            except BankLinesInvalid as invalid:
                for problem in invalid.problems:
                    typer.echo(f"error: {problem}", err=True)
                typer.echo(f"error: {file} is refused; nothing was imported.", err=True)
                raise typer.Exit(1) from None
        if as_json:
            _print_json(
                {
                    "lines": imported.lines,
                    "new": imported.new,
                    "already_imported": imported.already_imported,
                }
            )
            return
        typer.echo(
            f"{imported.lines} deposit lines: {imported.new} new, "
            f"{imported.already_imported} already imported"
        )

    @remittances_app.command("reconcile")
    def reconcile(tenant: Tenant, as_json: AsJson = False) -> None:
        """Each remittance beside the bank deposit that paid it.

        Matched, differing, and those on either side without the other."""
        from services.deposits import Deposits

        with refusals_exit() as runtime:
            report = Deposits(runtime).reconciliation(tenant)
        if as_json:
            _print_json(report)
            return
        counts = report["counts"]
        typer.echo(
            f"matched {counts['matched']}, differing {counts['differing']}, "
            f"remittances without a deposit {counts['remittances_without_deposit']}, "
            f"deposits without a remittance {counts['deposits_without_remittance']}"
        )
        for pair in report["matched"]:
            paid = pair["remittance"]
            typer.echo(
                f"matched   {paid['trace_number']} {paid['payment']} {paid['currency']} "
                f"({paid['payer_name']}) = deposit of {pair['deposit']['bank_date']}, by "
                f"{pair['matched_by']}"
            )
        for pair in report["differing"]:
            typer.echo(f"differing {pair['remittance']['trace_number']}: {pair['sentence']}")
        for paid in report["remittances_without_deposit"]:
            typer.echo(
                f"no deposit for {paid['trace_number']} {paid['payment']} {paid['currency']} "
                f"({paid['payer_name']}, {paid['effective_on']})"
            )
        for banked in report["deposits_without_remittance"]:
            typer.echo(
                f"no remittance for the deposit of {banked['amount']} {banked['currency']} on "
                f"{banked['bank_date']} {banked['trace_number'] or ''}".rstrip()
            )


def _still_held(document: dict[str, Any]) -> str:
    held = document["counts"]["held"]
    if not held:
        return f"remittance {document['trace_number']}: no claim held"
    return (
        f"remittance {document['trace_number']}: {held} claim{'s' if held > 1 else ''} still"
        f" held ({document['held_amount']} {document['currency']})"
    )
