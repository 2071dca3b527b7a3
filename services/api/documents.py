"""An account's documents over HTTP: its statement, invoices and letters, in PDF or HTML, and
e-mailing one of them.

- ``GET /v1/accounts/{n}/statement.pdf`` (or ``.html``), ``?from=&to=&open_items_only=``: the
  statement of account for the period, by default from the first of ``to``'s month to today
  in the tenant's time zone.
- ``GET /v1/accounts/{n}/invoices/{invoice_number}.pdf`` (or ``.html``), ``?as_of=``.
- ``GET /v1/accounts/{n}/letters/{kind}.pdf`` (or ``.html``), ``?as_of=&subject=``, for the
  kinds ``dunning-letter``, ``plan-agreement``, ``settlement-offer`` (subject: the offer id),
  ``promise-confirmation`` (the promise id) and ``patient-statement`` (the claim id); every one
  but the dunning letter names its subject.
- ``POST /v1/accounts/{n}/documents/email``: produce one document and e-mail its PDF through the
  tenant's SMTP server to the account's address (or ``to``); ``201`` with its id, the
  Message-ID and the hashes recorded on the account as ``DocumentSent``.

Each ``GET`` also takes ``as_known_at``: the document says what was known at that moment.

Invariants
    - A document is produced as known at one moment, returned in ``X-Known-At`` (ISO 8601,
      UTC): asked again with ``as_known_at`` set to it, the same document comes back byte for
      byte (``X-Document-Sha256`` and ``ETag``, the SHA-256 of the body), whatever was recorded
      since. A moment still to come is read as now, since what will be known at it is not
      settled yet.
    - Reading a document records nothing. E-mailing records ``DocumentSent`` once the SMTP
      server has taken the message, and nothing when it has not. With an ``Idempotency-Key``
      the document's id is ``email:<key>``, and a retry of a document already recorded under
      it answers what was recorded, sending nothing again.
    - Refusals are problems with stable codes: an unknown account ``404 account_not_found``;
      an invoice, plan, offer, promise or claim the account does not have as of the date (or
      nothing past due, for a dunning letter) ``404 unknown_document``; a missing subject
      ``422 missing_value``; a date outside the calendar ``422 date_out_of_range``; a tenant
      template that fails ``422 invalid_template``; no mail settings ``409
      invalid_mail_settings``; an SMTP server that could not be reached or asked to try later
      ``502`` and one that refused the message for good ``422``, with the code of
      :class:`services.documents.mail.DeliveryFailed`.
    - Who reads: clerks, auditors and reporters, as the statement report; clerks e-mail.
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoints' annotations, and the
# endpoints are made by functions below.

import hashlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from domain import documents as content
from domain import errors
from domain.contacts import check_email
from services.api.accounts import AsKnownAt
from services.api.common import (
    AccountNumber,
    IdempotencyKey,
    provenance,
    receivables,
)
from services.api.problems import problem
from services.api.reports import _moment
from services.api.security import ClerkDep, ReportReaderDep
from services.api.tenant import settings
from services.commands import EmailAddress
from services.documents import mail
from services.documents.rendering import HTML, PDF
from services.documents.service import Documents, Produced
from services.errors import IdempotencyKeyReused, ServiceError, a_or_an
from services.fields import IDENTIFIER_MAX_LENGTH, IDENTIFIER_PATTERN, BusinessDate, Identifier

router = APIRouter(prefix="/v1/accounts", tags=["documents"])

#: The written forms of a document: the extension in the path and the media type answered.
FORMS: Final = {"pdf": PDF, "html": HTML}
#: What an HTML document may load when a browser shows it: its own styles and the data: logo.
_HTML_POLICY: Final = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

#: The kinds of :data:`domain.documents.DOCUMENT_KINDS` (tests hold the two equal).
DocumentKind = Literal[
    "invoice",
    "statement",
    "dunning-letter",
    "plan-agreement",
    "settlement-offer",
    "promise-confirmation",
    "patient-statement",
]
LetterKind = Literal[
    "dunning-letter",
    "plan-agreement",
    "settlement-offer",
    "promise-confirmation",
    "patient-statement",
]

AsOf = Annotated[
    BusinessDate | None,
    Query(description="The business date the document is as of; default today (tenant's zone)."),
]
Subject = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=IDENTIFIER_MAX_LENGTH,
        pattern=IDENTIFIER_PATTERN,
        description="What the letter is about: the plan, offer, promise or claim id (not for a "
        "dunning letter).",
    ),
]
InvoiceNumber = Annotated[
    str, Path(min_length=1, max_length=IDENTIFIER_MAX_LENGTH, pattern=IDENTIFIER_PATTERN)
]


class NotTaken(ServiceError):
    """A value the document asked for does not use: refused rather than silently ignored."""

    code = "not_taken"
    status = 422

    def __init__(self, kind: str, field: str) -> None:
        super().__init__(
            f"{a_or_an(kind).capitalize()} takes no {field}; leave it out.", field=field
        )


def documents(request: Request) -> Documents:
    return Documents(receivables(request), settings(request))


def _known_at(asked: datetime | None) -> datetime:
    """The moment a document is produced as known at: the one asked, but never past now."""
    now = datetime.now(UTC)
    moment = _moment(asked, "as_known_at")
    return now if moment is None or moment > now else moment


def _subject(kind: str, subject: str | None) -> str | None:
    field = content.SUBJECT_FIELD[kind]
    if field is None and subject is not None:
        raise NotTaken(kind, "subject")
    if field is not None and subject is None:
        what = field.removesuffix("_id").removesuffix("_number").replace("_", " ")
        raise errors.MissingValue(
            f"{a_or_an(kind).capitalize()} is about one {what}: give its id as subject.",
            field="subject",
        )
    return subject


def written(produced: Produced, form: str) -> Response:
    """The document in ``form`` with the headers that let it be reprinted and checked."""
    if form == "pdf":
        assert produced.rendered.pdf is not None  # produced with pdf=True
        body = produced.rendered.pdf
    else:
        body = produced.rendered.html_bytes
    digest = hashlib.sha256(body).hexdigest()
    headers = {
        "Content-Disposition": f'inline; filename="{produced.built.filename}.{form}"',
        "X-Document-Sha256": digest,
        "X-Known-At": produced.known_at_text,
        "ETag": f'"{digest}"',
        "X-Content-Type-Options": "nosniff",
    }
    if form == "html":
        headers["Content-Security-Policy"] = _HTML_POLICY
    return Response(content=body, media_type=FORMS[form], headers=headers)


def _declared(form: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI answer of a document endpoint: the body in its media type, and headers."""
    schema = {"type": "string", "format": "binary"} if form == "pdf" else {"type": "string"}
    header = {"schema": {"type": "string"}}
    return {
        200: {
            "description": f"The document as {form.upper()}.",
            "content": {FORMS[form].split(";")[0]: {"schema": schema}},
            "headers": {
                "X-Known-At": {
                    **header,
                    "description": "The moment (UTC) the document is as known at: pass it as "
                    "as_known_at to get the same bytes again.",
                },
                "X-Document-Sha256": {**header, "description": "SHA-256 of the body."},
                "ETag": header,
                "Content-Disposition": header,
            },
        }
    }


def _route(path: str, name: str, summary: str) -> Callable[..., Any]:
    """Register the decorated ``make(form)`` as ``GET {path}.pdf`` and ``GET {path}.html``."""

    def register(make: Callable[[str], Callable[..., Response]]) -> Callable[..., Any]:
        for form in FORMS:
            endpoint = make(form)
            endpoint.__name__ = f"{name}_{form}"
            router.add_api_route(
                f"{path}.{form}",
                endpoint,
                methods=["GET"],
                summary=f"{summary} ({form.upper()})",
                response_class=Response,
                responses=_declared(form),
            )
        return make

    return register


@_route(
    "/{account_number}/statement",
    "get_statement_document",
    "An account's statement: opening balance, the period's activity, closing balance, aging",
)
def _statement(form: str) -> Callable[..., Response]:
    def endpoint(
        account_number: AccountNumber,
        request: Request,
        caller: ReportReaderDep,
        period_from: Annotated[
            BusinessDate | None,
            Query(alias="from", description="First day; default the first of to's month."),
        ] = None,
        period_to: Annotated[
            BusinessDate | None,
            Query(alias="to", description="Last day, included; default today (tenant's zone)."),
        ] = None,
        as_known_at: AsKnownAt = None,
        open_items_only: Annotated[
            bool, Query(description="Only what is open and its aging, not the activity.")
        ] = False,
    ) -> Response:
        produced = documents(request).produce(
            caller.tenant_id,
            account_number,
            content.STATEMENT_DOCUMENT,
            as_of=period_to,
            period_from=period_from,
            open_items_only=open_items_only,
            as_known_at=_known_at(as_known_at),
            pdf=form == "pdf",
        )
        return written(produced, form)

    return endpoint


@_route(
    "/{account_number}/invoices/{invoice_number}",
    "get_invoice_document",
    "An invoice (or debit note) as the customer receives it",
)
def _invoice(form: str) -> Callable[..., Response]:
    def endpoint(
        account_number: AccountNumber,
        invoice_number: InvoiceNumber,
        request: Request,
        caller: ReportReaderDep,
        as_of: AsOf = None,
        as_known_at: AsKnownAt = None,
    ) -> Response:
        produced = documents(request).produce(
            caller.tenant_id,
            account_number,
            content.INVOICE_DOCUMENT,
            as_of=as_of,
            subject=invoice_number,
            as_known_at=_known_at(as_known_at),
            pdf=form == "pdf",
        )
        return written(produced, form)

    return endpoint


@_route(
    "/{account_number}/letters/{kind}",
    "get_letter",
    "A letter: a payment reminder, a plan agreement, a settlement offer, a promise "
    "confirmation or a patient statement",
)
def _letter(form: str) -> Callable[..., Response]:
    def endpoint(
        account_number: AccountNumber,
        kind: Annotated[LetterKind, Path(description="The kind of letter.")],
        request: Request,
        caller: ReportReaderDep,
        as_of: AsOf = None,
        as_known_at: AsKnownAt = None,
        subject: Subject = None,
    ) -> Response:
        produced = documents(request).produce(
            caller.tenant_id,
            account_number,
            kind,
            as_of=as_of,
            subject=_subject(kind, subject),
            as_known_at=_known_at(as_known_at),
            pdf=form == "pdf",
        )
        return written(produced, form)

    return endpoint


# --- e-mail ------------------------------------------------------------------------------------


class EmailDocumentRequest(BaseModel):
    """The document to e-mail, as the ``GET`` endpoints would produce it (as known now)."""

    model_config = ConfigDict(extra="forbid")

    kind: DocumentKind
    subject: Identifier | None = Field(
        None,
        description="The invoice number, plan, offer, promise or claim id; none for a "
        "statement or a dunning letter.",
    )
    as_of: BusinessDate | None = Field(
        None, description="The business date (a statement's last day); default today."
    )
    period_from: BusinessDate | None = Field(
        None, alias="from", description="A statement's first day; default the first of its month."
    )
    open_items_only: bool = Field(False, description="A statement of what is open only.")
    to: EmailAddress | None = Field(
        None, description="Send to this address instead of the account's e-mail address."
    )


class EmailedDocument(BaseModel):
    document_id: str = Field(description="email:<Idempotency-Key>, or email:<a new id>.")
    message_id: str | None = Field(
        description="The e-mail's Message-ID; null when a retry answers what was recorded."
    )
    kind: str
    subject: str = Field(description="What the document is about (a statement: its period).")
    recipient: str
    known_at: str = Field(
        description="The moment (UTC) the document is as known at: produce it again as known "
        "at this moment and it hashes the same."
    )
    pdf_sha256: str
    html_sha256: str


def _replayed(
    request: Request,
    tenant_id: str,
    account_number: str,
    document_id: str,
    body: EmailDocumentRequest,
) -> EmailedDocument | None:
    """What was recorded under ``document_id`` already, if anything (a retry)."""
    account = receivables(request).get_account(tenant_id, account_number)
    sent = account.documents_sent.get(document_id)
    if sent is None:
        return None
    if (
        sent.kind != body.kind
        or (body.subject is not None and sent.subject != body.subject)
        or (body.to is not None and sent.recipient != body.to)
    ):
        raise IdempotencyKeyReused(document_id.removeprefix("email:"))
    return EmailedDocument(
        document_id=sent.document_id,
        message_id=None,
        kind=sent.kind,
        subject=sent.subject,
        recipient=sent.recipient,
        known_at=sent.known_at,
        pdf_sha256=sent.pdf_sha256,
        html_sha256=sent.html_sha256,
    )


@router.post(
    "/{account_number}/documents/email",
    status_code=201,
    summary="E-mail a document's PDF to the account and record it as sent",
    response_model=EmailedDocument,
)
def email_document(
    account_number: AccountNumber,
    body: EmailDocumentRequest,
    request: Request,
    response: Response,
    caller: ClerkDep,
    key: IdempotencyKey = None,
) -> EmailedDocument | JSONResponse:
    kind = body.kind
    subject = _subject(kind, body.subject)
    if kind != content.STATEMENT_DOCUMENT:
        if body.period_from is not None:
            raise NotTaken(kind, "from")
        if body.open_items_only:
            raise NotTaken(kind, "open_items_only")
    if body.to is not None:
        check_email(body.to, "to")
    document_id = f"email:{key}" if key is not None else f"email:{uuid.uuid4().hex}"
    if key is not None:
        earlier = _replayed(request, caller.tenant_id, account_number, document_id, body)
        if earlier is not None:
            response.headers["Idempotent-Replayed"] = "true"
            return earlier
    service = documents(request)
    produced = service.produce(
        caller.tenant_id,
        account_number,
        kind,
        as_of=body.as_of,
        subject=subject,
        period_from=body.period_from,
        open_items_only=body.open_items_only,
    )
    try:
        message_id = service.email(
            caller.tenant_id,
            produced,
            document_id=document_id,
            meta=provenance(request, caller),
            sent_on=service.tenants.today(caller.tenant_id),
            to=body.to,
        )
    except mail.DeliveryFailed as failed:
        # Trying later may help (502) or not (422: the server refused it for good).
        return problem(422 if failed.permanent else 502, failed.code, failed.sentence, "to")
    except errors.InvalidMailSettings as unset:
        # Not the request's fault but the tenant's state: an admin sets the mail server first.
        return problem(409, unset.code, str(unset), unset.field)
    return EmailedDocument(
        document_id=document_id,
        message_id=message_id,
        kind=kind,
        subject=produced.built.subject,
        recipient=body.to or produced.built.recipient.email or "",
        known_at=produced.known_at_text,
        pdf_sha256=produced.rendered.pdf_sha256,
        html_sha256=produced.rendered.html_sha256,
    )
