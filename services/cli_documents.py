"""An account's documents in the ``ar`` CLI: statements, invoices and letters as PDF or HTML
files, and e-mailing one.

- ``ar documents statement ACCOUNT [--from] [--to] [--open-items-only]``: the statement of
  account for the period (by default from the first of ``--to``'s month to today, in the
  tenant's time zone).
- ``ar documents invoice ACCOUNT NUMBER [--as-of]``: an invoice or debit note.
- ``ar documents letter ACCOUNT KIND [--subject] [--as-of]``: a dunning letter, a plan
  agreement, a settlement offer, a promise confirmation or a patient statement; all but the
  dunning letter name their subject (the plan, offer, promise or claim id).
- ``ar documents email ACCOUNT KIND [--subject] [--to] ...``: produce any of them and e-mail
  its PDF through the tenant's SMTP server to the account's address (or ``--to``); recorded on
  the account as ``DocumentSent`` once the server took it.

Every document is as known at a moment, ``--as-known-at`` or now: the file is written to
``--out`` (default ``<document>.<pdf|html>`` in the current directory) and one line says where,
its SHA-256 and that moment; given as ``--as-known-at`` again, it writes the same bytes.

A refusal (no such account or invoice as of the date, a subject missing, a template that
fails, a mail server that did not take the message) is a sentence on stderr and exit status 1;
nothing is written or recorded. As everywhere in ``ar``, the application and the PDF engine
are imported inside the commands, so ``ar --help`` stays quick.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from services.cli_accounts import Actor, Tenant
from services.cli_guard import cli_provenance
from services.cli_guard import refusals_exit as guarded_refusals_exit

if TYPE_CHECKING:
    from services.bootstrap import Runtime
    from services.documents.service import Documents, Produced

HELP = "Write an account's statement, invoices and letters as PDF or HTML, or e-mail them."


class Form(StrEnum):
    pdf = "pdf"
    html = "html"


class LetterKind(StrEnum):
    dunning_letter = "dunning-letter"
    plan_agreement = "plan-agreement"
    settlement_offer = "settlement-offer"
    promise_confirmation = "promise-confirmation"
    patient_statement = "patient-statement"


class Kind(StrEnum):
    """Every kind of document (``domain.documents.DOCUMENT_KINDS``; a test holds them equal)."""

    invoice = "invoice"
    statement = "statement"
    dunning_letter = "dunning-letter"
    plan_agreement = "plan-agreement"
    settlement_offer = "settlement-offer"
    promise_confirmation = "promise-confirmation"
    patient_statement = "patient-statement"


_DAY = ["%Y-%m-%d"]
# X-Known-At and the line printed carry microseconds: a reprint must take them as given.
_MOMENT = [
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S",
]
Account = Annotated[str, typer.Argument(help="The account number.")]
FormOption = Annotated[Form, typer.Option("--format", help="pdf or html.")]
Out = Annotated[
    Path | None,
    typer.Option(
        "--out",
        dir_okay=False,
        help="The file to write; default <document>.<format> in the current directory.",
        show_default=False,
    ),
]
AsOf = Annotated[
    datetime | None,
    typer.Option(
        formats=_DAY, help="Business date (YYYY-MM-DD); default today.", show_default=False
    ),
]
AsKnownAt = Annotated[
    datetime | None,
    typer.Option(
        formats=_MOMENT,
        help="The moment the document is as known at (as printed when it was first written);"
        " UTC when no offset is given. Default now.",
        show_default=False,
    ),
]
From = Annotated[
    datetime | None,
    typer.Option(
        "--from",
        formats=_DAY,
        help="A statement's first day; default the first of its last day's month.",
        show_default=False,
    ),
]
To = Annotated[
    datetime | None,
    typer.Option(
        "--to",
        formats=_DAY,
        help="A statement's last day, included; default today.",
        show_default=False,
    ),
]
OpenItemsOnly = Annotated[
    bool,
    typer.Option("--open-items-only", help="A statement of what is open only, with its aging."),
]
Subject = Annotated[
    str | None,
    typer.Option(
        help="What the document is about: the invoice number, plan, offer, promise or claim id.",
        show_default=False,
    ),
]


def _day(value: datetime | None) -> date | None:
    return None if value is None else value.date()


def _moment(value: datetime | None) -> datetime | None:
    from services.views import as_utc

    return as_utc(value)


def _write(produced: Produced, form: Form, out: Path | None) -> None:
    """Write the document and print its path, SHA-256 and the moment it is as known at."""
    body = produced.rendered.html_bytes if form is Form.html else produced.rendered.pdf
    assert body is not None  # produced with a PDF when one is asked for
    path = out if out is not None else Path.cwd() / f"{produced.built.filename}.{form.value}"
    try:
        path.write_bytes(body)
    except OSError as failed:
        typer.echo(f"error: cannot write {path}: {failed.strerror or failed}.", err=True)
        raise typer.Exit(1) from None
    digest = hashlib.sha256(body).hexdigest()
    typer.echo(f"{path}  sha256 {digest}  known at {produced.known_at_text}")


def register(app: typer.Typer, runtime_factory: Callable[[], Runtime]) -> None:
    """Add ``ar documents`` to ``app``."""
    documents_app = typer.Typer(name="documents", help=HELP, no_args_is_help=True)
    app.add_typer(documents_app)

    def refusals_exit() -> AbstractContextManager[Runtime]:
        return guarded_refusals_exit(runtime_factory, "the document")

    def service(runtime: Runtime) -> Documents:
        from services.documents.service import Documents
        from services.tenants import TenantSettings

        return Documents(runtime.app, TenantSettings(runtime.app))

    @documents_app.command("statement")
    def statement(
        account: Account,
        tenant: Tenant,
        period_from: From = None,
        period_to: To = None,
        as_known_at: AsKnownAt = None,
        open_items_only: OpenItemsOnly = False,
        form: FormOption = Form.pdf,
        out: Out = None,
    ) -> None:
        """Write an account's statement for a period: opening balance, activity, closing."""
        with refusals_exit() as runtime:
            produced = service(runtime).produce(
                tenant,
                account,
                "statement",
                as_of=_day(period_to),
                period_from=_day(period_from),
                open_items_only=open_items_only,
                as_known_at=_moment(as_known_at),
                pdf=form is Form.pdf,
            )
        _write(produced, form, out)

    @documents_app.command("invoice")
    def invoice(
        account: Account,
        number: Annotated[str, typer.Argument(help="The invoice or debit note's number.")],
        tenant: Tenant,
        as_of: AsOf = None,
        as_known_at: AsKnownAt = None,
        form: FormOption = Form.pdf,
        out: Out = None,
    ) -> None:
        """Write an invoice (or debit note) as the customer receives it."""
        with refusals_exit() as runtime:
            produced = service(runtime).produce(
                tenant,
                account,
                "invoice",
                as_of=_day(as_of),
                subject=number,
                as_known_at=_moment(as_known_at),
                pdf=form is Form.pdf,
            )
        _write(produced, form, out)

    @documents_app.command("letter")
    def letter(
        account: Account,
        kind: Annotated[LetterKind, typer.Argument(help="The kind of letter.")],
        tenant: Tenant,
        subject: Subject = None,
        as_of: AsOf = None,
        as_known_at: AsKnownAt = None,
        form: FormOption = Form.pdf,
        out: Out = None,
    ) -> None:
        """Write a letter: a payment reminder, a plan agreement, a settlement offer, and so on."""
        with refusals_exit() as runtime:
            produced = service(runtime).produce(
                tenant,
                account,
                kind.value,
                as_of=_day(as_of),
                subject=subject,
                as_known_at=_moment(as_known_at),
                pdf=form is Form.pdf,
            )
        _write(produced, form, out)

    @documents_app.command("email")
    def email(
        account: Account,
        kind: Annotated[Kind, typer.Argument(help="The kind of document.")],
        tenant: Tenant,
        actor: Actor,
        subject: Subject = None,
        to: Annotated[
            str | None,
            typer.Option(
                help="Send here instead of the account's e-mail address.", show_default=False
            ),
        ] = None,
        as_of: AsOf = None,
        period_from: From = None,
        open_items_only: OpenItemsOnly = False,
    ) -> None:
        """E-mail a document's PDF to the account and record it as sent."""
        from domain.contacts import check_email
        from services.documents.mail import DeliveryFailed

        with refusals_exit() as runtime:
            if to is not None:
                check_email(to, "to")
            documents = service(runtime)
            produced = documents.produce(
                tenant,
                account,
                kind.value,
                as_of=_day(as_of),
                subject=subject,
                period_from=_day(period_from),
                open_items_only=open_items_only,
            )
            document_id = f"email:cli-{uuid.uuid4().hex}"
            try:
                message_id = documents.email(
                    tenant,
                    produced,
                    document_id=document_id,
                    meta=cli_provenance(actor),
                    sent_on=documents.tenants.today(tenant),
                    to=to,
                )
            except DeliveryFailed as failed:
                again = "" if failed.permanent else " Nothing was recorded; try again later."
                typer.echo(f"error: {failed.sentence}{again}", err=True)
                raise typer.Exit(1) from None
        recipient = to or produced.built.recipient.email
        typer.echo(
            f"sent {document_id} to {recipient}  message-id {message_id}"
            f"  pdf sha256 {produced.rendered.pdf_sha256}  known at {produced.known_at_text}"
        )
