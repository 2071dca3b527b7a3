"""The tables of document runs: each run, each account's item in it, each printed PDF.

Written by the document runs (:mod:`services.documents.runs`), not read models of the
projector. Created with the store's other tables at start (``services.bootstrap``), one process
at a time. See docs/reporting.md for their columns.
"""

from __future__ import annotations

from typing import Final

RUN_TABLES: Final = [
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
    # The PDF of each printed document, as made: the print batch is these, merged.
    "CREATE TABLE IF NOT EXISTS document_run_files ("
    " run_id TEXT NOT NULL,"
    " account_number TEXT NOT NULL,"
    " pdf {blob} NOT NULL,"
    " PRIMARY KEY (run_id, account_number))",
]
