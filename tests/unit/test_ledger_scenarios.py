"""Scenarios from practice, written like a ledger: each step, then the figures it leaves."""

from __future__ import annotations

from decimal import Decimal

from unit_support import (
    META,
    balance_by_equation,
    balance_by_open_items,
    charge,
    d,
    event_names,
    invoice,
    open_account,
    pay,
    usd,
)

from domain.claims import ClaimAdjustment
from domain.schedules import InstallmentShare, monthly_installments

SHARES_30_50_20 = [
    InstallmentShare(0, Decimal(30)),
    InstallmentShare(30, Decimal(50)),
    InstallmentShare(60, Decimal(20)),
]


def outstanding_terms(account, number):  # type: ignore[no-untyped-def]
    return [str(t.outstanding) for t in account.installments(number)]


def test_a_thousand_dollars_over_ten_months_settled_with_three_hundred_off() -> None:
    # 2024-01-02  charge  c1                    1000.00   balance 1000.00
    # 2024-01-05  invoice INV-1 (c1)            1000.00
    # 2024-01-10  plan    P1 over INV-1: 10 × 100.00 monthly from 2024-02-01
    # 2024-02-01  pay     p1                    -100.00   installment 1 paid
    # 2024-03-01  pay     p2                    -100.00   installment 2 paid
    # 2024-04-01  pay     p3                    -100.00   installment 3 paid, open 700.00
    # 2024-04-10  offer   S1: 300.00 off if the rest is paid by 2024-04-30
    # 2024-04-20  pay     p4                    -400.00   open 300.00 = the discount
    #             discount S1                   -300.00   open 0.00, plan completed
    account = open_account()
    charge(account, "c1", 1000)
    invoice(account, "INV-1", "2024-01-05")
    account.agree_payment_plan(
        plan_id="P1",
        invoice_numbers=["INV-1"],
        installments=monthly_installments(usd(1000), 10, d("2024-02-01")),
        agreed_on=d("2024-01-10"),
        meta=META,
    )
    for payment_id, on in (("p1", "2024-02-01"), ("p2", "2024-03-01"), ("p3", "2024-04-01")):
        pay(account, payment_id, 100, on)
    assert account.outstanding("INV-1") == usd(700)
    assert account.plans["P1"].paid == [0, 1, 2]
    account.offer_settlement(
        offer_id="S1",
        invoice_numbers=["INV-1"],
        amount_off=usd(300),
        expires_on=d("2024-04-30"),
        offered_on=d("2024-04-10"),
        meta=META,
    )
    account.collect_events()
    pay(account, "p4", 400, "2024-04-20")
    assert event_names(account.collect_events()) == [
        "PaymentReceived",
        "PlanInstallmentPaid",
        "PlanInstallmentPaid",
        "PlanInstallmentPaid",
        "PlanInstallmentPaid",
        "SettlementDiscountApplied",
        "PaymentPlanCompleted",
    ]
    assert account.outstanding("INV-1") == usd(0)
    assert account.balance == usd(0)
    assert account.offers["S1"].status == "applied"
    assert account.plans["P1"].status == "completed"
    totals = account.ledger_totals()
    assert (totals["charges"], totals["payments"], totals["discounts"]) == (
        usd(1000),
        usd(700),
        usd(300),
    )
    assert balance_by_equation(account) == account.balance == balance_by_open_items(account)
    # The auditor's view on the day before the final payment.
    assert account.balance_as_of(d("2024-04-19")) == usd(700)
    assert account.outstanding("INV-1", as_of=d("2024-04-19")) == usd(700)


def test_installment_terms_30_50_20_on_an_invoice_of_100_paid_40_end_0_40_20() -> None:
    # 2024-01-02  charge  c1  1 × 100.00
    # 2024-01-05  invoice INV-1 terms 30% now, 50% in 30 days, 20% in 60 days: 30/50/20
    # 2024-01-06  pay     p1  40.00  -> terms 0/40/20 (earliest term first)
    account = open_account()
    charge(account, "c1", 100)
    invoice(account, "INV-1", "2024-01-05", installments=SHARES_30_50_20)
    assert [str(t.amount) for t in account.installments("INV-1")] == ["30.00", "50.00", "20.00"]
    assert [t.due_on for t in account.installments("INV-1")] == [
        d("2024-01-05"),
        d("2024-02-04"),
        d("2024-03-05"),
    ]
    pay(account, "p1", 40, "2024-01-06")
    assert outstanding_terms(account, "INV-1") == ["0.00", "40.00", "20.00"]


def test_the_same_terms_on_quantity_2_paid_40_then_credited_100_end_0_20_40() -> None:
    # 2024-01-02  charge      c1  2 × 100.00 = 200.00
    # 2024-01-05  invoice     INV-1 terms 60/100/40
    # 2024-01-06  pay         p1   40.00 -> 20/100/40
    # 2024-01-07  credit note CN-1 100.00 -> 0/20/40 (a credit fills the earliest term first)
    account = open_account()
    charge(account, "c1", 100, quantity=2)
    invoice(account, "INV-1", "2024-01-05", installments=SHARES_30_50_20)
    assert [str(t.amount) for t in account.installments("INV-1")] == ["60.00", "100.00", "40.00"]
    pay(account, "p1", 40, "2024-01-06")
    assert outstanding_terms(account, "INV-1") == ["20.00", "100.00", "40.00"]
    account.issue_credit_note(
        note_number="CN-1",
        invoice_number="INV-1",
        amount=usd(100),
        issued_on=d("2024-01-07"),
        meta=META,
    )
    assert outstanding_terms(account, "INV-1") == ["0.00", "20.00", "40.00"]
    assert account.outstanding("INV-1") == usd(60)
    assert account.balance == usd(60)


def test_paying_99_99_of_100_leaves_exactly_one_cent_open() -> None:
    account = open_account()
    charge(account, "c1", 100)
    invoice(account, "INV-1", "2024-01-05")
    pay(account, "p1", "99.99", "2024-01-06")
    assert account.outstanding("INV-1") == usd("0.01")
    assert str(account.outstanding("INV-1")) == "0.01"
    assert account.balance == usd("0.01")
    assert account.unapplied_credit == usd(0)


def test_a_claim_billed_1000_adjudicated_co45_400_pr1_100_pr2_50_paid_450() -> None:
    # 2024-01-02  charge c1                      1000.00   owed by ACME Health
    # 2024-01-03  claim  CLM-1 to ACME Health    1000.00
    # 2024-02-01  remittance: paid 450.00; CO-45 400.00; PR-1 100.00; PR-2 50.00
    #             patient share CLM-1-PR          150.00   owed by the patient
    #             insurer payment ERA-1          -450.00
    #             contractual adjustment         -400.00
    #             -> patient owes 150.00, insurer owes 0.00
    account = open_account()
    charge(account, "c1", 1000)
    account.submit_claim(
        claim_id="CLM-1",
        payer="ACME Health",
        charge_ids=["c1"],
        submitted_on=d("2024-01-03"),
        meta=META,
    )
    assert account.owed_by_insurers == {"ACME Health": usd(1000)}
    assert account.customer_balance == usd(0)
    account.adjudicate_claim(
        claim_id="CLM-1",
        paid=usd(450),
        adjustments=[
            ClaimAdjustment("CO", "45", usd(400)),
            ClaimAdjustment("PR", "1", usd(100)),
            ClaimAdjustment("PR", "2", usd(50)),
        ],
        adjudicated_on=d("2024-02-01"),
        meta=META,
    )
    account.post_insurer_payment(
        claim_id="CLM-1",
        payment_id="ERA-1",
        amount=usd(450),
        method="eft",
        reference="TRN-9",
        received_on=d("2024-02-01"),
        meta=META,
    )
    account.post_contractual_adjustment(claim_id="CLM-1", posted_on=d("2024-02-01"), meta=META)
    assert account.claim_outstanding("CLM-1") == usd(0)
    assert account.owed_by_insurers == {}
    assert account.outstanding("CLM-1-PR") == usd(150)
    assert account.customer_balance == usd(150)
    assert account.balance == usd(150)
    assert account.ledger_totals()["contractual_adjustments"] == usd(400)
    assert balance_by_equation(account) == account.balance == balance_by_open_items(account)


def test_a_plan_upgrade_from_20_to_30_a_month_halfway_credits_10_and_charges_15() -> None:
    # 2024-04-01  subscription SUB-1 "basic" 20.00/month
    # 2024-04-01  billing run  -> charge 20.00 for 2024-04-01..2024-05-01 (30 days)
    # 2024-04-16  upgrade to "plus" 30.00/month, immediately: 15 of 30 days remain
    #             credit unused basic  -10.00
    #             charge plus           15.00
    account = open_account()
    account.start_subscription(
        subscription_id="SUB-1",
        plan_code="basic",
        price=usd(20),
        starts_on=d("2024-04-01"),
        meta=META,
    )
    account.run_billing(run_id="RUN-04", through=d("2024-04-01"), meta=META)
    assert account.balance == usd(20)
    account.change_subscription_plan(
        subscription_id="SUB-1",
        plan_code="plus",
        price=usd(30),
        change_on=d("2024-04-16"),
        meta=META,
    )
    proration = {
        charge.kind: charge.net
        for charge in account.charges.values()
        if charge.kind.startswith("proration")
    }
    assert proration == {"proration_credit": usd(-10), "proration_charge": usd(15)}
    assert account.balance == usd(25)
    # The next run bills May at the new price.
    account.run_billing(run_id="RUN-05", through=d("2024-05-01"), meta=META)
    assert account.charges["SUB-1/2024-05-01"].net == usd(30)
    assert account.balance == usd(55)
