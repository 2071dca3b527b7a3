"""API keys: who is calling, for which tenant, in which role.

A key is shown once, when it is created: ``ar_<key id>_<secret>``. Only the SHA-256 of the
secret is stored (the secret is 32 random bytes, so a slow hash adds nothing); a presented key
is found by its id and compared in constant time. A key belongs to one tenant and one role and
has a name, which becomes the actor on every event it records. Revoked keys stay on file, so
the actor of old events can still be looked up.

A key that authenticated is remembered by the process (``services.key_cache``), so the next
request with it asks nothing of the database (``cached``); a revocation, or any change to a
key's row, is seen at once by every process, and the process that makes it forgets the key
before the call returns.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from projections.database import Database
from services.key_cache import DEFAULT_CAPACITY, watched_cache

KEY_PREFIX = "ar"


class Role(StrEnum):
    clerk = "clerk"
    auditor = "auditor"
    reporter = "reporter"
    admin = "admin"
    #: The second pair of eyes: approves or rejects what the tenant's policy holds back, and
    #: reopens a closed period. Posts nothing itself, so whoever posts cash cannot approve.
    approver = "approver"


@dataclass(frozen=True)
class Caller:
    """The authenticated key behind a request."""

    key_id: str
    name: str
    tenant_id: str
    role: Role


@dataclass(frozen=True)
class IssuedKey:
    caller: Caller
    secret: str  # the whole key, shown once


class ApiKeys:
    def __init__(self, db: Database, *, cache_capacity: int = DEFAULT_CAPACITY) -> None:
        self.db = db
        self._cache = watched_cache(db, cache_capacity)

    # The table is made by the migrations (services/migrations), with the product's others.

    def issue(self, *, name: str, tenant_id: str, role: Role) -> IssuedKey:
        """A new key, not yet stored (``store`` does): whoever keeps it somewhere else first,
        as the first start keeps the admin key in its file, can do so before it works."""
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        caller = Caller(key_id=key_id, name=name, tenant_id=tenant_id, role=role)
        return IssuedKey(caller=caller, secret=f"{KEY_PREFIX}_{key_id}_{secret}")

    def store(
        self, issued: IssuedKey, *, now: datetime | None = None, revoke_named: bool = False
    ) -> list[str]:
        """Store an issued key: from now on it authenticates. With ``revoke_named``, the
        tenant's other live keys of the same name and role are revoked in the same
        transaction (a key replacing a lost one); the ids revoked."""
        caller = issued.caller
        secret = issued.secret.split("_", 2)[2]
        with self.db.transaction() as c:
            revoked: list[str] = []
            if revoke_named:
                c.execute(
                    self.db.sql(
                        "SELECT key_id FROM api_keys WHERE tenant_id = ? AND name = ?"
                        " AND role = ? AND revoked_at IS NULL ORDER BY key_id"
                    ),
                    (caller.tenant_id, caller.name, caller.role.value),
                )
                revoked = [row["key_id"] for row in c.fetchall()]
                c.execute(
                    self.db.sql(
                        "UPDATE api_keys SET revoked_at = ? WHERE tenant_id = ? AND name = ?"
                        " AND role = ? AND revoked_at IS NULL"
                    ),
                    (_timestamp(now), caller.tenant_id, caller.name, caller.role.value),
                )
            c.execute(
                self.db.sql(
                    "INSERT INTO api_keys (key_id, name, tenant_id, role, secret_sha256,"
                    " created_at) VALUES (?, ?, ?, ?, ?, ?)"
                ),
                (
                    caller.key_id,
                    caller.name,
                    caller.tenant_id,
                    caller.role.value,
                    _digest(secret),
                    _timestamp(now),
                ),
            )
        for key_id in revoked:
            self._cache.forget(key_id)
        return revoked

    def forget(self, key_id: str) -> None:
        """Delete a key's row: only for a key never shown to anyone (its storing step failed
        after the row was written), so no event names it."""
        self.db.execute("DELETE FROM api_keys WHERE key_id = ?", (key_id,))
        self._cache.forget(key_id)

    def create(
        self, *, name: str, tenant_id: str, role: Role, now: datetime | None = None
    ) -> IssuedKey:
        issued = self.issue(name=name, tenant_id=tenant_id, role=role)
        self.store(issued, now=now)
        return issued

    def cached(self, presented: str) -> Caller | None:
        """The caller of a key this process remembers, without asking the database; None when
        it does not (``authenticate`` then decides)."""
        parts = _parts(presented)
        if parts is None:
            return None
        key_id, secret = parts
        return self._cache.lookup(key_id, _digest(secret))

    def authenticate(self, presented: str) -> Caller | None:
        """The caller a presented key stands for, or None when it is unknown, wrong or revoked."""
        parts = _parts(presented)
        if parts is None:
            return None
        key_id, secret = parts
        digest = _digest(secret)
        remembered = self._cache.lookup(key_id, digest)
        if remembered is not None:
            return remembered
        ticket = self._cache.ticket()
        row = self.db.query_one(
            "SELECT key_id, name, tenant_id, role, secret_sha256 FROM api_keys"
            " WHERE key_id = ? AND revoked_at IS NULL",
            (key_id,),
        )
        if row is None or not hmac.compare_digest(row["secret_sha256"], digest):
            return None
        caller = Caller(
            key_id=row["key_id"],
            name=row["name"],
            tenant_id=row["tenant_id"],
            role=Role(row["role"]),
        )
        self._cache.remember(ticket, key_id, digest, caller)
        return caller

    def list(self, tenant_id: str) -> list[dict[str, Any]]:
        """The tenant's keys, without secrets: id, name, role, created and revoked times."""
        return self.db.query(
            "SELECT key_id, name, role, created_at, revoked_at FROM api_keys WHERE tenant_id = ? ORDER BY created_at, key_id",
            (tenant_id,),
        )

    def revoke(self, tenant_id: str, key_id: str, now: datetime | None = None) -> bool:
        """Revoke one of the tenant's keys; False when the tenant has no such live key."""
        with self.db.transaction() as c:
            c.execute(
                self.db.sql(
                    "UPDATE api_keys SET revoked_at = ? WHERE tenant_id = ? AND key_id = ? AND revoked_at IS NULL"
                ),
                (_timestamp(now), tenant_id, key_id),
            )
            revoked = bool(c.rowcount == 1)
        if revoked:
            self._cache.forget(key_id)
        return revoked

    def any_admin(self) -> bool:
        return (
            self.db.query_one(
                "SELECT 1 AS one FROM api_keys WHERE role = ? AND revoked_at IS NULL", ("admin",)
            )
            is not None
        )

    @property
    def remembered(self) -> int:
        """How many keys this process remembers (never more than the cache's capacity)."""
        return len(self._cache)

    def close(self) -> None:
        """Stop watching for changes to keys and forget every remembered one."""
        self._cache.close()


def _parts(presented: str) -> tuple[str, str] | None:
    """A presented key's id and secret, or None when it is not shaped like a key."""
    prefix, _, rest = presented.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != KEY_PREFIX or not key_id or not secret:
        return None
    return key_id, secret


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _timestamp(now: datetime | None) -> str:
    return (now or datetime.now(UTC)).isoformat()
