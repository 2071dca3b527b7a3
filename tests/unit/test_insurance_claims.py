"""Insurance claims: submitted, adjudicated, paid, denied, appealed, resubmitted."""

from __future__ import annotations

import pytest
from unit_support import META, charge, d, invoice, open_account, usd

from domain.account import Account
from domain.claims import ClaimAdjustment
from domain.errors import (
    ChargeOnClaim,
    ClaimDoesNotBalance,
    ClaimNotAdjudicated,
    ClaimNotAwaitingAdjudication,
    ClaimNotDenied,
    ContractualAdjustmentAlreadyPosted,
    InvalidAdjustmentGroup,
    UnknownClaim,
)


def _claimed() -> Account:
    account = open_account()
    charge(account, "c1", 1000)
    account.submit_claim(
        claim_id="CLM-1",
        payer="ACME",
        charge_ids=["c1"],
        submitted_on=d("2024-01-03"),
        meta=META,
    )
    return account


def _adjudicate(account: Account, paid: int, *adjustments: ClaimAdjustment) -> None:
    account.adjudicate_claim(
        claim_id="CLM-1",
        paid=usd(paid),
        adjustments=list(adjustments),
        adjudicated_on=d("2024-02-01"),
        meta=META,
    )


def test_a_claimed_charge_is_owed_by_the_payer_not_the_patient() -> None:
    account = _claimed()
    assert account.claim_outstanding("CLM-1") == usd(1000)
    assert account.customer_balance == usd(0)
    assert account.balance == usd(1000)
    with pytest.raises(ChargeOnClaim):
        invoice(account, "INV-1", "2024-01-05", charge_ids=["c1"])


def test_an_adjudication_that_does_not_balance_is_refused() -> None:
    account = _claimed()
    with pytest.raises(ClaimDoesNotBalance) as caught:
        _adjudicate(account, 500, ClaimAdjustment("CO", "45", usd(400)))
    assert caught.value.code == "claim_does_not_balance"
    assert "1000.00" in str(caught.value)
    assert account.claims["CLM-1"].status == "submitted"


def test_adjustment_groups_are_co_pr_oa_or_pi() -> None:
    account = _claimed()
    with pytest.raises(InvalidAdjustmentGroup):
        _adjudicate(account, 600, ClaimAdjustment("XX", "1", usd(400)))


def test_a_claim_is_adjudicated_once_and_its_write_off_posted_once() -> None:
    account = _claimed()
    with pytest.raises(ClaimNotAdjudicated):
        account.post_contractual_adjustment(claim_id="CLM-1", posted_on=d("2024-02-01"), meta=META)
    _adjudicate(account, 600, ClaimAdjustment("CO", "45", usd(400)))
    with pytest.raises(ClaimNotAwaitingAdjudication):
        _adjudicate(account, 600, ClaimAdjustment("CO", "45", usd(400)))
    account.post_contractual_adjustment(claim_id="CLM-1", posted_on=d("2024-02-01"), meta=META)
    with pytest.raises(ContractualAdjustmentAlreadyPosted):
        account.post_contractual_adjustment(claim_id="CLM-1", posted_on=d("2024-02-01"), meta=META)
    assert account.claim_outstanding("CLM-1") == usd(600)


def test_a_denied_claim_can_be_appealed_or_resubmitted_and_then_adjudicated() -> None:
    account = _claimed()
    with pytest.raises(ClaimNotDenied):
        account.appeal_claim(claim_id="CLM-1", appealed_on=d("2024-02-02"), meta=META)
    account.deny_claim(claim_id="CLM-1", reason_code="CO-16", denied_on=d("2024-02-01"), meta=META)
    with pytest.raises(ClaimNotAwaitingAdjudication):
        _adjudicate(account, 1000)
    account.appeal_claim(claim_id="CLM-1", appealed_on=d("2024-02-02"), meta=META, note="x")
    assert account.claims["CLM-1"].status == "appealed"
    account.deny_claim(claim_id="CLM-1", reason_code="CO-16", denied_on=d("2024-02-20"), meta=META)
    account.resubmit_claim(claim_id="CLM-1", resubmitted_on=d("2024-02-21"), meta=META)
    assert account.claims["CLM-1"].submissions == 2
    _adjudicate(account, 1000)
    assert account.claims["CLM-1"].status == "adjudicated"


def test_the_insurer_cannot_be_paid_more_than_it_owes() -> None:
    from domain.errors import AllocationExceedsOpenAmount

    account = _claimed()
    with pytest.raises(AllocationExceedsOpenAmount):
        account.post_insurer_payment(
            claim_id="CLM-1",
            payment_id="ERA-1",
            amount=usd("1000.01"),
            method="eft",
            reference="",
            received_on=d("2024-02-01"),
            meta=META,
        )
    with pytest.raises(UnknownClaim):
        account.deny_claim(claim_id="NOPE", reason_code="x", denied_on=d("2024-02-01"), meta=META)


def test_the_insurer_cannot_pay_more_than_it_adjudicated_to_pay() -> None:
    from domain.errors import InsurerPaymentExceedsRemittance

    account = _claimed()
    _adjudicate(
        account,
        450,
        ClaimAdjustment("CO", "45", usd(400)),
        ClaimAdjustment("PR", "2", usd(150)),
    )

    def insurer_pays(payment_id: str, amount: int) -> None:
        account.post_insurer_payment(
            claim_id="CLM-1",
            payment_id=payment_id,
            amount=usd(amount),
            method="eft",
            reference="",
            received_on=d("2024-02-05"),
            meta=META,
        )

    insurer_pays("ERA-1", 300)
    version = account.version
    with pytest.raises(InsurerPaymentExceedsRemittance) as caught:
        insurer_pays("ERA-2", 400)
    assert caught.value.code == "insurer_payment_exceeds_remittance"
    assert "150.00" in str(caught.value)
    assert account.version == version
    insurer_pays("ERA-3", 150)
    account.post_contractual_adjustment(claim_id="CLM-1", posted_on=d("2024-02-06"), meta=META)
    assert account.claim_outstanding("CLM-1") == usd(0)
