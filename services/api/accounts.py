"""Accounts and the first movements on them: open, charge, pay, read the balance."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Header, Path, Request
from pydantic import BaseModel, Field

from domain.account import Account
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
from services.api.security import CallerDep
from services.api_keys import Caller

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])

AccountNumber = Annotated[
    str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
]
CorrelationHeader = Annotated[str | None, Header(alias="X-Correlation-Id", max_length=128)]


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


def _account_response(account: Account) -> AccountResponse:
    return AccountResponse(
        account_id=str(account.id),
        account_number=account.account_number,
        name=account.name,
        currency=account.currency,
        version=account.version,
        balance=account.balance.amount,
        unapplied_credit=account.unapplied_credit.amount,
    )


@router.post("", status_code=201, summary="Open an account")
def open_account(body: OpenAccountRequest, request: Request, caller: CallerDep) -> AccountResponse:
    account = request.app.state.runtime.app.open_account(
        tenant_id=caller.tenant_id,
        account_number=body.account_number,
        name=body.name,
        currency=body.currency,
        opened_on=body.opened_on,
        payment_terms_days=body.payment_terms_days,
        meta=_meta(request, caller),
    )
    return _account_response(account)


@router.get("/{account_number}", summary="Read an account")
def get_account(
    account_number: AccountNumber, request: Request, caller: CallerDep
) -> AccountResponse:
    return _account_response(
        request.app.state.runtime.app.get_account(caller.tenant_id, account_number)
    )


@router.post("/{account_number}/charges", status_code=201, summary="Post a charge for a service")
def post_charge(
    account_number: AccountNumber, body: PostChargeRequest, request: Request, caller: CallerDep
) -> AccountResponse:
    account = request.app.state.runtime.app.post_charge(
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
    )
    return _account_response(account)


@router.post("/{account_number}/payments", status_code=201, summary="Record a payment received")
def receive_payment(
    account_number: AccountNumber, body: ReceivePaymentRequest, request: Request, caller: CallerDep
) -> AccountResponse:
    account = request.app.state.runtime.app.receive_payment(
        tenant_id=caller.tenant_id,
        account_number=account_number,
        payment_id=body.payment_id or f"pay_{uuid.uuid4().hex[:16]}",
        amount=body.amount,
        currency=body.currency,
        method=body.method,
        reference=body.reference,
        received_on=body.received_on,
        meta=_meta(request, caller),
    )
    return _account_response(account)


@router.get("/{account_number}/balance", summary="Read an account's balance")
def get_balance(
    account_number: AccountNumber, request: Request, caller: CallerDep
) -> BalanceResponse:
    account = request.app.state.runtime.app.get_account(caller.tenant_id, account_number)
    return BalanceResponse(
        account_number=account.account_number,
        currency=account.currency,
        balance=account.balance.amount,
        unapplied_credit=account.unapplied_credit.amount,
        version=account.version,
    )
