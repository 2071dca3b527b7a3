"""Approval requests: every command held back for a second person, across a tenant's accounts.

Table ``approval_requests`` (``{t}`` empty for the live model): one row per request, written
from the account as the domain left it after the request's latest event (requested, granted,
rejected, expired): the command and the amount at stake, the maker and their reason, the day
asked and the last day it may be approved, its status, the checker, the day decided and the
checker's reason, and the positions of the events that asked and decided it.

What it serves: the approvers' queue (:func:`requests`, pending first by expiry) and the
auditor's sample of segregation of duties (:func:`decisions`: every decision of a period, with
maker and checker side by side). A pending request whose last day has passed reads as
``expired`` as of a later date even before the close of day records it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar, Final

from domain.account import Account
from domain.approvals import EXPIRED, PENDING
from domain.money import from_minor_units, to_minor_units
from projections.database import Cursor, Database
from projections.replay import Change
from projections.runner import ReadModel

COLUMNS: Final = (
    "account_id",
    "request_id",
    "tenant_id",
    "account_number",
    "command",
    "amount_minor",
    "currency",
    "maker",
    "reason",
    "requested_on",
    "expires_on",
    "status",
    "checker",
    "decided_on",
    "decision_reason",
    "requested_position",
    "decided_position",
)
_EVENTS: Final = frozenset(
    {"ApprovalRequested", "ApprovalGranted", "ApprovalRejected", "ApprovalExpired"}
)


class ApprovalRequests(ReadModel):
    name: ClassVar[str] = "approval_requests"
    table_names: ClassVar[list[str]] = ["approval_requests"]
    tables: ClassVar[list[str]] = [
        "CREATE TABLE IF NOT EXISTS {t}approval_requests ("
        " account_id TEXT NOT NULL,"
        " request_id TEXT NOT NULL,"
        " tenant_id TEXT NOT NULL,"
        " account_number TEXT NOT NULL,"
        " command TEXT NOT NULL,"
        " amount_minor {money} NOT NULL,"
        " currency TEXT NOT NULL,"
        " maker TEXT NOT NULL,"
        " reason TEXT,"
        " requested_on {date} NOT NULL,"
        " expires_on {date} NOT NULL,"
        " status TEXT NOT NULL,"
        " checker TEXT,"
        " decided_on {date},"
        " decision_reason TEXT,"
        " requested_position {bigint} NOT NULL,"
        " decided_position {bigint},"
        " PRIMARY KEY (account_id, request_id))",
        "CREATE INDEX IF NOT EXISTS {t}approval_requests_by_tenant"
        " ON {t}approval_requests (tenant_id, status, expires_on)",
        "CREATE INDEX IF NOT EXISTS {t}approval_requests_by_decision"
        " ON {t}approval_requests (tenant_id, decided_on)",
    ]

    def __init__(self, prefix: str = "") -> None:
        super().__init__(prefix)
        self._latest: dict[tuple[str, str], tuple[Any, ...]] = {}
        self._asked_at: dict[tuple[str, str], int] = {}

    def handle(self, change: Change) -> None:
        if change.event_type not in _EVENTS:
            return
        account: Account = change.account
        request = account.approval_requests[change.event.request_id]
        key = (change.account_id, request.request_id)
        if change.event_type == "ApprovalRequested":
            self._asked_at[key] = change.position
        asked = self._asked_at.get(key)
        self._latest[key] = (
            change.account_id,
            request.request_id,
            account.tenant_id,
            account.account_number,
            request.command,
            to_minor_units(request.amount),
            request.amount.currency,
            request.maker,
            request.reason,
            request.requested_on.isoformat(),
            request.expires_on.isoformat(),
            request.status,
            request.checker,
            None if request.decided_on is None else request.decided_on.isoformat(),
            request.decision_reason,
            change.position if asked is None else asked,
            None if change.event_type == "ApprovalRequested" else change.position,
        )

    def flush(self, c: Cursor, db: Database) -> None:
        # A decision keeps the position of the request's asking, written by an earlier batch.
        updated = ", ".join(
            f"{column} = excluded.{column}"
            for column in COLUMNS[2:]
            if column != "requested_position"
        )
        self.write(
            f"INSERT INTO {self.t('approval_requests')} ({', '.join(COLUMNS)})"
            f" VALUES ({', '.join('?' for _ in COLUMNS)})"
            f" ON CONFLICT (account_id, request_id) DO UPDATE SET {updated}",
            *self._latest.values(),
        )
        self._latest = {}
        self._asked_at = {}
        super().flush(c, db)

    def discard(self) -> None:
        self._latest = {}
        self._asked_at = {}
        super().discard()


@dataclass(frozen=True)
class RequestRow:
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
    requested_position: int
    decided_position: int | None

    def as_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "account_number": self.account_number,
            "command": self.command,
            "amount": self.amount,
            "currency": self.currency,
            "maker": self.maker,
            "reason": self.reason,
            "requested_on": self.requested_on.isoformat(),
            "expires_on": self.expires_on.isoformat(),
            "status": self.status,
            "checker": self.checker,
            "decided_on": None if self.decided_on is None else self.decided_on.isoformat(),
            "decision_reason": self.decision_reason,
            "events": [p for p in (self.requested_position, self.decided_position) if p],
        }


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _row(row: dict[str, Any], as_of: date | None) -> RequestRow:
    status = str(row["status"])
    expires_on = _day(row["expires_on"])
    if status == PENDING and as_of is not None and as_of > expires_on:
        status = EXPIRED
    return RequestRow(
        request_id=str(row["request_id"]),
        account_number=str(row["account_number"]),
        command=str(row["command"]),
        amount=str(from_minor_units(int(row["amount_minor"]), str(row["currency"]))),
        currency=str(row["currency"]),
        maker=str(row["maker"]),
        reason=row["reason"],
        requested_on=_day(row["requested_on"]),
        expires_on=expires_on,
        status=status,
        checker=row["checker"],
        decided_on=None if row["decided_on"] is None else _day(row["decided_on"]),
        decision_reason=row["decision_reason"],
        requested_position=int(row["requested_position"]),
        decided_position=None if row["decided_position"] is None else int(row["decided_position"]),
    )


def requests(
    db: Database, tenant_id: str, *, as_of: date, status: str | None = None, limit: int = 500
) -> list[RequestRow]:
    """The tenant's requests with their status as of ``as_of`` (``status``: only those),
    the soonest to expire first."""
    rows = db.query(
        "SELECT * FROM approval_requests WHERE tenant_id = ?"
        " ORDER BY expires_on, account_number, request_id",
        [tenant_id],
    )
    found = [_row(row, as_of) for row in rows]
    return [r for r in found if status is None or r.status == status][:limit]


def decisions(db: Database, tenant_id: str, first: date, last: date) -> list[RequestRow]:
    """Every request decided by a checker (approved or rejected) from ``first`` to ``last``:
    the auditor's sample, maker beside checker."""
    rows = db.query(
        "SELECT * FROM approval_requests WHERE tenant_id = ? AND checker IS NOT NULL"
        " AND decided_on >= ? AND decided_on <= ?"
        " ORDER BY decided_on, account_number, request_id",
        [tenant_id, first.isoformat(), last.isoformat()],
    )
    return [_row(row, None) for row in rows]
