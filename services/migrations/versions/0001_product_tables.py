"""The product's own tables, as the releases before migrations made them.

Every statement is ``IF NOT EXISTS``: on an empty database this makes the tables; on a store of
a release before migrations, which made the same tables at every start, it keeps them and
their rows as they are and makes only those that release did not have yet (period barriers
and general-ledger exports came last). The statements are the ones those releases ran, word
for word; types are spelt per engine as ``projections.database`` spells them.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TYPES = {
    "postgresql": {
        "money": "BIGINT",
        "bigint": "BIGINT",
        "timestamp": "TIMESTAMPTZ",
        "date": "DATE",
        "blob": "BYTEA",
    },
    "sqlite": {
        "money": "INTEGER",
        "bigint": "INTEGER",
        "timestamp": "TEXT",
        "date": "TEXT",
        "blob": "BLOB",
    },
}

_STATEMENTS = [
    # API keys (services/api_keys.py)
    "CREATE TABLE IF NOT EXISTS api_keys ("
    " key_id TEXT PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " tenant_id TEXT NOT NULL,"
    " role TEXT NOT NULL,"
    " secret_sha256 TEXT NOT NULL,"
    " created_at {timestamp} NOT NULL,"
    " revoked_at {timestamp})",
    # Idempotency keys, written with the events (services/recorders.py)
    "CREATE TABLE IF NOT EXISTS idempotency_keys ("
    " tenant_id TEXT NOT NULL,"
    " idempotency_key TEXT NOT NULL,"
    " request_sha256 TEXT NOT NULL,"
    " status INTEGER NOT NULL,"
    " response TEXT NOT NULL,"
    " account_id TEXT,"
    " recorded_at {timestamp} NOT NULL,"
    " PRIMARY KEY (idempotency_key, tenant_id))",
    # Tenants known to the store (services/tenants.py)
    "CREATE TABLE IF NOT EXISTS tenants ("
    " tenant_id TEXT PRIMARY KEY,"
    " registered_at {timestamp} NOT NULL)",
    # Each tenant's closed periods, read by every writer (services/period_barriers.py)
    "CREATE TABLE IF NOT EXISTS period_barriers ("
    " tenant_id TEXT PRIMARY KEY,"
    " closed_through {date} NOT NULL,"
    " backdating TEXT NOT NULL)",
    # The relay's position (services/relay_positions.py)
    "CREATE TABLE IF NOT EXISTS relay_positions ("
    " name TEXT PRIMARY KEY, notification_id {bigint} NOT NULL)",
    # The projector's bookkeeping (projections/runner.py, projections/parking.py); the read
    # models' own tables are the projector's to make and rebuild, not migrations'.
    "CREATE TABLE IF NOT EXISTS projection_tracking ("
    " projection TEXT PRIMARY KEY,"
    " notification_id {bigint} NOT NULL)",
    "CREATE TABLE IF NOT EXISTS projection_versions ("
    " projection TEXT PRIMARY KEY,"
    " version INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS parked_accounts ("
    " consumer TEXT NOT NULL,"
    " account_id TEXT NOT NULL,"
    " tenant_id TEXT,"
    " position {bigint} NOT NULL,"
    " event_type TEXT NOT NULL,"
    " event_version {bigint} NOT NULL,"
    " error TEXT NOT NULL,"
    " first_seen_at {timestamp} NOT NULL,"
    " skipped {bigint} NOT NULL DEFAULT 0,"
    " last_skipped {bigint},"
    " retry_requested INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (consumer, account_id))",
    # Document runs (services/documents/run_tables.py)
    "CREATE TABLE IF NOT EXISTS document_runs ("
    " run_id TEXT PRIMARY KEY,"
    " tenant_id TEXT NOT NULL,"
    " kind TEXT NOT NULL,"
    " as_of {date} NOT NULL,"
    " period_from {date},"
    " open_items_only INTEGER NOT NULL,"
    " delivery TEXT NOT NULL,"
    " known_at TEXT NOT NULL,"
    " started_by TEXT NOT NULL,"
    " started_at TEXT NOT NULL,"
    " finished_at TEXT)",
    "CREATE INDEX IF NOT EXISTS document_runs_by_tenant"
    " ON document_runs (tenant_id, started_at, run_id)",
    "CREATE TABLE IF NOT EXISTS document_run_items ("
    " run_id TEXT NOT NULL,"
    " account_number TEXT NOT NULL,"
    " status TEXT NOT NULL,"
    " channel TEXT,"
    " recipient TEXT,"
    " document_id TEXT NOT NULL,"
    " pdf_sha256 TEXT,"
    " html_sha256 TEXT,"
    " pages INTEGER,"
    " code TEXT,"
    " sentence TEXT,"
    " PRIMARY KEY (run_id, account_number))",
    "CREATE TABLE IF NOT EXISTS document_run_files ("
    " run_id TEXT NOT NULL,"
    " account_number TEXT NOT NULL,"
    " pdf {blob} NOT NULL,"
    " PRIMARY KEY (run_id, account_number))",
    # Payers' remittances and the bank's deposit lines (services/remittance_tables.py)
    "CREATE TABLE IF NOT EXISTS remittances ("
    " remittance_id TEXT PRIMARY KEY,"
    " tenant_id TEXT NOT NULL,"
    " payer_id TEXT NOT NULL,"
    " payer_name TEXT NOT NULL,"
    " trace_number TEXT NOT NULL,"
    " currency TEXT NOT NULL,"
    " payment_minor {money} NOT NULL,"
    " method TEXT NOT NULL,"
    " effective_on {date} NOT NULL,"
    " received_on {date} NOT NULL,"
    " received_at {timestamp} NOT NULL,"
    " claims INTEGER NOT NULL,"
    " posted INTEGER NOT NULL,"
    " held INTEGER NOT NULL,"
    " refused INTEGER NOT NULL,"
    " held_minor {money} NOT NULL,"
    " provider_adjusted_minor {money} NOT NULL,"
    " completed INTEGER NOT NULL,"
    " version {bigint} NOT NULL)",
    "CREATE INDEX IF NOT EXISTS remittances_by_tenant"
    " ON remittances (tenant_id, received_at, remittance_id)",
    "CREATE TABLE IF NOT EXISTS remittance_claims ("
    " remittance_id TEXT NOT NULL,"
    " claim_index INTEGER NOT NULL,"
    " tenant_id TEXT NOT NULL,"
    " payer_id TEXT NOT NULL,"
    " patient_control_number TEXT NOT NULL,"
    " payer_claim_number TEXT NOT NULL,"
    " patient_name TEXT NOT NULL,"
    " status TEXT NOT NULL,"
    " billed_minor {money} NOT NULL,"
    " paid_minor {money} NOT NULL,"
    " result TEXT NOT NULL,"
    " account_number TEXT,"
    " claim_id TEXT,"
    " matched_by TEXT,"
    " sentence TEXT NOT NULL,"
    " PRIMARY KEY (remittance_id, claim_index))",
    "CREATE INDEX IF NOT EXISTS remittance_claims_by_result"
    " ON remittance_claims (tenant_id, result)",
    "CREATE INDEX IF NOT EXISTS remittance_claims_by_payer_claim"
    " ON remittance_claims (tenant_id, payer_id, payer_claim_number)",
    "CREATE TABLE IF NOT EXISTS payer_ledger ("
    " remittance_id TEXT NOT NULL,"
    " line_index INTEGER NOT NULL,"
    " tenant_id TEXT NOT NULL,"
    " payer_id TEXT NOT NULL,"
    " payer_name TEXT NOT NULL,"
    " trace_number TEXT NOT NULL,"
    " effective_on {date} NOT NULL,"
    " provider_id TEXT NOT NULL,"
    " fiscal_period_end {date} NOT NULL,"
    " reason_code TEXT NOT NULL,"
    " reference TEXT NOT NULL,"
    " amount_minor {money} NOT NULL,"
    " currency TEXT NOT NULL,"
    " PRIMARY KEY (remittance_id, line_index))",
    "CREATE INDEX IF NOT EXISTS payer_ledger_by_payer"
    " ON payer_ledger (tenant_id, payer_id, effective_on)",
    "CREATE TABLE IF NOT EXISTS bank_deposits ("
    " deposit_id TEXT PRIMARY KEY,"
    " tenant_id TEXT NOT NULL,"
    " bank_date {date} NOT NULL,"
    " amount_minor {money} NOT NULL,"
    " currency TEXT NOT NULL,"
    " trace_number TEXT NOT NULL,"
    " description TEXT NOT NULL,"
    " imported_on {date} NOT NULL)",
    "CREATE INDEX IF NOT EXISTS bank_deposits_by_tenant ON bank_deposits (tenant_id, bank_date)",
    # General-ledger exports, numbered per tenant (services/general_ledger.py)
    "CREATE TABLE IF NOT EXISTS gl_exports ("
    " tenant_id TEXT NOT NULL,"
    " number INTEGER NOT NULL,"
    " period TEXT NOT NULL,"
    " detail TEXT NOT NULL,"
    " through_position {bigint} NOT NULL,"
    " tenant_version {bigint} NOT NULL,"
    " lines INTEGER NOT NULL,"
    " lines_sha256 TEXT NOT NULL,"
    " requested_by TEXT NOT NULL,"
    " requested_at {timestamp} NOT NULL,"
    " idempotency_key TEXT,"
    " PRIMARY KEY (tenant_id, number),"
    " UNIQUE (tenant_id, idempotency_key))",
]

#: The tables this migration makes, by name (a test holds the list to the statements).
TABLES = [
    "api_keys",
    "idempotency_keys",
    "tenants",
    "period_barriers",
    "relay_positions",
    "projection_tracking",
    "projection_versions",
    "parked_accounts",
    "document_runs",
    "document_run_items",
    "document_run_files",
    "remittances",
    "remittance_claims",
    "payer_ledger",
    "bank_deposits",
    "gl_exports",
]


def upgrade() -> None:
    types = _TYPES[op.get_bind().dialect.name]
    for statement in _STATEMENTS:
        op.execute(statement.format(**types))


def downgrade() -> None:
    msg = "the first migration is not undone: that would drop the product's tables and rows"
    raise NotImplementedError(msg)
