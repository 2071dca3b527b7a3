"""Reports over HTTP, read from the read models: aging, trial balance, statement, audit trail,
the collections worklist, the events behind a figure; and how far behind the event store each
read model is.

The reports are the ones ``ar report`` and ``ar explain`` print (``projections.reports``,
``projections.collections``, ``projections.explain``), for the caller's tenant, as of a business
date and as known at a recording time; reporters, clerks and auditors read them. The API never
brings the read models up to date itself (``ar serve`` or ``ar project`` run the projector), so
every report says which event it reflects: ``as_of_position``, the place in the store's log its
read models had reached when it was read (at least; the projector may have moved on while it was
read). ``GET /v1/projections`` says how far each read model is behind the newest event.
Amounts are decimal strings in the currency beside them.

The reports that can be large (the aging, the worklist, the audit trail) come a page at a time:
``limit`` rows (bounded, with a default) after ``cursor``, the ``next_cursor`` of the previous
page (``projections.cursors``: opaque, keyset, tied to the report and its filters; another is
refused with ``invalid_cursor``). Each of them, and the trial balance, is JSON, or CSV with
``Accept: text/csv`` or ``format=csv`` (as the general ledger's journals): a header row in a
stable column order, amounts as decimal strings with the currency in its own column, paged as
the JSON is, the next page's address in a ``Link: <...>; rel="next"`` header (on JSON too).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Annotated, Any, Final, Literal, cast

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from domain.aging import bucket_labels, parse_limits
from domain.dunning import MAX_LEVELS
from domain.money import from_minor_units
from projections.audit_trail import AuditQuery, AuditRow, AuditTrail, audit_trail_page, event_types
from projections.balances import AccountBalances
from projections.catalogue import read_models
from projections.collections import (
    DEFAULT_SORT,
    MAX_LIMIT,
    SORTS,
    UNASSIGNED,
    Collections,
    HistoryItem,
    WorklistQuery,
    WorklistRow,
    worklist_page,
)
from projections.cursors import CURSOR_MAX_LENGTH, INVALID_CURSOR, InvalidCursor
from projections.database import Database, stored_moment
from projections.explain import FIGURES, ExplanationLine, explain
from projections.ledger import Ledger
from projections.open_items import OpenItems
from projections.parking import parked_accounts
from projections.reports import AgingQuery, AgingRow, aging_page, statement, trial_balance
from projections.runner import read_model_progress, tracked_positions
from services.api.accounts import AsKnownAt
from services.api.common import AccountNumber
from services.api.security import CallerDep, ReportReaderDep
from services.api.tenant import settings
from services.api_keys import Role
from services.errors import (
    AccountNotFound,
    InvalidRange,
    MomentOutOfRange,
    ServiceError,
    UnknownEventType,
)
from services.fields import IDENTIFIER_MAX_LENGTH, IDENTIFIER_PATTERN, AmountOut, Currency
from services.relay_positions import relay_position
from services.views import as_utc

router = APIRouter(prefix="/v1", tags=["reports"])

_EVENT_TYPES = event_types()
_MAX_POSITION = 2**53  # positions stay exact as JSON numbers
CSV: Final = "text/csv"
#: Rows per page of the aging and of the audit trail: by default, and at most.
DEFAULT_PAGE_SIZE: Final = 100
MAX_PAGE_SIZE: Final = 1000

AsOfPosition = Annotated[
    int,
    Field(
        description="The last event (position in the store's log) the report's read models had "
        "applied when it was read: the report reflects at least every event up to it."
    ),
]
AccountFilter = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="One account only, by number.",
    ),
]


ReportFormat = Annotated[
    Literal["json", "csv"] | None,
    Query(alias="format", description="json (default) or csv; Accept: text/csv gives CSV too."),
]
PageCursor = Annotated[
    str | None,
    Query(
        max_length=CURSOR_MAX_LENGTH,
        description="The next_cursor of the previous page, with the same date, filters and sort.",
    ),
]


class InvalidReportCursor(ServiceError):
    """A cursor another report, or another listing of this one, gave; or none at all."""

    code = INVALID_CURSOR
    status = 422


@contextmanager
def _cursor_refused() -> Iterator[None]:
    """A read model's refusal of a cursor, as the API's problem of the same code."""
    try:
        yield
    except InvalidCursor as refused:
        raise InvalidReportCursor(str(refused), field=refused.field) from None


def _report_responses(csv_example: str, *, paged: bool = True) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI of a report's 200: JSON (the response model), or CSV; and, when it is
    paged, the next page's address."""
    answer: dict[str, Any] = {
        "description": "The report as JSON, or as CSV (a header row, then the rows) with "
        "Accept: text/csv or format=csv.",
        "content": {CSV: {"schema": {"type": "string"}, "example": csv_example}},
    }
    if paged:
        answer["headers"] = {
            "Link": {
                "description": 'The next page: <URL>; rel="next" (the same request with the '
                "next_cursor as cursor); absent on the last page.",
                "schema": {"type": "string"},
            }
        }
    return {200: answer}


def _wants_csv(request: Request, form: str | None) -> bool:
    """CSV when ``format=csv``, or when the client accepts text/csv and does not prefer JSON."""
    if form is not None:
        return form == "csv"
    quality: dict[str, float] = {}
    for part in request.headers.get("accept", "").split(","):
        media_type, *parameters = (piece.strip() for piece in part.split(";"))
        q = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        quality[media_type.lower()] = max(q, quality.get(media_type.lower(), 0.0))
    return quality.get(CSV, 0.0) > 0 and quality[CSV] >= quality.get("application/json", 0.0)


def _next_link(request: Request, response: Response, next_cursor: str | None) -> None:
    if next_cursor is not None:
        url = request.url.include_query_params(cursor=next_cursor)
        response.headers["Link"] = f'<{url}>; rel="next"'


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _csv(
    request: Request,
    name: str,
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    next_cursor: str | None = None,
) -> Response:
    """A CSV answer: ``header``, then ``rows`` (values as the JSON gives them; None is "",
    booleans true and false), as a download named ``name``.csv."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([_cell(v) for v in row] for row in rows)
    response = Response(
        out.getvalue().encode("utf-8"),
        media_type=f"{CSV}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )
    _next_link(request, response, next_cursor)
    return response


def _db(request: Request) -> Database:
    db: Database = request.app.state.runtime.db
    return db


def _position(db: Database, *models: str) -> int:
    """Where the slowest of the models a report reads had reached."""
    positions = tracked_positions(db)
    return min(positions.get(name, 0) for name in models)


def _moment(value: datetime | None, field: str) -> datetime | None:
    """A moment asked for, in UTC; refused when UTC takes it past the calendar's ends."""
    moment = as_utc(value)
    if moment is not None:
        try:
            stored_moment(moment)
        except OverflowError:
            raise MomentOutOfRange(field) from None
    return moment


def _in_order(low: Any, high: Any, low_name: str, high_name: str) -> None:
    if low is not None and high is not None and high < low:
        raise InvalidRange(low_name, high_name)


# --- aging ------------------------------------------------------------------------------------


class AgingLineOut(BaseModel):
    item_number: str
    term: int = Field(description="The term of the item, 1 for the first.")
    issued_on: date
    due_on: date
    days_past_due: int = Field(description="Days past the due date (or invoice date).")
    bucket: str
    open: AmountOut
    disputed: bool


class AgingFigures(BaseModel):
    currency: str
    buckets: dict[str, AmountOut] = Field(description="Open amount per bucket; adds up to open.")
    open: AmountOut
    unapplied_credit: AmountOut = Field(description="Beside the buckets, never netted in.")
    disputed: AmountOut = Field(description="The part of open that is under dispute.")


class AgingRowOut(AgingFigures):
    account_number: str
    lines: list[AgingLineOut] | None = Field(
        description="With detail=true: each open term and why it is in its bucket."
    )


class AgingResponse(BaseModel):
    as_of: date
    as_known_at: datetime | None
    basis: Literal["due", "invoice"]
    bucket_labels: list[str]
    as_of_position: AsOfPosition
    rows: list[AgingRowOut] = Field(description="This page's rows, by account number.")
    totals: list[AgingFigures] = Field(
        description="One per currency, over the whole report (see totals_scope)."
    )
    totals_scope: Literal["report"] = Field(
        description="report: the totals add up every page's rows, not only this page's; "
        "each page carries them."
    )
    next_cursor: str | None = Field(
        description="Pass as cursor, with the same date, filters and options, for the next "
        "page; null on the last page."
    )


def _figures(row: AgingRow) -> dict[str, Any]:
    currency = row.currency
    return {
        "currency": currency,
        "buckets": {label: from_minor_units(v, currency) for label, v in row.buckets.items()},
        "open": from_minor_units(row.open_minor, currency),
        "unapplied_credit": from_minor_units(row.unapplied_credit_minor, currency),
        "disputed": from_minor_units(row.disputed_minor, currency),
    }


def _aging_row(row: AgingRow, detail: bool) -> AgingRowOut:
    lines = [
        AgingLineOut(
            item_number=line.item_number,
            term=line.term_index + 1,
            issued_on=line.issued_on,
            due_on=line.due_on,
            days_past_due=line.days_past_due,
            bucket=line.bucket,
            open=from_minor_units(line.open_minor, line.currency),
            disputed=line.disputed,
        )
        for line in row.lines
    ]
    return AgingRowOut(
        account_number=row.account_number, lines=lines if detail else None, **_figures(row)
    )


_AGING_CSV_EXAMPLE = (
    "account_number,currency,not yet due,1-30,31-60,61-90,over 90,open,unapplied_credit,"
    "disputed\nA-100,USD,0.00,0.00,60.00,0.00,0.00,60.00,0.00,0.00\n"
)
_AGING_FIGURES = ("open", "unapplied_credit", "disputed")
_AGING_LINE_COLUMNS = (
    "account_number",
    "currency",
    "item_number",
    "term",
    "issued_on",
    "due_on",
    "days_past_due",
    "bucket",
    "open",
    "disputed",
)


def _aging_csv(
    request: Request,
    query: AgingQuery,
    rows: list[AgingRowOut],
    next_cursor: str | None,
) -> Response:
    """One row per account and currency; with detail, one per open term instead."""
    name = f"aging-{query.as_of.isoformat()}"
    documents = [row.model_dump(mode="json") for row in rows]
    if query.detail:
        lines = [
            [document["account_number"], document["currency"]]
            + [line[column] for column in _AGING_LINE_COLUMNS[2:]]
            for document in documents
            for line in document["lines"]
        ]
        return _csv(request, f"{name}-detail", _AGING_LINE_COLUMNS, lines, next_cursor)
    labels = bucket_labels(query.buckets)
    header = ["account_number", "currency", *labels, *_AGING_FIGURES]
    cells = [
        [document["account_number"], document["currency"]]
        + [document["buckets"][label] for label in labels]
        + [document[figure] for figure in _AGING_FIGURES]
        for document in documents
    ]
    return _csv(request, name, header, cells, next_cursor)


@router.get(
    "/reports/aging",
    summary="Aging of open items per account, as of a date, a page at a time",
    response_model=AgingResponse,
    responses=_report_responses(_AGING_CSV_EXAMPLE),
)
def get_aging(
    request: Request,
    response: Response,
    caller: ReportReaderDep,
    as_of: Annotated[date, Query(description="Business date the items are aged at.")],
    as_known_at: AsKnownAt = None,
    basis: Annotated[
        Literal["due", "invoice"], Query(description="Age by due date or by invoice date.")
    ] = "due",
    buckets: Annotated[
        str, Query(max_length=200, description="Bucket limits in days, rising: 30,60,90.")
    ] = "30,60,90",
    account: AccountFilter = None,
    detail: Annotated[
        bool,
        Query(description="Add each open term to its row (CSV: one line per open term)."),
    ] = False,
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description="Accounts (rows) on a page at most.")
    ] = DEFAULT_PAGE_SIZE,
    cursor: PageCursor = None,
    form: ReportFormat = None,
) -> AgingResponse | Response:
    bounds = parse_limits(buckets)
    known_at = _moment(as_known_at, "as_known_at")
    db = _db(request)
    position = _position(db, OpenItems.name, Ledger.name, AccountBalances.name)
    query = AgingQuery(
        tenant_id=caller.tenant_id,
        as_of=as_of,
        known_at=known_at,
        basis=basis,
        buckets=bounds,
        account_number=account,
        detail=detail,
    )
    with _cursor_refused():
        page = aging_page(db, query, limit=limit, cursor=cursor)
    rows = [_aging_row(row, detail) for row in page.rows]
    if _wants_csv(request, form):
        return _aging_csv(request, query, rows, page.next_cursor)
    _next_link(request, response, page.next_cursor)
    return AgingResponse(
        as_of=as_of,
        as_known_at=known_at,
        basis=basis,
        bucket_labels=bucket_labels(bounds),
        as_of_position=position,
        rows=rows,
        totals=[AgingFigures(**_figures(total)) for total in page.totals],
        totals_scope="report",
        next_cursor=page.next_cursor,
    )


# --- trial balance ----------------------------------------------------------------------------


class TrialBalanceCurrency(BaseModel):
    currency: str
    balances: dict[str, AmountOut] = Field(
        description="Each ledger account's balance: debits less credits (a credit is negative)."
    )
    total_debits: AmountOut = Field(description="The debit balances added up.")
    total_credits: AmountOut = Field(description="The credit balances added up; equals debits.")


class TrialBalanceResponse(BaseModel):
    as_of: date
    as_known_at: datetime | None
    as_of_position: AsOfPosition
    currencies: list[TrialBalanceCurrency]


_TRIAL_BALANCE_COLUMNS = ("currency", "ledger_account", "balance")


@router.get(
    "/reports/trial-balance",
    summary="Each ledger account's balance as of a date",
    response_model=TrialBalanceResponse,
    responses=_report_responses(
        "currency,ledger_account,balance\nUSD,receivables,60.00\n", paged=False
    ),
)
def get_trial_balance(
    request: Request,
    caller: ReportReaderDep,
    as_of: Annotated[date, Query(description="Business date of the balances.")],
    as_known_at: AsKnownAt = None,
    form: ReportFormat = None,
) -> TrialBalanceResponse | Response:
    # Not paged: a line per ledger account and currency, never per entry (the entries are the
    # general ledger's journal, GET /v1/gl/journal?detail=detailed).
    known_at = _moment(as_known_at, "as_known_at")
    db = _db(request)
    position = _position(db, Ledger.name)
    balances = trial_balance(db, caller.tenant_id, as_of, known_at=known_at)
    if _wants_csv(request, form):
        lines = [
            [currency, ledger_account, from_minor_units(balance, currency)]
            for currency, by_account in sorted(balances.items())
            for ledger_account, balance in by_account.items()
        ]
        return _csv(request, f"trial-balance-{as_of.isoformat()}", _TRIAL_BALANCE_COLUMNS, lines)
    return TrialBalanceResponse(
        as_of=as_of,
        as_known_at=known_at,
        as_of_position=position,
        currencies=[
            TrialBalanceCurrency(
                currency=currency,
                balances={name: from_minor_units(v, currency) for name, v in by_account.items()},
                total_debits=from_minor_units(
                    sum(v for v in by_account.values() if v > 0), currency
                ),
                total_credits=from_minor_units(
                    -sum(v for v in by_account.values() if v < 0), currency
                ),
            )
            for currency, by_account in sorted(balances.items())
        ],
    )


# --- statement --------------------------------------------------------------------------------


class StatementMovement(BaseModel):
    effective_on: date
    event_type: str
    category: str
    reference: str
    amount: AmountOut = Field(description="What it adds to what the customer owes.")
    balance: AmountOut = Field(description="What the customer owes after it.")
    position: int


class StatementResponse(BaseModel):
    account_number: str
    currency: str
    period_from: date
    period_to: date
    as_known_at: datetime | None
    as_of_position: AsOfPosition
    opening_balance: AmountOut
    movements: list[StatementMovement]
    closing_balance: AmountOut


@router.get(
    "/reports/statements/{account_number}",
    summary="An account's statement: opening balance, the period's movements, closing balance",
)
def get_statement(
    account_number: AccountNumber,
    request: Request,
    caller: ReportReaderDep,
    period_from: Annotated[date, Query(alias="from", description="First business date.")],
    period_to: Annotated[date, Query(alias="to", description="Last business date, included.")],
    as_known_at: AsKnownAt = None,
) -> StatementResponse:
    _in_order(period_from, period_to, "from", "to")
    known_at = _moment(as_known_at, "as_known_at")
    db = _db(request)
    position = _position(db, AccountBalances.name, Ledger.name)
    found = statement(
        db, caller.tenant_id, account_number, period_from, period_to, known_at=known_at
    )
    if found is None:
        raise AccountNotFound(account_number)
    currency = found.currency
    running = found.opening_minor
    movements = []
    for m in found.movements:
        running += m["amount_minor"]
        movements.append(
            StatementMovement(
                effective_on=m["effective_on"],
                event_type=m["event_type"],
                category=m["category"],
                reference=m["reference"],
                amount=from_minor_units(m["amount_minor"], currency),
                balance=from_minor_units(running, currency),
                position=m["position"],
            )
        )
    return StatementResponse(
        account_number=found.account_number,
        currency=currency,
        period_from=found.period_from,
        period_to=found.period_to,
        as_known_at=known_at,
        as_of_position=position,
        opening_balance=from_minor_units(found.opening_minor, currency),
        movements=movements,
        closing_balance=from_minor_units(found.closing_minor, currency),
    )


# --- collections worklist ---------------------------------------------------------------------


class LastContactOut(BaseModel):
    on: date = Field(description="Business date of the latest collection activity.")
    channel: str = Field(description="call, letter, email, sms or visit.")
    outcome: str


class OpenPromiseOut(BaseModel):
    amount: AmountOut = Field(description="The amount promised.")
    pay_by: date = Field(description="The date promised; open past it until a sweep breaks it.")


PlanStatus = Literal["current", "missed", "defaulted"]


class HistoryItemOut(BaseModel):
    kind: Literal["activity", "promise"]
    on: date = Field(description="The activity's date, or the date the promise was made.")
    id: str = Field(description="The activity id or the promise id.")
    channel: str | None = Field(description="An activity's channel; null for a promise.")
    outcome: str | None = Field(description="An activity's outcome; null for a promise.")
    amount: AmountOut | None = Field(description="A promise's amount; null for an activity.")
    pay_by: date | None = Field(description="A promise's date; null for an activity.")
    status: Literal["open", "kept", "broken"] | None = Field(
        description="A promise's status as of the date (broken once a close of day passed its "
        "date unpaid); null for an activity."
    )


class WorklistRowOut(BaseModel):
    account: str = Field(description="The account number.")
    name: str = Field(description="The account's current name.")
    currency: str
    overdue: AmountOut = Field(description="Open on undisputed terms past their due date.")
    oldest_days_past_due: int = Field(description="Of the undisputed overdue terms.")
    priority: AmountOut = Field(
        description="Amount-days: each undisputed overdue term's open amount (in major units) "
        "times its days past due, added up; rows are in falling priority within a currency."
    )
    disputed: AmountOut = Field(
        description="Open on overdue terms of disputed invoices; in neither overdue nor priority."
    )
    last_contact: LastContactOut | None = Field(
        description="The latest collection activity by business date; null if none."
    )
    open_promise: OpenPromiseOut | None = Field(
        description="The open promise to pay due first; null if none."
    )
    plan_status: PlanStatus | None = Field(
        description="The gravest of the account's payment plans; null if it has none on the "
        "worklist (completed, credited and written-off plans are not shown)."
    )
    dunning_level: int = Field(description="The highest level escalated to by the date; 0: none.")
    collector: str | None = Field(
        description="The collector the account is assigned to as of the date; null: none."
    )
    next_action_on: date = Field(
        description="The earliest of the open promise's pay-by date, the plan's next unpaid "
        "installment's due date and the date the next level of the tenant's dunning policy "
        "would be reached; never before as_of, and as_of when there is none of them."
    )
    history: list[HistoryItemOut] = Field(
        description="The latest activities and promises (at most 5), latest first."
    )


class WorklistResponse(BaseModel):
    as_of: date
    as_known_at: datetime | None
    currency: str | None = Field(description="The one currency asked for; null for all.")
    collector: str | None = Field(description="The collector asked for; null for all.")
    level: int | None = Field(description="The dunning level asked for; null for all.")
    sort: str
    as_of_position: AsOfPosition
    rows: list[WorklistRowOut] = Field(
        description="In the sort asked for; by default grouped by currency, then highest "
        "priority first; ties go to the oldest days past due, then the account number."
    )
    next_cursor: str | None = Field(
        description="Pass as cursor, with the same date, filters and sort, for the next page; "
        "null on the last page."
    )


def _history_item(item: HistoryItem, currency: str) -> HistoryItemOut:
    return HistoryItemOut(
        kind=cast(Literal["activity", "promise"], item.kind),
        on=item.on,
        id=item.id,
        channel=item.channel,
        outcome=item.outcome,
        amount=None if item.amount_minor is None else from_minor_units(item.amount_minor, currency),
        pay_by=item.pay_by,
        status=cast(Literal["open", "kept", "broken"] | None, item.status),
    )


def _worklist_row(row: WorklistRow, row_as_of: date) -> WorklistRowOut:
    currency = row.currency
    contact = (
        None
        if row.last_contact_on is None
        else LastContactOut(
            on=row.last_contact_on,
            channel=row.last_contact_channel or "",
            outcome=row.last_contact_outcome or "",
        )
    )
    promise = (
        None
        if row.promise_minor is None or row.promise_pay_by is None
        else OpenPromiseOut(
            amount=from_minor_units(row.promise_minor, currency), pay_by=row.promise_pay_by
        )
    )
    return WorklistRowOut(
        account=row.account_number,
        name=row.name,
        currency=currency,
        overdue=from_minor_units(row.overdue_minor, currency),
        oldest_days_past_due=row.oldest_days_past_due,
        priority=row.priority,
        disputed=from_minor_units(row.disputed_minor, currency),
        last_contact=contact,
        open_promise=promise,
        plan_status=cast(PlanStatus | None, row.plan_status),
        dunning_level=row.dunning_level,
        collector=row.collector,
        next_action_on=row.next_action_on or row_as_of,
        history=[_history_item(item, currency) for item in row.history],
    )


#: The worklist's CSV: each column and where it is in a row's JSON (the history is JSON's only).
_WORKLIST_COLUMNS: Final = (
    ("account", ("account",)),
    ("name", ("name",)),
    ("currency", ("currency",)),
    ("overdue", ("overdue",)),
    ("oldest_days_past_due", ("oldest_days_past_due",)),
    ("priority", ("priority",)),
    ("disputed", ("disputed",)),
    ("last_contact_on", ("last_contact", "on")),
    ("last_contact_channel", ("last_contact", "channel")),
    ("last_contact_outcome", ("last_contact", "outcome")),
    ("open_promise_amount", ("open_promise", "amount")),
    ("open_promise_pay_by", ("open_promise", "pay_by")),
    ("plan_status", ("plan_status",)),
    ("dunning_level", ("dunning_level",)),
    ("collector", ("collector",)),
    ("next_action_on", ("next_action_on",)),
)


def _at(document: dict[str, Any], path: tuple[str, ...]) -> Any:
    """The value at ``path`` in a JSON document; None where a part of the way is null."""
    value: Any = document
    for part in path:
        value = None if value is None else value[part]
    return value


def _worklist_csv(
    request: Request, as_of: date, rows: list[WorklistRowOut], next_cursor: str | None
) -> Response:
    documents = [row.model_dump(mode="json") for row in rows]
    return _csv(
        request,
        f"worklist-{as_of.isoformat()}",
        [column for column, _ in _WORKLIST_COLUMNS],
        [[_at(document, path) for _, path in _WORKLIST_COLUMNS] for document in documents],
        next_cursor,
    )


@router.get(
    "/reports/worklist",
    summary="The collections worklist: accounts with undisputed overdue amounts, a page at a time",
    response_model=WorklistResponse,
    responses=_report_responses(
        "account,name,currency,overdue,oldest_days_past_due,priority,disputed,last_contact_on,"
        "last_contact_channel,last_contact_outcome,open_promise_amount,open_promise_pay_by,"
        "plan_status,dunning_level,collector,next_action_on\n"
        "A-100,Ann Example,USD,60.00,54,3240.00,0.00,2026-03-10,call,no answer,,,,1,carol,"
        "2026-03-31\n"
    ),
)
def get_worklist(
    request: Request,
    response: Response,
    caller: ReportReaderDep,
    as_of: Annotated[date, Query(description="Business date the terms are overdue at.")],
    as_known_at: AsKnownAt = None,
    currency: Annotated[
        Currency | None, Query(description="One currency only (ISO 4217, e.g. USD).")
    ] = None,
    collector: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=IDENTIFIER_MAX_LENGTH,
            pattern=IDENTIFIER_PATTERN,
            description=f"The accounts assigned to this collector as of the date; "
            f"{UNASSIGNED!r}: those assigned to none.",
        ),
    ] = None,
    level: Annotated[
        int | None, Query(ge=0, le=MAX_LEVELS, description="One dunning level only; 0: none.")
    ] = None,
    sort: Annotated[
        str,
        Query(
            max_length=20,
            description=f"{', '.join(SORTS)}: priority (the default) groups by currency, highest "
            "first; next_action by the next-action date; account by number.",
        ),
    ] = DEFAULT_SORT,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Rows on a page at most.")] = 50,
    cursor: PageCursor = None,
    form: ReportFormat = None,
) -> WorklistResponse | Response:
    known_at = _moment(as_known_at, "as_known_at")
    query = WorklistQuery(
        tenant_id=caller.tenant_id,
        as_of=as_of,
        known_at=known_at,
        currency=currency,
        collector=collector,
        level=level,
        sort=sort,
        limit=limit,
    )
    tenant = settings(request).get(caller.tenant_id)
    policy = None if tenant is None else tenant.policy_in_force(as_of)
    db = _db(request)
    position = _position(db, OpenItems.name, AccountBalances.name, Collections.name)
    page = worklist_page(db, query, policy=policy, cursor=cursor)
    rows = [_worklist_row(row, as_of) for row in page.rows]
    if _wants_csv(request, form):
        return _worklist_csv(request, as_of, rows, page.next_cursor)
    _next_link(request, response, page.next_cursor)
    return WorklistResponse(
        as_of=as_of,
        as_known_at=known_at,
        currency=currency,
        collector=collector,
        level=level,
        sort=sort,
        as_of_position=position,
        rows=rows,
        next_cursor=page.next_cursor,
    )


# --- explain a figure -------------------------------------------------------------------------


class ExplanationEvent(BaseModel):
    position: int = Field(description="The event's place in the store's log.")
    event_type: str
    effective_on: date = Field(description="Business date.")
    reference: str = Field(description="The item, payment or note it concerns.")
    note: str = Field(description="What it did to the figure, e.g. issued, payment, voided.")
    amount: AmountOut = Field(description="Its part of the figure.")


class ExplanationResponse(BaseModel):
    account: str = Field(description="The account number.")
    currency: str
    figure: str
    as_of: date
    as_known_at: datetime | None
    as_of_position: AsOfPosition
    events: list[ExplanationEvent] = Field(description="Oldest first (by position, or by term).")
    total: AmountOut = Field(description="The events' amounts added up: the figure itself.")


def _explanation_event(line: ExplanationLine, currency: str) -> ExplanationEvent:
    return ExplanationEvent(
        position=line.position,
        event_type=line.event_type,
        effective_on=line.effective_on,
        reference=line.reference,
        note=line.note,
        amount=from_minor_units(line.amount_minor, currency),
    )


@router.get(
    "/reports/explain/{account_number}",
    summary="The events that make up one of an account's figures, summing to it",
)
def get_explanation(
    account_number: AccountNumber,
    request: Request,
    caller: ReportReaderDep,
    figure: Annotated[
        str,
        Query(
            min_length=1,
            max_length=200,
            pattern=r"^[^\x00-\x1f\x7f]+$",
            description=f"One of {', '.join(FIGURES)}; e.g. paid, outstanding:INV-1, "
            "aging:31-60, aging:not yet due.",
        ),
    ],
    as_of: Annotated[date, Query(description="Business date of the figure.")],
    as_known_at: AsKnownAt = None,
    buckets: Annotated[
        str,
        Query(max_length=200, description="Bucket limits in days for aging:<bucket>: 30,60,90."),
    ] = "30,60,90",
    basis: Annotated[
        Literal["due", "invoice"],
        Query(description="For aging:<bucket>: age by due date or by invoice date."),
    ] = "due",
) -> ExplanationResponse:
    bounds = parse_limits(buckets)
    known_at = _moment(as_known_at, "as_known_at")
    db = _db(request)
    position = _position(db, AccountBalances.name, Ledger.name, OpenItems.name, AuditTrail.name)
    # An unknown figure is projections.explain.UnknownFigure: a 422 (services.api.problems).
    found = explain(
        db,
        caller.tenant_id,
        account_number,
        figure,
        as_of,
        known_at=known_at,
        buckets=bounds,
        basis=basis,
    )
    if found is None:
        raise AccountNotFound(account_number)
    currency = found.currency
    return ExplanationResponse(
        account=found.account_number,
        currency=currency,
        figure=found.figure,
        as_of=found.as_of,
        as_known_at=known_at,
        as_of_position=position,
        events=[_explanation_event(line, currency) for line in found.lines],
        total=from_minor_units(found.total_minor, currency),
    )


# --- audit trail ------------------------------------------------------------------------------


class AuditEvent(BaseModel):
    position: int = Field(description="The event's place in the store's log.")
    account_id: str
    account_number: str
    account_version: int
    event_type: str
    effective_on: date = Field(description="Business date.")
    recorded_at: datetime = Field(description="When it was recorded (UTC).")
    actor: str
    reason: str | None
    correlation_id: str
    currency: str
    balance_effect: AmountOut = Field(description="How it moved the account's balance.")
    payload: dict[str, Any] = Field(description="The event's fields, as hashed.")
    previous_hash: str
    event_hash: str


class AuditTrailResponse(BaseModel):
    as_of_position: AsOfPosition
    events: list[AuditEvent]
    next_cursor: str | None = Field(
        description="Pass as cursor, with the same filters, for the next page; null on the "
        "last page."
    )


#: The audit trail's CSV columns: the JSON's fields, in its order; the payload is the
#: canonical JSON that was hashed.
_AUDIT_COLUMNS: Final = tuple(AuditEvent.model_fields)


def _audit_event(row: AuditRow) -> AuditEvent:
    return AuditEvent(
        position=row.position,
        account_id=row.account_id,
        account_number=row.account_number,
        account_version=row.account_version,
        event_type=row.event_type,
        effective_on=row.effective_on,
        recorded_at=row.recorded_at,
        actor=row.actor,
        reason=row.reason,
        correlation_id=row.correlation_id,
        currency=row.currency,
        balance_effect=from_minor_units(row.balance_effect_minor, row.currency),
        payload=json.loads(row.payload),
        previous_hash=row.previous_hash,
        event_hash=row.event_hash,
    )


@router.get(
    "/reports/audit-trail",
    summary="Every event of the tenant's accounts, flattened, oldest first, a page at a time",
    response_model=AuditTrailResponse,
    responses=_report_responses(
        ",".join(_AUDIT_COLUMNS) + "\n"
        "7,3f0c…,A-100,4,PaymentReceived,2026-01-10,2026-01-10T09:30:00Z,clerk-ann,,"
        'req-1,USD,-400.00,"{""amount"":{""amount"":""400.00"",""currency"":""USD""},…}",'
        "9a1e…,c47b…\n"
    ),
)
def get_audit_trail(
    request: Request,
    response: Response,
    caller: ReportReaderDep,
    account: AccountFilter = None,
    actor: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            pattern=r"^[^\x00-\x1f\x7f]+$",
            description="Only the events this key name (or CLI actor) recorded.",
        ),
    ] = None,
    event_type: Annotated[
        str | None,
        Query(max_length=64, description="Only events of this type, e.g. PaymentReceived."),
    ] = None,
    recorded_from: Annotated[
        datetime | None, Query(description="Recorded at or after this moment (UTC if no offset).")
    ] = None,
    recorded_to: Annotated[
        datetime | None, Query(description="Recorded before this moment (excluded).")
    ] = None,
    effective_from: Annotated[
        date | None, Query(description="Business date on or after this.")
    ] = None,
    effective_to: Annotated[
        date | None, Query(description="Business date on or before this.")
    ] = None,
    after: Annotated[
        int,
        Query(
            ge=0,
            le=_MAX_POSITION,
            description="Only events after this position: where an earlier read left off "
            "(as_of_position, or an event's position). Pages follow with cursor.",
        ),
    ] = 0,
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description="Events on a page at most.")
    ] = DEFAULT_PAGE_SIZE,
    cursor: PageCursor = None,
    form: ReportFormat = None,
) -> AuditTrailResponse | Response:
    if event_type is not None and event_type not in _EVENT_TYPES:
        raise UnknownEventType(event_type)
    recorded_from = _moment(recorded_from, "recorded_from")
    recorded_to = _moment(recorded_to, "recorded_to")
    _in_order(recorded_from, recorded_to, "recorded_from", "recorded_to")
    _in_order(effective_from, effective_to, "effective_from", "effective_to")
    db = _db(request)
    position = _position(db, AuditTrail.name)
    query = AuditQuery(
        tenant_id=caller.tenant_id,
        account_number=account,
        actor=actor,
        event_type=event_type,
        recorded_from=recorded_from,
        recorded_to=recorded_to,
        effective_from=effective_from,
        effective_to=effective_to,
        after_position=after,
    )
    with _cursor_refused():
        page = audit_trail_page(db, query, limit=limit, cursor=cursor)
    events = [_audit_event(row) for row in page.rows]
    if _wants_csv(request, form):
        documents = [
            event.model_dump(mode="json") | {"payload": row.payload}
            for event, row in zip(events, page.rows, strict=True)
        ]
        return _csv(
            request,
            "audit-trail",
            _AUDIT_COLUMNS,
            [[document[column] for column in _AUDIT_COLUMNS] for document in documents],
            page.next_cursor,
        )
    _next_link(request, response, page.next_cursor)
    return AuditTrailResponse(as_of_position=position, events=events, next_cursor=page.next_cursor)


# --- projection lag ---------------------------------------------------------------------------


class ProjectionOut(BaseModel):
    name: str
    position: int = Field(description="The last event it has applied (place in the store's log).")
    behind: int = Field(description="Events recorded after it, not yet applied; 0 when current.")


class ParkedOut(BaseModel):
    consumer: str = Field(description="The read model (or relay) that parked the account.")
    account_id: str
    tenant_id: str | None = Field(description="The account's tenant, when its first event reads.")
    position: int = Field(description="The event it could not handle (place in the store's log).")
    event_type: str
    event_version: int = Field(description="The account version of that event.")
    error: str = Field(description="What went wrong: the error's class and first line.")
    first_seen_at: str
    skipped: int = Field(description="The account's later events passed by since.")


class ProjectionsResponse(BaseModel):
    head_position: int = Field(description="The newest event in the store.")
    projections: list[ProjectionOut]
    relay: ProjectionOut = Field(
        description="The Kafka relay: the last event published to the topic, and its lag."
    )
    parked: list[ParkedOut] = Field(
        description="Accounts a read model or the relay could not handle and set aside while "
        "it went on with every other account (your tenant's; an admin also sees those whose "
        "tenant is unknown). An operator resumes them after a fix: ar project --retry-parked, "
        "ar relay --retry-parked."
    )


@router.get(
    "/projections",
    tags=["operations"],
    summary="How far each read model is behind the event store",
)
def get_projections(request: Request, caller: CallerDep) -> ProjectionsResponse:
    runtime = request.app.state.runtime
    progress = read_model_progress(runtime.app, _db(request), read_models())
    head = max((p.head for p in progress), default=0)
    published = relay_position(runtime.db)
    return ProjectionsResponse(
        head_position=head,
        projections=[
            ProjectionOut(name=p.name, position=p.position, behind=p.behind) for p in progress
        ],
        relay=ProjectionOut(
            name="kafka relay", position=published, behind=max(0, head - published)
        ),
        parked=[
            ParkedOut(**{f: getattr(row, f) for f in ParkedOut.model_fields})
            for row in parked_accounts(runtime.db)
            if row.tenant_id == caller.tenant_id
            or (row.tenant_id is None and caller.role == Role.admin)
        ],
    )
