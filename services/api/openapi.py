"""The OpenAPI document tells the truth: every answer an operation gives, under a readable id.

FastAPI documents an operation's success answers and a 422 in its own shape
(``HTTPValidationError``), which this API never answers: every refusal is a problem
(``application/problem+json``, ``services.api.problems``). So the generated document is
rewritten once, here, for every operation alike, from what the route is made of:

- every operation may answer **400**: a query parameter it does not take, or one given twice
  (``services.api.common.refuse_malformed_parameters``);
- one that reads an API key: **401** (none, unknown or revoked) and **503** (the key is read
  from the database, which may be away); **403** when only some roles may call it (their names
  are in the answer's description);
- one with an account number in its path: **404** (no such account in the caller's tenant)
  and **409** (an account whose history cannot be read);
- one that takes an ``Idempotency-Key``: **409** (the key used for another body, a change
  at the same moment);
- one with a body: **413** (larger than the limit) and **422** (a body that is not what the
  operation takes; a JSON key given twice); one with parameters: **422** (a value not valid);
- the commands (``Idempotency-Key``): **422** for a business rule broken, **503** while the
  service stops.

What a route's shape does not tell (a 404 of a run that does not exist, a 409 of a day being
closed) the route declares with ``responses=refusals(SomeError(...), ...)``: the refusal's own
status, code and sentence become the answer and its example. Each answer's body is the one
``Problem`` schema, with an example per code.

Operation ids are the endpoint's name in camelCase (``receive_payment`` → ``receivePayment``),
the same names the CLI and the command models use; two routes of one name are an error at
start, not a silent suffix.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel

from domain.errors import DomainError
from services.api.body_limit import too_large
from services.api.common import declared_parameters
from services.api.json_keys import DUPLICATE_JSON_KEY
from services.api.problems import PROBLEM_JSON, problem_document, problem_of
from services.api.security import RoleGuard, authenticated_caller
from services.api_keys import Role
from services.errors import (
    AccountNotFound,
    ConcurrentUpdate,
    Forbidden,
    IdempotencyKeyReused,
    RepeatedParameter,
    ServiceError,
    ServiceStopping,
    Unauthenticated,
    UnknownParameter,
)
from services.store_errors import DatabaseUnavailable
from services.unreadable import AccountUnreadable

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

#: RFC 9457's members and ours; a few refusals carry more (a list of what is wrong in a file).
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "A refusal (RFC 9457): `code` is stable and meant for programs, `detail` is "
    "a sentence meant for people, `field` names what is at fault when one thing is.",
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string", "description": "A URI naming the kind of problem."},
        "title": {"type": "string", "description": "The code, as words."},
        "status": {"type": "integer", "description": "The HTTP status, repeated."},
        "detail": {"type": "string", "description": "What is wrong and what to do, a sentence."},
        "code": {"type": "string", "description": "Stable, for programs: `account_not_found`."},
        "field": {
            "type": ["string", "null"],
            "description": "The parameter, header or body field at fault (dotted for nested).",
        },
        "errors": {
            "type": "array",
            "description": "A request that is not valid: each field at fault with its sentence.",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": ["string", "null"]},
                    "detail": {"type": "string"},
                },
            },
        },
        "problems": {
            "type": "array",
            "description": "A file refused whole: every problem found in it, by line.",
            "items": {},
        },
    },
    "additionalProperties": True,
}

_DESCRIPTIONS = {
    400: "A query parameter the operation does not take, or one given twice.",
    401: "No API key, or one that is unknown or revoked.",
    403: "The key's role may not do this.",
    404: "What the path names does not exist in your tenant.",
    409: "In conflict with what is on record, or with a request at the same moment; nothing "
    "was recorded.",
    413: "The body is larger than the limit.",
    415: "The body is not of a media type the operation takes.",
    422: "The request is not valid, or breaks a business rule; nothing was recorded.",
    502: "A server the operation depends on refused for now; trying later may succeed.",
    503: "The service cannot answer now (the database is away, the service is stopping); "
    "nothing was recorded. Retry after the seconds in Retry-After, if given.",
}

_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "string"},
    }
}

# Words for the examples: what an operation would really say for a made-up request.
_ACCOUNT = "A-100"
_KEY = "7c1d0e52-5d9b-4a55-8f0b-2a1d3c1f7e10"


def operation_id(route: APIRoute) -> str:
    """The endpoint's name in camelCase: ``get_aging`` → ``getAging``."""
    first, *rest = route.name.split("_")
    return first + "".join(word[:1].upper() + word[1:] for word in rest)


def refusals(*errors: ServiceError | DomainError) -> dict[int | str, dict[str, Any]]:
    """A route's ``responses=`` for refusals its shape does not tell: each error's status,
    with the error as its example."""
    declared: dict[int | str, dict[str, Any]] = {}
    for error in errors:
        document = problem_of(error)
        answer = declared.setdefault(
            document["status"],
            {
                "description": _DESCRIPTIONS.get(document["status"], "Refused."),
                "content": {PROBLEM_JSON: {"schema": PROBLEM_REF, "examples": {}}},
            },
        )
        answer["content"][PROBLEM_JSON]["examples"][document["code"]] = {"value": document}
    return declared


def unchanged(model: type[BaseModel], why: str) -> dict[int | str, dict[str, Any]]:
    """A route's ``responses=`` for the 200 of a request that recorded nothing new (the same
    settings again, a day already closed, a file already posted): the answer, unchanged."""
    return {200: {"model": model, "description": why}}


def install(app: FastAPI) -> None:
    """Serve the rewritten document at ``app.openapi_url`` (made once, on first asking)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override


def document(app: FastAPI) -> dict[str, Any]:
    spec = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    routes = _routes_by_id(app)
    for operations in spec.get("paths", {}).values():
        for method, operation in operations.items():
            route = routes[operation["operationId"]]
            _document_refusals(operation, _Shape(route, method.upper(), operation))
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Problem"] = PROBLEM_SCHEMA
    return spec


def _routes_by_id(app: FastAPI) -> dict[str, APIRoute]:
    routes: dict[str, APIRoute] = {}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        unique_id: str = context.unique_id
        if unique_id in routes:
            msg = f"two operations are named {unique_id!r}: give one route another name"
            raise ValueError(msg)
        routes[unique_id] = route
    return routes


class _Shape:
    """What an operation is made of, as far as its refusals go."""

    def __init__(self, route: APIRoute, method: str, operation: dict[str, Any]) -> None:
        calls = list(_calls(route.dependant))
        parameters = operation.get("parameters", [])
        self.method = method
        self.query = declared_parameters(route).names
        self.path = [p["name"] for p in parameters if p["in"] == "path"]
        self.headers = [p["name"] for p in parameters if p["in"] == "header"]
        self.has_body = "requestBody" in operation
        self.authenticated = authenticated_caller in calls
        guards = [call for call in calls if isinstance(call, RoleGuard)]
        self.roles: tuple[Role, ...] | None = guards[0].roles if guards else None
        self.is_command = "Idempotency-Key" in self.headers

    def examples(self, status: int) -> list[dict[str, Any]]:
        """The refusals an operation of this shape gives with ``status``: none, if it does not."""
        errors: list[ServiceError] = []
        documents: list[dict[str, Any]] = []
        reads_account = "account_number" in self.path
        if status == 400:
            errors += [
                UnknownParameter(
                    "currency" if "currency" not in self.query else "curency", list(self.query)
                ),
                RepeatedParameter(self.query[0] if self.query else "limit"),
            ]
        elif status == 401 and self.authenticated:
            errors.append(Unauthenticated())
        elif status == 403 and self.roles is not None:
            other = next(role for role in Role if role not in self.roles)
            errors.append(Forbidden(other, self.roles))
        elif status == 404 and reads_account:
            errors.append(AccountNotFound(_ACCOUNT))
        elif status == 409:
            if self.is_command:
                errors += [IdempotencyKeyReused(_KEY), ConcurrentUpdate(_ACCOUNT)]
            if reads_account:
                errors.append(AccountUnreadable(_ACCOUNT, 7, ValueError()))
        elif status == 413 and self.has_body:
            documents.append(too_large())
        elif status == 422:
            if self.has_body:
                documents.append(_invalid("body", "The body is not valid JSON."))
                documents.append(
                    problem_document(
                        422,
                        DUPLICATE_JSON_KEY,
                        "The key 'amount' appears more than once in one object of the body; "
                        "send each key once.",
                        "amount",
                    )
                )
            elif self.query or self.path or self.headers:
                name = (self.query or self.path or self.headers)[0]
                documents.append(_invalid(name, f"{name}: Input should be a valid value"))
        elif status == 503:
            if self.authenticated:
                errors.append(DatabaseUnavailable())
            if self.is_command:
                errors.append(ServiceStopping())
        return documents + [problem_of(error) for error in errors]

    def possible(self) -> list[int]:
        """The statuses an operation of this shape may answer."""
        statuses = [400]
        if self.authenticated:
            statuses += [401, 503]
        if self.roles is not None:
            statuses.append(403)
        if "account_number" in self.path:
            statuses += [404, 409]
        if self.is_command:
            statuses.append(409)
        if self.has_body:
            statuses += [413, 422]
        if self.query or self.path or self.headers:
            statuses.append(422)
        return sorted(set(statuses))


def _invalid(field: str, sentence: str) -> dict[str, Any]:
    return problem_document(
        422, "invalid_request", sentence, field, errors=[{"field": field, "detail": sentence}]
    )


def _calls(dependant: Dependant) -> Iterable[Any]:
    pending = [dependant]
    while pending:
        current = pending.pop()
        yield current.call
        pending.extend(current.dependencies)


def _document_refusals(operation: dict[str, Any], shape: _Shape) -> None:
    responses: dict[str, Any] = operation["responses"]
    statuses = set(shape.possible())
    statuses |= {int(s) for s in responses if s.isdigit() and int(s) >= 400}
    for status in sorted(statuses):
        declared = responses.get(str(status), {})
        examples: dict[str, Any] = {}
        for example in shape.examples(status):
            examples.setdefault(example["code"], {"value": example})
        declared_content = declared.get("content", {}).get(PROBLEM_JSON, {})
        examples.update(declared_content.get("examples", {}))
        answer: dict[str, Any] = {
            "description": declared.get("description")
            if declared.get("description") and declared.get("description") != "Validation Error"
            else _describe(status, shape),
            "content": {PROBLEM_JSON: {"schema": PROBLEM_REF, "examples": examples}},
        }
        if status == 503:
            answer["headers"] = _RETRY_AFTER
        responses[str(status)] = answer
    operation["responses"] = dict(sorted(responses.items()))


def _describe(status: int, shape: _Shape) -> str:
    if status == 403 and shape.roles is not None:
        roles = " or ".join(sorted(shape.roles))
        return f"Only a {roles} key may do this."
    return _DESCRIPTIONS.get(status, "Refused.")
