"""Subscriptions and billing runs; disputes, dunning and promises; the account's life."""

from __future__ import annotations

from decimal import Decimal

import pytest
from unit_support import META, charge, d, event_names, invoice, open_account, pay, usd

from domain import errors
from domain.account import Account
from domain.errors import (
    AccountClosed,
    AccountHasBalance,
    InvalidCollectionChannel,
    InvalidDunningLevel,
    InvoiceAlreadyDisputed,
    NothingToDun,
    SubscriptionNotActive,
)


def _subscribed(price: int = 20) -> Account:
    account = open_account()
    account.start_subscription(
        subscription_id="SUB-1",
        plan_code="basic",
        price=usd(price),
        starts_on=d("2024-01-31"),
        meta=META,
    )
    return account


def test_a_billing_run_charges_each_unbilled_period_in_advance_once() -> None:
    account = _subscribed()
    account.run_billing(run_id="R1", through=d("2024-03-31"), meta=META)
    periods = [c.service_date for c in account.charges.values()]
    # Anchored on the 31st: Jan 31, Feb 29 (leap year), Mar 31.
    assert periods == [d("2024-01-31"), d("2024-02-29"), d("2024-03-31")]
    account.run_billing(run_id="R2", through=d("2024-03-31"), meta=META)
    assert len(account.charges) == 3
    with pytest.raises(errors.DuplicateBillingRun):
        account.run_billing(run_id="R2", through=d("2024-04-30"), meta=META)


def test_a_billing_run_through_a_mistyped_far_date_is_refused_and_catches_up_in_steps() -> None:
    account = _subscribed()
    with pytest.raises(errors.BillingRunTooLong) as refused:
        account.run_billing(run_id="R1", through=d("9999-12-31"), meta=META)
    assert refused.value.field == "through"
    assert account.charges == {}

    account.run_billing(run_id="R1", through=d("2054-06-30"), meta=META)  # 366 months
    assert len(account.charges) == 366


def test_a_next_period_change_bills_the_new_price_from_the_next_period() -> None:
    account = _subscribed()
    account.run_billing(run_id="R1", through=d("2024-01-31"), meta=META)
    account.change_subscription_plan(
        subscription_id="SUB-1",
        plan_code="plus",
        price=usd(30),
        change_on=d("2024-02-10"),
        meta=META,
        timing="next_period",
    )
    assert account.balance == usd(20)
    account.run_billing(run_id="R2", through=d("2024-02-29"), meta=META)
    assert account.charges["SUB-1/2024-02-29"].net == usd(30)
    assert account.subscriptions["SUB-1"].plan_code == "plus"


def test_cancelling_immediately_credits_the_unused_days_rounded_half_even() -> None:
    account = open_account()
    account.start_subscription(
        subscription_id="S", plan_code="p", price=usd(10), starts_on=d("2024-04-01"), meta=META
    )
    account.run_billing(run_id="R1", through=d("2024-04-01"), meta=META)
    # 10.00 × 29 / 30 days = 9.6666… -> 9.67
    account.cancel_subscription(
        subscription_id="S", cancel_on=d("2024-04-02"), meta=META, timing="immediate"
    )
    credit = [c.net for c in account.charges.values() if c.kind == "proration_credit"]
    assert credit == [usd("-9.67")]
    assert account.balance == usd("0.33")
    with pytest.raises(SubscriptionNotActive):
        account.cancel_subscription(subscription_id="S", cancel_on=d("2024-04-03"), meta=META)


def test_cancelling_at_the_end_of_the_period_stops_billing_without_credit() -> None:
    account = _subscribed()
    account.run_billing(run_id="R1", through=d("2024-01-31"), meta=META)
    account.cancel_subscription(subscription_id="SUB-1", cancel_on=d("2024-02-10"), meta=META)
    account.run_billing(run_id="R2", through=d("2024-06-30"), meta=META)
    assert len(account.charges) == 1
    assert account.balance == usd(20)


def _overdue_account() -> Account:
    account = open_account(terms=10)
    charge(account, "c1", 100)
    invoice(account, "INV-1", "2024-01-05")  # due 2024-01-15
    return account


def test_overdue_lists_terms_past_their_due_date_as_of_a_date() -> None:
    account = _overdue_account()
    assert account.overdue(d("2024-01-15")) == []
    (term,) = account.overdue(d("2024-01-20"))
    assert (term.invoice_number, term.outstanding, term.days_overdue) == ("INV-1", usd(100), 5)
    pay(account, "p1", 100, "2024-01-25")
    assert account.overdue(d("2024-01-26")) == []
    assert account.overdue(d("2024-01-24"))[0].outstanding == usd(100)


def test_a_disputed_invoice_is_excluded_from_dunning() -> None:
    account = _overdue_account()
    account.open_dispute(
        dispute_id="D1",
        invoice_number="INV-1",
        opened_on=d("2024-01-16"),
        meta=META,
        description="never received",
    )
    with pytest.raises(InvoiceAlreadyDisputed):
        account.open_dispute(
            dispute_id="D2", invoice_number="INV-1", opened_on=d("2024-01-16"), meta=META
        )
    assert account.overdue(d("2024-01-20"))[0].disputed
    with pytest.raises(NothingToDun) as caught:
        account.escalate_dunning(level=1, escalated_on=d("2024-01-20"), meta=META)
    assert caught.value.code == "nothing_to_dun"
    account.resolve_dispute(
        dispute_id="D1", outcome="rejected", resolved_on=d("2024-01-21"), meta=META
    )
    account.escalate_dunning(level=1, escalated_on=d("2024-01-22"), meta=META)
    assert account.dunning_level == 1
    with pytest.raises(InvalidDunningLevel):
        account.escalate_dunning(level=1, escalated_on=d("2024-01-23"), meta=META)


def test_collection_calls_are_recorded_with_their_outcome() -> None:
    account = _overdue_account()
    account.record_collection_activity(
        activity_id="A1",
        channel="call",
        outcome="promised to pay",
        occurred_on=d("2024-01-20"),
        meta=META,
    )
    assert account.activities["A1"].outcome == "promised to pay"
    with pytest.raises(InvalidCollectionChannel):
        account.record_collection_activity(
            activity_id="A2",
            channel="pigeon",
            outcome="none",
            occurred_on=d("2024-01-20"),
            meta=META,
        )


def test_a_promise_to_pay_is_kept_by_cash_in_time_or_broken_by_a_later_sweep() -> None:
    account = _overdue_account()
    account.record_promise_to_pay(
        promise_id="PTP-1",
        amount=usd(60),
        pay_by=d("2024-01-31"),
        promised_on=d("2024-01-20"),
        meta=META,
    )
    account.record_promise_to_pay(
        promise_id="PTP-2",
        amount=usd(100),
        pay_by=d("2024-01-31"),
        promised_on=d("2024-01-20"),
        meta=META,
    )
    account.collect_events()
    pay(account, "p1", 30, "2024-01-25")
    pay(account, "p2", 30, "2024-01-30")
    assert event_names(account.collect_events())[-1] == "PromiseToPayKept"
    assert account.promises["PTP-1"].status == "kept"
    account.sweep(as_of=d("2024-02-01"), meta=META)
    assert account.promises["PTP-2"].status == "broken"


def test_an_account_with_a_balance_cannot_be_closed_and_a_closed_one_records_nothing() -> None:
    account = _overdue_account()
    with pytest.raises(AccountHasBalance):
        account.close(effective_on=d("2024-02-01"), meta=META)
    pay(account, "p1", 100, "2024-01-25")
    account.close(effective_on=d("2024-02-01"), meta=META)
    with pytest.raises(AccountClosed) as caught:
        charge(account, "c2", 5)
    assert caught.value.code == "account_closed"


def test_details_and_payment_terms_can_change() -> None:
    account = open_account()
    account.change_details(name="Jane Doe", effective_on=d("2024-01-02"), meta=META)
    assert account.name == "Jane Doe"
    with pytest.raises(errors.NothingChanged):
        account.change_details(name="Jane Doe", effective_on=d("2024-01-02"), meta=META)
    account.change_payment_terms(net_days=14, effective_on=d("2024-01-02"), meta=META)
    charge(account, "c1", 10)
    invoice(account, "INV-1", "2024-01-10")
    assert account.installments("INV-1")[0].due_on == d("2024-01-24")


def test_a_date_before_the_account_opened_is_refused() -> None:
    account = open_account()
    with pytest.raises(errors.InvalidDate):
        pay(account, "p1", 10, "2023-12-31")


def test_every_rule_has_its_own_error_class_with_a_unique_snake_case_code() -> None:
    classes = [
        value
        for value in vars(errors).values()
        if isinstance(value, type)
        and issubclass(value, errors.DomainError)
        and value is not errors.DomainError
    ]
    codes = [cls.code for cls in classes]
    assert len(codes) == len(set(codes))
    for cls in classes:
        assert cls.code.replace("_", "").isalpha()
        assert cls.code == cls.code.lower()
        error = cls("A sentence.", field="amount")
        assert str(error) == "A sentence."
        assert error.field == "amount"


def _subscribed_in_may(price: int = 20) -> Account:
    account = open_account()
    account.start_subscription(
        subscription_id="SUB-1",
        plan_code="basic",
        price=usd(price),
        starts_on=d("2024-05-01"),
        meta=META,
    )
    return account


def test_cancelling_immediately_in_an_unbilled_period_bills_only_the_days_used() -> None:
    account = _subscribed_in_may()
    account.cancel_subscription(
        subscription_id="SUB-1", cancel_on=d("2024-05-10"), meta=META, timing="immediate"
    )
    account.run_billing(run_id="R1", through=d("2024-05-31"), meta=META)
    # 20.00 × 9 / 31 days (1–9 May) = 5.806… -> 5.81
    assert [(c.service_date, c.net) for c in account.charges.values()] == [
        (d("2024-05-01"), usd("5.81"))
    ]
    account.run_billing(run_id="R2", through=d("2024-07-31"), meta=META)
    assert len(account.charges) == 1
    assert account.balance == usd("5.81")


def test_an_immediate_change_in_an_unbilled_period_bills_each_plan_for_its_days() -> None:
    account = _subscribed_in_may()
    account.change_subscription_plan(
        subscription_id="SUB-1",
        plan_code="plus",
        price=usd(30),
        change_on=d("2024-05-16"),
        meta=META,
        timing="immediate",
    )
    with pytest.raises(errors.SubscriptionChangePending):
        account.change_subscription_plan(
            subscription_id="SUB-1",
            plan_code="max",
            price=usd(50),
            change_on=d("2024-05-20"),
            meta=META,
        )
    account.run_billing(run_id="R1", through=d("2024-05-31"), meta=META)
    # 20.00 × 15 / 31 = 9.677… -> 9.68 (1–15 May); 30.00 × 16 / 31 = 15.483… -> 15.48
    assert [(c.code, c.service_date, c.net) for c in account.charges.values()] == [
        ("basic", d("2024-05-01"), usd("9.68")),
        ("plus", d("2024-05-16"), usd("15.48")),
    ]
    account.run_billing(run_id="R2", through=d("2024-06-01"), meta=META)
    assert account.charges["SUB-1/2024-06-01"].net == usd(30)
    assert account.subscriptions["SUB-1"].plan_code == "plus"
    assert account.subscriptions["SUB-1"].periods_billed == 2


def test_installment_percentages_given_as_whole_numbers_are_taken_as_decimals() -> None:
    from domain.schedules import InstallmentShare

    account = open_account()
    account.change_payment_terms(
        net_days=30,
        effective_on=d("2024-01-02"),
        meta=META,
        installments=[InstallmentShare(0, 30), InstallmentShare(30, 70)],  # type: ignore[arg-type]
    )
    (event,) = [e for e in account.collect_events() if isinstance(e, Account.PaymentTermsChanged)]
    assert [type(share.percent) for share in event.installments] == [Decimal, Decimal]
    charge(account, "c1", "100.01")
    invoice(account, "INV-1", "2024-01-10")
    assert [(t.due_on, t.amount) for t in account.installments("INV-1")] == [
        (d("2024-01-10"), usd("30.00")),
        (d("2024-02-09"), usd("70.01")),
    ]
    with pytest.raises(errors.FloatAmountRefused):
        account.change_payment_terms(
            net_days=30,
            effective_on=d("2024-01-02"),
            meta=META,
            installments=[InstallmentShare(0, 0.5), InstallmentShare(30, 99.5)],  # type: ignore[arg-type]
        )


def test_a_promise_kept_by_a_payment_that_is_reversed_is_open_again_or_broken() -> None:
    account = _overdue_account()
    for promise_id in ("PTP-1", "PTP-2"):
        account.record_promise_to_pay(
            promise_id=promise_id,
            amount=usd(60),
            pay_by=d("2024-01-31"),
            promised_on=d("2024-01-20"),
            meta=META,
        )
    pay(account, "p1", 60, "2024-01-25")
    assert account.promises["PTP-1"].status == "kept"
    account.collect_events()
    account.reverse_payment(
        payment_id="p1", reason_code="returned_cheque", reversed_on=d("2024-01-28"), meta=META
    )
    assert event_names(account.collect_events()) == [
        "PaymentReversed",
        "PromiseToPayReopened",
        "PromiseToPayReopened",
    ]
    promise = account.promises["PTP-1"]
    assert (promise.status, promise.received, promise.ended_on) == ("open", usd(0), None)
    pay(account, "p2", 60, "2024-01-30")
    assert account.promises["PTP-1"].status == "kept"
    account.reverse_payment(
        payment_id="p2", reason_code="chargeback", reversed_on=d("2024-02-10"), meta=META
    )
    assert account.promises["PTP-1"].status == "broken"
    assert account.promises["PTP-1"].ended_on == d("2024-02-10")


def test_rules_that_borrowed_another_rules_error_have_their_own_class_and_code() -> None:
    from domain.claims import ClaimAdjustment

    def refused(command: object) -> errors.DomainError:
        with pytest.raises(errors.DomainError) as caught:
            command()  # type: ignore[operator]
        return caught.value

    account = _subscribed()
    nothing_to_settle = refused(
        lambda: account.offer_settlement(
            offer_id="S1",
            expires_on=d("2024-03-31"),
            offered_on=d("2024-03-01"),
            meta=META,
            amount_off=usd(1),
        )
    )
    nothing_to_claim = refused(
        lambda: account.submit_claim(
            claim_id="C1", payer="ACME", charge_ids=[], submitted_on=d("2024-02-01"), meta=META
        )
    )
    timing = refused(
        lambda: account.cancel_subscription(
            subscription_id="SUB-1", cancel_on=d("2024-02-01"), meta=META, timing="someday"
        )
    )
    not_money = refused(lambda: pay(account, "p1", 10, "2024-02-01", allocations={"X": "10"}))
    not_money_amount = refused(
        lambda: account.receive_payment(
            payment_id="p1",
            amount="10",  # type: ignore[arg-type]
            method="cash",
            reference="",
            received_on=d("2024-02-01"),
            meta=META,
        )
    )
    charge(account, "c1", 1000)
    invoice(account, "INV-1", "2024-02-01", charge_ids=["c1"])
    account.open_dispute(
        dispute_id="D1", invoice_number="INV-1", opened_on=d("2024-02-02"), meta=META
    )
    account.resolve_dispute(
        dispute_id="D1", outcome="rejected", resolved_on=d("2024-02-03"), meta=META
    )
    resolved = refused(
        lambda: account.resolve_dispute(
            dispute_id="D1", outcome="rejected", resolved_on=d("2024-02-04"), meta=META
        )
    )
    charge(account, "c2", 1000)
    account.submit_claim(
        claim_id="C1", payer="ACME", charge_ids=["c2"], submitted_on=d("2024-02-05"), meta=META
    )
    account.post_insurer_payment(
        claim_id="C1",
        payment_id="ERA-1",
        amount=usd(900),
        method="eft",
        reference="",
        received_on=d("2024-02-06"),
        meta=META,
    )
    exceed = refused(
        lambda: account.adjudicate_claim(
            claim_id="C1",
            paid=usd(500),
            adjustments=[ClaimAdjustment("PR", "1", usd(500))],
            adjudicated_on=d("2024-02-07"),
            meta=META,
        )
    )
    assert [
        type(error).__name__
        for error in (
            nothing_to_settle,
            nothing_to_claim,
            timing,
            resolved,
            not_money,
            not_money_amount,
            exceed,
        )
    ] == [
        "NothingToSettle",
        "NothingToClaim",
        "InvalidSubscriptionTiming",
        "DisputeAlreadyResolved",
        "NotMoney",
        "NotMoney",
        "AdjustmentsExceedOwed",
    ]
    assert [nothing_to_settle.code, nothing_to_claim.code, timing.code] == [
        "nothing_to_settle",
        "nothing_to_claim",
        "invalid_subscription_timing",
    ]
    assert [resolved.code, not_money.code, exceed.code] == [
        "dispute_already_resolved",
        "not_money",
        "adjustments_exceed_owed",
    ]
