"""What every account endpoint shares: the path, the idempotency header, the answer's shape,
and ``command_endpoint``, which publishes one command model as ``POST /v1/accounts/{n}/<facts>``.

Every command is a fact recorded on an account, so each is a noun under the account:
``POST .../charges`` records a charge, ``POST .../invoice-voids`` records that an invoice was
voided. The endpoint's body is the command model (``services.commands``); its answer is the
account summary with the events the command recorded.
"""

# No ``from __future__ import annotations`` here: FastAPI reads the endpoint's annotations at
# registration, and the command model is a local of ``command_endpoint``.

import asyncio
from collections.abc import Callable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request, Response
from pydantic import AfterValidator, BaseModel, Field

from domain.provenance import Provenance
from services.api.security import ClerkDep
from services.api_keys import Caller
from services.app import Receivables
from services.commands import AccountCommand
from services.errors import RepeatedParameter, UnknownParameter
from services.fields import (
    IDENTIFIER_MAX_LENGTH,
    IDENTIFIER_PATTERN,
    AmountOut,
    one_line_if_given,
)
from services.group_commit import Outcome

#: The same grammar as the account number a body gives, so every account opened is routable.
AccountNumber = Annotated[
    str, Path(min_length=1, max_length=IDENTIFIER_MAX_LENGTH, pattern=IDENTIFIER_PATTERN)
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=128,
        description="Your unique key for this request: a retry with the same key and body returns "
        "the first answer and records nothing new.",
    ),
]


class RecordedEvent(BaseModel):
    type: str
    version: int


class ApprovalRequestOut(BaseModel):
    """A command held back for a second person (see ``services.api.controls``)."""

    request_id: str
    command: str
    params: dict[str, Any] = Field(description="The command as it will be carried out.")
    amount: str
    currency: str
    status: str
    maker: str
    reason: str | None
    requested_on: str
    expires_on: str = Field(description="The last day it can be approved.")
    checker: str | None
    decided_on: str | None
    decision_reason: str | None


class AccountResponse(BaseModel):
    recorded: list[RecordedEvent] = Field(
        default_factory=list,
        description="The events the command recorded, by type and account version.",
    )
    created_id: str | None = Field(
        None,
        description="The id of the charge, payment, plan, ... the command created: yours, or "
        "the one made for you when you gave none. Null when it creates nothing with an id.",
    )
    account_id: str
    account_number: str
    name: str
    currency: str
    version: int
    balance: AmountOut
    unapplied_credit: AmountOut
    approval_request: ApprovalRequestOut | None = Field(
        None,
        description="When the tenant's approval policy held the command back (answer 202): "
        "the request an approver decides; nothing else of the command was recorded. On a "
        "decision: the request as decided.",
    )


def receivables(request: Request) -> Receivables:
    app: Receivables = request.app.state.runtime.app
    return app


Reason = Annotated[
    str | None,
    Header(
        alias="X-Reason",
        min_length=1,
        max_length=500,
        description="Why: recorded on the events the request causes (one line of text).",
    ),
    AfterValidator(one_line_if_given),
]


def provenance(request: Request, caller: Caller, reason: str | None = None) -> Provenance:
    return Provenance(actor=caller.name, correlation_id=request.state.correlation_id, reason=reason)


def answer(outcome: Outcome, response: Response) -> AccountResponse:
    """The command's answer; a replay of an earlier request says so in a header. A command
    held back for approval is accepted (202), not done."""
    held = outcome.body.get("approval_request")
    response.status_code = 202 if held and held.get("status") == "pending" else outcome.status
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return AccountResponse.model_validate(outcome.body)


def command_endpoint(
    router: APIRouter, facts: str, model: type[AccountCommand], summary: str
) -> None:
    """Publish ``model`` as ``POST {router.prefix}/{account_number}/{facts}``, for clerks.

    The endpoint runs on the event loop and awaits the group commit's answer: a command costs
    no hop through the thread pool, and the loop serves other requests meanwhile."""

    async def endpoint(
        account_number: AccountNumber,
        body: model,  # type: ignore[valid-type]  # a class object, resolved at registration
        request: Request,
        response: Response,
        caller: ClerkDep,
        key: IdempotencyKey = None,
        reason: Reason = None,
    ) -> AccountResponse:
        pending = receivables(request).submit(
            tenant_id=caller.tenant_id,
            account_number=account_number,
            command=body,
            meta=provenance(request, caller, reason),
            idempotency_key=key,
        )
        outcome = await asyncio.wrap_future(pending)
        return answer(outcome, response)

    endpoint.__name__ = model.calls
    router.add_api_route(
        f"/{{account_number}}/{facts}",
        endpoint,
        methods=["POST"],
        status_code=201,
        summary=summary,
        response_model=AccountResponse,
        operation_id=model.calls,
    )


def only_parameters(names: Sequence[str]) -> Callable[[Request], None]:
    """A dependency refusing a query parameter not in ``names``, or one given twice: a
    misspelt or repeated filter is refused, never ignored, for the answer would look
    filtered when it is not."""

    def check(request: Request) -> None:
        for name in request.query_params:
            if name not in names:
                raise UnknownParameter(name, list(names))
            if len(request.query_params.getlist(name)) > 1:
                raise RepeatedParameter(name)

    return check
