"""Who is calling: the API key in ``Authorization: Bearer <key>`` and what its role may do.

A missing, unknown or revoked key gets 401. The caller's tenant scopes every account lookup,
so a request never reaches another tenant's accounts; the caller's key name becomes the actor
on every event it records. The key itself never reaches a log line. A key the process
remembers is checked on the event loop, without the database (``services.key_cache`` says
when that is trusted); any other is read from the database in a worker thread, and a database
that is away is not a wrong key: the check answers 503 then, not 401, and a pooled connection
found dead is replaced and the key read once more (``projections.database.Database.query``).
The OpenAPI document lists 401 and 503 on every operation that reads a key, and 403 on those
for some roles only, with the roles they take.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from services.api_keys import ApiKeys, Caller, Role
from services.errors import Forbidden, Unauthenticated
from services.logging import bind_context

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer ar_...`")


async def authenticated_caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Caller:
    if credentials is None:
        raise Unauthenticated
    keys: ApiKeys = request.app.state.runtime.keys
    # A key this process remembers costs no query, so no trip through the thread pool either.
    caller = keys.cached(credentials.credentials)
    if caller is None:
        caller = await run_in_threadpool(keys.authenticate, credentials.credentials)
    if caller is None:
        raise Unauthenticated
    bind_context(actor=caller.name, tenant_id=caller.tenant_id)
    return caller


CallerDep = Annotated[Caller, Depends(authenticated_caller)]


@dataclass(frozen=True)
class RoleGuard:
    """The roles a route is for (any other key gets 403); the OpenAPI document reads them to
    say which keys an operation takes (``services.api.openapi``)."""

    roles: tuple[Role, ...]

    # Async: a check this small should not take a trip through the thread pool.
    async def __call__(self, caller: CallerDep) -> Caller:
        if caller.role not in self.roles:
            raise Forbidden(caller.role, self.roles)
        return caller


def _role_guard(*allowed: Role) -> RoleGuard:
    return RoleGuard(allowed)


#: Who may do what. Commands are the clerks'; auditors read everything of their tenant and
#: replay or verify it; reporters read the read models only; admins manage keys; approvers
#: read what they are asked to approve, and decide it.
ClerkDep = Annotated[Caller, Depends(_role_guard(Role.clerk))]
ReaderDep = Annotated[Caller, Depends(_role_guard(Role.clerk, Role.auditor, Role.approver))]
AuditorDep = Annotated[Caller, Depends(_role_guard(Role.auditor))]
ReportReaderDep = Annotated[
    Caller, Depends(_role_guard(Role.clerk, Role.auditor, Role.reporter, Role.approver))
]
AdminDep = Annotated[Caller, Depends(_role_guard(Role.admin))]
#: Sending documents to every account (a statement run): a clerk's work, or an admin's (who
#: closes the days whose dunning letters are runs too).
SenderDep = Annotated[Caller, Depends(_role_guard(Role.clerk, Role.admin))]
#: The tenant's settings (dunning policy, close schedule, days closed): admins set them, and
#: clerks and auditors read them.
SettingsReaderDep = Annotated[
    Caller, Depends(_role_guard(Role.admin, Role.clerk, Role.auditor, Role.approver))
]
#: Four eyes: approving or rejecting a held-back command, reopening a closed period. An
#: approver key posts nothing (it is not a clerk's), so the roles that post cash cannot approve.
ApproverDep = Annotated[Caller, Depends(_role_guard(Role.approver))]
#: Closing an accounting period: the admins who close the days, or an approver.
PeriodCloserDep = Annotated[Caller, Depends(_role_guard(Role.admin, Role.approver))]
#: The approvals queue and the auditor's sample of decisions.
ApprovalsReaderDep = Annotated[
    Caller, Depends(_role_guard(Role.clerk, Role.approver, Role.auditor))
]
#: The general-ledger journal and its numbered exports: finance's reading of the ledger, for
#: auditors and reporting jobs (admins map the chart of accounts, they do not read figures).
GlExporterDep = Annotated[Caller, Depends(_role_guard(Role.auditor, Role.reporter))]
