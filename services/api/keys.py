"""API keys over HTTP, for admins of a tenant: create (the key is shown once), list, revoke."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from services.api.openapi import refusals
from services.api.security import AdminDep
from services.api_keys import ApiKeys, Role
from services.errors import KeyNotFound
from services.fields import STRICT, Identifier

router = APIRouter(prefix="/v1/keys", tags=["keys"])


class CreateKeyRequest(BaseModel):
    model_config = STRICT
    name: Identifier = Field(
        description="Who holds the key; recorded as the actor on the events they cause."
    )
    role: Role


class KeyResponse(BaseModel):
    key_id: str
    name: str
    role: Role
    created_at: datetime | str
    revoked_at: datetime | str | None = None


class CreatedKeyResponse(KeyResponse):
    key: str = Field(description="The key itself. It is shown now and never again.")


def _keys(request: Request) -> ApiKeys:
    keys: ApiKeys = request.app.state.runtime.keys
    return keys


@router.post("", status_code=201, summary="Create an API key in your tenant")
def create_key(body: CreateKeyRequest, request: Request, caller: AdminDep) -> CreatedKeyResponse:
    issued = _keys(request).create(name=body.name, tenant_id=caller.tenant_id, role=body.role)
    row = next(
        k for k in _keys(request).list(caller.tenant_id) if k["key_id"] == issued.caller.key_id
    )
    return CreatedKeyResponse(**row, key=issued.secret)


@router.get("", summary="List your tenant's API keys (never their secrets)")
def list_keys(request: Request, caller: AdminDep) -> list[KeyResponse]:
    return [KeyResponse(**row) for row in _keys(request).list(caller.tenant_id)]


@router.delete(
    "/{key_id}",
    status_code=204,
    summary="Revoke an API key",
    responses=refusals(KeyNotFound("7c1d0e52-5d9b-4a55-8f0b-2a1d3c1f7e10")),
)
def revoke_key(
    key_id: Annotated[str, Path(min_length=1, max_length=64)], request: Request, caller: AdminDep
) -> None:
    if not _keys(request).revoke(caller.tenant_id, key_id):
        raise KeyNotFound(key_id)
