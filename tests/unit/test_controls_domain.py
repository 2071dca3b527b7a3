"""The controls' pure rules: an approval policy's judgement, periods, seals, and the tenant's
period close and reopening, on the domain alone."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from domain import errors
from domain.approvals import ApprovalPolicy, ApprovalRule, check_policy
from domain.money import Money
from domain.periods import Period, Seal
from domain.provenance import Provenance
from domain.tenant import DaySummary, Tenant

META = Provenance(actor="admin-ops", correlation_id="c", reason="month end")


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


def test_a_command_waits_only_above_its_limit_in_its_currency() -> None:
    policy = check_policy([ApprovalRule("write_off", "USD", Decimal("500.00"))], 30)
    assert not policy.needs_approval("write_off", usd("500.00"))
    assert policy.needs_approval("write_off", usd("500.01"))
    assert not policy.needs_approval("refund_credit", usd("1000000.00"))
    assert policy.needs_approval("write_off", Money(Decimal("0.01"), "EUR"))  # no EUR limit


def test_a_limit_finer_than_the_currency_is_refused() -> None:
    with pytest.raises(errors.DomainError):
        check_policy([ApprovalRule("write_off", "JPY", Decimal("0.5"))], 30)


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("2026-02", date(2026, 2, 1), date(2026, 2, 28)),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29)),
        ("2026-12", date(2026, 12, 1), date(2026, 12, 31)),
    ],
)
def test_a_period_is_a_calendar_month(text: str, first: date, last: date) -> None:
    period = Period.parse(text)
    assert (period.first_day, period.last_day, str(period)) == (first, last, text)


def test_the_month_after_december_is_january() -> None:
    assert Period.parse("2026-12").following == Period(2027, 1)


@pytest.mark.parametrize("text", ["2026-00", "2026-13", "26-01", "2026-1", "", None, "1899-12"])
def test_a_period_that_is_no_month_is_refused(text: object) -> None:
    with pytest.raises(errors.DomainError) as refused:
        Period.parse(text)
    assert refused.value.code == "invalid_period"


def test_a_seal_depends_on_every_hash_and_its_order() -> None:
    def seal(*hashes: str) -> str:
        running = Seal()
        for value in hashes:
            running.add(value)
        return running.value

    a, b = "a" * 64, "b" * 64
    assert seal(a, b) == seal(a, b)
    assert len({seal(a, b), seal(b, a), seal(a), seal()}) == 4


def closed_through(day: date) -> Tenant:
    tenant = Tenant.register(tenant_id="acme", registered_on=date(2026, 1, 1), meta=META)
    summary = DaySummary(0, 0, 0, 0, 0, 0, 0, 0, None, ())
    tenant.close_day(business_date=day, summary=summary, meta=META)
    return tenant


def test_a_tenant_closes_periods_in_order_and_reopens_the_latest() -> None:
    tenant = closed_through(date(2026, 3, 31))
    tenant.close_period(period=Period(2026, 2), seal="0" * 64, events=3, meta=META)
    with pytest.raises(errors.PeriodOutOfOrder):
        tenant.close_period(period=Period(2026, 4), seal="0" * 64, events=0, meta=META)
    with pytest.raises(errors.PeriodHasOpenDays):
        closed_through(date(2026, 3, 15)).check_can_close(Period(2026, 3))
    tenant.close_period(period=Period(2026, 3), seal="1" * 64, events=1, meta=META)
    assert tenant.closed_through == date(2026, 3, 31)
    with pytest.raises(errors.PeriodOutOfOrder):
        tenant.reopen_period(period=Period(2026, 2), meta=META)
    tenant.reopen_period(period=Period(2026, 3), meta=META)
    assert tenant.closed_through == date(2026, 2, 28)
    with pytest.raises(errors.DomainError):
        tenant.close_period(period=Period(2026, 3), seal="not hex", events=1, meta=META)


def test_the_policy_event_keeps_what_was_checked() -> None:
    tenant = closed_through(date(2026, 1, 31))
    policy = ApprovalPolicy((ApprovalRule("write_off", "USD", Decimal("100.00")),), 10)
    tenant.set_approval_policy(policy=policy, effective_on=date(2026, 2, 1), meta=META)
    assert tenant.approval_policy == policy
    with pytest.raises(errors.InvalidApprovalPolicy):
        tenant.set_approval_policy(
            policy=ApprovalPolicy((ApprovalRule("sweep", "USD", Decimal(1)),), 10),
            effective_on=date(2026, 2, 1),
            meta=META,
        )
