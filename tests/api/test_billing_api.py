"""Charges, invoices and notes over HTTP: what each records and what it leaves owed."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.account_steps import (
    balance,
    charge,
    invoice,
    open_account,
    open_items,
    record,
    recorded,
    refused,
)


def test_a_charge_of_two_units_at_ten_with_tax_of_one_fifty_is_owed_as_twenty_one_fifty(
    client: TestClient,
) -> None:
    open_account(client)
    answer = record(
        client,
        "charges",
        {
            "code": "LAB",
            "description": "Blood panel",
            "quantity": "2",
            "unit_price": "10.00",
            "tax": "1.50",
            "service_date": "2026-01-05",
        },
    )
    assert answer["recorded"] == [{"type": "ChargePosted", "version": 2}]
    assert answer["balance"] == "21.50"
    assert balance(client) == "21.50"


def test_a_charge_sent_without_an_id_answers_with_the_id_made_for_it(client: TestClient) -> None:
    open_account(client)
    body = {
        "code": "LAB",
        "description": "Panel",
        "unit_price": "8.00",
        "service_date": "2026-01-05",
    }
    answer = record(client, "charges", body)
    made = answer["created_id"]
    assert made.startswith("ch_")

    void = record(client, "charge-voids", {"charge_id": made, "effective_on": "2026-01-06"})
    assert recorded(void) == ["ChargeVoided"]
    assert void["created_id"] is None
    assert balance(client) == "0.00"


def test_a_charge_posted_in_error_is_voided_and_nothing_is_owed(client: TestClient) -> None:
    open_account(client)
    charge(client, "ch-1", "100.00")
    charge(client, "ch-2", "40.00")
    answer = record(client, "charge-voids", {"charge_id": "ch-1", "effective_on": "2026-01-05"})
    assert recorded(answer) == ["ChargeVoided"]
    assert balance(client) == "40.00"


def test_an_invoiced_charge_cannot_be_voided(client: TestClient) -> None:
    open_account(client)
    charge(client, "ch-1", "100.00")
    invoice(client, "INV-1")
    problem = refused(
        client,
        "charge-voids",
        {"charge_id": "ch-1", "effective_on": "2026-01-07"},
        "charge_already_invoiced",
    )
    assert problem["field"] == "charge_id"
    refused(
        client,
        "charge-voids",
        {"charge_id": "ch-9", "effective_on": "2026-01-07"},
        "unknown_charge",
    )
    assert balance(client) == "100.00"


def test_an_invoice_on_terms_of_30_50_20_percent_falls_due_in_three_parts(
    client: TestClient,
) -> None:
    open_account(client)
    charge(client, "ch-1", "100.00")
    answer = invoice(
        client,
        "INV-1",
        installments=[
            {"due_in_days": 0, "percent": "30"},
            {"due_in_days": 30, "percent": "50"},
            {"due_in_days": 60, "percent": "20"},
        ],
    )
    assert answer["recorded"] == [{"type": "InvoiceIssued", "version": 3}]
    terms = open_items(client)["INV-1"]["terms"]
    assert [(t["due_on"], t["amount"]) for t in terms] == [
        ("2026-01-06", "30.00"),
        ("2026-02-05", "50.00"),
        ("2026-03-07", "20.00"),
    ]


def test_an_invoice_on_an_explicit_schedule_keeps_its_terms(client: TestClient) -> None:
    open_account(client)
    charge(client, "ch-1", "90.00")
    charge(client, "ch-2", "10.00")
    invoice(
        client,
        "INV-1",
        charge_ids=["ch-1"],
        schedule=[
            {"due_on": "2026-02-01", "amount": "45.00"},
            {"due_on": "2026-03-01", "amount": "45.00"},
        ],
    )
    items = open_items(client)
    assert items["INV-1"]["total"] == "90.00"
    assert [t["due_on"] for t in items["INV-1"]["terms"]] == ["2026-02-01", "2026-03-01"]
    # ch-2 is still uninvoiced, and still owed.
    assert balance(client) == "100.00"


def test_an_invoice_is_refused_when_nothing_is_left_to_invoice_or_its_shares_miss_100_percent(
    client: TestClient,
) -> None:
    open_account(client)
    refused(
        client,
        "invoices",
        {"invoice_number": "INV-1", "issued_on": "2026-01-06"},
        "nothing_to_invoice",
    )
    charge(client, "ch-1", "100.00")
    refused(
        client,
        "invoices",
        {
            "invoice_number": "INV-1",
            "issued_on": "2026-01-06",
            "installments": [
                {"due_in_days": 0, "percent": "30"},
                {"due_in_days": 30, "percent": "60"},
            ],
        },
        "schedule_does_not_sum_to_amount",
    )


def test_a_voided_invoice_returns_its_charges_to_uninvoiced_so_they_can_be_voided(
    client: TestClient,
) -> None:
    open_account(client)
    charge(client, "ch-1", "100.00")
    invoice(client, "INV-1")
    answer = record(
        client, "invoice-voids", {"invoice_number": "INV-1", "effective_on": "2026-01-07"}
    )
    assert recorded(answer) == ["InvoiceVoided"]
    assert balance(client) == "100.00"
    assert open_items(client) == {}
    record(client, "charge-voids", {"charge_id": "ch-1", "effective_on": "2026-01-07"})
    assert balance(client) == "0.00"


def test_an_invoice_with_a_payment_on_it_cannot_be_voided(client: TestClient) -> None:
    open_account(client)
    charge(client, "ch-1", "100.00")
    invoice(client, "INV-1")
    record(
        client,
        "payments",
        {"amount": "10.00", "method": "cash", "reference": "r1", "received_on": "2026-01-07"},
    )
    refused(
        client,
        "invoice-voids",
        {"invoice_number": "INV-1", "effective_on": "2026-01-08"},
        "invoice_has_applications",
    )
    assert balance(client) == "90.00"


def test_a_credit_note_credits_part_of_an_invoice_and_a_second_credits_the_rest(
    client: TestClient,
) -> None:
    open_account(client)
    charge(client, "ch-1", "100.00")
    invoice(client, "INV-1")
    first = record(
        client,
        "credit-notes",
        {
            "note_number": "CN-1",
            "invoice_number": "INV-1",
            "issued_on": "2026-01-08",
            "amount": "40.00",
            "description": "Courtesy discount",
        },
    )
    assert recorded(first) == ["CreditNoteIssued"]
    assert first["balance"] == "60.00"
    assert open_items(client)["INV-1"]["outstanding"] == "60.00"
    rest = record(
        client,
        "credit-notes",
        {"note_number": "CN-2", "invoice_number": "INV-1", "issued_on": "2026-01-09"},
    )
    assert rest["balance"] == "0.00"
    assert open_items(client) == {}


def test_a_credit_note_for_more_than_is_open_is_refused(client: TestClient) -> None:
    open_account(client)
    charge(client, "ch-1", "100.00")
    invoice(client, "INV-1")
    problem = refused(
        client,
        "credit-notes",
        {
            "note_number": "CN-1",
            "invoice_number": "INV-1",
            "issued_on": "2026-01-08",
            "amount": "100.01",
        },
        "credit_note_exceeds_open",
    )
    assert problem["field"] == "amount"
    refused(
        client,
        "credit-notes",
        {
            "note_number": "CN-1",
            "invoice_number": "INV-1",
            "issued_on": "2026-01-08",
            "amount": "10.00",
            "currency": "EUR",
        },
        "currency_mismatch",
    )


def test_a_debit_note_is_its_own_open_item_due_on_its_date(client: TestClient) -> None:
    open_account(client)
    charge(client, "ch-1", "100.00")
    invoice(client, "INV-1")
    answer = record(
        client,
        "debit-notes",
        {
            "note_number": "DN-1",
            "amount": "25.00",
            "issued_on": "2026-01-10",
            "due_on": "2026-01-31",
            "description": "Under-billed supplies",
            "against_invoice": "INV-1",
        },
    )
    assert answer["recorded"] == [{"type": "DebitNoteIssued", "version": 4}]
    assert balance(client) == "125.00"
    note = open_items(client)["DN-1"]
    assert (note["kind"], note["outstanding"]) == ("debit_note", "25.00")
    assert note["terms"] == [{"due_on": "2026-01-31", "amount": "25.00", "outstanding": "25.00"}]


def test_a_debit_note_due_before_it_is_issued_or_against_no_invoice_is_refused(
    client: TestClient,
) -> None:
    open_account(client)
    note = {"note_number": "DN-1", "amount": "25.00", "issued_on": "2026-01-10"}
    refused(client, "debit-notes", note | {"due_on": "2026-01-09"}, "due_date_before_issue_date")
    refused(client, "debit-notes", note | {"against_invoice": "INV-404"}, "unknown_invoice")
    assert balance(client) == "0.00"


def test_amounts_sent_as_json_numbers_and_unknown_fields_are_refused_by_the_model(
    client: TestClient,
) -> None:
    open_account(client)
    charge(client, "ch-1", "100.00")
    as_number = refused(
        client,
        "debit-notes",
        {"note_number": "DN-1", "amount": 25.0, "issued_on": "2026-01-10"},
        "invalid_request",
    )
    assert as_number["field"] == "amount"
    unknown = refused(
        client,
        "charge-voids",
        {"charge_id": "ch-1", "effective_on": "2026-01-05", "reason": "typo"},
        "invalid_request",
    )
    assert unknown["field"] == "reason"
    refused(
        client,
        "invoices",
        {"invoice_number": "INV-1", "issued_on": "2026-01-06", "charge_ids": []},
        "invalid_request",
    )
