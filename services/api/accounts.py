"""Accounts and the first movements on them: open, charge, pay, read the balance."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from services.api.common import (
    AccountNumber,
    AccountResponse,
    IdempotencyKey,
    answer,
    provenance,
    receivables,
)
from services.api.security import ClerkDep, ReaderDep
from services.commands import OpenAccount
from services.envelope import envelope, json_ready
from services.fields import AmountOut
from services.views import account_summary, as_utc, balance_view, open_items_view

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])


class OpenAccountRequest(OpenAccount):
    """Open an account (the same fields the CLI and the CSV importer check)."""


class BalanceResponse(BaseModel):
    account_number: str
    currency: str
    as_of: date | None
    as_known_at: datetime | None
    version: int = Field(description="The account version the figures reflect.")
    balance: AmountOut
    unapplied_credit: AmountOut | None = Field(
        description="Current figure; null when as_of is given."
    )
    owed_by_insurers: dict[str, AmountOut] | None = Field(
        description="Current figure; null when as_of is given."
    )


class TermOut(BaseModel):
    due_on: date
    amount: AmountOut
    outstanding: AmountOut


class OpenItem(BaseModel):
    number: str
    kind: str
    issued_on: date
    total: AmountOut
    outstanding: AmountOut
    disputed: bool
    plan_id: str | None
    claim_id: str | None
    terms: list[TermOut]


class OpenItemsResponse(BaseModel):
    account_number: str
    currency: str
    as_of: date | None
    version: int
    items: list[OpenItem]


class EventsPage(BaseModel):
    events: list[dict[str, Any]] = Field(
        description="Event envelopes, as published on Kafka (without position)."
    )
    next_cursor: int | None = Field(
        description="Pass as cursor for the next page; null on the last page."
    )


@router.post("", status_code=201, summary="Open an account")
def open_account(
    body: OpenAccountRequest,
    request: Request,
    response: Response,
    caller: ClerkDep,
    key: IdempotencyKey = None,
) -> AccountResponse:
    outcome = receivables(request).open_account(
        tenant_id=caller.tenant_id,
        account_number=body.account_number,
        name=body.name,
        currency=body.currency,
        opened_on=body.opened_on,
        payment_terms_days=body.payment_terms_days,
        meta=provenance(request, caller),
        idempotency_key=key,
    )
    return answer(outcome, response)


@router.get("/{account_number}", summary="Read an account")
def get_account(
    account_number: AccountNumber, request: Request, caller: ReaderDep
) -> AccountResponse:
    return AccountResponse.model_validate(
        account_summary(receivables(request).get_account(caller.tenant_id, account_number))
    )


AsOf = Annotated[
    date | None, Query(description="Business date: count what was effective on or before it.")
]
AsKnownAt = Annotated[
    datetime | None,
    Query(
        description="Recording time (ISO 8601, UTC if no offset): count only what was recorded by then."
    ),
]


@router.get(
    "/{account_number}/balance",
    summary="Read an account's balance, now or as of a date, as known at a moment",
)
def get_balance(
    account_number: AccountNumber,
    request: Request,
    caller: ReaderDep,
    as_of: AsOf = None,
    as_known_at: AsKnownAt = None,
) -> BalanceResponse:
    known_at = as_utc(as_known_at)
    account = receivables(request).get_account(
        caller.tenant_id, account_number, as_known_at=known_at
    )
    return BalanceResponse.model_validate(balance_view(account, as_of, known_at))


@router.get(
    "/{account_number}/open-items", summary="The invoices and notes with something outstanding"
)
def get_open_items(
    account_number: AccountNumber,
    request: Request,
    caller: ReaderDep,
    as_of: AsOf = None,
    as_known_at: AsKnownAt = None,
) -> OpenItemsResponse:
    known_at = as_utc(as_known_at)
    account = receivables(request).get_account(
        caller.tenant_id, account_number, as_known_at=known_at
    )
    return OpenItemsResponse(
        account_number=account.account_number,
        currency=account.currency,
        as_of=as_of,
        version=account.version,
        items=[OpenItem.model_validate(row) for row in open_items_view(account, as_of)],
    )


@router.get(
    "/{account_number}/events",
    summary="The account's event history, oldest first, a page at a time",
)
def get_events(
    account_number: AccountNumber,
    request: Request,
    caller: ReaderDep,
    cursor: Annotated[
        int,
        Query(ge=0, le=2**53, description="The next_cursor of the previous page; 0 for the first."),
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> EventsPage:
    events = receivables(request).history(
        caller.tenant_id, account_number, after_version=cursor, limit=limit
    )
    documents = [json_ready(envelope(e, tenant_id=caller.tenant_id, position=None)) for e in events]
    next_cursor = events[-1].originator_version if len(events) == limit else None
    return EventsPage(events=documents, next_cursor=next_cursor)
