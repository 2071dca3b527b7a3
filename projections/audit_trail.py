"""The audit trail: every event of every account, flattened, with its hash-chain link.

One row per event: who (actor), why (reason), which request (correlation id), when in
business terms (``effective_on``) and when it was recorded (``recorded_at``), how it moved the
balance (``balance_effect_minor``, the sum of the ledger entries it made), its payload in the
hash chain's canonical JSON, and the chain link (``previous_hash`` → ``event_hash``) so an
auditor can check the row against its neighbours. Rows are only ever inserted.
"""

from __future__ import annotations

from typing import ClassVar

from domain.account import Account
from domain.hash_chain import canonical_json, payload_of
from projections.database import Cursor, Database
from projections.open_items import moment
from projections.replay import Change, minor_units
from projections.runner import ReadModel


class AuditTrail(ReadModel):
    name: ClassVar[str] = "audit_trail"
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

    def handle(self, c: Cursor, db: Database, change: Change) -> None:
        event = change.event
        account: Account = change.account
        effect = sum(minor_units(entry.balance_effect) for entry in change.entries)
        c.execute(
            db.sql(
                f"INSERT INTO {self.t('audit_trail')} (position, account_id, tenant_id,"
                " account_number, account_version, event_type, effective_on, recorded_at, actor,"
                " reason, correlation_id, currency, balance_effect_minor, payload, previous_hash,"
                " event_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ),
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
                canonical_json(payload_of(event)),
                event.previous_hash,
                event.event_hash,
            ),
        )
