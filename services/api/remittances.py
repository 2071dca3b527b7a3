"""Payers' remittances (X12 835) over HTTP: post a file, read what it did, work the held claims.

A remittance is one insurer payment with its advice: the claims it pays, denies or reverses,
and the provider-level adjustments taken from the payment or added to it. Posting matches
each claim to an account's claim and posts it there once; a claim that matches none (or
several, or that its account refuses) is *held*, its money kept on the remittance, until a
clerk posts it to an account's claim or refuses it with a reason (``services.remittances``).

- ``POST /v1/remittances``: the body is the file's bytes, sent as ``application/edi-x12``,
  ``text/plain`` or ``application/octet-stream`` (anything else: ``415``). The file is checked
  whole first: a refused one is ``422 remittance_file_refused`` listing every problem (line,
  segment, claim, sentence), and nothing is posted. Otherwise ``201`` with what posting did to
  each remittance in it; ``200`` when each was posted before (``already_posted``): nothing is
  recorded. Another file under a payer and trace number already posted is
  ``409 remittance_trace_reused``.
- ``GET /v1/remittances`` (newest first), ``GET /v1/remittances/{remittance_id}`` (the posting
  report: each claim's outcome and the balance check), ``GET /v1/remittances/held`` (the
  held-claims queue, oldest first), ``GET /v1/remittances/payer-ledger`` (the provider-level
  adjustments, by payer).
- ``POST /v1/remittances/{remittance_id}/claims/{claim_number}/post`` and ``.../refuse``: a
  clerk resolves a held claim. Posting sends the account its command, all or nothing: an
  account that refuses it answers with its own code, and the claim stays held.

Invariants
    - The caller's tenant scopes everything: another tenant's remittance is not found (``404``),
      never forbidden, so its existence is not told.
    - Clerks post files and resolve held claims; clerks and auditors read. The reports name
      patients, so reporters, who read figures only, do not.
    - A file is posted once: the same file sent again answers ``200``, already posted, so a
      retry needs no ``Idempotency-Key``. A held claim is resolved once: resolving it again is
      ``422 remittance_claim_not_held``, the first resolution standing.
    - A body larger than the app's limit, or than a remittance file may be
      (``services.x12_835.MAX_FILE_BYTES``), is ``413`` before it is read.

Amounts are decimal strings in the remittance's currency.
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoints' annotations.

from datetime import date
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, Field

from services.api.common import provenance
from services.api.openapi import refusals, unchanged
from services.api.problems import problem
from services.api.security import ClerkDep, ReaderDep
from services.deposits import Deposits
from services.errors import ServiceError
from services.fields import STRICT, AmountOut, Identifier, ShortText, one_line_if_given
from services.remittances import (
    RemittanceBusy,
    RemittanceClaimCannotBePosted,
    RemittanceNotFound,
    Remittances,
)
from services.x12_835 import MAX_FILE_BYTES, RemittanceFileRefused

router = APIRouter(prefix="/v1/remittances", tags=["remittances"])

#: The media types a remittance file is taken as: X12's own, or plain text or bytes.
FILE_MEDIA_TYPES: Final = ("application/edi-x12", "text/plain", "application/octet-stream")
FILE_REFUSED: Final = "remittance_file_refused"

RemittanceId = Annotated[
    str, Path(description="The remittance's id, as the list and the posting answer give it.")
]
ClaimNumber = Annotated[
    int,
    Path(ge=1, description="The claim's number in the remittance, from 1, as its report shows."),
]


class UnsupportedFileType(ServiceError):
    code = "unsupported_media_type"
    status = 415

    def __init__(self, media_type: str) -> None:
        sent = f"Content-Type {media_type[:100]}" if media_type else "no Content-Type"
        super().__init__(
            f"A remittance file is sent as {', '.join(FILE_MEDIA_TYPES)}; this request has "
            f"{sent}. Nothing was posted.",
            field="Content-Type",
        )


class RemittanceFileTooLarge(ServiceError):
    code = "body_too_large"
    status = 413

    def __init__(self, size: int) -> None:
        super().__init__(
            f"The file is {size:,} bytes; a remittance file is at most {MAX_FILE_BYTES:,}. "
            "Nothing was posted."
        )


async def remittance_file(request: Request) -> bytes:
    """The request's body as a remittance file: refused before it is read when its media type
    is not a file's, and before it is posted when it is larger than a file may be."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in FILE_MEDIA_TYPES:
        raise UnsupportedFileType(media_type)
    data = await request.body()
    if len(data) > MAX_FILE_BYTES:
        raise RemittanceFileTooLarge(len(data))
    return data


RemittanceFileBody = Annotated[bytes, Depends(remittance_file)]

# The body is read as bytes, not as a model: the schema is declared for the documentation.
_FILE_BODY: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "description": "The payer's X12 835 (005010X221A1) file, as received.",
        "content": {
            media_type: {"schema": {"type": "string", "format": "binary"}}
            for media_type in FILE_MEDIA_TYPES
        },
    }
}


def remittance_posting(request: Request) -> Remittances:
    """The application's remittance posting: one per app, whose clock tests may replace."""
    state: Any = request.app.state
    posting = getattr(state, "remittances", None)
    if posting is None:
        posting = state.remittances = Remittances(state.runtime)
    assert isinstance(posting, Remittances)
    return posting


# --- answers ----------------------------------------------------------------------------------


class ProviderAdjustmentOut(BaseModel):
    provider_id: str
    fiscal_period_end: date
    reason_code: str = Field(description="PLB03-1, e.g. WO (overpayment recovery), L6, FB.")
    reason: str
    reference: str = Field(description="PLB03-2: what it concerns (a claim, an earlier PLB).")
    amount: AmountOut = Field(description="Positive: taken from the payment; negative: added.")


class PostedRemittanceOut(BaseModel):
    """What posting a file did to one remittance in it."""

    remittance_id: str
    payer_name: str
    payer_id: str
    trace_number: str
    currency: str
    payment: AmountOut = Field(description="BPR02: the money the payer sent.")
    effective_on: date
    already_posted: bool = Field(description="True: posted before; nothing was recorded now.")
    claims: int
    posted: int = Field(description="Claims paid (or adjudicated) and posted to an account.")
    denied: int
    reversed: int
    held: int
    refused: int = Field(description="Held claims a clerk has refused since.")
    replayed: int = Field(description="Claims an interrupted posting had already sent.")
    matched_by: dict[str, int] = Field(
        description="Claims posted, by what matched them: patient_control_number, "
        "payer_claim_number, patient_and_service_dates, or clerk."
    )
    claims_paid: AmountOut
    provider_adjusted: AmountOut
    held_amount: AmountOut = Field(description="The money of the claims held, unapplied.")
    ties_to_payment: bool = Field(description="Claims paid less provider adjustments = payment.")
    provider_adjustments: list[ProviderAdjustmentOut]
    notes: list[str] = Field(description="What the file's check noted without refusing it.")


class PostedFileResponse(BaseModel):
    remittances: list[PostedRemittanceOut] = Field(description="One per remittance in the file.")


class RemittanceSummaryOut(BaseModel):
    remittance_id: str
    payer_id: str
    payer_name: str
    trace_number: str
    currency: str
    payment: AmountOut
    method: str
    effective_on: date
    received_on: date
    claims: int
    posted: int
    held: int
    refused: int
    held_amount: AmountOut
    provider_adjusted: AmountOut
    completed: bool = Field(description="False: a posting stopped half-way; send the file again.")


class RemittancesResponse(BaseModel):
    remittances: list[RemittanceSummaryOut] = Field(description="Newest received first.")


class ClaimAdjustmentOut(BaseModel):
    group: str
    reason_code: str
    amount: AmountOut


class RemittedClaimOut(BaseModel):
    claim_number: int
    patient_control_number: str = Field(description="CLP01: our claim id, as billed.")
    payer_claim_number: str
    patient_name: str
    status: str
    status_name: str
    billed: AmountOut
    paid: AmountOut
    patient_responsibility: AmountOut
    adjustments: list[ClaimAdjustmentOut]
    result: Literal["posted", "held", "refused", "pending"]
    account_number: str | None
    claim_id: str | None
    matched_by: str | None
    sentence: str = Field(description="Why it is held, where it went, or who refused it.")


class ClaimCounts(BaseModel):
    claims: int
    posted: int
    held: int
    refused: int


class BalanceCheck(BaseModel):
    claims_paid: AmountOut
    provider_adjusted: AmountOut
    expected_payment: AmountOut
    payment: AmountOut
    balances: bool


class RemittanceReport(BaseModel):
    """The posting report of one remittance."""

    remittance_id: str
    payer_name: str
    payer_id: str
    payee_name: str
    payee_id: str
    trace_number: str
    currency: str
    payment: AmountOut
    method: str
    effective_on: date
    completed: bool
    claims: list[RemittedClaimOut]
    counts: ClaimCounts
    held_amount: AmountOut
    adjustments_by_reason: dict[str, AmountOut] = Field(description="By group-reason: CO-45.")
    provider_adjustments: list[ProviderAdjustmentOut]
    balance: BalanceCheck
    notes: list[str]


class HeldClaimOut(BaseModel):
    remittance_id: str
    claim_number: int
    trace_number: str
    payer_name: str
    effective_on: date
    patient_control_number: str
    payer_claim_number: str
    patient_name: str
    status: str
    currency: str
    billed: AmountOut
    paid: AmountOut
    result: Literal["held"]
    sentence: str = Field(description="Why it is held.")


class HeldClaimsResponse(BaseModel):
    claims: list[HeldClaimOut] = Field(description="Oldest remittance first.")


class PayerLedgerLine(BaseModel):
    payer_id: str
    payer_name: str
    remittance_id: str
    trace_number: str
    effective_on: date
    provider_id: str
    reason_code: str
    reason: str
    reference: str
    currency: str
    amount: AmountOut
    forwarding_balance: AmountOut = Field(
        description="The payer's FB lines so far: withheld now (positive), repaid later."
    )


class PayerLedgerResponse(BaseModel):
    lines: list[PayerLedgerLine] = Field(description="By payer, then effective date.")


class PostHeldClaimRequest(BaseModel):
    """The account's claim the held claim's money is for."""

    model_config = STRICT

    account_number: Identifier
    claim_id: Identifier


class RefuseHeldClaimRequest(BaseModel):
    model_config = STRICT

    reason: ShortText = Field(description="Why: the payer's money is the payer's to take back.")


def refused_file(refused: RemittanceFileRefused) -> JSONResponse:
    return problem(
        422,
        FILE_REFUSED,
        str(refused),
        "file",
        problems=[
            {
                "line": p.line,
                "segment": p.segment,
                "claim": getattr(p, "claim", None),
                "sentence": p.sentence,
            }
            for p in refused.problems
        ],
    )


# --- posting a file ---------------------------------------------------------------------------

_REMITTANCE_ID = "5f0c2a4e-8b1d-5c3a-9e7f-1a2b3c4d5e6f"
_HELD_CLAIM_REFUSALS = refusals(
    RemittanceNotFound(_REMITTANCE_ID),
    RemittanceBusy("TRC-1"),
    RemittanceClaimCannotBePosted(2, "it is not held"),
)


@router.post(
    "",
    status_code=201,
    summary="Post a payer's remittance file (X12 835)",
    response_model=PostedFileResponse,
    openapi_extra=_FILE_BODY,
    responses=unchanged(
        PostedFileResponse, "Every remittance of the file was posted before: nothing new."
    )
    | refusals(
        UnsupportedFileType("application/json"),
        RemittanceFileTooLarge(MAX_FILE_BYTES + 1),
        RemittanceBusy("TRC-1"),
    ),
)
def post_remittance_file(
    request: Request, response: Response, caller: ClerkDep, file: RemittanceFileBody
) -> PostedFileResponse | JSONResponse:
    try:
        reports = remittance_posting(request).import_file(
            file, tenant_id=caller.tenant_id, meta=provenance(request, caller)
        )
    except RemittanceFileRefused as refused:
        return refused_file(refused)
    response.status_code = 200 if all(r.already_posted for r in reports) else 201
    return PostedFileResponse.model_validate({"remittances": [r.as_dict() for r in reports]})


# --- reading ----------------------------------------------------------------------------------
# The fixed paths come before ``/{remittance_id}``, which would take them as ids.


@router.get(
    "",
    summary="Your tenant's remittances, newest first",
)
def list_remittances(
    request: Request,
    caller: ReaderDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> RemittancesResponse:
    rows = remittance_posting(request).listing(caller.tenant_id, limit)
    return RemittancesResponse.model_validate({"remittances": rows})


def deposits_of(request: Request) -> Deposits:
    """The bank deposit lines of the application's store."""
    return Deposits(request.app.state.runtime)


class BankLinesRefused(ServiceError):
    code = "bank_lines_refused"
    status = 422


async def bank_lines(request: Request) -> str:
    """The request's body as the bank's deposit lines: CSV text, UTF-8."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in ("text/csv", "text/plain"):
        raise UnsupportedFileType(media_type)
    try:
        return (await request.body()).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BankLinesRefused("The bank lines are not UTF-8 text; nothing was imported.") from None


BankLinesBody = Annotated[str, Depends(bank_lines)]
_CSV_BODY: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "description": "The bank's deposit lines: a CSV whose header names date and amount, "
        "and may name trace, description and currency.",
        "content": {t: {"schema": {"type": "string"}} for t in ("text/csv", "text/plain")},
    }
}


class ImportedLinesResponse(BaseModel):
    lines: int
    new: int
    already_imported: int


@router.post(
    "/deposits",
    status_code=201,
    summary="Import the bank's deposit lines (CSV), to reconcile with the remittances",
    response_model=ImportedLinesResponse,
    openapi_extra=_CSV_BODY,
    responses=unchanged(ImportedLinesResponse, "Every line was imported before: nothing new.")
    | refusals(UnsupportedFileType("application/json")),
)
def post_bank_lines(
    request: Request, response: Response, caller: ClerkDep, text: BankLinesBody
) -> ImportedLinesResponse | JSONResponse:
    from services.deposits import BankLinesInvalid

    try:
        imported = deposits_of(request).import_lines(
            text, tenant_id=caller.tenant_id, imported_on=remittance_posting(request).today()
        )
    except BankLinesInvalid as invalid:
        return problem(422, "bank_lines_refused", str(invalid), problems=list(invalid.problems))
    response.status_code = 201 if imported.new else 200
    return ImportedLinesResponse(
        lines=imported.lines, new=imported.new, already_imported=imported.already_imported
    )


@router.get(
    "/reconciliation",
    summary="Each remittance beside the bank deposit that paid it",
)
def get_reconciliation(request: Request, caller: ReaderDep) -> dict[str, Any]:
    return deposits_of(request).reconciliation(caller.tenant_id)


@router.get(
    "/held",
    summary="The held claims: paid by a payer, matched to no account's claim yet",
)
def list_held_claims(
    request: Request,
    caller: ReaderDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> HeldClaimsResponse:
    rows = remittance_posting(request).held_claims(caller.tenant_id, limit)
    return HeldClaimsResponse.model_validate({"claims": rows})


@router.get(
    "/payer-ledger",
    summary="The payers' provider-level adjustments (PLB), with each forwarding balance",
)
def get_payer_ledger(
    request: Request,
    caller: ReaderDep,
    payer_id: Annotated[
        str | None,
        Query(min_length=1, max_length=80, description="One payer only, by its id."),
        AfterValidator(one_line_if_given),
    ] = None,
) -> PayerLedgerResponse:
    lines = remittance_posting(request).payer_ledger(caller.tenant_id, payer_id)
    return PayerLedgerResponse.model_validate({"lines": lines})


@router.get(
    "/{remittance_id}",
    summary="What posting a remittance did: each claim's outcome and the balance check",
    responses=refusals(RemittanceNotFound(_REMITTANCE_ID)),
)
def get_remittance(
    remittance_id: RemittanceId, request: Request, caller: ReaderDep
) -> RemittanceReport:
    posting = remittance_posting(request)
    report = posting.describe(posting.get(caller.tenant_id, remittance_id))
    return RemittanceReport.model_validate(report)


# --- working the held claims ------------------------------------------------------------------


@router.post(
    "/{remittance_id}/claims/{claim_number}/post",
    summary="Post a held claim to an account's claim",
    responses=_HELD_CLAIM_REFUSALS,
)
def post_held_claim(
    remittance_id: RemittanceId,
    claim_number: ClaimNumber,
    body: PostHeldClaimRequest,
    request: Request,
    caller: ClerkDep,
) -> RemittanceReport:
    report = remittance_posting(request).post_held(
        tenant_id=caller.tenant_id,
        remittance_id=remittance_id,
        claim_number=claim_number,
        account_number=body.account_number,
        claim_id=body.claim_id,
        meta=provenance(request, caller),
    )
    return RemittanceReport.model_validate(report)


@router.post(
    "/{remittance_id}/claims/{claim_number}/refuse",
    summary="Refuse a held claim with a reason: its money is the payer's to take back",
    responses=_HELD_CLAIM_REFUSALS,
)
def refuse_held_claim(
    remittance_id: RemittanceId,
    claim_number: ClaimNumber,
    body: RefuseHeldClaimRequest,
    request: Request,
    caller: ClerkDep,
) -> RemittanceReport:
    report = remittance_posting(request).refuse_held(
        tenant_id=caller.tenant_id,
        remittance_id=remittance_id,
        claim_number=claim_number,
        reason=body.reason,
        meta=provenance(request, caller),
    )
    return RemittanceReport.model_validate(report)
