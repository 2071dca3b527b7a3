"""The HTTP API: FastAPI over the Receivables application, versioned under ``/v1``.

Every request gets a correlation id (the client's ``X-Correlation-Id`` or a new one), bound to
every log line of the request and recorded on every event it causes, and one canonical log
line when it ends. Bodies larger than ``MAX_BODY_BYTES`` are refused (``BodyLimit``). The
OpenAPI document says every answer of every operation (``services.api.openapi``).

The reports read the read models' tables, so the app creates them (empty, at the first event)
where they do not exist yet; it never fills them: a projector does (``ar serve`` runs one).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from projections.catalogue import read_models
from projections.runner import install
from services.api import (
    accounts,
    arrangements,
    billing,
    cash,
    collections,
    controls,
    days,
    document_runs,
    documents,
    general_ledger,
    insurance,
    keys,
    lifecycle,
    openapi,
    problems,
    remittances,
    reports,
    subscriptions,
    tenant,
)
from services.api.body_limit import MAX_BODY_BYTES, BodyLimit
from services.api.common import refuse_malformed_parameters
from services.api.json_keys import RefuseDuplicateKeys
from services.bootstrap import Runtime
from services.logging import bind_context, clear_context, get_logger
from services.store_errors import DatabaseUnavailable
from services.x12_835 import MAX_FILE_BYTES

log = get_logger("receivables.http")

_CORRELATION_ID_MAX = 128
_CORRELATION_ID = re.compile(f"[\\x21-\\x7e]{{1,{_CORRELATION_ID_MAX}}}")


def create_app(runtime: Runtime, *, close_runtime_on_shutdown: bool = False) -> FastAPI:
    """The API over ``runtime``; a worker process (``services.api.worker``) has the app close
    its runtime when it stops, where ``ar serve`` closes its own."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if close_runtime_on_shutdown:
            runtime.close()

    app = FastAPI(
        lifespan=lifespan,
        title="Receivables",
        version="1",
        summary="Event-sourced accounts receivable: every charge, invoice and payment on the record.",
        openapi_url="/openapi.json",
        docs_url="/docs",
        generate_unique_id_function=openapi.operation_id,
        # Before anything else of a route: a query parameter it does not take is refused
        # (400), a date or moment not in ISO 8601 too (422).
        dependencies=[Depends(refuse_malformed_parameters)],
    )
    app.state.runtime = runtime
    problems.install(app)
    openapi.install(app)
    app.include_router(accounts.router)
    app.include_router(billing.router)
    app.include_router(cash.router)
    app.include_router(arrangements.router)
    app.include_router(subscriptions.router)
    app.include_router(insurance.router)
    app.include_router(collections.router)
    app.include_router(lifecycle.router)
    app.include_router(keys.router)
    app.include_router(reports.router)
    app.include_router(days.router)
    app.include_router(document_runs.router)
    app.include_router(tenant.router)
    app.include_router(remittances.router)
    app.include_router(documents.router)
    app.include_router(controls.router)
    app.include_router(general_ledger.chart_router)
    app.include_router(general_ledger.router)
    install(runtime.db, read_models())

    @app.get("/health", tags=["operations"], summary="Liveness: the process answers")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    # Apart from liveness: a process whose database is away should get no traffic, not a
    # restart. The store's error becomes the 503 problem (services.api.problems).
    @app.get(
        "/ready",
        tags=["operations"],
        summary="Readiness: the database answers (else 503)",
        responses=openapi.refusals(DatabaseUnavailable()),
    )
    def ready() -> dict[str, str]:
        runtime.db.query_one("SELECT 1 AS one")
        return {"status": "ready"}

    app.add_middleware(RefuseDuplicateKeys)
    app.add_middleware(RequestContext)
    app.add_middleware(
        BodyLimit,
        max_bytes=MAX_BODY_BYTES,
        larger={"/v1/remittances": MAX_FILE_BYTES},  # a payer's 835 file, not a JSON command
    )
    return app


class RequestContext:
    """Every request's correlation id (the client's ``X-Correlation-Id`` or a new one): bound
    to its log lines, kept in ``request.state``, echoed in the answer; and the one canonical
    log line when it ends. Plain ASGI, so a request pays for no extra task or stream."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        clear_context()
        supplied = Headers(scope=scope).get("x-correlation-id", "")
        # The id is stored on the events: only a token of visible ASCII is taken as it is.
        correlation_id = supplied if _CORRELATION_ID.fullmatch(supplied) else uuid.uuid4().hex
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        bind_context(correlation_id=correlation_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append("X-Correlation-Id", correlation_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                ms=round((time.perf_counter() - started) * 1000, 2),
            )
