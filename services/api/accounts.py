"""Accounts and the first movements on them: open, charge, pay, read the balance."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Header, Path, Request, Response
from pydantic import BaseModel, Field

from domain.provenance import Provenance
from services.api.fields import (
    STRICT,
    AmountOut,
    Currency,
    Identifier,
    NonNegativeAmount,
    PositiveAmount,
    ShortText,
)
from services.api.security import ClerkDep, ReaderDep
from services.api_keys import Caller
from services.app import Receivables
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


class PostChargeRequest(BaseModel):
    model_config = STRICT
    charge_id: Identifier | None = Field(
        None, description="Your id for the charge; one is made if omitted."
    )
    code: Identifier
    description: ShortText
    quantity: PositiveAmount = Decimal(1)
    unit_price: PositiveAmount
    tax: NonNegativeAmount = Decimal(0)
    currency: Currency | None = Field(None, description="Defaults to the account's currency.")
    service_date: date


class ReceivePaymentRequest(BaseModel):
    model_config = STRICT
    payment_id: Identifier | None = Field(
        None, description="Your id for the payment; one is made if omitted."
    )
    amount: PositiveAmount
    currency: Currency | None = Field(None, description="Defaults to the account's currency.")
    method: Identifier
    reference: ShortText
    received_on: date


class AccountResponse(BaseModel):
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


@router.post("/{account_number}/charges", status_code=201, summary="Post a charge for a service")
def post_charge(
    account_number: AccountNumber,
    body: PostChargeRequest,
    request: Request,
    response: Response,
    caller: ClerkDep,
    key: IdempotencyKey = None,
) -> AccountResponse:
    outcome = _app(request).post_charge(
        tenant_id=caller.tenant_id,
        account_number=account_number,
        charge_id=body.charge_id or f"ch_{uuid.uuid4().hex[:16]}",
        code=body.code,
        description=body.description,
        quantity=body.quantity,
        unit_price=body.unit_price,
        tax=body.tax,
        currency=body.currency,
        service_date=body.service_date,
        meta=_meta(request, caller),
        idempotency_key=key,
    )
    return _answer(outcome, response)


@router.post("/{account_number}/payments", status_code=201, summary="Record a payment received")
def receive_payment(
    account_number: AccountNumber,
    body: ReceivePaymentRequest,
    request: Request,
    response: Response,
    caller: ClerkDep,
    key: IdempotencyKey = None,
) -> AccountResponse:
    outcome = _app(request).receive_payment(
        tenant_id=caller.tenant_id,
        account_number=account_number,
        payment_id=body.payment_id or f"pay_{uuid.uuid4().hex[:16]}",
        amount=body.amount,
        currency=body.currency,
        method=body.method,
        reference=body.reference,
        received_on=body.received_on,
        meta=_meta(request, caller),
        idempotency_key=key,
    )
    return _answer(outcome, response)


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
