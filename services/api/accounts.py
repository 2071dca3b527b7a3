"""Accounts and the first movements on them: open, charge, pay, read the balance."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

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
from services.views import account_summary

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])


class OpenAccountRequest(BaseModel):
    model_config = STRICT
    account_number: Identifier
    name: ShortText
    currency: Currency
    opened_on: date
    payment_terms_days: int = Field(30, ge=0, le=365)


class BalanceResponse(BaseModel):
    account_number: str
    currency: str
    balance: AmountOut
    unapplied_credit: AmountOut
    version: int


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


command_endpoint(router, "charges", PostCharge, "Post a charge for a service")
command_endpoint(router, "payments", ReceivePayment, "Record a payment received")
command_endpoint(router, "invoices", IssueInvoice, "Issue an invoice for uninvoiced charges")
command_endpoint(
    router, "payment-plans", AgreePaymentPlan, "Agree a payment plan over open invoices"
)


@router.get("/{account_number}/balance", summary="Read an account's balance")
def get_balance(
    account_number: AccountNumber, request: Request, caller: ReaderDep
) -> BalanceResponse:
    account = receivables(request).get_account(caller.tenant_id, account_number)
    return BalanceResponse(
        account_number=account.account_number,
        currency=account.currency,
        balance=account.balance.amount,
        unapplied_credit=account.unapplied_credit.amount,
        version=account.version,
    )
