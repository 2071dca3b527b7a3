"""The general-ledger journal of a period, its numbered exports, and the tie-out.

A finance team posts the product's ledger into its general ledger once a month: ``ar gl
export --period 2026-03`` or ``POST /v1/gl/exports`` make the *journal* of the month
(``domain.general_ledger``: each ledger posting effective in it as a debit and a credit on the
GL accounts of the tenant's chart of accounts), *detailed* (every line, with the events behind
it) or *summarised* (per GL account and currency, the month's total debit and credit), as CSV
or JSON, and record it as an **export**: numbered 1, 2, 3, ... per tenant, with its period, its
detail, the *high-water mark* (the last event its read models had applied:
``projections.general_ledger``), the tenant's settings version (so its chart of accounts),
the SHA-256 of its CSV, who asked and when.

Asking for export N again (``ar gl show N``, ``GET /v1/gl/exports/{N}``) reads the postings up
to its mark with the chart it had, and gives the same bytes; the hash is checked, and a ledger
that no longer gives them is refused (``gl_export_changed``), never answered with other lines.
Exporting the same period again makes a new number, the same lines when nothing changed, and
the lines recorded since (a payment back-dated into the month) when something did.
``GET /v1/gl/journal`` shows the journal as it would be exported now and records nothing: a
read never writes.

What is refused, with nothing recorded: a period not written ``YYYY-MM`` (``invalid_period``),
one that has not begun on the tenant's today (``period_in_future``), a tenant with no chart of
accounts (``no_chart_of_accounts``, 409), an export number the tenant does not have
(``gl_export_not_found``, 404).

The ``gl_exports`` table (see docs/reporting.md) is the product's, made by its migrations
(``services.migrations``, run at start); the projector and ``ar rebuild`` never touch it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final

import psycopg
from eventsourcing.persistence import IntegrityError

from domain.general_ledger import (
    DETAILED,
    DETAILS,
    SUMMARY,
    ChartOfAccounts,
    JournalLine,
    SummaryLine,
    check_period_begun,
    journal_lines,
    owed_not_aged,
    summarise,
)
from domain.money import to_minor_units
from domain.periods import Period
from domain.tenant import Tenant
from projections.database import Database, stored_moment
from projections.general_ledger import high_water_mark, period_postings
from projections.tie_out import TieOut
from projections.tie_out import tie_out as tie_out_read_models
from services.errors import IdempotencyKeyReused, ServiceError
from services.tenants import Clock, TenantSettings, utc_now

if TYPE_CHECKING:
    from services.app import Receivables

#: The columns of each journal, in the order CSV writes them (a published shape: never
#: reorder or rename one; add new ones at the end).
DETAILED_COLUMNS: Final = (
    "date",
    "gl_account",
    "gl_account_name",
    "debit",
    "credit",
    "currency",
    "account_number",
    "event_type",
    "position",
    "line",
    "ledger_account",
    "category",
    "reference",
)
SUMMARY_COLUMNS: Final = (
    "date",
    "gl_account",
    "gl_account_name",
    "debit",
    "credit",
    "currency",
    "lines",
)
#: How many times a new number is tried when another export took it at the same moment.
NUMBER_ATTEMPTS: Final = 5


class NoChartOfAccounts(ServiceError):
    code = "no_chart_of_accounts"
    status = 409

    def __init__(self, tenant_id: str) -> None:
        super().__init__(
            f"Tenant {tenant_id} has no chart of accounts: an admin sets one first (PUT"
            " /v1/tenant/chart-of-accounts, or ar tenant set-chart-of-accounts FILE.json),"
            " mapping every ledger account to a GL account."
        )


class GlExportNotFound(ServiceError):
    code = "gl_export_not_found"
    status = 404

    def __init__(self, number: int) -> None:
        super().__init__(f"Your tenant has no GL export {number}.", field="number")


class GlExportChanged(ServiceError):
    """The ledger no longer gives an export's lines: rows altered or lost under it."""

    code = "gl_export_changed"
    status = 409

    def __init__(self, number: int, why: str) -> None:
        super().__init__(
            f"GL export {number} cannot be given again: {why}. Run ar verify to find what"
            " changed in the ledger read model; nothing was answered in its place."
        )


class ReadModelsBehind(ServiceError):
    """Postings whose account has no ``account_balances`` row: that model rebuilt or altered."""

    code = "read_models_behind"
    status = 503

    def __init__(self, account_ids: Sequence[str]) -> None:
        super().__init__(
            "The account balances read model has no row for the ledger's account"
            f" {', '.join(account_ids)}; ask again once the read models have caught up (ar"
            " verify says what differs)."
        )


class ExportsBusy(ServiceError):
    code = "concurrent_update"
    status = 409

    def __init__(self) -> None:
        super().__init__(
            "Other exports of your tenant took every number tried at the same moment; nothing"
            " was recorded, send the request again."
        )


class InvalidDetail(ServiceError):
    code = "invalid_request"
    status = 422

    def __init__(self, detail: str) -> None:
        super().__init__(
            f"{detail!r} is not a journal detail; ask for {' or '.join(DETAILS)}.", field="detail"
        )


@dataclass(frozen=True)
class GlExport:
    """One numbered export, as recorded."""

    number: int
    period: str
    detail: str
    through_position: int
    tenant_version: int
    lines: int
    lines_sha256: str
    requested_by: str
    requested_at: datetime


@dataclass(frozen=True)
class Journal:
    """A period's journal cut at ``through_position``, with the chart of ``tenant_version``;
    ``export`` is its record when it was exported (None: a preview)."""

    tenant_id: str
    period: Period
    detail: str
    through_position: int
    tenant_version: int
    chart: ChartOfAccounts
    lines: Sequence[JournalLine] | Sequence[SummaryLine]
    export: GlExport | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        return DETAILED_COLUMNS if self.detail == DETAILED else SUMMARY_COLUMNS

    def rows(self) -> list[dict[str, str]]:
        """Each line as text: dates ISO, amounts decimal strings of their currency."""
        return [_row(line) for line in self.lines]

    def csv_text(self) -> str:
        """The journal as CSV: a header row, then its lines (``\\n`` line ends)."""
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(self.columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows())
        return out.getvalue()

    @property
    def sha256(self) -> str:
        """The SHA-256 of the CSV's UTF-8 bytes: what an export records and a repeat checks."""
        return hashlib.sha256(self.csv_text().encode("utf-8")).hexdigest()

    def document(self) -> dict[str, Any]:
        """The journal as JSON: what it is, its lines, and each currency's totals."""
        totals: dict[str, dict[str, Any]] = {}
        for line in self.lines:
            total = totals.setdefault(line.currency, {"debit": None, "credit": None})
            total["debit"] = line.debit if total["debit"] is None else total["debit"] + line.debit
            total["credit"] = (
                line.credit if total["credit"] is None else total["credit"] + line.credit
            )
        return {
            "tenant": self.tenant_id,
            "number": None if self.export is None else self.export.number,
            "period": str(self.period),
            "from": self.period.first_day.isoformat(),
            "to": self.period.last_day.isoformat(),
            "detail": self.detail,
            "through_position": self.through_position,
            "requested_by": None if self.export is None else self.export.requested_by,
            "requested_at": (None if self.export is None else self.export.requested_at.isoformat()),
            "lines_sha256": self.sha256,
            "columns": list(self.columns),
            "lines": self.rows(),
            "totals": {
                currency: {"debit": str(t["debit"].amount), "credit": str(t["credit"].amount)}
                for currency, t in sorted(totals.items())
            },
        }


def _row(line: JournalLine | SummaryLine) -> dict[str, str]:
    common = {
        "date": line.on.isoformat(),
        "gl_account": line.gl_code,
        "gl_account_name": line.gl_name,
        "debit": str(line.debit.amount),
        "credit": str(line.credit.amount),
        "currency": line.currency,
    }
    if isinstance(line, SummaryLine):
        return {**common, "lines": str(line.lines)}
    return {
        **common,
        "account_number": line.account_number,
        "event_type": line.event_type,
        "position": str(line.position),
        "line": str(line.line),
        "ledger_account": line.ledger_account,
        "category": line.category,
        "reference": line.reference,
    }


def check_detail(detail: str) -> str:
    if detail not in DETAILS:
        raise InvalidDetail(detail)
    return detail


class GeneralLedger:
    """The journals and exports of every tenant in the application's store."""

    def __init__(self, app: Receivables, clock: Clock = utc_now) -> None:
        self.app = app
        self.db: Database = app.db
        self.clock = clock
        self.tenants = TenantSettings(app, clock)

    # --- the journal ------------------------------------------------------------------------

    def journal(self, tenant_id: str, period: str, detail: str = SUMMARY) -> Journal:
        """The period's journal as it would be exported now (nothing recorded)."""
        check_detail(detail)
        month = Period.parse(period)
        tenant = self._tenant_with_chart(tenant_id)
        check_period_begun(month, self.tenants.today(tenant_id, tenant))
        return self._journal(tenant, month, detail, high_water_mark(self.db))

    def export(
        self,
        tenant_id: str,
        period: str,
        detail: str,
        requested_by: str,
        idempotency_key: str | None = None,
    ) -> Journal:
        """Record the period's journal as the tenant's next numbered export. The same
        ``idempotency_key`` again gives the export it made (a different period or detail under
        it is refused)."""
        check_detail(detail)
        month = Period.parse(period)
        if idempotency_key is not None:
            earlier = self._export_by_key(tenant_id, idempotency_key)
            if earlier is not None:
                if (earlier.period, earlier.detail) != (str(month), detail):
                    raise IdempotencyKeyReused(idempotency_key)
                return self.repeat(tenant_id, earlier.number)
        tenant = self._tenant_with_chart(tenant_id)
        check_period_begun(month, self.tenants.today(tenant_id, tenant))
        journal = self._journal(tenant, month, detail, high_water_mark(self.db))
        for _ in range(NUMBER_ATTEMPTS):
            record = self._record(journal, requested_by, idempotency_key)
            if record is not None:
                return replace(journal, export=record)
            if idempotency_key is not None and (
                earlier := self._export_by_key(tenant_id, idempotency_key)
            ):
                return self.repeat(tenant_id, earlier.number)
        raise ExportsBusy

    def repeat(self, tenant_id: str, number: int) -> Journal:
        """Export ``number`` again: the same lines, byte for byte, or a refusal."""
        record = self.export_record(tenant_id, number)
        tenant = self._tenant_at(tenant_id, record.tenant_version)
        if tenant is None or tenant.chart_of_accounts is None:
            raise GlExportChanged(number, "the tenant's settings it was made with are gone")
        if high_water_mark(self.db) < record.through_position:
            raise GlExportChanged(
                number,
                f"the ledger read model is behind its position {record.through_position}"
                " (being rebuilt?); ask again once it has caught up",
            )
        journal = self._journal(
            tenant, Period.parse(record.period), record.detail, record.through_position
        )
        if journal.sha256 != record.lines_sha256:
            raise GlExportChanged(number, "its lines no longer hash to what was exported")
        return replace(journal, export=record)

    def exports(self, tenant_id: str) -> list[GlExport]:
        """The tenant's exports, newest first."""
        rows = self.db.query(
            "SELECT * FROM gl_exports WHERE tenant_id = ? ORDER BY number DESC", (tenant_id,)
        )
        return [_export(row) for row in rows]

    def export_record(self, tenant_id: str, number: int) -> GlExport:
        row = self.db.query_one(
            "SELECT * FROM gl_exports WHERE tenant_id = ? AND number = ?", (tenant_id, number)
        )
        if row is None:
            raise GlExportNotFound(number)
        return _export(row)

    # --- internals --------------------------------------------------------------------------

    def _tenant_with_chart(self, tenant_id: str) -> Tenant:
        tenant = self.tenants.get(tenant_id)
        if tenant is None or tenant.chart_of_accounts is None:
            raise NoChartOfAccounts(tenant_id)
        return tenant

    def _tenant_at(self, tenant_id: str, version: int) -> Tenant | None:
        found: object = self.app.repository.get(Tenant.id_for(tenant_id), version=version)
        return found if isinstance(found, Tenant) else None

    def _journal(self, tenant: Tenant, period: Period, detail: str, through: int) -> Journal:
        chart = tenant.chart_of_accounts
        assert chart is not None  # checked by the callers
        read = period_postings(self.db, tenant.tenant_id, period, through)
        if read.accounts_unnamed:
            raise ReadModelsBehind(read.accounts_unnamed)
        detailed = journal_lines(read.postings, chart)
        lines = detailed if detail == DETAILED else summarise(detailed, period)
        return Journal(tenant.tenant_id, period, detail, through, tenant.version, chart, lines)

    def _record(
        self, journal: Journal, requested_by: str, idempotency_key: str | None
    ) -> GlExport | None:
        """Insert the export under the tenant's next number (None: another export took it)."""
        requested_at = self.clock()
        try:
            with self.db.transaction() as c:
                c.execute(
                    self.db.sql(
                        "SELECT COALESCE(MAX(number), 0) + 1 AS next FROM gl_exports"
                        " WHERE tenant_id = ?"
                    ),
                    (journal.tenant_id,),
                )
                number = int(dict(c.fetchone())["next"])
                record = GlExport(
                    number=number,
                    period=str(journal.period),
                    detail=journal.detail,
                    through_position=journal.through_position,
                    tenant_version=journal.tenant_version,
                    lines=len(journal.lines),
                    lines_sha256=journal.sha256,
                    requested_by=requested_by,
                    requested_at=requested_at,
                )
                c.execute(
                    self.db.sql(
                        "INSERT INTO gl_exports (tenant_id, number, period, detail,"
                        " through_position, tenant_version, lines, lines_sha256, requested_by,"
                        " requested_at, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    ),
                    (
                        journal.tenant_id,
                        number,
                        record.period,
                        record.detail,
                        record.through_position,
                        record.tenant_version,
                        record.lines,
                        record.lines_sha256,
                        requested_by,
                        stored_moment(requested_at),
                        idempotency_key,
                    ),
                )
        except (IntegrityError, sqlite3.IntegrityError, psycopg.IntegrityError):
            return None
        return record

    def _export_by_key(self, tenant_id: str, key: str) -> GlExport | None:
        row = self.db.query_one(
            "SELECT * FROM gl_exports WHERE tenant_id = ? AND idempotency_key = ?",
            (tenant_id, key),
        )
        return None if row is None else _export(row)


def tie_out(
    app: Receivables, tenant_id: str, as_of: date, known_at: datetime | None = None
) -> TieOut:
    """The tie-out of the tenant's read models (``projections.tie_out``), what each account
    owes on no aged item worked out from its own events where its aging and control differ."""

    def not_aged(account_number: str, on: date, moment: datetime | None) -> int:
        account = app.get_account(tenant_id, account_number, as_known_at=moment)
        return to_minor_units(owed_not_aged(account, on))

    return tie_out_read_models(app.db, tenant_id, as_of, known_at=known_at, not_aged=not_aged)


def _moment(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _export(row: dict[str, Any]) -> GlExport:
    return GlExport(
        number=int(row["number"]),
        period=str(row["period"]),
        detail=str(row["detail"]),
        through_position=int(row["through_position"]),
        tenant_version=int(row["tenant_version"]),
        lines=int(row["lines"]),
        lines_sha256=str(row["lines_sha256"]),
        requested_by=str(row["requested_by"]),
        requested_at=_moment(row["requested_at"]),
    )


def export_out(export: GlExport) -> dict[str, Any]:
    """An export's record as the API and ``ar gl exports --format json`` give it."""
    return {
        "number": export.number,
        "period": export.period,
        "detail": export.detail,
        "through_position": export.through_position,
        "lines": export.lines,
        "lines_sha256": export.lines_sha256,
        "requested_by": export.requested_by,
        "requested_at": export.requested_at.isoformat(),
    }
