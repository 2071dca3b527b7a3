"""The general-ledger journal and its numbered exports, through the application, on SQLite and
PostgreSQL: the seed story's figures, exports given again byte for byte, and what is refused
with nothing recorded."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from domain import errors
from domain.general_ledger import check_chart_of_accounts
from domain.tenant import Tenant
from services.bootstrap import Runtime
from services.errors import IdempotencyKeyReused
from services.general_ledger import (
    DETAILED_COLUMNS,
    SUMMARY_COLUMNS,
    GeneralLedger,
    GlExportChanged,
    GlExportNotFound,
    InvalidDetail,
    NoChartOfAccounts,
)
from services.tenants import TenantSettings
from tests.controls.general_ledger_story import (
    ACCOUNTS,
    ADMIN,
    TENANT,
    chart_set,
    paid,
    projected,
    seed_story,
)


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def net_by_gl_account(lines: list[dict[str, str]]) -> dict[str, Decimal]:
    net: dict[str, Decimal] = {}
    for line in lines:
        amount = Decimal(line["debit"]) - Decimal(line["credit"])
        net[line["gl_account"]] = net.get(line["gl_account"], Decimal(0)) + amount
    return net


@pytest.fixture
def story(runtime: Runtime) -> GeneralLedger:
    seed_story(runtime)
    chart_set(runtime)
    projected(runtime)
    return GeneralLedger(runtime.app)


def test_the_seed_story_summarised_posts_cash_discounts_revenue_and_nets_the_receivable(
    story: GeneralLedger,
) -> None:
    journal = story.export(TENANT, "2026-03", "summary", "auditor-1")

    text = journal.csv_text()
    assert text.splitlines()[0] == ",".join(SUMMARY_COLUMNS)
    assert rows(text) == [
        {
            "date": "2026-03-31",
            "gl_account": "1000",
            "gl_account_name": "Cash at bank",
            "debit": "700.00",
            "credit": "0.00",
            "currency": "USD",
            "lines": "1",
        },
        {
            "date": "2026-03-31",
            "gl_account": "1200",
            "gl_account_name": "Accounts receivable",
            "debit": "1000.00",
            "credit": "1000.00",
            "currency": "USD",
            "lines": "3",
        },
        {
            "date": "2026-03-31",
            "gl_account": "4000",
            "gl_account_name": "Patient service revenue",
            "debit": "0.00",
            "credit": "1000.00",
            "currency": "USD",
            "lines": "1",
        },
        {
            "date": "2026-03-31",
            "gl_account": "4900",
            "gl_account_name": "Discounts allowed",
            "debit": "300.00",
            "credit": "0.00",
            "currency": "USD",
            "lines": "1",
        },
    ]
    document = journal.document()
    assert document["number"] == 1
    assert document["totals"] == {"USD": {"debit": "2000.00", "credit": "2000.00"}}
    assert journal.export is not None
    assert journal.export.requested_by == "auditor-1"


def test_the_seed_story_detailed_names_the_events_behind_each_line(
    story: GeneralLedger,
) -> None:
    journal = story.export(TENANT, "2026-03", "detailed", "auditor-1")

    lines = rows(journal.csv_text())
    assert journal.csv_text().splitlines()[0] == ",".join(DETAILED_COLUMNS)
    assert net_by_gl_account(lines) == {
        "1000": Decimal("700.00"),
        "1200": Decimal("0.00"),
        "4000": Decimal("-1000.00"),
        "4900": Decimal("300.00"),
    }
    assert [(line["event_type"], line["reference"], line["gl_account"]) for line in lines] == [
        ("ChargePosted", "ch-1", "1200"),
        ("ChargePosted", "ch-1", "4000"),
        ("PaymentReceived", "pay-1", "1000"),
        ("PaymentReceived", "pay-1", "1200"),
        ("SettlementDiscountApplied", "S1", "4900"),
        ("SettlementDiscountApplied", "S1", "1200"),
    ]
    assert {line["account_number"] for line in lines} == {"A-100"}
    assert all(line["position"].isdigit() and line["line"] == "0" for line in lines)
    assert journal.document()["lines"] == lines


def test_an_export_is_given_again_byte_for_byte_after_a_payment_back_dated_into_its_period(
    runtime: Runtime, story: GeneralLedger
) -> None:
    first = story.export(TENANT, "2026-03", "detailed", "auditor-1")
    paid(runtime, "25.00", "pay-late", "2026-03-25")  # recorded later, effective in March
    projected(runtime)

    again = story.repeat(TENANT, 1)
    assert again.csv_text() == first.csv_text()
    assert again.document() == first.document()
    fresh = story.export(TENANT, "2026-03", "detailed", "auditor-1")
    assert fresh.export is not None
    assert fresh.export.number == 2
    assert fresh.csv_text() != first.csv_text()
    assert "pay-late" in fresh.csv_text()
    assert "pay-late" not in again.csv_text()
    assert fresh.through_position > first.through_position


def test_the_same_period_exported_again_with_nothing_changed_is_the_same_lines_anew(
    story: GeneralLedger,
) -> None:
    first = story.export(TENANT, "2026-03", "summary", "auditor-1")
    second = story.export(TENANT, "2026-03", "summary", "reporter-1")

    assert [e.number for e in story.exports(TENANT)] == [2, 1]
    assert second.csv_text() == first.csv_text()
    assert second.export is not None
    assert second.export.lines_sha256 == first.sha256


def test_a_preview_records_nothing(story: GeneralLedger) -> None:
    preview = story.journal(TENANT, "2026-03", "summary")
    assert preview.export is None
    assert story.exports(TENANT) == []


def test_an_export_keeps_the_chart_it_was_made_with(runtime: Runtime, story: GeneralLedger) -> None:
    first = story.export(TENANT, "2026-03", "summary", "auditor-1")
    renamed = check_chart_of_accounts({**ACCOUNTS, "cash": ("1010", "Operating account")})
    chart_set(runtime, renamed)

    assert story.repeat(TENANT, 1).csv_text() == first.csv_text()
    assert "1010,Operating account" in story.journal(TENANT, "2026-03").csv_text()


def test_an_idempotency_key_gives_back_the_export_it_made(story: GeneralLedger) -> None:
    first = story.export(TENANT, "2026-03", "summary", "auditor-1", idempotency_key="k-1")
    again = story.export(TENANT, "2026-03", "summary", "auditor-1", idempotency_key="k-1")

    assert again.export == first.export
    assert len(story.exports(TENANT)) == 1
    with pytest.raises(IdempotencyKeyReused):
        story.export(TENANT, "2026-02", "summary", "auditor-1", idempotency_key="k-1")


def test_an_export_whose_ledger_rows_were_altered_is_refused_not_answered_otherwise(
    runtime: Runtime, story: GeneralLedger
) -> None:
    story.export(TENANT, "2026-03", "detailed", "auditor-1")
    runtime.db.execute(
        "UPDATE ledger_lines SET amount_minor = 69000 WHERE event_type = 'PaymentReceived'"
    )

    with pytest.raises(GlExportChanged) as refused:
        story.repeat(TENANT, 1)
    assert refused.value.code == "gl_export_changed"


def test_bad_asks_are_refused_with_nothing_recorded(runtime: Runtime) -> None:
    seed_story(runtime)
    projected(runtime)
    ledger = GeneralLedger(runtime.app)

    with pytest.raises(NoChartOfAccounts) as no_chart:
        ledger.export(TENANT, "2026-03", "summary", "auditor-1")
    assert (no_chart.value.code, no_chart.value.status) == ("no_chart_of_accounts", 409)
    assert "chart-of-accounts" in no_chart.value.message
    chart_set(runtime)
    for period in ("2026-3", "2026-13", "march", "2026-03-01"):
        with pytest.raises(errors.InvalidPeriod):
            ledger.export(TENANT, period, "summary", "auditor-1")
    with pytest.raises(errors.PeriodInFuture):
        ledger.export(TENANT, "2099-01", "summary", "auditor-1")
    with pytest.raises(InvalidDetail):
        ledger.export(TENANT, "2026-03", "everything", "auditor-1")
    with pytest.raises(GlExportNotFound) as unknown:
        ledger.repeat(TENANT, 1)
    assert unknown.value.status == 404
    assert ledger.exports(TENANT) == []


def test_the_period_in_future_is_judged_by_the_tenants_today(runtime: Runtime) -> None:
    seed_story(runtime)
    chart_set(runtime)
    projected(runtime)
    ledger = GeneralLedger(runtime.app, clock=lambda: datetime(2026, 2, 28, 12, tzinfo=UTC))

    with pytest.raises(errors.PeriodInFuture, match="today is 2026-02-28"):
        ledger.export(TENANT, "2026-03", "summary", "auditor-1")
    assert ledger.export(TENANT, "2026-02", "summary", "auditor-1").lines == []


def test_the_chart_is_a_tenant_setting_known_as_of_any_moment(runtime: Runtime) -> None:
    tenants = TenantSettings(runtime.app)
    assert tenants.set_chart_of_accounts(TENANT, check_chart_of_accounts(ACCOUNTS), ADMIN)
    assert not tenants.set_chart_of_accounts(TENANT, check_chart_of_accounts(ACCOUNTS), ADMIN)
    between = datetime.now(UTC)
    renamed = check_chart_of_accounts({**ACCOUNTS, "cash": ("1010", "Operating account")})
    assert tenants.set_chart_of_accounts(TENANT, renamed, ADMIN)

    now = tenants.get(TENANT)
    then = tenants.get(TENANT, as_known_at=between)
    assert now is not None
    assert now.chart_of_accounts == renamed
    assert then is not None
    assert then.chart_of_accounts == check_chart_of_accounts(ACCOUNTS)
    events = [e for e in runtime.app.events.get(Tenant.id_for(TENANT))]
    assert sum(isinstance(e, Tenant.ChartOfAccountsSet) for e in events) == 2
    assert all(e.actor == "admin-1" for e in events if isinstance(e, Tenant.ChartOfAccountsSet))
