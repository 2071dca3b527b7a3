"""Insurance claims over HTTP: billed to the payer, adjudicated or denied, and what passes to
the patient."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.account_steps import A, open_account, open_items, record, recorded, refused


def figures(client: TestClient) -> tuple[str, dict[str, str]]:
    """The balance, and what each insurer owes of it."""
    body = client.get(f"{A}/balance").json()
    return body["balance"], body["owed_by_insurers"]


def claimed(client: TestClient, amount: str = "1000.00") -> None:
    """Charge ch-1 billed to ACME Health on claim CLM-1."""
    open_account(client)
    record(
        client,
        "charges",
        {
            "charge_id": "ch-1",
            "code": "99214",
            "description": "Office visit",
            "unit_price": amount,
            "service_date": "2026-01-05",
        },
    )
    record(
        client,
        "claims",
        {
            "claim_id": "CLM-1",
            "payer": "ACME Health",
            "charge_ids": ["ch-1"],
            "submitted_on": "2026-01-06",
        },
    )


REMITTANCE = {
    "claim_id": "CLM-1",
    "paid": "450.00",
    "adjustments": [
        {"group": "CO", "reason_code": "45", "amount": "400.00"},
        {"group": "PR", "reason_code": "1", "amount": "100.00"},
        {"group": "PR", "reason_code": "2", "amount": "50.00"},
    ],
    "adjudicated_on": "2026-02-01",
}


def test_a_claim_of_1000_adjudicated_co45_400_pr1_100_pr2_50_paid_450_leaves_the_patient_150(
    client: TestClient,
) -> None:
    claimed(client)
    assert figures(client) == ("1000.00", {"ACME Health": "1000.00"})

    adjudicated = record(client, "claim-adjudications", REMITTANCE)
    assert recorded(adjudicated) == ["ClaimAdjudicated"]
    assert figures(client) == ("1000.00", {"ACME Health": "850.00"})
    share = open_items(client)["CLM-1-PR"]
    assert (share["kind"], share["outstanding"], share["claim_id"]) == (
        "patient_share",
        "150.00",
        "CLM-1",
    )

    paid = record(
        client,
        "insurer-payments",
        {
            "claim_id": "CLM-1",
            "payment_id": "ERA-1",
            "amount": "450.00",
            "method": "eft",
            "reference": "TRN 9",
            "received_on": "2026-02-03",
        },
    )
    assert recorded(paid) == ["InsurerPaymentPosted"]
    assert figures(client) == ("550.00", {"ACME Health": "400.00"})

    adjusted = record(
        client, "contractual-adjustments", {"claim_id": "CLM-1", "posted_on": "2026-02-03"}
    )
    assert recorded(adjusted) == ["ContractualAdjustmentPosted"]
    assert figures(client) == ("150.00", {})
    assert list(open_items(client)) == ["CLM-1-PR"]


def test_a_remittance_that_does_not_balance_or_names_an_unknown_group_is_refused(
    client: TestClient,
) -> None:
    claimed(client)
    problem = refused(
        client, "claim-adjudications", REMITTANCE | {"paid": "460.00"}, "claim_does_not_balance"
    )
    assert problem["field"] == "adjustments"
    refused(
        client,
        "claim-adjudications",
        REMITTANCE | {"adjustments": [{"group": "XX", "reason_code": "45", "amount": "550.00"}]},
        "invalid_request",
    )
    refused(
        client,
        "claim-adjudications",
        REMITTANCE | {"paid": "-1.00"},
        "invalid_request",
    )
    assert figures(client) == ("1000.00", {"ACME Health": "1000.00"})


def test_a_claim_needs_uninvoiced_charges(client: TestClient) -> None:
    claimed(client)
    claim = {"payer": "ACME Health", "charge_ids": ["ch-1"], "submitted_on": "2026-01-07"}
    refused(client, "claims", claim | {"claim_id": "CLM-2"}, "charge_on_claim")
    refused(client, "claims", claim | {"claim_id": "CLM-1"}, "duplicate_claim")
    refused(client, "claims", claim | {"claim_id": "CLM-2", "charge_ids": []}, "invalid_request")


def test_an_insurer_pays_no_more_than_it_owes_nor_more_than_it_adjudicated_to_pay(
    client: TestClient,
) -> None:
    claimed(client)
    payment = {"method": "eft", "reference": "TRN 9", "received_on": "2026-02-03"}
    refused(
        client,
        "insurer-payments",
        payment | {"claim_id": "CLM-1", "amount": "1000.01"},
        "allocation_exceeds_open_amount",
    )
    record(client, "claim-adjudications", REMITTANCE)
    refused(
        client,
        "insurer-payments",
        payment | {"claim_id": "CLM-1", "amount": "450.01"},
        "insurer_payment_exceeds_remittance",
    )
    refused(
        client,
        "insurer-payments",
        payment | {"claim_id": "CLM-9", "amount": "1.00"},
        "unknown_claim",
    )
    assert figures(client) == ("1000.00", {"ACME Health": "850.00"})


def test_the_contractual_adjustment_is_posted_once_and_only_after_adjudication(
    client: TestClient,
) -> None:
    claimed(client)
    posting = {"claim_id": "CLM-1", "posted_on": "2026-02-03"}
    refused(client, "contractual-adjustments", posting, "claim_not_adjudicated")
    record(client, "claim-adjudications", REMITTANCE)
    record(client, "contractual-adjustments", posting)
    refused(client, "contractual-adjustments", posting, "contractual_adjustment_already_posted")
    assert figures(client) == ("600.00", {"ACME Health": "450.00"})


def test_a_denied_claim_is_appealed_then_adjudicated(client: TestClient) -> None:
    claimed(client)
    denied = record(
        client,
        "claim-denials",
        {"claim_id": "CLM-1", "reason_code": "CO-16", "denied_on": "2026-02-01"},
    )
    assert recorded(denied) == ["ClaimDenied"]
    assert figures(client) == ("1000.00", {"ACME Health": "1000.00"})
    appealed = record(
        client,
        "claim-appeals",
        {"claim_id": "CLM-1", "appealed_on": "2026-02-10", "note": "Referral attached"},
    )
    assert recorded(appealed) == ["ClaimAppealed"]
    record(client, "claim-adjudications", REMITTANCE | {"adjudicated_on": "2026-03-01"})
    assert figures(client) == ("1000.00", {"ACME Health": "850.00"})


def test_a_denied_claim_is_resubmitted_then_adjudicated(client: TestClient) -> None:
    claimed(client)
    record(
        client,
        "claim-denials",
        {"claim_id": "CLM-1", "reason_code": "CO-16", "denied_on": "2026-02-01"},
    )
    resubmitted = record(
        client, "claim-resubmissions", {"claim_id": "CLM-1", "resubmitted_on": "2026-02-05"}
    )
    assert recorded(resubmitted) == ["ClaimResubmitted"]
    record(client, "claim-adjudications", REMITTANCE | {"adjudicated_on": "2026-03-01"})
    assert open_items(client)["CLM-1-PR"]["outstanding"] == "150.00"


def test_only_a_denied_claim_is_appealed_or_resubmitted_and_only_a_pending_one_denied(
    client: TestClient,
) -> None:
    claimed(client)
    refused(
        client,
        "claim-appeals",
        {"claim_id": "CLM-1", "appealed_on": "2026-02-10"},
        "claim_not_denied",
    )
    refused(
        client,
        "claim-resubmissions",
        {"claim_id": "CLM-1", "resubmitted_on": "2026-02-10"},
        "claim_not_denied",
    )
    record(client, "claim-adjudications", REMITTANCE)
    refused(
        client,
        "claim-denials",
        {"claim_id": "CLM-1", "reason_code": "CO-16", "denied_on": "2026-02-02"},
        "claim_not_awaiting_adjudication",
    )
