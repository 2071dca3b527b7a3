"""Document runs over HTTP: a statement for every account of the caller's tenant, and what
each run (statements, or the dunning letters a close of day sent) did.

- ``POST /v1/statement-runs`` ``{as_of, from?, open_items_only?, delivery?}``: the run of
  statements as of ``as_of`` (a business date, not after the tenant's today: else ``422
  statement_date_in_future``) for the period from ``from`` (default: the first of the month),
  each delivered by the account's preferred channel (``auto``), all by ``email``, all to the
  ``print`` batch, or ``none`` (produced only). ``201`` with the run's summary when the run is
  new; ``200`` when the same was asked before: the run is the same (its id is derived from what
  was asked), it is resumed, and what it did already is not done again.
- ``GET /v1/statement-runs`` (newest first), ``GET .../{run_id}`` (the summary), ``GET
  .../{run_id}/items?status=`` (each account's item: status, channel, recipient, document id,
  hashes, pages, and a failure's code and sentence), ``POST .../{run_id}/resume`` (retry what
  failed or was left undone), ``GET .../{run_id}/print.pdf`` (the print batch: a cover list,
  then each printed document in account order; ``409 nothing_to_print`` when none was printed).
- ``/v1/document-runs/...``: the same, for every kind of run (the summary names its kind);
  its list takes ``?kind=``.

A run of another tenant is unknown here (``404 unknown_document_run``); a run being worked
elsewhere is ``409 document_run_busy``. Clerks and admins start and resume runs; clerks,
auditors and admins read them.
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoints' annotations.

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field, Strict

from domain import documents as content
from services.api.openapi import refusals, unchanged
from services.api.security import SenderDep, SettingsReaderDep
from services.api.tenant import settings as tenant_settings
from services.documents.runs import (
    DocumentRunBusy,
    DocumentRuns,
    NothingToPrint,
    RunItem,
    RunSummary,
    UnknownDocumentRun,
)
from services.documents.service import Documents
from services.fields import STRICT, BusinessDate

router = APIRouter(tags=["document runs"])

STATEMENTS = "/v1/statement-runs"
RUNS = "/v1/document-runs"
_RUN_ID = "0b7a3c52-1f0e-5d2a-9c4b-6e8f1a2d3c4b"
#: A run id that is not one of the tenant's runs.
_UNKNOWN_RUN = refusals(UnknownDocumentRun(_RUN_ID))

RunId = Annotated[str, Path(max_length=100, description="The run's id, as its summary gives it.")]
Delivery = Literal["auto", "email", "print", "none"]
ItemStatus = Literal["pending", "sent", "done", "skipped", "failed"]
PDF_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {}}, "description": "The print batch, one PDF."}
}


class StatementRunIn(BaseModel):
    model_config = STRICT
    as_of: BusinessDate = Field(description="The business date the statements are as of.")
    period_from: BusinessDate | None = Field(
        None, alias="from", description="The period's first day (default: the 1st of the month)."
    )
    open_items_only: Annotated[bool, Strict()] = Field(
        False, description="List only what is open, not the period's activity."
    )
    delivery: Delivery = Field(
        "auto",
        description="auto: each account's preferred channel (e-mail when it prefers it and the"
        " tenant can send it, else print); email, print: all so; none: produce only.",
    )


class FailureOut(BaseModel):
    account_number: str
    code: str | None
    sentence: str | None


class RunSummaryOut(BaseModel):
    run_id: str
    kind: str = Field(description="statement, or dunning-letter (the letters of a close of day).")
    as_of: date
    period_from: date | None
    open_items_only: bool
    delivery: str
    known_at: str = Field(description="The moment whose knowledge every document states.")
    started_by: str
    started_at: str
    finished_at: str | None = Field(description="The end of the latest pass (null: running).")
    accounts: int
    done: int
    skipped: int
    failed: int
    pending: int
    sent: int = Field(description="E-mailed, not yet recorded on the account (resume does it).")
    emailed: int
    printed: int
    failures: list[FailureOut]


class RunItemOut(BaseModel):
    account_number: str
    status: str
    channel: str | None
    recipient: str | None
    document_id: str
    pdf_sha256: str | None
    html_sha256: str | None
    pages: int | None
    code: str | None
    sentence: str | None


def document_runs(request: Request) -> DocumentRuns:
    """The application's document runs (one per app; a test may set its own)."""
    state: Any = request.app.state
    runs = getattr(state, "document_runs", None)
    if runs is None:
        tenants = tenant_settings(request)
        runs = state.document_runs = DocumentRuns(
            state.runtime, Documents(state.runtime.app, tenants)
        )
    assert isinstance(runs, DocumentRuns)
    return runs


def _summary_out(summary: RunSummary) -> RunSummaryOut:
    return RunSummaryOut.model_validate(summary.as_json())


def _item_out(item: RunItem) -> RunItemOut:
    return RunItemOut.model_validate(item.as_json())


def _summary(runs: DocumentRuns, tenant_id: str, run_id: str) -> RunSummary:
    summary = runs.summary(tenant_id, run_id)
    if summary is None:
        raise UnknownDocumentRun(run_id)
    return summary


@router.post(
    STATEMENTS,
    status_code=201,
    summary="A statement for every account of your tenant (resumed if asked before)",
    response_model=RunSummaryOut,
    responses={
        **unchanged(RunSummaryOut, "The run was asked for before: the same run, resumed."),
        **refusals(DocumentRunBusy(_RUN_ID)),
    },
)
def start_statement_run(
    body: StatementRunIn, request: Request, response: Response, caller: SenderDep
) -> RunSummaryOut:
    runs = document_runs(request)
    summary = runs.statement_run(
        caller.tenant_id,
        body.as_of,
        started_by=caller.name,
        period_from=body.period_from,
        open_items_only=body.open_items_only,
        delivery=body.delivery,
    )
    response.status_code = 200 if summary.asked_before else 201
    return _summary_out(summary)


Limit = Annotated[int, Query(ge=1, le=500, description="At most this many runs.")]


@router.get(STATEMENTS, summary="Your tenant's statement runs, newest first")
def list_statement_runs(
    request: Request, caller: SettingsReaderDep, limit: Limit = 50
) -> list[RunSummaryOut]:
    found = document_runs(request).runs(caller.tenant_id, limit, content.STATEMENT_DOCUMENT)
    return [_summary_out(summary) for summary in found]


@router.get(RUNS, summary="Your tenant's document runs of every kind, newest first")
def list_document_runs(
    request: Request,
    caller: SettingsReaderDep,
    limit: Limit = 50,
    kind: Annotated[
        Literal["statement", "dunning-letter"] | None, Query(description="Only runs of a kind.")
    ] = None,
) -> list[RunSummaryOut]:
    found = document_runs(request).runs(caller.tenant_id, limit, kind)
    return [_summary_out(summary) for summary in found]


@router.get(
    STATEMENTS + "/{run_id}",
    summary="What a statement run did",
    name="get_statement_run",
    responses=_UNKNOWN_RUN,
)
@router.get(
    RUNS + "/{run_id}",
    summary="What a document run did",
    name="get_document_run",
    responses=_UNKNOWN_RUN,
)
def get_run(run_id: RunId, request: Request, caller: SettingsReaderDep) -> RunSummaryOut:
    return _summary_out(_summary(document_runs(request), caller.tenant_id, run_id))


@router.get(
    STATEMENTS + "/{run_id}/items",
    summary="Each account's document in a statement run",
    name="get_statement_run_items",
    responses=_UNKNOWN_RUN,
)
@router.get(
    RUNS + "/{run_id}/items",
    summary="Each account's document in a document run",
    name="get_document_run_items",
    responses=_UNKNOWN_RUN,
)
def get_run_items(
    run_id: RunId,
    request: Request,
    caller: SettingsReaderDep,
    status: Annotated[ItemStatus | None, Query(description="Only items in this state.")] = None,
) -> list[RunItemOut]:
    items = document_runs(request).items(caller.tenant_id, run_id, status)
    return [_item_out(item) for item in items]


@router.post(
    STATEMENTS + "/{run_id}/resume",
    summary="Finish a statement run",
    name="resume_statement_run",
    responses={**_UNKNOWN_RUN, **refusals(DocumentRunBusy(_RUN_ID))},
)
@router.post(
    RUNS + "/{run_id}/resume",
    summary="Finish a document run",
    name="resume_document_run",
    responses={**_UNKNOWN_RUN, **refusals(DocumentRunBusy(_RUN_ID))},
)
def resume_run(run_id: RunId, request: Request, caller: SenderDep) -> RunSummaryOut:
    summary = document_runs(request).resume(caller.tenant_id, run_id, started_by=caller.name)
    return _summary_out(summary)


@router.get(
    STATEMENTS + "/{run_id}/print.pdf",
    summary="A statement run's print batch (PDF)",
    name="get_statement_run_print_batch",
    response_class=Response,
    responses={**PDF_RESPONSE, **_UNKNOWN_RUN, **refusals(NothingToPrint(_RUN_ID))},
)
@router.get(
    RUNS + "/{run_id}/print.pdf",
    summary="A document run's print batch (PDF)",
    name="get_document_run_print_batch",
    response_class=Response,
    responses={**PDF_RESPONSE, **_UNKNOWN_RUN, **refusals(NothingToPrint(_RUN_ID))},
)
def get_print_batch(run_id: RunId, request: Request, caller: SettingsReaderDep) -> Response:
    runs = document_runs(request)
    summary = _summary(runs, caller.tenant_id, run_id)
    pdf = runs.print_batch(caller.tenant_id, summary.run_id)
    filename = f"{summary.kind}-run-{summary.as_of.isoformat()}-{summary.run_id}.pdf"
    return Response(
        content=pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
