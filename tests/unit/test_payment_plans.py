"""Payment plans: agreed over open invoices, installments paid, missed, changed, defaulted."""

from __future__ import annotations

import pytest
from unit_support import META, charge, d, event_names, invoice, open_account, pay, usd

from domain.account import Account
from domain.errors import (
    InvoiceAlreadyOnPlan,
    PaymentPlanNotActive,
    PlanOnDisputedInvoice,
    ScheduleDoesNotSumToAmount,
)
from domain.open_items import Term
from domain.schedules import monthly_installments


def _on_plan(default_after_missed: int = 2) -> Account:
    account = open_account()
    charge(account, "c1", 300)
    invoice(account, "INV-1", "2024-01-05")
    account.agree_payment_plan(
        plan_id="P1",
        invoice_numbers=["INV-1"],
        installments=monthly_installments(usd(300), 3, d("2024-02-01")),
        agreed_on=d("2024-01-10"),
        meta=META,
        default_after_missed=default_after_missed,
    )
    return account


def test_a_plan_schedule_must_sum_to_what_is_open() -> None:
    account = open_account()
    charge(account, "c1", 300)
    invoice(account, "INV-1", "2024-01-05")
    with pytest.raises(ScheduleDoesNotSumToAmount) as caught:
        account.agree_payment_plan(
            plan_id="P1",
            invoice_numbers=["INV-1"],
            installments=[Term(d("2024-02-01"), usd(100)), Term(d("2024-03-01"), usd(100))],
            agreed_on=d("2024-01-10"),
            meta=META,
        )
    assert caught.value.code == "schedule_does_not_sum_to_amount"
    assert "300.00" in str(caught.value)


def test_a_plan_on_a_disputed_invoice_is_refused() -> None:
    account = open_account()
    charge(account, "c1", 300)
    invoice(account, "INV-1", "2024-01-05")
    account.open_dispute(
        dispute_id="D1", invoice_number="INV-1", opened_on=d("2024-01-06"), meta=META
    )
    with pytest.raises(PlanOnDisputedInvoice) as caught:
        account.agree_payment_plan(
            plan_id="P1",
            invoice_numbers=["INV-1"],
            installments=[Term(d("2024-02-01"), usd(300))],
            agreed_on=d("2024-01-10"),
            meta=META,
        )
    assert caught.value.code == "plan_on_disputed_invoice"


def test_an_invoice_is_on_one_plan_at_a_time() -> None:
    account = _on_plan()
    with pytest.raises(InvoiceAlreadyOnPlan):
        account.agree_payment_plan(
            plan_id="P2",
            invoice_numbers=["INV-1"],
            installments=[Term(d("2024-02-01"), usd(300))],
            agreed_on=d("2024-01-11"),
            meta=META,
        )


def test_each_installment_paid_is_recorded_and_the_last_completes_the_plan() -> None:
    account = _on_plan()
    account.collect_events()
    pay(account, "p1", 150, "2024-02-01")
    assert event_names(account.collect_events()) == ["PaymentReceived", "PlanInstallmentPaid"]
    assert [str(t.outstanding) for t in account.plan_installments("P1")] == [
        "0.00",
        "50.00",
        "100.00",
    ]
    pay(account, "p2", 150, "2024-03-01")
    assert event_names(account.collect_events()) == [
        "PaymentReceived",
        "PlanInstallmentPaid",
        "PlanInstallmentPaid",
        "PaymentPlanCompleted",
    ]
    assert account.plans["P1"].paid == [0, 1, 2]
    assert account.plans["P1"].status == "completed"
    assert account.items["INV-1"].plan_id is None


def test_a_sweep_after_the_due_date_records_missed_installments_and_defaults_the_plan() -> None:
    account = _on_plan(default_after_missed=2)
    account.sweep(as_of=d("2024-02-01"), meta=META)  # due today is not yet missed
    assert account.plans["P1"].missed == []
    account.sweep(as_of=d("2024-02-02"), meta=META)
    assert account.plans["P1"].missed == [0]
    account.sweep(as_of=d("2024-02-03"), meta=META)  # repeating a sweep records nothing new
    assert account.plans["P1"].missed == [0]
    account.collect_events()
    account.sweep(as_of=d("2024-03-02"), meta=META)
    assert event_names(account.collect_events()) == [
        "PlanInstallmentMissed",
        "PaymentPlanDefaulted",
    ]
    assert account.plans["P1"].status == "defaulted"
    with pytest.raises(PaymentPlanNotActive):
        account.default_payment_plan(plan_id="P1", defaulted_on=d("2024-03-03"), meta=META)


def test_a_renegotiated_plan_keeps_its_old_schedule_in_history() -> None:
    account = _on_plan()
    pay(account, "p1", 100, "2024-02-01")
    account.change_payment_plan(
        plan_id="P1",
        installments=monthly_installments(usd(200), 4, d("2024-03-01")),
        changed_on=d("2024-02-15"),
        meta=META,
    )
    plan = account.plans["P1"]
    assert len(plan.schedules) == 2
    assert plan.schedules[0].base == usd(300)
    assert plan.schedule.base == usd(200)
    assert [t.amount for t in plan.schedule.installments] == [usd(50)] * 4
    # As of before the change, the original schedule was in force.
    assert len(account.plan_installments("P1", as_of=d("2024-02-10"))) == 3


def test_a_reversed_payment_reopens_the_installment_it_paid() -> None:
    account = _on_plan()
    pay(account, "p1", 100, "2024-02-01")
    account.collect_events()
    account.reverse_payment(
        payment_id="p1", reason_code="returned_cheque", reversed_on=d("2024-02-05"), meta=META
    )
    assert event_names(account.collect_events()) == [
        "PaymentReversed",
        "PlanInstallmentReopened",
    ]
    assert account.plans["P1"].paid == []


def test_reversing_the_payment_that_completed_a_plan_reopens_the_plan() -> None:
    account = _on_plan()
    pay(account, "p1", 100, "2024-02-01")
    pay(account, "p2", 200, "2024-03-01")
    assert account.plans["P1"].status == "completed"
    account.collect_events()
    account.reverse_payment(
        payment_id="p2", reason_code="returned_cheque", reversed_on=d("2024-03-05"), meta=META
    )
    assert event_names(account.collect_events()) == [
        "PaymentReversed",
        "PaymentPlanReopened",
        "PlanInstallmentReopened",
        "PlanInstallmentReopened",
    ]
    plan = account.plans["P1"]
    assert (plan.status, plan.ended_on, plan.paid) == ("active", None, [0])
    assert account.items["INV-1"].plan_id == "P1"
    pay(account, "p3", 200, "2024-03-10")
    assert account.plans["P1"].status == "completed"


def test_writing_off_a_plans_invoice_closes_the_plan_without_recording_installments_paid() -> None:
    account = _on_plan()
    pay(account, "p1", 100, "2024-02-01")
    account.collect_events()
    account.write_off(
        write_off_id="W1", invoice_number="INV-1", written_off_on=d("2024-03-15"), meta=META
    )
    assert event_names(account.collect_events()) == ["WrittenOff", "PaymentPlanClosed"]
    plan = account.plans["P1"]
    assert (plan.status, plan.paid, plan.ended_on) == ("written_off", [0], d("2024-03-15"))
    assert account.items["INV-1"].plan_id is None


def test_a_credit_note_on_a_plans_invoice_reduces_the_last_installments_not_pays_the_first() -> (
    None
):
    account = _on_plan()
    account.collect_events()
    account.issue_credit_note(
        note_number="CN-1",
        invoice_number="INV-1",
        amount=usd(150),
        issued_on=d("2024-01-20"),
        meta=META,
    )
    assert event_names(account.collect_events()) == ["CreditNoteIssued"]
    assert account.plans["P1"].paid == []
    assert [str(t.outstanding) for t in account.plan_installments("P1")] == [
        "100.00",
        "50.00",
        "0.00",
    ]
    pay(account, "p1", 150, "2024-02-01")
    assert event_names(account.collect_events()) == [
        "PaymentReceived",
        "PlanInstallmentPaid",
        "PlanInstallmentPaid",
        "PaymentPlanCompleted",
    ]
    assert account.plans["P1"].paid == [0, 1]


def test_a_credit_note_clearing_a_plans_invoices_closes_the_plan_as_credited() -> None:
    account = _on_plan()
    account.collect_events()
    account.issue_credit_note(
        note_number="CN-1", invoice_number="INV-1", issued_on=d("2024-01-20"), meta=META
    )
    assert event_names(account.collect_events()) == ["CreditNoteIssued", "PaymentPlanClosed"]
    assert account.plans["P1"].status == "credited"
    assert account.plans["P1"].paid == []


def test_a_late_sweep_decides_missed_installments_as_of_its_date_not_today() -> None:
    account = _on_plan(default_after_missed=3)
    pay(account, "p1", 100, "2024-02-20")  # installment 0, due 1 Feb, paid late
    assert account.plans["P1"].paid == [0]
    account.collect_events()
    account.sweep(as_of=d("2024-02-10"), meta=META)  # run later, for 10 Feb
    events = account.collect_events()
    assert event_names(events) == ["PlanInstallmentMissed"]
    missed = events[0]
    assert isinstance(missed, Account.PlanInstallmentMissed)
    assert (missed.index, missed.due_on, missed.outstanding) == (0, d("2024-02-01"), usd(100))
    assert account.plans["P1"].missed == [0]
