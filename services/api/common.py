"""What every account endpoint shares: the path, the idempotency header, the answer's shape,
and ``command_endpoint``, which publishes one command model as ``POST /v1/accounts/{n}/<facts>``.

Every command is a fact recorded on an account, so each is a noun under the account:
``POST .../charges`` records a charge, ``POST .../invoice-voids`` records that an invoice was
voided. The endpoint's body is the command model (``services.commands``); its answer is the
account summary with the events the command recorded.

Every route of the API, not only these, refuses a query parameter it does not declare
(``refuse_malformed_parameters``, installed on the app): a misspelt filter is an error, never
silently ignored.
"""

# No ``from __future__ import annotations`` here: FastAPI reads the endpoint's annotations at
# registration, and the command model is a local of ``command_endpoint``.

import asyncio
import re
from collections import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from fastapi import APIRouter, Header, Path, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
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
        responses={
            202: {
                "model": AccountResponse,
                "description": "Held back by the tenant's approval policy: nothing of the "
                "command is recorded until an approver decides (approval_request).",
            }
        },
    )


def only_parameters(names: Sequence[str]) -> Callable[[Request], None]:
    """A dependency refusing a query parameter not in ``names``, or one given twice. Every
    route has the same check from what it declares (``refuse_malformed_parameters``); this
    one narrows a route to fewer names than it declares."""
    narrowed = DeclaredParameters(tuple(names))

    def check(request: Request) -> None:
        narrowed.check(request)

    return check


def refuse_malformed_parameters(request: Request) -> None:
    """Every route's first dependency (``services.api.app``). A query parameter the matched
    route does not declare, or a declared one given twice, is refused (400), never ignored,
    for the answer would look filtered, paged or converted when it is not. A date or a moment
    in the query or the path is taken in ISO 8601 only, as the OpenAPI document says
    (pydantic would read ``0`` as 1 January 1970). Both come from the route itself, so no
    route can forget them."""
    route = request.scope.get("route")
    if isinstance(route, APIRoute):
        declared_parameters(route).check(request)


@dataclass(frozen=True)
class DeclaredParameters:
    """A route's query parameters as a client writes them (aliases: ``from``, not
    ``period_from``), in declaration order; ``repeatable``: those that take a list;
    ``temporal``: the query and path parameters that are a date or a moment, by kind."""

    names: tuple[str, ...]
    repeatable: frozenset[str] = frozenset()
    temporal: tuple[tuple[str, str, str], ...] = ()

    def check(self, request: Request) -> None:
        for name in request.query_params:
            if name not in self.names:
                raise UnknownParameter(name, list(self.names))
            if name not in self.repeatable and len(request.query_params.getlist(name)) > 1:
                raise RepeatedParameter(name)
        for where, name, kind in self.temporal:
            given = (request.query_params if where == "query" else request.path_params).get(name)
            pattern, sentence = _ISO_8601[kind]
            if given is not None and not pattern.fullmatch(str(given)):
                raise RequestValidationError(
                    [{"type": f"{kind}_parsing", "loc": (where, name), "msg": sentence}]
                )


_ISO_8601: dict[str, tuple[re.Pattern[str], str]] = {
    "date": (re.compile(r"\d{4}-\d{2}-\d{2}"), "must be a date written YYYY-MM-DD"),
    "datetime": (
        re.compile(
            r"\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?([Zz]|[+-]\d{2}:?\d{2})?)?"
        ),
        "must be a moment in ISO 8601, such as 2026-03-31T17:00:00Z",
    ),
}


def declared_parameters(route: APIRoute) -> DeclaredParameters:
    """The parameters ``route`` declares, its dependencies' included. A walk over a handful
    of dependants: cheaper than a cache keyed by routes (which are not hashable)."""
    names: list[str] = []
    repeatable: set[str] = set()
    temporal: list[tuple[str, str, str]] = []
    pending: list[Dependant] = [route.dependant]
    while pending:
        dependant = pending.pop(0)
        for where, fields in (("query", dependant.query_params), ("path", dependant.path_params)):
            for field in fields:
                for name, annotation in _client_names(field.alias, field.field_info.annotation):
                    kind = _temporal_kind(annotation)
                    if kind is not None:
                        temporal.append((where, name, kind))
                    if where == "path":
                        continue
                    if name not in names:
                        names.append(name)
                    if _is_sequence(annotation):
                        repeatable.add(name)
        pending.extend(dependant.dependencies)
    return DeclaredParameters(tuple(names), frozenset(repeatable), tuple(temporal))


def _client_names(alias: str, annotation: Any) -> list[tuple[str, Any]]:
    """A parameter's name, or the fields' names of a model taken as query parameters."""
    model = _without_none(annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [(f.alias or n, f.annotation) for n, f in model.model_fields.items()]
    return [(alias, annotation)]


def _without_none(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, UnionType):
        kept = [a for a in get_args(annotation) if a is not type(None)]
        return _without_none(kept[0]) if len(kept) == 1 else annotation
    if get_origin(annotation) is Annotated:
        return _without_none(get_args(annotation)[0])
    return annotation


def _temporal_kind(annotation: Any) -> str | None:
    bare = _without_none(annotation)
    if bare is datetime:  # before date: a datetime is a date
        return "datetime"
    if bare is date:
        return "date"
    return None


def _is_sequence(annotation: Any) -> bool:
    origin = get_origin(_without_none(annotation))
    return origin in (list, tuple, set, frozenset) or origin is abc.Sequence
