"""Dunning policies, the tenant's settings and what the close of a day does to one account."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from domain.account import Account
from domain.account.sweep import (
    DISPUTE_OPEN,
    PLAN_CURRENT,
    PROMISE_OPEN,
    dunning_hold,
    next_sweep_on,
    overdue_from,
)
from domain.dunning import DunningLevel, DunningPolicy, check_levels
from domain.errors import (
    AccountNotCurrent,
    DayOutOfOrder,
    DunningPolicyBackdated,
    InvalidCloseSchedule,
    InvalidDunningPolicy,
    InvalidTimeZone,
    NotDunned,
)
from domain.hash_chain import verify_chain
from domain.open_items import Term
from domain.provenance import Provenance
from domain.tenant import DayCloseFailure, DaySummary, Tenant, is_tenant_topic
from tests.unit.unit_support import (
    META,
    charge,
    d,
    event_names,
    invoice,
    open_account,
    pay,
    read_back,
    transcoder,
    usd,
)

CLOSE = Provenance(actor="close-of-day", correlation_id="close-of-day:t:2024-03-01")
LADDER = [(10, "reminder"), (30, "second_notice"), (60, "final_notice"), (90, "collections")]


def policy(levels: list[tuple[int, str]] = LADDER, version: int = 1) -> DunningPolicy:
    return DunningPolicy(version, d("2024-01-01"), check_levels(levels))


def overdue_account(due: str = "2024-01-31", amount: int = 100) -> Account:
    """An account with one invoice of ``amount`` due on ``due``."""
    account = open_account()
    charge(account, "c1", amount)
    invoice(account, "INV-1", "2024-01-02", due_on=d(due))
    account.collect_events()
    return account


def closed_on(account: Account, day: str, ladder: DunningPolicy | None = None) -> list[str]:
    account.close_day(as_of=d(day), policy=ladder or policy(), meta=CLOSE)
    return event_names(account.collect_events())


def summary(**counts: Any) -> DaySummary:
    figures = dict.fromkeys(
        [
            "accounts_due",
            "accounts_failed",
            "offers_lapsed",
            "installments_missed",
            "plans_defaulted",
            "promises_broken",
            "dunning_escalated",
            "dunning_reset",
        ],
        0,
    )
    return DaySummary(**(figures | counts), policy_version=1)


# --- the policy -----------------------------------------------------------------------------


def test_a_policy_numbers_its_levels_and_says_which_one_days_past_due_reach() -> None:
    ladder = policy()
    assert [step.level for step in ladder.levels] == [1, 2, 3, 4]
    assert ladder.level_for(9) is None
    assert ladder.level_for(10) == DunningLevel(1, 10, "reminder")
    assert ladder.level_for(45) == DunningLevel(2, 30, "second_notice")
    assert ladder.level_for(4000) == DunningLevel(4, 90, "collections")
    assert ladder.next_after(2) == DunningLevel(3, 60, "final_notice")
    assert ladder.next_after(4) is None


@pytest.mark.parametrize(
    ("levels", "field", "words"),
    [
        ([(30, "reminder"), (30, "final_notice")], "levels.1.days_past_due", "increasing"),
        ([(30, "reminder"), (10, "final_notice")], "levels.1.days_past_due", "increasing"),
        ([(10, "final_notice"), (30, "reminder")], "levels.1.action", "milder"),
        ([(0, "reminder")], "levels.0.days_past_due", "from 1"),
        ([(10, "phone_them")], "levels.0.action", "not an action"),
        ([(day, "reminder") for day in range(1, 11)], "levels", "at most 9"),
    ],
)
def test_a_policy_whose_levels_are_not_increasing_is_refused(
    levels: list[tuple[int, str]], field: str, words: str
) -> None:
    with pytest.raises(InvalidDunningPolicy) as refused:
        check_levels(levels)
    assert refused.value.code == "invalid_dunning_policy"
    assert refused.value.field == field
    assert words in str(refused.value)


# --- the tenant's settings ------------------------------------------------------------------


def a_tenant() -> Tenant:
    return Tenant.register(tenant_id="t", registered_on=d("2024-01-01"), meta=META)


def test_each_policy_is_a_version_and_the_one_in_force_on_a_date_is_answerable() -> None:
    tenant = a_tenant()
    tenant.set_dunning_policy(levels=LADDER, effective_on=d("2024-01-01"), meta=META)
    tenant.set_dunning_policy(levels=[(20, "reminder")], effective_on=d("2024-06-01"), meta=META)
    assert tenant.policy_in_force(d("2023-12-31")) is None
    first = tenant.policy_in_force(d("2024-05-31"))
    assert first is not None
    assert (first.version, len(first.levels)) == (1, 4)
    second = tenant.policy_in_force(d("2024-06-01"))
    assert second is not None
    assert second.version == 2
    with pytest.raises(DunningPolicyBackdated):
        tenant.set_dunning_policy(levels=LADDER, effective_on=d("2024-05-01"), meta=META)


def test_days_close_in_order_and_a_policy_never_changes_a_closed_day() -> None:
    tenant = a_tenant()
    assert tenant.days_to_close(d("2024-03-05")) == [d("2024-03-05")]  # the first: that day
    tenant.close_day(business_date=d("2024-03-05"), summary=summary(), meta=META)
    assert tenant.is_closed(d("2024-03-05"))
    assert tenant.is_closed(d("2024-01-01"))
    assert tenant.days_to_close(d("2024-03-05")) == []
    assert tenant.days_to_close(d("2024-03-08")) == [
        d("2024-03-06"),
        d("2024-03-07"),
        d("2024-03-08"),
    ]
    with pytest.raises(DayOutOfOrder):
        tenant.close_day(business_date=d("2024-03-07"), summary=summary(), meta=META)
    with pytest.raises(DunningPolicyBackdated) as refused:
        tenant.set_dunning_policy(levels=LADDER, effective_on=d("2024-03-05"), meta=META)
    assert "2024-03-06" in str(refused.value)


def test_a_close_schedule_needs_a_time_of_day_and_an_iana_time_zone() -> None:
    tenant = a_tenant()
    tenant.set_close_schedule(
        at="18:30", time_zone="Europe/Berlin", starts_on=d("2024-01-02"), meta=META
    )
    assert tenant.schedule is not None
    assert tenant.schedule.time_zone == "Europe/Berlin"
    with pytest.raises(InvalidTimeZone):
        tenant.set_close_schedule(
            at="18:30", time_zone="Mars/Olympus", starts_on=d("2024-01-02"), meta=META
        )
    with pytest.raises(InvalidCloseSchedule):
        tenant.set_close_schedule(at="25:00", time_zone="UTC", starts_on=d("2024-01-02"), meta=META)
    tenant.clear_close_schedule(cleared_on=d("2024-01-03"), meta=META)
    assert tenant.schedule is None


def test_the_tenants_events_are_chained_and_read_back_from_json_as_they_were() -> None:
    tenant = a_tenant()
    tenant.set_dunning_policy(levels=LADDER, effective_on=d("2024-01-01"), meta=META)
    tenant.set_close_schedule(at="18:00", time_zone="UTC", starts_on=d("2024-01-01"), meta=META)
    failed = replace(
        summary(accounts_due=2, accounts_failed=1),
        failures=(DayCloseFailure("A-9", "account_unreadable"),),
    )
    tenant.close_day(business_date=d("2024-01-01"), summary=failed, meta=META)
    events = tenant.collect_events()
    assert all(is_tenant_topic(type(event).TOPIC) for event in events)
    copies = read_back(events)
    assert verify_chain(copies) == []
    rebuilt: Any = None
    for copy in copies:
        rebuilt = copy.mutate(rebuilt)
    assert rebuilt.summary_of(d("2024-01-01")) == failed
    assert rebuilt.policies == tenant.policies
    snapshot = Tenant.Snapshot.take(tenant)
    t = transcoder()
    state = t.decode(t.encode(snapshot.state))
    assert state["closed"] == tenant.closed
    assert state["policies"] == tenant.policies


# --- the close of a day on one account -----------------------------------------------------


def test_an_overdue_account_goes_up_to_the_level_its_days_past_due_reach_once() -> None:
    account = overdue_account()  # due 31 Jan: 1 day past due on 1 Feb
    assert closed_on(account, "2024-02-09") == []  # 9 days: not yet
    assert closed_on(account, "2024-02-10") == ["DunningEscalated"]
    assert account.dunning_level == 1
    assert closed_on(account, "2024-02-10") == []  # a day closed twice records nothing new
    assert closed_on(account, "2024-04-15") == ["DunningEscalated"]  # 75 days: straight to 3
    assert account.dunning_level == 3


def test_escalation_records_the_close_as_its_provenance() -> None:
    account = overdue_account()
    account.close_day(as_of=d("2024-02-10"), policy=policy(), meta=CLOSE)
    (event,) = account.collect_events()
    assert (event.actor, event.correlation_id) == ("close-of-day", CLOSE.correlation_id)
    assert event.invoice_numbers == ["INV-1"]


def test_the_level_resets_when_the_account_is_brought_current() -> None:
    account = overdue_account()
    closed_on(account, "2024-03-05")
    assert account.dunning_level == 2
    pay(account, "p1", 60, "2024-03-06")
    account.collect_events()
    assert closed_on(account, "2024-03-07") == []  # still 40 overdue: the level stays
    pay(account, "p2", 40, "2024-03-08")
    account.collect_events()
    assert closed_on(account, "2024-03-09") == ["DunningReset"]
    assert account.dunning_level == 0
    assert closed_on(account, "2024-03-09") == []


def test_a_reset_by_hand_needs_a_level_and_a_current_account() -> None:
    account = overdue_account()
    with pytest.raises(NotDunned):
        account.reset_dunning(reset_on=d("2024-02-01"), meta=META)
    account.escalate_dunning(level=1, escalated_on=d("2024-02-10"), meta=META)
    with pytest.raises(AccountNotCurrent):
        account.reset_dunning(reset_on=d("2024-02-11"), meta=META)


def test_a_dispute_an_open_promise_or_a_current_plan_holds_dunning() -> None:
    disputed = overdue_account()
    disputed.open_dispute(
        dispute_id="D1",
        invoice_number="INV-1",
        opened_on=d("2024-02-05"),
        description="",
        meta=META,
    )
    assert dunning_hold(disputed, d("2024-03-01")) == DISPUTE_OPEN
    assert "DunningEscalated" not in closed_on(disputed, "2024-03-01")

    promised = overdue_account()
    promised.record_promise_to_pay(
        promise_id="P1",
        amount=usd(100),
        pay_by=d("2024-03-15"),
        promised_on=d("2024-02-05"),
        meta=META,
    )
    promised.collect_events()
    assert dunning_hold(promised, d("2024-03-01")) == PROMISE_OPEN
    assert closed_on(promised, "2024-03-01") == []
    # The promise is broken by the sweep of 16 March; the same close then duns.
    assert closed_on(promised, "2024-03-16") == ["PromiseToPayBroken", "DunningEscalated"]

    planned = overdue_account()
    planned.agree_payment_plan(
        plan_id="PL1",
        invoice_numbers=["INV-1"],
        installments=[Term(d("2024-03-01"), usd(50)), Term(d("2024-04-01"), usd(50))],
        agreed_on=d("2024-02-05"),
        meta=META,
    )
    planned.collect_events()
    assert dunning_hold(planned, d("2024-02-20")) == PLAN_CURRENT
    assert closed_on(planned, "2024-02-20") == []
    # The first installment is missed on 2 March: the plan is no longer current, and what is
    # past due is the installment, by its own date (1 March), so it is dunned once it is as
    # late as the first level asks.
    assert closed_on(planned, "2024-03-02") == ["PlanInstallmentMissed"]
    assert closed_on(planned, "2024-03-11") == ["DunningEscalated"]


def test_without_a_policy_the_close_is_the_sweep() -> None:
    account = overdue_account()
    account.close_day(as_of=d("2024-06-01"), policy=None, meta=CLOSE)
    assert account.collect_events() == []
    account.close_day(as_of=d("2024-06-01"), policy=policy([]), meta=CLOSE)
    assert account.collect_events() == []


def test_a_closed_account_or_one_opened_after_the_day_is_passed_by() -> None:
    account = open_account()
    account.close_day(as_of=d("2023-12-31"), policy=policy(), meta=CLOSE)
    account.close(effective_on=d("2024-01-02"), meta=META)
    account.collect_events()
    account.close_day(as_of=d("2024-06-01"), policy=policy(), meta=CLOSE)
    assert account.collect_events() == []
    assert next_sweep_on(account) is None
    assert overdue_from(account) is None


def test_the_agenda_dates_say_when_something_can_next_fall_due() -> None:
    account = overdue_account(due="2024-01-31")
    assert overdue_from(account) == d("2024-02-01")
    assert next_sweep_on(account) is None
    account.record_promise_to_pay(
        promise_id="P1",
        amount=usd(10),
        pay_by=d("2024-02-20"),
        promised_on=d("2024-02-01"),
        meta=META,
    )
    account.offer_settlement(
        offer_id="O1",
        expires_on=d("2024-02-10"),
        offered_on=d("2024-02-01"),
        amount_off=usd(5),
        meta=META,
    )
    assert next_sweep_on(account) == d("2024-02-11")
    account.sweep(as_of=d("2024-02-11"), meta=META)
    assert next_sweep_on(account) == d("2024-02-21")
    pay(account, "p1", 100, "2024-02-12")
    assert overdue_from(account) is None
    assert next_sweep_on(account) is None  # the promise was kept by the payment


def test_the_first_installment_not_yet_missed_is_the_plans_next_date() -> None:
    account = overdue_account()
    account.agree_payment_plan(
        plan_id="PL1",
        invoice_numbers=["INV-1"],
        installments=[Term(d("2024-03-01"), usd(50)), Term(d("2024-04-01"), usd(50))],
        agreed_on=d("2024-02-05"),
        meta=META,
        default_after_missed=2,
    )
    assert next_sweep_on(account) == d("2024-03-02")
    account.sweep(as_of=d("2024-03-02"), meta=META)
    assert next_sweep_on(account) == d("2024-04-02")
    pay(account, "p1", 50, "2024-03-10")
    assert next_sweep_on(account) == d("2024-04-02")
    assert d("2024-03-02") + timedelta(days=31) == d("2024-04-02")
