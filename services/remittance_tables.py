"""The tables of payers' remittances and the bank's deposit lines.

Written by the remittance posting (``services.remittances``) from its aggregates, and by the
bank line import (``services.deposits``); not read models of the projector. Created with the
store's other tables at start (``services.bootstrap``), one process at a time: PostgreSQL's
``CREATE ... IF NOT EXISTS`` is not safe against itself, so nothing creates them per request.
See docs/reporting.md for their columns.
"""

from __future__ import annotations

from typing import Final

REMITTANCE_TABLES: Final = [
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
]
DEPOSIT_TABLES: Final = [
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
]
TABLES: Final = [*REMITTANCE_TABLES, *DEPOSIT_TABLES]
