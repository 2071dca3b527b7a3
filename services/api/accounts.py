"""Accounts and the first movements on them: open, charge, pay, read the balance."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Header, Path, Request, Response
from pydantic import BaseModel, Field

from domain.provenance import Provenance
from services.api.security import ClerkDep, ReaderDep
from services.api_keys import Caller
from services.app import Receivables
from services.commands import (
    AccountCommand,
    AgreePaymentPlan,
    IssueInvoice,
    PostCharge,
    ReceivePayment,
)
from services.fields import (
    STRICT,
    AmountOut,
    Currency,
    Identifier,
    ShortText,
)
from services.group_commit import Outcome
from services.views import account_summary

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])

AccountNumber = Annotated[
    str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=128,
        description="Your unique key for this request: a retry with the same key and body returns the first answer and records nothing new.",
    ),
]


class OpenAccountRequest(BaseModel):
    model_config = STRICT
    account_number: Identifier
    name: ShortText
    currency: Currency
    opened_on: date
    payment_terms_days: int = Field(30, ge=0, le=365)


class RecordedEvent(BaseModel):
    type: str
    version: int


class AccountResponse(BaseModel):
    recorded: list[RecordedEvent] = Field(
        default_factory=list,
        description="The events the command recorded, by type and account version.",
    )
    account_id: str
    account_number: str
    name: str
    currency: str
    version: int
    balance: AmountOut
    unapplied_credit: AmountOut


class BalanceResponse(BaseModel):
    account_number: str
    currency: str
    balance: AmountOut
    unapplied_credit: AmountOut
    version: int


def _meta(request: Request, caller: Caller, reason: str | None = None) -> Provenance:
    return Provenance(actor=caller.name, correlation_id=request.state.correlation_id, reason=reason)


def _answer(outcome: Outcome, response: Response) -> AccountResponse:
    """The command's answer; a replay of an earlier request says so in a header."""
    response.status_code = outcome.status
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return AccountResponse.model_validate(outcome.body)


def _app(request: Request) -> Receivables:
    app: Receivables = request.app.state.runtime.app
    return app


@router.post("", status_code=201, summary="Open an account")
def open_account(
    body: OpenAccountRequest,
    request: Request,
    response: Response,
    caller: ClerkDep,
    key: IdempotencyKey = None,
) -> AccountResponse:
    outcome = _app(request).open_account(
        tenant_id=caller.tenant_id,
        account_number=body.account_number,
        name=body.name,
        currency=body.currency,
        opened_on=body.opened_on,
        payment_terms_days=body.payment_terms_days,
        meta=_meta(request, caller),
        idempotency_key=key,
    )
    return _answer(outcome, response)


@router.get("/{account_number}", summary="Read an account")
def get_account(
    account_number: AccountNumber, request: Request, caller: ReaderDep
) -> AccountResponse:
    return AccountResponse.model_validate(
        account_summary(_app(request).get_account(caller.tenant_id, account_number))
    )


def _execute(
    request: Request,
    response: Response,
    caller: Caller,
    account_number: str,
    command: AccountCommand,
    key: str | None,
) -> AccountResponse:
    outcome = _app(request).execute(
        tenant_id=caller.tenant_id,
        account_number=account_number,
        command=command,
        meta=_meta(request, caller),
        idempotency_key=key,
    )
    return _answer(outcome, response)


@router.post("/{account_number}/charges", status_code=201, summary="Post a charge for a service")
def post_charge(
    account_number: AccountNumber,
    body: PostCharge,
    request: Request,
    response: Response,
    caller: ClerkDep,
    key: IdempotencyKey = None,
) -> AccountResponse:
    return _execute(request, response, caller, account_number, body, key)


@router.post("/{account_number}/payments", status_code=201, summary="Record a payment received")
def receive_payment(
    account_number: AccountNumber,
    body: ReceivePayment,
    request: Request,
    response: Response,
    caller: ClerkDep,
    key: IdempotencyKey = None,
) -> AccountResponse:
    return _execute(request, response, caller, account_number, body, key)


@router.post(
    "/{account_number}/invoices", status_code=201, summary="Issue an invoice for uninvoiced charges"
)
def issue_invoice(
    account_number: AccountNumber,
    body: IssueInvoice,
    request: Request,
    response: Response,
    caller: ClerkDep,
    key: IdempotencyKey = None,
) -> AccountResponse:
    return _execute(request, response, caller, account_number, body, key)


@router.post(
    "/{account_number}/payment-plans",
    status_code=201,
    summary="Agree a payment plan over open invoices",
)
def agree_payment_plan(
    account_number: AccountNumber,
    body: AgreePaymentPlan,
    request: Request,
    response: Response,
    caller: ClerkDep,
    key: IdempotencyKey = None,
) -> AccountResponse:
    return _execute(request, response, caller, account_number, body, key)


@router.get("/{account_number}/balance", summary="Read an account's balance")
def get_balance(
    account_number: AccountNumber, request: Request, caller: ReaderDep
) -> BalanceResponse:
    account = _app(request).get_account(caller.tenant_id, account_number)
    return BalanceResponse(
        account_number=account.account_number,
        currency=account.currency,
        balance=account.balance.amount,
        unapplied_credit=account.unapplied_credit.amount,
        version=account.version,
    )
