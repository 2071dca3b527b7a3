"""The controls auditors require, over HTTP: four-eyes approval and closed periods.

- ``PUT /v1/tenant/approval-policy`` (admin): the commands held back for a second person, per
  currency above which amount, and how many days a request stays open; ``GET`` reads it.
- A clerk's command the policy holds back answers ``202`` with ``approval_request`` (see
  ``services.api.common``); nothing of it moves until an approver decides.
- ``GET /v1/approval-requests[?status=pending&as_of=DATE]`` (clerks, approvers, auditors): the
  tenant's requests, soonest to expire first; a pending one past its last day reads
  ``expired``.
- ``POST /v1/accounts/{n}/approval-requests/{id}/approval`` and ``.../rejection`` (approvers;
  a rejection has a ``reason``): the decision, and on approval the command carried out on the
  account as it is now, in the same save. The maker never decides their own request (``403
  own_approval_request``); a request is decided once (``409``); an expired one cannot be
  approved (``409``); a command that can no longer take effect is refused with its rule's code
  and nothing is recorded.
- ``GET /v1/reports/approvals?from=DATE&to=DATE`` (auditors, approvers): every decision of the
  period with maker and checker side by side: the auditor's sample of segregation of duties.
- ``PUT /v1/tenant/backdating`` (admin): ``refuse`` (default) or ``first_open_day``.
- ``GET /v1/periods``: the closed periods with their seals; ``POST /v1/periods/{YYYY-MM}/close``
  (admins, approvers) closes one once its days are; ``POST /v1/periods/{YYYY-MM}/reopening``
  (approvers, with a ``reason``) opens the latest one again.
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoints' annotations.

import asyncio
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field, Strict

from domain.approvals import CONTROLLED_COMMANDS, MAX_EXPIRY_DAYS, ApprovalPolicy
from domain.periods import BACKDATING_POLICIES
from domain.provenance import Provenance
from projections.approvals import decisions, requests
from services.api.common import (
    AccountNumber,
    AccountResponse,
    IdempotencyKey,
    answer,
    receivables,
)
from services.api.openapi import refusals
from services.api.security import (
    AdminDep,
    ApprovalsReaderDep,
    ApproverDep,
    PeriodCloserDep,
    SettingsReaderDep,
)
from services.api_keys import Caller
from services.bootstrap import Runtime
from services.controls import Controls, PeriodBusy, PeriodView, SealFailed
from services.errors import ConcurrentUpdate
from services.fields import STRICT, BusinessDate, DecimalString, ShortText

#: A change of the tenant's settings another request saved first, tried again and again.
_TENANT_CHANGED = refusals(ConcurrentUpdate("tenant acme"))

router = APIRouter(tags=["controls"])

ControlledCommand = Literal[
    "write_off",
    "issue_credit_note",
    "offer_settlement",
    "refund_credit",
    "reverse_payment",
    "post_contractual_adjustment",
]
assert set(ControlledCommand.__args__) == CONTROLLED_COMMANDS  # type: ignore[attr-defined]
Period = Annotated[str, Path(pattern=r"^\d{4}-\d{2}$", description="The month, YYYY-MM.")]


class RuleIn(BaseModel):
    model_config = STRICT
    command: ControlledCommand
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code.")
    above: DecimalString = Field(
        description='Held back when the amount is above this ("0": always).'
    )


class ApprovalPolicyIn(BaseModel):
    model_config = STRICT
    rules: list[RuleIn] = Field(max_length=100)
    expires_after_days: Annotated[int, Strict()] = Field(30, ge=1, le=MAX_EXPIRY_DAYS)


class RuleOut(BaseModel):
    command: str
    currency: str
    above: str


class ApprovalPolicyOut(BaseModel):
    rules: list[RuleOut]
    expires_after_days: int


class DecisionIn(BaseModel):
    model_config = STRICT
    decided_on: BusinessDate | None = Field(
        None, description="The business date of the decision; default: the tenant's today."
    )


class RejectionIn(DecisionIn):
    reason: ShortText = Field(description="Why the request is refused.")


class ReopeningIn(BaseModel):
    model_config = STRICT
    reason: ShortText = Field(description="Why the period is opened again.")


class BackdatingIn(BaseModel):
    model_config = STRICT
    policy: Literal["refuse", "first_open_day"]


assert set(BackdatingIn.model_fields["policy"].annotation.__args__) == set(BACKDATING_POLICIES)  # type: ignore[union-attr]


class RequestOut(BaseModel):
    request_id: str
    account_number: str
    command: str
    amount: str
    currency: str
    maker: str
    reason: str | None
    requested_on: date
    expires_on: date
    status: str
    checker: str | None
    decided_on: date | None
    decision_reason: str | None
    events: list[int] = Field(description="Positions of the events that asked and decided it.")


class PeriodOut(BaseModel):
    period: str
    closed_through: date
    seal: str = Field(description="SHA-256 over the hashes of every event effective in it.")
    events: int
    closed_by: str


class ReopenedOut(BaseModel):
    period: str
    closed_through: date | None = Field(description="The last closed day now (null: none).")


def _controls(request: Request) -> Controls:
    runtime: Runtime = request.app.state.runtime
    return Controls(runtime)


def _meta(request: Request, caller: Caller, reason: str | None = None) -> Provenance:
    return Provenance(actor=caller.name, correlation_id=request.state.correlation_id, reason=reason)


def _policy_out(policy: ApprovalPolicy | None) -> ApprovalPolicyOut:
    if policy is None:
        return ApprovalPolicyOut(rules=[], expires_after_days=0)
    return ApprovalPolicyOut(
        rules=[
            RuleOut(command=r.command, currency=r.currency, above=str(r.above))
            for r in policy.rules
        ],
        expires_after_days=policy.expires_after_days,
    )


def _period_out(view: PeriodView) -> PeriodOut:
    return PeriodOut(
        period=view.period,
        closed_through=view.closed_through,
        seal=view.seal,
        events=view.events,
        closed_by=view.closed_by,
    )


# --- the approval policy ---------------------------------------------------------------


@router.put(
    "/v1/tenant/approval-policy",
    summary="Which commands wait for a second person",
    responses=_TENANT_CHANGED,
)
def put_approval_policy(
    body: ApprovalPolicyIn, request: Request, caller: AdminDep
) -> ApprovalPolicyOut:
    policy = _controls(request).set_approval_policy(
        caller.tenant_id,
        [(r.command, r.currency, r.above) for r in body.rules],
        body.expires_after_days,
        _meta(request, caller),
    )
    return _policy_out(policy)


@router.get("/v1/tenant/approval-policy", summary="The approval policy in force")
def get_approval_policy(request: Request, caller: SettingsReaderDep) -> ApprovalPolicyOut:
    return _policy_out(_controls(request).approval_policy(caller.tenant_id))


# --- requests and decisions ------------------------------------------------------------


@router.get(
    "/v1/approval-requests",
    summary="The tenant's approval requests, soonest to expire first",
)
def get_requests(
    request: Request,
    caller: ApprovalsReaderDep,
    status: Annotated[Literal["pending", "approved", "rejected", "expired"] | None, Query()] = None,
    as_of: Annotated[BusinessDate | None, Query(description="Default: the tenant's today.")] = None,
) -> list[RequestOut]:
    runtime: Runtime = request.app.state.runtime
    day = as_of or runtime.app.today(caller.tenant_id)
    rows = requests(runtime.db, caller.tenant_id, as_of=day, status=status)
    return [RequestOut.model_validate(row.as_json()) for row in rows]


async def _decide(
    request: Request,
    response: Response,
    caller: Caller,
    account_number: str,
    request_id: str,
    approve: bool,
    decided_on: date | None,
    reason: str | None,
    key: str | None,
) -> AccountResponse:
    pending = receivables(request).decide_approval(
        tenant_id=caller.tenant_id,
        account_number=account_number,
        request_id=request_id,
        approve=approve,
        meta=_meta(request, caller, reason),
        decided_on=decided_on,
        idempotency_key=key,
    )
    outcome = await asyncio.wrap_future(pending)
    return answer(outcome, response)


@router.post(
    "/v1/accounts/{account_number}/approval-requests/{request_id}/approval",
    summary="Approve a held-back command: it takes effect now",
    response_model=AccountResponse,
)
async def approve_request(
    account_number: AccountNumber,
    request_id: Annotated[str, Path(min_length=1, max_length=200)],
    request: Request,
    response: Response,
    caller: ApproverDep,
    body: DecisionIn | None = None,
    key: IdempotencyKey = None,
) -> AccountResponse:
    decided_on = body.decided_on if body is not None else None
    return await _decide(
        request, response, caller, account_number, request_id, True, decided_on, None, key
    )


@router.post(
    "/v1/accounts/{account_number}/approval-requests/{request_id}/rejection",
    summary="Reject a held-back command, saying why",
    response_model=AccountResponse,
)
async def reject_request(
    account_number: AccountNumber,
    request_id: Annotated[str, Path(min_length=1, max_length=200)],
    body: RejectionIn,
    request: Request,
    response: Response,
    caller: ApproverDep,
    key: IdempotencyKey = None,
) -> AccountResponse:
    return await _decide(
        request,
        response,
        caller,
        account_number,
        request_id,
        False,
        body.decided_on,
        body.reason,
        key,
    )


@router.get(
    "/v1/reports/approvals",
    summary="Every decision of a period, maker beside checker (the auditor's sample)",
)
def get_decisions(
    request: Request,
    caller: ApprovalsReaderDep,
    first: Annotated[BusinessDate, Query(alias="from")],
    last: Annotated[BusinessDate, Query(alias="to")],
) -> dict[str, Any]:
    runtime: Runtime = request.app.state.runtime
    rows = decisions(runtime.db, caller.tenant_id, first, last)
    return {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "decisions": [row.as_json() for row in rows],
        "approved": sum(1 for row in rows if row.status == "approved"),
        "rejected": sum(1 for row in rows if row.status == "rejected"),
        "own_decisions": sum(1 for row in rows if row.checker == row.maker),
    }


# --- periods ---------------------------------------------------------------------------


@router.put(
    "/v1/tenant/backdating",
    summary="What becomes of a command dated in a closed period",
    responses=_TENANT_CHANGED,
)
def put_backdating(body: BackdatingIn, request: Request, caller: AdminDep) -> BackdatingIn:
    _controls(request).set_backdating(caller.tenant_id, body.policy, _meta(request, caller))
    return body


@router.get("/v1/periods", summary="The closed accounting periods with their seals")
def get_periods(request: Request, caller: SettingsReaderDep) -> list[PeriodOut]:
    return [_period_out(view) for view in _controls(request).periods(caller.tenant_id)]


@router.post(
    "/v1/periods/{period}/close",
    status_code=201,
    summary="Close and seal a period",
    responses=refusals(
        PeriodBusy("acme"),
        SealFailed("the days of 2026-03 are not all closed"),
        ConcurrentUpdate("tenant acme"),
    ),
)
def close_period(period: Period, request: Request, caller: PeriodCloserDep) -> PeriodOut:
    view = _controls(request).close_period(caller.tenant_id, period, _meta(request, caller))
    return _period_out(view)


@router.post(
    "/v1/periods/{period}/reopening",
    status_code=201,
    summary="Open the latest closed period again (an approver's act, with a reason)",
    responses=refusals(PeriodBusy("acme"), ConcurrentUpdate("tenant acme")),
)
def reopen_period(
    period: Period, body: ReopeningIn, request: Request, caller: ApproverDep
) -> ReopenedOut:
    through = _controls(request).reopen_period(
        caller.tenant_id, period, _meta(request, caller, body.reason)
    )
    return ReopenedOut(period=period, closed_through=through)
