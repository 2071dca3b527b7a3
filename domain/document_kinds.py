"""The kinds of document the office sends, as every surface and record names them.

Concept
    An invoice, a statement of account, a dunning letter, a payment-plan agreement, a
    settlement offer letter, a promise-to-pay confirmation and a patient statement. Letters
    about one thing the account has name it by a *subject* field (an invoice number, a plan,
    an offer, a promise, a claim); a statement and a dunning letter name none.

Invariants
    - The kind names are stable: they are stored in ``DocumentSent`` events and run records.
    - This module imports nothing of the account, so the account's own events can check a
      kind (see :mod:`domain.account.sent_documents`); what each document says is
      :mod:`domain.documents`.
"""

from __future__ import annotations

from typing import Final

from domain import errors

#: The kinds of document, as the surfaces and the sent-document record name them.
INVOICE_DOCUMENT: Final = "invoice"
STATEMENT_DOCUMENT: Final = "statement"
DUNNING_LETTER: Final = "dunning-letter"
PLAN_AGREEMENT: Final = "plan-agreement"
SETTLEMENT_OFFER: Final = "settlement-offer"
PROMISE_CONFIRMATION: Final = "promise-confirmation"
PATIENT_STATEMENT: Final = "patient-statement"
DOCUMENT_KINDS: Final = (
    INVOICE_DOCUMENT,
    STATEMENT_DOCUMENT,
    DUNNING_LETTER,
    PLAN_AGREEMENT,
    SETTLEMENT_OFFER,
    PROMISE_CONFIRMATION,
    PATIENT_STATEMENT,
)
#: Letters are about one thing the account has; the field that names it.
SUBJECT_FIELD: Final[dict[str, str | None]] = {
    INVOICE_DOCUMENT: "invoice_number",
    STATEMENT_DOCUMENT: None,
    DUNNING_LETTER: None,
    PLAN_AGREEMENT: "plan_id",
    SETTLEMENT_OFFER: "offer_id",
    PROMISE_CONFIRMATION: "promise_id",
    PATIENT_STATEMENT: "claim_id",
}


def check_kind(kind: str) -> str:
    if kind not in DOCUMENT_KINDS:
        raise errors.UnknownDocument(
            f"There is no document kind {kind!r}; the kinds are {', '.join(DOCUMENT_KINDS)}.",
            field="kind",
        )
    return kind
