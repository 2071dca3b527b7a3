"""The general ledger over HTTP: the tenant's chart of accounts, the journal of a period, its
numbered exports, and the tie-out.

- ``PUT /v1/tenant/chart-of-accounts``: every ledger account's GL account (code and name); an
  unknown or unmapped ledger account is refused (``unknown_ledger_account``,
  ``unmapped_ledger_account``, 422) with nothing recorded; the chart in force again records
  nothing (``200`` instead of ``201``). Admins set it; ``GET`` (clerks, auditors, admins)
  reads it, as known at a moment if asked (null: none set).
- ``GET /v1/gl/journal?period=2026-03&detail=summary|detailed``: the journal as it would be
  exported now. A read: it records nothing and has no number.
- ``POST /v1/gl/exports`` ``{"period", "detail"}``: records the journal as the tenant's next
  numbered export and answers it (``201``); ``GET /v1/gl/exports`` lists them, newest first;
  ``GET /v1/gl/exports/{number}`` gives export ``number`` again, byte for byte.
- ``GET /v1/gl/tie-out?as_of=2026-03-31``: the AR control account, the aging total and the sum
  of the account balances as of the date, and every account where they differ with the events
  behind it (``projections.tie_out``).

Journals are JSON, or CSV (a header row, then the lines) with ``Accept: text/csv`` or
``format=csv``; the CSV's SHA-256 is the ``lines_sha256`` an export records (also in the
``X-Lines-SHA256`` header). Amounts are decimal strings of their currency. Auditors and
reporters read and export journals; the tie-out is a report like the others (clerks, auditors,
reporters). See ``services.general_ledger`` for what is refused.
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoints' annotations.

from datetime import date, datetime
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from domain.general_ledger import DETAILS, SUMMARY, ChartOfAccounts, check_chart_of_accounts
from domain.ledger import LEDGER_ACCOUNTS
from domain.money import from_minor_units
from projections.database import Database
from projections.runner import tracked_positions
from projections.tie_out import TIE_OUT_MODELS, Figures
from services.api.accounts import AsKnownAt
from services.api.common import IdempotencyKey
from services.api.openapi import refusals, unchanged
from services.api.reports import _moment
from services.api.security import (
    AdminDep,
    GlExporterDep,
    ReportReaderDep,
    SettingsReaderDep,
)
from services.api.tenant import _meta, settings
from services.app import Receivables
from services.errors import ConcurrentUpdate
from services.fields import STRICT, AmountOut
from services.general_ledger import (
    ExportsBusy,
    GeneralLedger,
    GlExportChanged,
    GlExportNotFound,
    Journal,
    NoChartOfAccounts,
    ReadModelsBehind,
    export_out,
    tie_out,
)

chart_router = APIRouter(prefix="/v1/tenant", tags=["tenant settings"])
router = APIRouter(prefix="/v1/gl", tags=["general ledger"])

CSV: Final = "text/csv"
Detail = Literal["summary", "detailed"]
assert set(DETAILS) == {"summary", "detailed"}
JournalFormat = Annotated[
    Literal["json", "csv"] | None,
    Query(alias="format", description="json (default) or csv; Accept: text/csv gives CSV too."),
]
PeriodQuery = Annotated[
    str,
    Query(min_length=1, max_length=16, description="The month, YYYY-MM.", examples=["2026-03"]),
]
_BEHIND = ReadModelsBehind(["3d3e1c7e-8450-5c52-a995-6b022a911f6b"])
_CHANGED = GlExportChanged(7, "its lines no longer hash to what was exported")
_JOURNAL_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    200: {
        "description": "The journal: JSON, or CSV with a header row.",
        "content": {"application/json": {}, CSV: {"schema": {"type": "string"}}},
    }
}


# --- the chart of accounts ----------------------------------------------------------------------


class GlAccountIn(BaseModel):
    model_config = STRICT
    code: str = Field(description="The GL account's code: 1 to 32 letters, digits, . - _ /.")
    name: str = Field(description="The GL account's name.")


class ChartOfAccountsIn(BaseModel):
    model_config = STRICT
    accounts: dict[str, GlAccountIn] = Field(
        max_length=len(LEDGER_ACCOUNTS) + 8,
        description=f"Every ledger account ({', '.join(LEDGER_ACCOUNTS)}) to its GL account.",
    )


class ChartOfAccountsOut(BaseModel):
    accounts: dict[str, GlAccountIn]
    ar_control_accounts: list[str] = Field(
        description="The GL accounts of receivables and unapplied credit: the AR control account."
    )


def _chart_out(chart: ChartOfAccounts) -> ChartOfAccountsOut:
    return ChartOfAccountsOut(
        accounts={m.ledger_account: GlAccountIn(code=m.code, name=m.name) for m in chart.mappings},
        ar_control_accounts=list(chart.ar_control_codes),
    )


@chart_router.put(
    "/chart-of-accounts",
    status_code=201,
    summary="Map every ledger account to a GL account of your general ledger",
    response_model=ChartOfAccountsOut,
    responses=unchanged(ChartOfAccountsOut, "The same chart as in force: nothing new recorded.")
    | refusals(ConcurrentUpdate("tenant acme")),
)
def put_chart_of_accounts(
    body: ChartOfAccountsIn, request: Request, response: Response, caller: AdminDep
) -> ChartOfAccountsOut:
    chart = check_chart_of_accounts(
        {name: (account.code, account.name) for name, account in body.accounts.items()}
    )
    recorded = settings(request).set_chart_of_accounts(
        caller.tenant_id, chart, _meta(request, caller)
    )
    response.status_code = 201 if recorded else 200
    return _chart_out(chart)


@chart_router.get(
    "/chart-of-accounts",
    summary="Your tenant's chart of accounts (null: none set)",
    response_model=ChartOfAccountsOut | None,
)
def get_chart_of_accounts(
    request: Request, caller: SettingsReaderDep, as_known_at: AsKnownAt = None
) -> ChartOfAccountsOut | None:
    known_at = _moment(as_known_at, "as_known_at")
    tenant = settings(request).get(caller.tenant_id, as_known_at=known_at)
    if tenant is None or tenant.chart_of_accounts is None:
        return None
    return _chart_out(tenant.chart_of_accounts)


# --- the journal and its exports ----------------------------------------------------------------


def _general_ledger(request: Request) -> GeneralLedger:
    state: Any = request.app.state
    found = getattr(state, "general_ledger", None)
    if found is None:
        app: Receivables = state.runtime.app
        found = state.general_ledger = GeneralLedger(app)
    assert isinstance(found, GeneralLedger)
    return found


def _wants_csv(request: Request, form: str | None) -> bool:
    if form is not None:
        return form == "csv"
    accepted = request.headers.get("accept", "")
    return any(part.split(";", 1)[0].strip().lower() == CSV for part in accepted.split(","))


def _journal_response(
    journal: Journal, request: Request, form: str | None, status: int = 200
) -> Response:
    headers = {"X-Lines-SHA256": journal.sha256}
    if journal.export is not None:
        headers["X-GL-Export-Number"] = str(journal.export.number)
    if _wants_csv(request, form):
        name = f"gl-{journal.period}-{journal.detail}"
        if journal.export is not None:
            name = f"gl-export-{journal.export.number}-{journal.period}-{journal.detail}"
        headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return Response(
            journal.csv_text().encode("utf-8"),
            status_code=status,
            media_type=f"{CSV}; charset=utf-8",
            headers=headers,
        )
    return JSONResponse(journal.document(), status_code=status, headers=headers)


@router.get(
    "/journal",
    summary="The journal of a period as it would be exported now (records nothing)",
    responses={**_JOURNAL_RESPONSES, **refusals(NoChartOfAccounts("acme"), _BEHIND)},
    response_class=Response,
)
def get_journal(
    request: Request,
    caller: GlExporterDep,
    period: PeriodQuery,
    detail: Annotated[Detail, Query(description="summary or detailed.")] = SUMMARY,
    form: JournalFormat = None,
) -> Response:
    journal = _general_ledger(request).journal(caller.tenant_id, period, detail)
    return _journal_response(journal, request, form)


class ExportIn(BaseModel):
    model_config = STRICT
    period: str = Field(min_length=1, max_length=16, description="The month, YYYY-MM.")
    detail: Detail = Field(SUMMARY, description="summary or detailed.")


class ExportOut(BaseModel):
    number: int
    period: str
    detail: str
    through_position: int = Field(
        description="The last event (position in the store's log) its lines include."
    )
    lines: int
    lines_sha256: str = Field(description="The SHA-256 of its CSV.")
    requested_by: str
    requested_at: datetime


@router.post(
    "/exports",
    status_code=201,
    summary="Export the journal of a period under your tenant's next number",
    responses={
        201: _JOURNAL_RESPONSES[200],
        **refusals(NoChartOfAccounts("acme"), ExportsBusy(), _BEHIND, _CHANGED),
    },
    response_class=Response,
)
def post_export(
    body: ExportIn,
    request: Request,
    caller: GlExporterDep,
    key: IdempotencyKey = None,
    form: JournalFormat = None,
) -> Response:
    journal = _general_ledger(request).export(
        caller.tenant_id, body.period, body.detail, caller.name, idempotency_key=key
    )
    return _journal_response(journal, request, form, status=201)


@router.get(
    "/exports",
    summary="Your tenant's GL exports, newest first",
    response_model=list[ExportOut],
)
def list_exports(request: Request, caller: GlExporterDep) -> list[ExportOut]:
    exports = _general_ledger(request).exports(caller.tenant_id)
    return [ExportOut.model_validate(export_out(export)) for export in exports]


@router.get(
    "/exports/{number}",
    summary="A GL export again: the same lines, byte for byte",
    responses={**_JOURNAL_RESPONSES, **refusals(GlExportNotFound(7), _CHANGED)},
    response_class=Response,
)
def get_export(
    number: Annotated[int, Path(ge=1, le=2**31 - 1)],
    request: Request,
    caller: GlExporterDep,
    form: JournalFormat = None,
) -> Response:
    journal = _general_ledger(request).repeat(caller.tenant_id, number)
    return _journal_response(journal, request, form)


# --- the tie-out --------------------------------------------------------------------------------


class FiguresOut(BaseModel):
    control: AmountOut = Field(
        description="The AR control account: receivables less unapplied credit."
    )
    aging: AmountOut = Field(description="The aging's open total less unapplied credit.")
    not_aged: AmountOut = Field(
        description="Owed on no aged item: charges not yet billed, insurers' shares of claims."
    )
    balances: AmountOut = Field(description="The accounts' balances as of the date.")
    ties_out: bool


class TieOutEvent(BaseModel):
    position: int
    event_type: str
    effective_on: date
    reference: str
    amount: AmountOut


class DifferenceOut(BaseModel):
    account_number: str
    currency: str
    figures: FiguresOut
    events: list[TieOutEvent] = Field(
        description="The events behind the account's balance as of the date, with amounts."
    )


class TieOutOut(BaseModel):
    as_of: date
    as_known_at: datetime | None
    as_of_position: int = Field(
        description="The last event the slowest of the read models read had applied."
    )
    ties_out: bool
    ar_control_accounts: list[str] = Field(
        description="The GL accounts of the control account (empty: no chart of accounts)."
    )
    totals: dict[str, FiguresOut] = Field(description="Per currency.")
    differences: list[DifferenceOut]


def _figures_out(figures: Figures, currency: str) -> FiguresOut:
    return FiguresOut(
        control=from_minor_units(figures.control_minor, currency),
        aging=from_minor_units(figures.aging_minor, currency),
        not_aged=from_minor_units(figures.not_aged_minor, currency),
        balances=from_minor_units(figures.balances_minor, currency),
        ties_out=figures.ties_out,
    )


@router.get(
    "/tie-out",
    summary="Whether the AR control account, the aging and the balances agree as of a date",
    response_model=TieOutOut,
)
def get_tie_out(
    request: Request,
    caller: ReportReaderDep,
    as_of: Annotated[date, Query(description="Business date of the figures.")],
    as_known_at: AsKnownAt = None,
) -> TieOutOut:
    known_at = _moment(as_known_at, "as_known_at")
    db: Database = request.app.state.runtime.db
    positions = tracked_positions(db)
    position = min(positions.get(name, 0) for name in TIE_OUT_MODELS)
    report = tie_out(request.app.state.runtime.app, caller.tenant_id, as_of, known_at)
    tenant = settings(request).get(caller.tenant_id, as_known_at=known_at)
    chart = None if tenant is None else tenant.chart_of_accounts
    return TieOutOut(
        as_of=as_of,
        as_known_at=known_at,
        as_of_position=position,
        ties_out=report.ties_out,
        ar_control_accounts=[] if chart is None else list(chart.ar_control_codes),
        totals={c: _figures_out(f, c) for c, f in report.totals.items()},
        differences=[
            DifferenceOut(
                account_number=d.account_number,
                currency=d.currency,
                figures=_figures_out(d.figures, d.currency),
                events=[
                    TieOutEvent(
                        position=e.position,
                        event_type=e.event_type,
                        effective_on=e.effective_on,
                        reference=e.reference,
                        amount=from_minor_units(e.amount_minor, d.currency),
                    )
                    for e in d.events
                ],
            )
            for d in report.differences
        ],
    )
