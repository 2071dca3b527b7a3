"""Documents sent to the customer: what left the office, how, and its fingerprint.

Concept
    When an invoice, a statement or a letter is e-mailed or put in a print batch, the
    account records ``DocumentSent``: the kind of document, what it is about (an invoice
    number, a plan, an offer; the period of a statement), the business date it was made as
    of, the moment its figures were known at, the channel and recipient, and the SHA-256 of
    the PDF and of the HTML that were sent. An auditor proves what a customer received by
    producing the document again as of the same date and as known at the same moment and
    comparing the hashes; the collections history shows the letter beside the calls.

Invariants
    - A document is recorded once under its id (a run and an account; or the clerk's key):
      recording it again is refused (:class:`~domain.errors.DuplicateCollectionRecord`).
    - Hashes are 64 lower-case hex digits; the channel is ``email`` or ``print``; the kind is
      one of :data:`domain.document_kinds.DOCUMENT_KINDS`.
    - Nothing here moves the balance.
    - The record lives in ``documents_sent``, a class-level empty default replaced (never
      mutated) on the first record, so accounts and snapshots from before it read as
      having sent nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Final

from domain import errors
from domain.account.core import AccountState, Event
from domain.contacts import check_text
from domain.document_kinds import check_kind
from domain.provenance import Provenance

EMAIL_CHANNEL: Final = "email"
PRINT_CHANNEL: Final = "print"
CHANNELS: Final = frozenset({EMAIL_CHANNEL, PRINT_CHANNEL})
_SHA256: Final = re.compile(r"[0-9a-f]{64}")
_MOMENT: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?\+00:00")


@dataclass(frozen=True)
class SentDocument:
    document_id: str
    kind: str
    subject: str
    sent_on: date
    known_at: str
    channel: str
    recipient: str
    pdf_sha256: str
    html_sha256: str


class DocumentSent(Event):
    TOPIC = "receivables.account:DocumentSent"

    document_id: str
    kind: str
    #: What the document is about: an invoice number, a plan or offer id, a period.
    subject: str
    #: The moment (UTC, ISO 8601) whose knowledge the document's figures are.
    known_at: str
    channel: str
    recipient: str
    pdf_sha256: str
    html_sha256: str

    def evolve(self, account: AccountState) -> None:
        sent = dict(SentDocumentCommands.sent_of(account))
        sent[self.document_id] = SentDocument(
            document_id=self.document_id,
            kind=self.kind,
            subject=self.subject,
            sent_on=self.effective_on,
            known_at=self.known_at,
            channel=self.channel,
            recipient=self.recipient,
            pdf_sha256=self.pdf_sha256,
            html_sha256=self.html_sha256,
        )
        account.documents_sent = sent  # type: ignore[attr-defined]


class SentDocumentCommands(AccountState):
    """Recording what was sent."""

    documents_sent: Mapping[str, SentDocument] = MappingProxyType({})

    @staticmethod
    def sent_of(account: AccountState) -> Mapping[str, SentDocument]:
        found: Mapping[str, SentDocument] = getattr(account, "documents_sent", {})
        return found

    def record_document_sent(
        self,
        *,
        document_id: str,
        kind: str,
        subject: str,
        known_at: str,
        channel: str,
        recipient: str,
        pdf_sha256: str,
        html_sha256: str,
        sent_on: date,
        meta: Provenance,
    ) -> None:
        check_text(document_id, "document_id", "The document id", max_length=200)
        check_kind(kind)
        check_text(subject, "subject", "What the document is about", max_length=200, required=False)
        check_text(recipient, "recipient", "The recipient", max_length=400)
        if channel not in CHANNELS:
            raise errors.InvalidDocumentRecord(
                "A document is sent by email or print.", field="channel"
            )
        for name, value in (("pdf_sha256", pdf_sha256), ("html_sha256", html_sha256)):
            if not isinstance(value, str) or not _SHA256.fullmatch(value):
                raise errors.InvalidDocumentRecord(
                    f"The {name} is 64 lower-case hex digits.", field=name
                )
        if not isinstance(known_at, str) or not _MOMENT.fullmatch(known_at):
            raise errors.InvalidDocumentRecord(
                "The moment a document was known at is a UTC ISO 8601 time.", field="known_at"
            )
        if document_id in self.documents_sent:
            raise errors.DuplicateCollectionRecord(
                f"Document {document_id} is already recorded as sent.", field="document_id"
            )
        self._trigger(
            DocumentSent,
            effective_on=sent_on,
            meta=meta,
            document_id=document_id,
            kind=kind,
            subject=subject,
            known_at=known_at,
            channel=channel,
            recipient=recipient,
            pdf_sha256=pdf_sha256,
            html_sha256=html_sha256,
        )
