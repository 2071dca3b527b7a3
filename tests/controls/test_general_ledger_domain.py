"""The chart of accounts and the journal, pure: what a mapping must say, and how the ledger's
postings become balanced GL journal lines, detailed and summarised."""

from __future__ import annotations

from datetime import date

import pytest

from domain import errors
from domain.general_ledger import (
    GlAccountMapping,
    LedgerPosting,
    SummaryLine,
    UnbalancedJournal,
    check_balanced,
    check_chart_of_accounts,
    check_period_begun,
    journal_lines,
    summarise,
)
from domain.money import Money
from domain.periods import Period
from domain.provenance import Provenance
from domain.tenant import Tenant
from tests.controls.general_ledger_story import ACCOUNTS, CHART

META = Provenance(actor="admin-1", correlation_id="unit")
MARCH = Period(2026, 3)


def usd(amount: str) -> Money:
    return Money(amount, "USD")


def posting(
    position: int, debit: str, credit: str, amount: str, on: str = "2026-03-02", line: int = 0
) -> LedgerPosting:
    return LedgerPosting(
        position=position,
        line=line,
        account_number="A-100",
        event_type="Event",
        effective_on=date.fromisoformat(on),
        debit_account=debit,
        credit_account=credit,
        amount=usd(amount),
        category="charges",
        reference="ref",
    )


# The seed story's ledger: the charge, the payment, the discount it earned.
SEED = [
    posting(2, "receivables", "revenue", "1000.00", "2026-03-02"),
    posting(5, "cash", "receivables", "700.00", "2026-03-20"),
    posting(6, "discounts_allowed", "receivables", "300.00", "2026-03-20"),
]


def test_every_ledger_account_is_mapped_in_the_order_of_the_ledger() -> None:
    assert [m.ledger_account for m in CHART.mappings] == list(ACCOUNTS)
    assert CHART.gl_account("cash") == GlAccountMapping("cash", "1000", "Cash at bank")
    assert CHART.ar_control_codes == ("1200", "2300")


def test_a_ledger_account_left_unmapped_is_refused_naming_it() -> None:
    partial = {k: v for k, v in ACCOUNTS.items() if k not in ("tax", "bad_debt")}
    with pytest.raises(errors.UnmappedLedgerAccount) as refused:
        check_chart_of_accounts(partial)
    assert refused.value.code == "unmapped_ledger_account"
    assert "tax, bad_debt unmapped" in str(refused.value)


def test_a_ledger_account_the_product_does_not_keep_is_refused() -> None:
    with pytest.raises(errors.UnknownLedgerAccount) as refused:
        check_chart_of_accounts({**ACCOUNTS, "petty_cash": ("1010", "Petty cash")})
    assert refused.value.code == "unknown_ledger_account"
    assert "'petty_cash'" in str(refused.value)


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("", "Cash"),
        ("10 00", "Cash"),
        ("1000\n", "Cash"),
        ("x" * 33, "Cash"),
        ("-1000", "Cash"),
    ],
)
def test_a_gl_code_is_a_short_one_line_identifier(code: str, name: str) -> None:
    with pytest.raises(errors.InvalidGlAccount) as refused:
        check_chart_of_accounts({**ACCOUNTS, "cash": (code, name)})
    assert refused.value.field == "accounts.cash.code"


def test_a_gl_name_is_required_one_line_and_one_per_code() -> None:
    with pytest.raises(errors.MissingValue):
        check_chart_of_accounts({**ACCOUNTS, "cash": ("1000", " ")})
    with pytest.raises(errors.ControlCharacter):
        check_chart_of_accounts({**ACCOUNTS, "cash": ("1000", "Cash\nat bank")})
    with pytest.raises(errors.InvalidGlAccount, match="named both"):
        check_chart_of_accounts({**ACCOUNTS, "unapplied_credit": ("1200", "Customer credit")})


def test_two_ledger_accounts_may_share_one_gl_account() -> None:
    chart = check_chart_of_accounts(
        {**ACCOUNTS, "unapplied_credit": ("1200", "Accounts receivable")}
    )
    assert chart.ar_control_codes == ("1200",)


def test_the_seed_story_posts_cash_discounts_and_revenue_and_nets_the_receivable() -> None:
    lines = journal_lines(SEED, CHART)

    assert [(line.gl_code, str(line.debit.amount), str(line.credit.amount)) for line in lines] == [
        ("1200", "1000.00", "0.00"),
        ("4000", "0.00", "1000.00"),
        ("1000", "700.00", "0.00"),
        ("1200", "0.00", "700.00"),
        ("4900", "300.00", "0.00"),
        ("1200", "0.00", "300.00"),
    ]
    assert {(line.position, line.line, line.account_number) for line in lines} == {
        (2, 0, "A-100"),
        (5, 0, "A-100"),
        (6, 0, "A-100"),
    }
    summary = summarise(lines, MARCH)
    assert summary == [
        SummaryLine(date(2026, 3, 31), "1000", "Cash at bank", usd("700.00"), usd("0"), 1),
        SummaryLine(date(2026, 3, 31), "1200", "Accounts receivable", usd("1000"), usd("1000"), 3),
        SummaryLine(date(2026, 3, 31), "4000", "Patient service revenue", usd("0"), usd("1000"), 1),
        SummaryLine(date(2026, 3, 31), "4900", "Discounts allowed", usd("300"), usd("0"), 1),
    ]


def test_lines_come_out_by_date_then_place_in_the_log_whatever_order_they_come_in() -> None:
    shuffled = [SEED[2], SEED[0], SEED[1]]
    assert journal_lines(shuffled, CHART) == journal_lines(SEED, CHART)


def test_currencies_are_summarised_apart_and_each_balances() -> None:
    eur = LedgerPosting(
        7,
        0,
        "B-1",
        "ChargePosted",
        date(2026, 3, 4),
        "receivables",
        "revenue",
        Money("50.00", "EUR"),
        "charges",
        "ch-9",
    )
    summary = summarise(journal_lines([*SEED, eur], CHART), MARCH)
    assert [(s.currency, s.gl_code) for s in summary] == [
        ("EUR", "1200"),
        ("EUR", "4000"),
        ("USD", "1000"),
        ("USD", "1200"),
        ("USD", "4000"),
        ("USD", "4900"),
    ]


def test_a_journal_whose_debits_and_credits_differ_is_a_bug_never_a_result() -> None:
    lines = journal_lines(SEED, CHART)
    with pytest.raises(UnbalancedJournal, match=r"by 700\.00 USD"):
        check_balanced([line for line in lines if line.gl_code != "1200" or line.position != 5])


def test_a_period_is_a_month_and_one_not_begun_is_refused() -> None:
    assert (MARCH.first_day, MARCH.last_day) == (date(2026, 3, 1), date(2026, 3, 31))
    for text in ("2026-3", "2026-13", "March", "2026-03-01", ""):
        with pytest.raises(errors.InvalidPeriod):
            Period.parse(text)
    assert check_period_begun(MARCH, date(2026, 3, 1)) == MARCH
    with pytest.raises(errors.PeriodInFuture) as refused:
        check_period_begun(Period(2026, 4), date(2026, 3, 31))
    assert refused.value.code == "period_in_future"


def test_the_tenant_records_the_chart_and_knows_it_from_then_on() -> None:
    tenant = Tenant.register(tenant_id="acme", registered_on=date(2026, 3, 1), meta=META)
    assert tenant.chart_of_accounts is None
    tenant.set_chart_of_accounts(chart=CHART, effective_on=date(2026, 3, 1), meta=META)

    (event,) = [e for e in tenant.collect_events() if isinstance(e, Tenant.ChartOfAccountsSet)]
    assert event.chart == CHART
    assert tenant.chart_of_accounts == CHART


def test_the_tenant_refuses_a_chart_built_around_the_checks() -> None:
    tenant = Tenant.register(tenant_id="acme", registered_on=date(2026, 3, 1), meta=META)
    partial = type(CHART)(CHART.mappings[:-1])
    with pytest.raises(errors.UnmappedLedgerAccount, match="unapplied_credit"):
        tenant.set_chart_of_accounts(chart=partial, effective_on=date(2026, 3, 1), meta=META)
    assert tenant.chart_of_accounts is None
