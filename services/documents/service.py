"""Producing one document for one account, and recording it as sent.

Concept
    A document is asked for by kind (:data:`domain.documents.DOCUMENT_KINDS`), what it is
    about (an invoice number, a plan, an offer, a promise, a claim; a statement's period),
    the business date it is as of, and optionally the moment it is *as known at*. The
    account and the tenant's letterhead and templates are read as they were known at that
    moment (now, if none is given), the content is decided by the domain, and it is written
    out in HTML, and in PDF when asked.

    Sending records ``DocumentSent`` on the account through the same committer every command
    goes through, with the hashes of the PDF and HTML that left and the moment they were
    known at, so producing the document again as known at that moment proves what was sent.

Invariants
    - Nothing here reads a clock except to name "now" when the caller gives no moment; the
      moment used is returned with the document and recorded with it.
    - A document that cannot be produced (no such invoice as of the date, a template that
      fails) raises a :class:`~domain.errors.DomainError` and records nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Final, Protocol

from pydantic import Field

from domain import documents as content
from domain import errors
from domain.account import Account
from domain.account.sent_documents import EMAIL_CHANNEL
from domain.documents import Recipient
from domain.letterhead import (
    COVER_LIST,
    DUNNING_LETTER,
    INVOICE,
    PATIENT_STATEMENT,
    PLAN_AGREEMENT,
    PROMISE_CONFIRMATION,
    SETTLEMENT_OFFER,
    STATEMENT,
    Letterhead,
)
from domain.provenance import Provenance
from services.commands import AccountCommand
from services.documents import mail
from services.documents.rendering import (
    Heading,
    Rendered,
    email_text,
    heading_of,
    render_html,
    render_pdf,
)
from services.errors import a_or_an
from services.fields import BusinessDate

if TYPE_CHECKING:
    from domain.tenant import Tenant
    from services.app import Receivables

#: kind -> (template, title)
_TEMPLATES: Final[dict[str, tuple[str, str]]] = {
    content.INVOICE_DOCUMENT: (INVOICE, "Invoice"),
    content.STATEMENT_DOCUMENT: (STATEMENT, "Statement of account"),
    content.DUNNING_LETTER: (DUNNING_LETTER, "Payment reminder"),
    content.PLAN_AGREEMENT: (PLAN_AGREEMENT, "Payment plan agreement"),
    content.SETTLEMENT_OFFER: (SETTLEMENT_OFFER, "Settlement offer"),
    content.PROMISE_CONFIRMATION: (PROMISE_CONFIRMATION, "Confirmation of your promise to pay"),
    content.PATIENT_STATEMENT: (PATIENT_STATEMENT, "Patient statement"),
}
#: One document of each kind of the sample account (services.documents.samples).
SAMPLE_SUBJECTS: Final[tuple[tuple[str, str | None], ...]] = (
    (content.INVOICE_DOCUMENT, "INV-1"),
    (content.STATEMENT_DOCUMENT, None),
    (content.DUNNING_LETTER, None),
    (content.PLAN_AGREEMENT, "P1"),
    (content.SETTLEMENT_OFFER, "S1"),
    (content.PROMISE_CONFIRMATION, "PTP-1"),
    (content.PATIENT_STATEMENT, "CLM-1"),
)


@dataclass(frozen=True)
class Built:
    """A document's content, decided, not yet written out."""

    kind: str
    template: str
    title: str
    subject: str
    as_of: date
    recipient: Recipient
    doc: Any

    @property
    def filename(self) -> str:
        subject = "".join(c if c.isalnum() or c in "-_." else "-" for c in self.subject)
        return f"{self.kind}-{self.recipient.account_number}-{subject}".strip("-")

    def context(self) -> dict[str, Any]:
        return {
            "doc": self.doc,
            "recipient": self.recipient,
            "title": self.title,
            "as_of": self.as_of,
            "kind": self.kind,
        }


def build_document(
    account: Account,
    kind: str,
    as_of: date,
    *,
    subject: str | None = None,
    period_from: date | None = None,
    open_items_only: bool = False,
    level: int | None = None,
) -> Built:
    """The content of document ``kind`` of ``account`` as of ``as_of``."""
    content.check_kind(kind)
    field = content.SUBJECT_FIELD[kind]
    if field is not None and not subject:
        raise errors.MissingValue(
            f"{a_or_an(kind).capitalize()} names its {field.replace('_', ' ')}.", field=field
        )
    template, title = _TEMPLATES[kind]
    doc: Any
    if kind == content.INVOICE_DOCUMENT:
        assert subject is not None
        doc = content.invoice_document(account, subject, as_of)
        title = "Debit note" if doc.kind == "debit_note" else title
    elif kind == content.STATEMENT_DOCUMENT:
        start = period_from or date(as_of.year, as_of.month, 1)
        doc = content.statement_document(account, start, as_of, open_items_only=open_items_only)
        subject = f"{start.isoformat()}..{as_of.isoformat()}"
    elif kind == content.DUNNING_LETTER:
        doc = content.dunning_letter_document(account, as_of, level=level)
        subject = f"level-{doc.level}"
    elif kind == content.PLAN_AGREEMENT:
        assert subject is not None
        doc = content.plan_agreement_document(account, subject, as_of)
    elif kind == content.SETTLEMENT_OFFER:
        assert subject is not None
        doc = content.settlement_offer_document(account, subject, as_of)
    elif kind == content.PROMISE_CONFIRMATION:
        assert subject is not None
        doc = content.promise_confirmation_document(account, subject, as_of)
    else:
        assert subject is not None
        doc = content.patient_statement_document(account, subject, as_of)
    return Built(kind, template, title, subject or "", as_of, doc.recipient, doc)


def heading_for(letterhead: Letterhead | None, tenant_id: str) -> Heading:
    return heading_of(letterhead, tenant_id)


def write_out(
    built: Built, heading: Heading, overrides: Mapping[str, str], *, pdf: bool
) -> Rendered:
    html = render_html(built.template, built.context(), heading, overrides)
    if not pdf:
        return Rendered(html=html, pdf=None)
    laid_out, pages = render_pdf(html)
    return Rendered(html=html, pdf=laid_out, pages=pages)


@dataclass(frozen=True)
class CoverEntry:
    """One line of a print batch's cover list: the account, who and where it goes, pages."""

    account_number: str
    recipient: str
    pages: int


def cover_list(
    entries: Sequence[CoverEntry],
    heading: Heading,
    overrides: Mapping[str, str],
    *,
    batch_id: str,
    as_of: date,
) -> str:
    """The first page of a print batch: each document's account, name, address, pages."""
    batch = Recipient(f"batch {batch_id}", heading.name, None, None, None, None)
    context = {
        "recipient": batch,
        "title": "Print batch",
        "as_of": as_of,
        "entries": list(entries),
        "batch_id": batch_id,
        "kind": "cover-list",
    }
    return render_html(COVER_LIST, context, heading, overrides)


# ------------------------------------------------------------------ the service


@dataclass(frozen=True)
class Produced:
    """A document written out, with the moment its figures were known at."""

    built: Built
    rendered: Rendered
    known_at: datetime
    heading: Heading
    overrides: Mapping[str, str]

    @property
    def known_at_text(self) -> str:
        return self.known_at.astimezone(UTC).isoformat()


class RecordDocumentSent(AccountCommand):
    """Record on the account that a document left, with its fingerprint (not a clerk's
    command: sending is the documents service's work)."""

    calls: ClassVar[str] = "record_document_sent"

    document_id: str = Field(max_length=200)
    kind: str
    subject: str
    known_at: str
    channel: str
    recipient: str
    pdf_sha256: str
    html_sha256: str
    sent_on: BusinessDate

    def apply_to(self, account: Account, meta: Provenance) -> None:
        account.record_document_sent(
            document_id=self.document_id,
            kind=self.kind,
            subject=self.subject,
            known_at=self.known_at,
            channel=self.channel,
            recipient=self.recipient,
            pdf_sha256=self.pdf_sha256,
            html_sha256=self.html_sha256,
            sent_on=self.sent_on,
            meta=meta,
        )


class TenantReader(Protocol):
    """What documents read of the tenants' settings (``services.tenants.TenantSettings``)."""

    def get(self, tenant_id: str, as_known_at: datetime | None = None) -> Tenant | None: ...

    def today(self, tenant_id: str, tenant: Tenant | None = None) -> date: ...


class Documents:
    """Documents of the accounts in the application's store."""

    def __init__(self, app: Receivables, tenants: TenantReader) -> None:
        self.app = app
        self.tenants = tenants

    def settings_known_at(
        self, tenant_id: str, moment: datetime | None
    ) -> tuple[Heading, Mapping[str, str], Tenant | None]:
        tenant = self.tenants.get(tenant_id, as_known_at=moment)
        letterhead = tenant.letterhead if tenant is not None else None
        overrides: Mapping[str, str] = dict(tenant.templates) if tenant is not None else {}
        return heading_for(letterhead, tenant_id), overrides, tenant

    def produce(
        self,
        tenant_id: str,
        account_number: str,
        kind: str,
        *,
        as_of: date | None = None,
        subject: str | None = None,
        period_from: date | None = None,
        open_items_only: bool = False,
        as_known_at: datetime | None = None,
        pdf: bool = True,
        account: Account | None = None,
        settings: tuple[Heading, Mapping[str, str], Tenant | None] | None = None,
    ) -> Produced:
        """Document ``kind`` of the account, as of ``as_of`` (today), as known at
        ``as_known_at`` (now). A caller producing many passes the account and the tenant's
        settings as known at that moment (``settings_known_at``), read once."""
        moment = as_known_at or datetime.now(UTC)
        if account is None:
            account = self.app.get_account(tenant_id, account_number, as_known_at=moment)
        heading, overrides, tenant = settings or self.settings_known_at(tenant_id, moment)
        day = as_of or self.tenants.today(tenant_id, tenant)
        built = build_document(
            account,
            kind,
            day,
            subject=subject,
            period_from=period_from,
            open_items_only=open_items_only,
        )
        rendered = write_out(built, heading, overrides, pdf=pdf)
        return Produced(built, rendered, moment, heading, overrides)

    def email(
        self,
        tenant_id: str,
        produced: Produced,
        *,
        document_id: str,
        meta: Provenance,
        sent_on: date,
        to: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> str:
        """E-mail the document's PDF to the account's address (or ``to``) through the
        tenant's SMTP server, then record it as sent. Returns the Message-ID."""
        address = to or produced.built.recipient.email
        if not address:
            raise errors.ChannelUnreachable(
                f"Account {produced.built.recipient.account_number} has no e-mail address.",
                field="email",
            )
        tenant = self.tenants.get(tenant_id)
        settings = tenant.mail_settings if tenant is not None else None
        if settings is None:
            raise errors.InvalidMailSettings(
                "No mail settings: set the tenant's SMTP server first.", field="mail_settings"
            )
        message = outgoing(produced, address, document_id)
        message_id = mail.send(settings, message, environ=environ)
        self.record_sent(
            tenant_id,
            produced,
            document_id=document_id,
            channel=EMAIL_CHANNEL,
            recipient=address,
            meta=meta,
            sent_on=sent_on,
        )
        return message_id

    def record_sent(
        self,
        tenant_id: str,
        produced: Produced,
        *,
        document_id: str,
        channel: str,
        recipient: str,
        meta: Provenance,
        sent_on: date,
    ) -> None:
        command = RecordDocumentSent(
            document_id=document_id,
            kind=produced.built.kind,
            subject=produced.built.subject,
            known_at=produced.known_at_text,
            channel=channel,
            recipient=recipient,
            pdf_sha256=produced.rendered.pdf_sha256,
            html_sha256=produced.rendered.html_sha256,
            sent_on=sent_on,
        )
        self.app.execute(
            tenant_id=tenant_id,
            account_number=produced.built.recipient.account_number,
            command=command,
            meta=meta,
            idempotency_key=f"document-sent:{document_id}",
        )


#: The namespace of the Message-IDs of documents (never change it: ids derive from it).
MESSAGE_ID_NAMESPACE: Final = uuid.UUID("2d3c4b5a-6e7f-4a8b-9c0d-1e2f3a4b5c6d")


def message_id_for(document_id: str) -> str:
    """The Message-ID a document's e-mail carries, the same every time it is sent: a resend
    after a crash between the server taking it and it being recorded is recognisable."""
    return f"<{uuid.uuid5(MESSAGE_ID_NAMESPACE, document_id).hex}@documents.receivables>"


def outgoing(produced: Produced, to: str, document_id: str) -> mail.Outgoing:
    built = produced.built
    assert produced.rendered.pdf is not None
    if len(f"{produced.heading.name}.".splitlines()) > 1:
        # Recorded before the letterhead refused line separators: this e-mail's failure alone.
        raise errors.InvalidLetterhead(
            "The letterhead's name breaks a line, so it cannot head an e-mail; set the"
            " letterhead again.",
            field="name",
        )
    body = email_text(built.context(), produced.heading, produced.overrides)
    return mail.Outgoing(
        to=to,
        subject=f"{built.title} — {produced.heading.name} — account {built.recipient.account_number}",
        text=body,
        attachments=(mail.Attachment(f"{built.filename}.pdf", produced.rendered.pdf),),
        message_id=message_id_for(document_id),
        from_name=produced.heading.name,
        headers={
            "X-Receivables-Document": document_id,
            "X-Receivables-Document-Sha256": produced.rendered.pdf_sha256,
        },
    )
