"""Business days over HTTP: close a day for the caller's tenant, and read what a close did.

``POST /v1/days/{date}/close`` closes the tenant's business days through ``date`` (the missed
days before it first, in order) and answers with what each close did: ``201`` when it closed a
day now, ``200`` when ``date`` was closed already (nothing recorded). A date after the tenant's
today is refused (``422 day_in_future``); a close already running for the tenant, here or on
another server, is refused (``409 day_close_running``). ``GET /v1/days/{date}`` reads what the
close of ``date`` recorded. For admins, who manage the tenant's settings (``services.api.tenant``).
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoints' annotations.

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field

from services.api.openapi import refusals, unchanged
from services.api.security import AdminDep, SettingsReaderDep
from services.close_day import CloseOfDay
from services.errors import (
    AgendaNotCurrent,
    ConcurrentUpdate,
    DayCloseInterrupted,
    DayCloseRunning,
    DayNotClosed,
)
from services.fields import BusinessDate

router = APIRouter(prefix="/v1/days", tags=["close of day"])

Day = Annotated[BusinessDate, Path(description="The business date (YYYY-MM-DD).")]


class Failure(BaseModel):
    account_number: str
    code: str = Field(description="Why the account could not be closed for the day.")


class ClosedDayOut(BaseModel):
    business_date: date
    closed_now: bool = Field(description="False: closed before; nothing was recorded now.")
    policy_version: int | None = Field(description="The dunning policy in force on the day.")
    accounts_due: int = Field(description="Accounts with something due on the day.")
    accounts_failed: int
    offers_lapsed: int
    installments_missed: int
    plans_defaulted: int
    promises_broken: int
    dunning_escalated: int
    dunning_reset: int
    failures: list[Failure] = Field(description="The first 50 accounts that failed, if any.")
    events: int = Field(description="Events recorded on accounts by this request.")
    seconds: float


class CloseResponse(BaseModel):
    tenant_id: str
    through: date
    recorded: bool = Field(description="Whether this request closed any day.")
    days: list[ClosedDayOut]
    totals: dict[str, int] = Field(description="The figures summed over the days closed now.")


def close_of_day(request: Request) -> CloseOfDay:
    """The application's close of day (one per app, so its agenda projector is reused)."""
    state: Any = request.app.state
    closer = getattr(state, "close_of_day", None)
    if closer is None:
        closer = state.close_of_day = CloseOfDay(state.runtime)
    assert isinstance(closer, CloseOfDay)
    return closer


@router.post(
    "/{day}/close",
    status_code=201,
    summary="Close your tenant's business days through a date",
    response_model=CloseResponse,
    responses={
        **unchanged(CloseResponse, "Every day through the date was closed before: nothing new."),
        **refusals(
            DayCloseRunning("acme"),
            DayCloseInterrupted("2026-03-31"),
            AgendaNotCurrent(),
            ConcurrentUpdate("tenant acme"),
        ),
    },
)
def close_day(day: Day, request: Request, response: Response, caller: AdminDep) -> CloseResponse:
    run = close_of_day(request).close(caller.tenant_id, day, started_by=caller.name)
    response.status_code = 201 if run.recorded else 200
    return CloseResponse.model_validate(run.as_json())


@router.get(
    "/{day}",
    summary="What the close of a business day did",
    response_model=ClosedDayOut,
    responses=refusals(DayNotClosed("2026-03-31")),
)
def get_closed_day(day: Day, request: Request, caller: SettingsReaderDep) -> ClosedDayOut:
    closed = close_of_day(request).closed_day(caller.tenant_id, day)
    if closed is None:
        raise DayNotClosed(day.isoformat())
    return ClosedDayOut.model_validate(closed.as_json())
