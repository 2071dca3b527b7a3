"""The audit trail: every event of every account, flattened, with its hash-chain link.

One row per event: who (actor), why (reason), which request (correlation id), when in
business terms (``effective_on``) and when it was recorded (``recorded_at``), how it moved the
balance (``balance_effect_minor``, the sum of the ledger entries it made), its payload in the
hash chain's canonical JSON (its business fields: not the event library's ``originator_topic``,
the class an account's first event names), and the chain link (``previous_hash`` → ``event_hash``) so an
auditor can check the row against its neighbours. Rows are only ever inserted.

``audit_trail`` reads it a page at a time, in the order the events were recorded (by
``position``, the event's place in the store's log): filtered by account, actor, event type,
recording time (``recorded_from`` inclusive to ``recorded_to`` exclusive, so consecutive windows
neither overlap nor leave a gap) and business date (both ends inclusive). A page starts after the
last position of the previous one (keyset pagination), so rows recorded meanwhile are neither
skipped nor repeated. Over HTTP that position travels in an opaque cursor tied to the filters
(:func:`audit_trail_page`, ``projections.cursors``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from domain.account import Account
from domain.hash_chain import canonical_json, payload_of
from domain.money import to_minor_units
from projections.cursors import decode_cursor, encode_cursor, fingerprint
from projections.database import Database, stored_moment
from projections.open_items import moment
from projections.replay import Change
from projections.runner import ReadModel

#: Payload fields that are the event library's, not the business's: never shown to auditors.
LIBRARY_FIELDS = frozenset({"originator_topic"})


class AuditTrail(ReadModel):
    name: ClassVar[str] = "audit_trail"
    # 2: payloads without LIBRARY_FIELDS; older rows are rebuilt without them.
    version: ClassVar[int] = 2
    table_names: ClassVar[list[str]] = ["audit_trail"]
    tables: ClassVar[list[str]] = [
        "CREATE TABLE IF NOT EXISTS {t}audit_trail ("
        " position {bigint} PRIMARY KEY,"
        " account_id TEXT NOT NULL,"
        " tenant_id TEXT NOT NULL,"
        " account_number TEXT NOT NULL,"
        " account_version {bigint} NOT NULL,"
        " event_type TEXT NOT NULL,"
        " effective_on {date} NOT NULL,"
        " recorded_at {timestamp} NOT NULL,"
        " actor TEXT NOT NULL,"
        " reason TEXT,"
        " correlation_id TEXT NOT NULL,"
        " currency TEXT NOT NULL,"
        " balance_effect_minor {money} NOT NULL,"
        " payload TEXT NOT NULL,"
        " previous_hash TEXT NOT NULL,"
        " event_hash TEXT NOT NULL,"
        " UNIQUE (account_id, account_version))",
        "CREATE INDEX IF NOT EXISTS {t}audit_trail_by_tenant ON {t}audit_trail (tenant_id, recorded_at)",
        "CREATE INDEX IF NOT EXISTS {t}audit_trail_by_actor ON {t}audit_trail (tenant_id, actor)",
    ]

    def handle(self, change: Change) -> None:
        event = change.event
        account: Account = change.account
        effect = sum(to_minor_units(entry.balance_effect) for entry in change.entries)
        self.write(
            f"INSERT INTO {self.t('audit_trail')} (position, account_id, tenant_id,"
            " account_number, account_version, event_type, effective_on, recorded_at, actor,"
            " reason, correlation_id, currency, balance_effect_minor, payload, previous_hash,"
            " event_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                change.position,
                change.account_id,
                account.tenant_id,
                account.account_number,
                event.originator_version,
                change.event_type,
                event.effective_on.isoformat(),
                moment(change),
                event.actor,
                event.reason,
                event.correlation_id,
                account.currency,
                effect,
                canonical_json(
                    {k: v for k, v in payload_of(event).items() if k not in LIBRARY_FIELDS}
                ),
                event.previous_hash,
                event.event_hash,
            ),
        )


def event_types() -> frozenset[str]:
    """The names an audit row's ``event_type`` can have: every event class of the account."""
    found: set[str] = set()
    pending: list[type[Any]] = [Account.Event]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls is not Account.Event:
            found.add(cls.__name__)
    return frozenset(found)


@dataclass(frozen=True)
class AuditRow:
    """One event as the audit trail holds it; ``balance_effect_minor`` in the account's
    ``currency``; ``payload`` is the canonical JSON of the business fields that were hashed."""

    position: int
    account_id: str
    account_number: str
    account_version: int
    event_type: str
    effective_on: date
    recorded_at: datetime
    actor: str
    reason: str | None
    correlation_id: str
    currency: str
    balance_effect_minor: int
    payload: str
    previous_hash: str
    event_hash: str


def _as_moment(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.astimezone(UTC)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def audit_trail(
    db: Database,
    tenant_id: str,
    *,
    account_number: str | None = None,
    actor: str | None = None,
    event_type: str | None = None,
    recorded_from: datetime | None = None,
    recorded_to: datetime | None = None,
    effective_from: date | None = None,
    effective_to: date | None = None,
    after_position: int = 0,
    limit: int = 1000,
) -> list[AuditRow]:
    """The tenant's events after ``after_position`` that pass every filter given, oldest
    first, at most ``limit`` of them."""
    conditions = ["tenant_id = ?", "position > ?"]
    params: list[Any] = [tenant_id, after_position]
    for condition, value in (
        ("account_number = ?", account_number),
        ("actor = ?", actor),
        ("event_type = ?", event_type),
        ("recorded_at >= ?", None if recorded_from is None else stored_moment(recorded_from)),
        ("recorded_at < ?", None if recorded_to is None else stored_moment(recorded_to)),
        ("effective_on >= ?", None if effective_from is None else effective_from.isoformat()),
        ("effective_on <= ?", None if effective_to is None else effective_to.isoformat()),
    ):
        if value is not None:
            conditions.append(condition)
            params.append(value)
    rows = db.query(
        "SELECT position, account_id, account_number, account_version, event_type, effective_on,"
        " recorded_at, actor, reason, correlation_id, currency, balance_effect_minor, payload,"
        " previous_hash, event_hash FROM audit_trail WHERE "
        + " AND ".join(conditions)
        + " ORDER BY position LIMIT ?",
        [*params, limit],
    )
    return [
        AuditRow(
            position=int(r["position"]),
            account_id=r["account_id"],
            account_number=r["account_number"],
            account_version=int(r["account_version"]),
            event_type=r["event_type"],
            effective_on=_as_date(r["effective_on"]),
            recorded_at=_as_moment(r["recorded_at"]),
            actor=r["actor"],
            reason=r["reason"],
            correlation_id=r["correlation_id"],
            currency=r["currency"],
            balance_effect_minor=int(r["balance_effect_minor"]),
            payload=r["payload"],
            previous_hash=r["previous_hash"],
            event_hash=r["event_hash"],
        )
        for r in rows
    ]


#: The report an audit-trail cursor names (``projections.cursors``).
AUDIT_TRAIL_REPORT = "audit_trail"


@dataclass(frozen=True)
class AuditQuery:
    """What a page of the audit trail asks for: the filters of :func:`audit_trail`."""

    tenant_id: str
    account_number: str | None = None
    actor: str | None = None
    event_type: str | None = None
    recorded_from: datetime | None = None
    recorded_to: datetime | None = None
    effective_from: date | None = None
    effective_to: date | None = None
    #: Only events after this position: where an earlier read of the trail left off.
    after_position: int = 0

    def fingerprint(self) -> str:
        """What makes two requests pages of one listing (not the page size)."""
        return fingerprint(
            self.tenant_id,
            self.account_number,
            self.actor,
            self.event_type,
            None if self.recorded_from is None else stored_moment(self.recorded_from),
            None if self.recorded_to is None else stored_moment(self.recorded_to),
            self.effective_from,
            self.effective_to,
            self.after_position,
        )


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    #: Pass as ``cursor`` for the next page; None on the last page.
    next_cursor: str | None


def audit_trail_page(
    db: Database, query: AuditQuery, *, limit: int, cursor: str | None = None
) -> AuditPage:
    """At most ``limit`` events of the query after the cursor's, oldest first. Raises
    ``projections.cursors.InvalidCursor`` for a cursor that is not one of this query's."""
    listing = query.fingerprint()
    after = query.after_position
    if cursor is not None:
        (after,) = decode_cursor(AUDIT_TRAIL_REPORT, listing, cursor, (int,))
    limit = max(1, limit)
    rows = audit_trail(
        db,
        query.tenant_id,
        account_number=query.account_number,
        actor=query.actor,
        event_type=query.event_type,
        recorded_from=query.recorded_from,
        recorded_to=query.recorded_to,
        effective_from=query.effective_from,
        effective_to=query.effective_to,
        after_position=after,
        limit=limit + 1,  # one more than asked: whether there is a next page
    )
    page = rows[:limit]
    more = len(rows) > limit
    return AuditPage(
        rows=page,
        next_cursor=(
            encode_cursor(AUDIT_TRAIL_REPORT, listing, (page[-1].position,)) if more else None
        ),
    )
