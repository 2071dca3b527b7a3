"""Accounts and the first movements on them: open, charge, pay, read the balance; the account
directory (``GET /v1/accounts``: search, filters, sort, cursor paging) and the account's
contact details and collector, each changed by its own command."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from pydantic import AfterValidator, BaseModel, Field

from domain.money import from_minor_units
from projections.database import events_table
from projections.directory import (
    DEFAULT_SORT,
    MAX_LIMIT,
    SORT_KEYS,
    AccountDirectory,
    DirectoryQuery,
    DirectoryRow,
    search_directory,
)
from projections.runner import tracked_positions
from services.api.common import (
    AccountNumber,
    AccountResponse,
    IdempotencyKey,
    answer,
    command_endpoint,
    provenance,
    receivables,
)
from services.api.security import ClerkDep, ReaderDep
from services.commands import (
    AssignCollector,
    ChangeBillingAddress,
    ChangeContactNotes,
    ChangeEmailAddress,
    ChangeExternalReference,
    ChangePhoneNumber,
    ChangePreferredChannel,
    OpenAccount,
    UnassignCollector,
)
from services.envelope import envelope, json_ready
from services.fields import (
    IDENTIFIER_MAX_LENGTH,
    IDENTIFIER_PATTERN,
    AmountOut,
    Currency,
    one_line_if_given,
)
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
        description="Event envelopes, as published on Kafka, each with its position: its "
        "place in the store's log (the as_of_position of the reports counts the same way)."
    )
    next_cursor: int | None = Field(
        description="Pass as cursor for the next page; null on the last page."
    )


class DirectoryEntry(BaseModel):
    """One account as the directory lists it (its contact details as last changed)."""

    account_number: str
    name: str
    currency: str
    status: Literal["open", "closed"]
    opened_on: date
    balance: AmountOut
    has_overdue: bool = Field(description="A term due before as_of still has something open.")
    oldest_due_on: date | None = Field(
        description="The earliest due date of a term with something outstanding."
    )
    dunning_level: int
    collector: str | None
    email: str | None
    phone: str | None
    external_reference: str | None
    preferred_channel: str | None
    billing_address: str | None = Field(description="The billing address on one line.")


class DirectoryPageResponse(BaseModel):
    accounts: list[DirectoryEntry]
    next_cursor: str | None = Field(
        description="Pass as cursor, with the same q, filters and sort, for the next page; "
        "null on the last page."
    )
    as_of: date = Field(description="The business date has_overdue is read as of.")
    as_of_position: int = Field(
        description="The last event the directory reflects (its place in the event log)."
    )


class AddressOut(BaseModel):
    line1: str
    line2: str
    city: str
    region: str
    postal_code: str
    country: str


class ContactDetailsResponse(BaseModel):
    account_number: str
    version: int = Field(description="The account version the details reflect.")
    billing_address: AddressOut | None
    email: str | None
    phone: str | None
    preferred_channel: str | None
    external_reference: str | None
    contact_notes: str
    collector: str | None


def entry(row: DirectoryRow) -> DirectoryEntry:
    return DirectoryEntry(
        account_number=row.account_number,
        name=row.name,
        currency=row.currency,
        status=row.status,
        opened_on=row.opened_on,
        balance=from_minor_units(row.balance_minor, row.currency),
        has_overdue=row.has_overdue,
        oldest_due_on=row.oldest_due_on,
        dunning_level=row.dunning_level,
        collector=row.collector,
        email=row.email,
        phone=row.phone,
        external_reference=row.external_reference,
        preferred_channel=row.preferred_channel,
        billing_address=row.address,
    )


@router.get(
    "",
    summary="Find accounts: search, filter, sort, a page at a time",
)
def list_accounts(
    request: Request,
    caller: ReaderDep,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="Words found in the number, name, e-mail, phone or external "
            "reference; case and accents do not matter, nor how a phone number is written.",
        ),
        AfterValidator(one_line_if_given),
    ] = None,
    status: Annotated[Literal["open", "closed"] | None, Query()] = None,
    currency: Annotated[Currency | None, Query()] = None,
    has_overdue: Annotated[
        bool | None, Query(description="Only accounts with (true) or without (false) overdue.")
    ] = None,
    dunning_level: Annotated[int | None, Query(ge=0, le=99)] = None,
    collector: Annotated[
        str | None,
        Query(min_length=1, max_length=IDENTIFIER_MAX_LENGTH, pattern=IDENTIFIER_PATTERN),
    ] = None,
    sort: Annotated[
        str,
        Query(
            max_length=20,
            description=f"{', '.join(SORT_KEYS)}; '-' first for descending (-opened_on). "
            "Ties go to the account number.",
        ),
    ] = DEFAULT_SORT,
    as_of: Annotated[
        date | None,
        Query(
            description="Business date has_overdue is read as of; default today (or the cursor's)."
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: Annotated[
        str | None, Query(max_length=1000, description="The next_cursor of the previous page.")
    ] = None,
) -> DirectoryPageResponse:
    query = DirectoryQuery(
        tenant_id=caller.tenant_id,
        q=q,
        status=status,
        currency=currency,
        has_overdue=has_overdue,
        dunning_level=dunning_level,
        collector=collector,
        sort=sort,
        as_of=as_of,
        limit=limit,
    )
    db = request.app.state.runtime.db
    # The position first: the rows read after it reflect at least that much.
    position = tracked_positions(db).get(AccountDirectory.name, 0)
    page = search_directory(db, query, today=date.today(), cursor=cursor)
    return DirectoryPageResponse(
        accounts=[entry(row) for row in page.rows],
        next_cursor=page.next_cursor,
        as_of=page.as_of,
        as_of_position=position,
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


@router.get(
    "/{account_number}/contact-details",
    summary="An account's contact details and collector, as last changed",
)
def get_contact_details(
    account_number: AccountNumber, request: Request, caller: ReaderDep
) -> ContactDetailsResponse:
    account = receivables(request).get_account(caller.tenant_id, account_number)
    address = account.billing_address
    return ContactDetailsResponse(
        account_number=account.account_number,
        version=account.version,
        billing_address=(
            None if address is None else AddressOut.model_validate(address, from_attributes=True)
        ),
        email=account.email,
        phone=account.phone,
        preferred_channel=account.preferred_channel,
        external_reference=account.external_reference,
        contact_notes=account.contact_notes,
        collector=account.collector,
    )


command_endpoint(
    router, "billing-address-changes", ChangeBillingAddress, "Change the billing address"
)
command_endpoint(router, "email-address-changes", ChangeEmailAddress, "Change the e-mail address")
command_endpoint(router, "phone-number-changes", ChangePhoneNumber, "Change the phone number")
command_endpoint(
    router,
    "preferred-channel-changes",
    ChangePreferredChannel,
    "Change how the customer prefers to be reached",
)
command_endpoint(
    router,
    "external-reference-changes",
    ChangeExternalReference,
    "Change the customer's own reference (patient id, subscriber number)",
)
command_endpoint(
    router, "contact-notes-changes", ChangeContactNotes, "Replace the notes for contacting"
)
command_endpoint(
    router, "collector-assignments", AssignCollector, "Assign the account to a collector"
)
command_endpoint(
    router, "collector-unassignments", UnassignCollector, "End the collector's assignment"
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
    positions = _positions(request, events)
    documents = [
        json_ready(
            envelope(e, tenant_id=caller.tenant_id, position=positions[e.originator_version])
        )
        for e in events
    ]
    next_cursor = events[-1].originator_version if len(events) == limit else None
    return EventsPage(events=documents, next_cursor=next_cursor)


def _positions(request: Request, events: list[Any]) -> dict[int, int]:
    """The place in the store's log (notification id) of each of one account's ``events``,
    by version: the same number the relay publishes and the read models track."""
    if not events:
        return {}
    runtime = request.app.state.runtime
    db = runtime.db
    table = events_table(runtime.app)
    account_id: UUID = events[0].originator_id
    # eventsourcing's SQLite numbers the log by rowid and stores ids as hex.
    column, stored_id = (
        ("notification_id", account_id) if db.is_postgres else ("rowid", account_id.hex)
    )
    rows = db.query(
        f"SELECT originator_version AS version, {column} AS position FROM {table}"  # noqa: S608
        " WHERE originator_id = ? AND originator_version BETWEEN ? AND ?",
        (stored_id, events[0].originator_version, events[-1].originator_version),
    )
    return {int(row["version"]): int(row["position"]) for row in rows}
