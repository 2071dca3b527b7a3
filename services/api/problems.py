"""Errors over HTTP: ``application/problem+json`` with a stable code, a sentence and the field.

Every refusal the product makes reaches the client in one shape (RFC 9457):
``{"type", "title", "status", "detail", "code", "field"}``. ``code`` is stable and meant for
programs; ``detail`` is a sentence meant for people. Each error is defined once, in its own
layer, and carries its code: the domain's rules (``domain.errors.DomainError`` and
``domain.aging.InvalidBuckets``: 422, but 404 for a document the account does not have), the
service layer's (``services.errors``: their own status) and the read models'
(``projections.explain.UnknownFigure``: 422). A 500 is a bug: it is logged with its traceback
and answered with a generic problem that leaks nothing.
"""

from __future__ import annotations

from typing import Any

import psycopg
from eventsourcing.persistence import PersistenceError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from domain.errors import (
    ApprovalAlreadyDecided,
    ApprovalExpired,
    DomainError,
    OwnApprovalRequest,
    PeriodClosed,
    UnknownApprovalRequest,
    UnknownDocument,
)
from projections.collections import InvalidWorklistQuery
from projections.directory import InvalidDirectoryQuery
from projections.explain import UnknownFigure
from services.errors import ServiceError
from services.fields import INTAKE_CODES
from services.logging import get_logger
from services.store_errors import (
    RETRY_AFTER_SECONDS,
    DatabaseUnavailable,
    is_database_unavailable,
)

log = get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
#: The domain's refusals that are not a rule broken (422) but something asked of an account
#: that it does not have: a document of an invoice, plan, offer, promise or claim it lacks.
DOMAIN_STATUS: dict[str, int] = {
    UnknownDocument.code: 404,
    UnknownApprovalRequest.code: 404,
    OwnApprovalRequest.code: 403,
    ApprovalAlreadyDecided.code: 409,
    ApprovalExpired.code: 409,
    PeriodClosed.code: 409,
}


def problem_document(
    status: int, code: str, detail: str, field: str | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "type": f"https://receivables.dev/problems/{code}",
        "title": code.replace("_", " ").capitalize(),
        "status": status,
        "detail": detail,
        "code": code,
        "field": field,
        **extra,
    }


def problem(
    status: int, code: str, detail: str, field: str | None = None, **extra: Any
) -> JSONResponse:
    body = problem_document(status, code, detail, field, **extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def problem_of(error: ServiceError | DomainError) -> dict[str, Any]:
    """The problem an error of the service layer or of the domain is answered with."""
    if isinstance(error, ServiceError):
        return problem_document(error.status, error.code, error.message, error.field)
    status = DOMAIN_STATUS.get(error.code, 422)
    return problem_document(status, error.code, str(error), getattr(error, "field", None))


def _answer(document: dict[str, Any]) -> JSONResponse:
    return JSONResponse(document, status_code=document["status"], media_type=PROBLEM_JSON)


def allowed_methods(request: Request) -> list[str]:
    """Every method the request's path takes, for a 405's ``Allow`` (RFC 9110). Starlette
    names only those of the first route of the path, and a path's methods are often routes
    of their own (``GET`` and ``POST /v1/keys``). A path named literally is its own resource:
    ``/v1/remittances/deposits`` takes what its routes take, not what
    ``/v1/remittances/{remittance_id}`` would make of the word."""
    matching: dict[int, set[str]] = {}
    for route in iter_route_contexts(request.app.routes):
        if route.methods and route.matches(request.scope)[0] != Match.NONE:
            parameters = len(getattr(route, "param_convertors", {}))
            matching.setdefault(parameters, set()).update(route.methods)
    return sorted(matching[min(matching)]) if matching else []


def _field_of(loc: tuple[Any, ...]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or None


def _validation_sentence(error: dict[str, Any]) -> str:
    field = _field_of(tuple(error.get("loc", ()))) or "the request"
    kind = error.get("type", "")
    if kind == "missing":
        return f"{field} is required."
    if kind == "extra_forbidden":
        return f"{field} is not a field this request takes."
    if kind == "json_invalid":
        return "The body is not valid JSON."
    message = str(error.get("msg", "is not valid")).removeprefix("Value error, ")
    return f"{field}: {message}"


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return _answer(problem_of(exc))

    @app.exception_handler(ServiceError)
    async def _service(_: Request, exc: ServiceError) -> JSONResponse:
        return _answer(problem_of(exc))

    # A read model's refusal of what a report asks for: the sentence is the read model's own.
    @app.exception_handler(UnknownFigure)
    async def _unknown_figure(_: Request, exc: UnknownFigure) -> JSONResponse:
        return problem(422, exc.code, str(exc), exc.field)

    # The directory's refusal of a sort key or a cursor: its own code and sentence.
    @app.exception_handler(InvalidDirectoryQuery)
    async def _invalid_directory_query(_: Request, exc: InvalidDirectoryQuery) -> JSONResponse:
        return problem(422, exc.code, str(exc), exc.field)

    # The worklist's refusal of a sort key or a cursor: its own code and sentence.
    @app.exception_handler(InvalidWorklistQuery)
    async def _invalid_worklist_query(_: Request, exc: InvalidWorklistQuery) -> JSONResponse:
        return problem(422, exc.code, str(exc), exc.field)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        # Refusals of what could not be stored and read back keep their own stable code.
        kind = str(first.get("type", ""))
        return problem(
            422,
            kind if kind in INTAKE_CODES else "invalid_request",
            _validation_sentence(first) if first else "The request is not valid.",
            _field_of(tuple(first.get("loc", ()))) if first else None,
            errors=[
                {"field": _field_of(tuple(e.get("loc", ()))), "detail": _validation_sentence(e)}
                for e in errors
            ],
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {
            404: "not_found",
            405: "method_not_allowed",
            413: "body_too_large",
            415: "unsupported_media_type",
        }
        response = problem(
            exc.status_code, code.get(exc.status_code, "http_error"), str(exc.detail)
        )
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:
            response.headers["Allow"] = ", ".join(allowed_methods(request))
        return response

    # A database that is away is no bug: 503 with Retry-After, and the keep-alive connection
    # stays open (handled here, the error does not reach the server's catch-all, which closes).
    @app.exception_handler(DatabaseUnavailable)
    async def _unavailable(_: Request, exc: DatabaseUnavailable) -> JSONResponse:
        response = problem(exc.status, exc.code, exc.message)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    @app.exception_handler(PersistenceError)
    @app.exception_handler(psycopg.Error)
    async def _store(request: Request, exc: Exception) -> JSONResponse:
        if is_database_unavailable(exc):
            log.warning("database unavailable", path=request.url.path, error=str(exc))
            return await _unavailable(request, DatabaseUnavailable())
        return await _bug(request, exc)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", path=request.url.path)
        return problem(
            500,
            "internal_error",
            "Something went wrong on our side; the error was logged with this request's correlation id.",
        )
