"""``GET /v1/accounts``: the account directory over HTTP; the contact details and the collector,
each changed by its own command; bad input refused with a stable code and nothing recorded."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from projections.catalogue import read_models
from projections.runner import Projector
from services.api.app import create_app
from services.api_keys import Role
from services.bootstrap import Runtime
from tests.api.account_steps import A, open_account, record, recorded, refused, version


def opened(client: TestClient, number: str, name: str, currency: str = "USD") -> None:
    body = {"account_number": number, "name": name, "currency": currency, "opened_on": "2026-01-01"}
    client.post("/v1/accounts", json=body).raise_for_status()


def projected(runtime: Runtime) -> None:
    Projector(runtime.app, runtime.db, read_models()).catch_up()


def listing(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get("/v1/accounts", params=params)
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


def numbers(document: dict[str, Any]) -> list[str]:
    return [a["account_number"] for a in document["accounts"]]


def problem(response: Any, code: str, status: int = 422) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    document: dict[str, Any] = response.json()
    assert document["code"] == code, document
    assert document["detail"], document
    return document


@pytest.fixture
def directory(client: TestClient, runtime: Runtime) -> TestClient:
    opened(client, "A-1", "José García")
    opened(client, "A-2", "Jane Doe", "EUR")
    opened(client, "A-3", "Bo Jones")
    for facts, account, body in (
        ("email-address-changes", "A-1", {"email": "jgarcia@example.com"}),
        ("phone-number-changes", "A-1", {"phone": "+1 (555) 010-0199"}),
        ("external-reference-changes", "A-2", {"reference": "MRN-42"}),
        ("collector-assignments", "A-3", {"collector": "carol", "assigned_on": "2026-01-05"}),
    ):
        if "assigned_on" not in body:
            body = body | {"effective_on": "2026-01-05"}
        response = client.post(f"/v1/accounts/{account}/{facts}", json=body)
        assert response.status_code == 201, response.text
    projected(runtime)
    return client


def test_get_v1_accounts_finds_an_account_by_name_phone_email_and_reference(
    directory: TestClient,
) -> None:
    assert numbers(listing(directory, q="Jose")) == ["A-1"]
    assert numbers(listing(directory, q="GARCÍA")) == ["A-1"]
    assert numbers(listing(directory, q="555.010.0199")) == ["A-1"]
    assert numbers(listing(directory, q="jgarcia@example")) == ["A-1"]
    assert numbers(listing(directory, q="mrn-42")) == ["A-2"]
    (found,) = listing(directory, q="jose")["accounts"]
    assert found == {
        "account_number": "A-1",
        "name": "José García",
        "currency": "USD",
        "status": "open",
        "opened_on": "2026-01-01",
        "balance": "0.00",
        "has_overdue": False,
        "oldest_due_on": None,
        "dunning_level": 0,
        "collector": None,
        "email": "jgarcia@example.com",
        "phone": "+1 (555) 010-0199",
        "external_reference": None,
        "preferred_channel": None,
        "billing_address": None,
    }


def test_get_v1_accounts_filters_sorts_and_pages(directory: TestClient, runtime: Runtime) -> None:
    everyone = listing(directory)
    assert numbers(everyone) == ["A-3", "A-2", "A-1"]  # Bo, Jane, José
    assert everyone["next_cursor"] is None
    assert everyone["as_of_position"] == runtime.app.recorder.max_notification_id()
    assert numbers(listing(directory, currency="EUR")) == ["A-2"]
    assert numbers(listing(directory, collector="carol")) == ["A-3"]
    assert numbers(listing(directory, status="closed")) == []
    assert numbers(listing(directory, has_overdue="false", sort="-number")) == ["A-3", "A-2", "A-1"]
    assert numbers(listing(directory, dunning_level=1)) == []

    first = listing(directory, limit=2, sort="number", as_of="2026-02-01")
    assert numbers(first) == ["A-1", "A-2"]
    assert first["as_of"] == "2026-02-01"
    second = listing(directory, limit=2, sort="number", cursor=first["next_cursor"])
    assert numbers(second) == ["A-3"]
    assert second["as_of"] == "2026-02-01"  # the cursor's date, when none is given
    assert second["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "code", "field"),
    [
        ("sort_by=name", "unknown_parameter", "sort_by"),
        ("Q=jose", "unknown_parameter", "Q"),
        ("status=open&status=closed", "repeated_parameter", "status"),
        ("sort=balance", "unknown_sort_key", "sort"),
        ("sort=--name", "unknown_sort_key", "sort"),
        ("cursor=bm9wZQ", "invalid_cursor", "cursor"),
        ("cursor=%25%25%25", "invalid_cursor", "cursor"),
        ("q=jose%00", "control_character", "q"),
        ("q=", "invalid_request", "q"),
        ("limit=0", "invalid_request", "limit"),
        ("limit=201", "invalid_request", "limit"),
        ("status=frozen", "invalid_request", "status"),
        ("currency=usd", "invalid_request", "currency"),
        ("has_overdue=perhaps", "invalid_request", "has_overdue"),
        ("dunning_level=-1", "invalid_request", "dunning_level"),
        ("collector=a%20b", "invalid_request", "collector"),
        ("as_of=2026-02-30", "invalid_request", "as_of"),
    ],
)
def test_a_bad_directory_query_is_refused_with_a_stable_code(
    directory: TestClient, params: str, code: str, field: str
) -> None:
    # A request malformed (a parameter it does not take, or twice) is a 400; a bad value, 422.
    status = 400 if code in ("unknown_parameter", "repeated_parameter") else 422
    document = problem(directory.get(f"/v1/accounts?{params}"), code, status)
    assert document["field"] == field


def test_a_cursor_of_another_listing_is_refused(directory: TestClient) -> None:
    cursor = listing(directory, limit=1, q="o")["next_cursor"]
    assert cursor is not None
    problem(directory.get("/v1/accounts", params={"limit": 1, "cursor": cursor}), "invalid_cursor")
    problem(
        directory.get("/v1/accounts", params={"q": "o", "sort": "-name", "cursor": cursor}),
        "invalid_cursor",
    )
    listing(directory, q="O", limit=5, cursor=cursor)  # the same listing, another page size


def test_the_directory_is_for_clerks_and_auditors(directory: TestClient, runtime: Runtime) -> None:
    for role, status in ((Role.auditor, 200), (Role.reporter, 403)):
        key = runtime.keys.create(name="someone", tenant_id="acme", role=role).secret
        with TestClient(create_app(runtime), raise_server_exceptions=False) as other:
            response = other.get("/v1/accounts", headers={"Authorization": f"Bearer {key}"})
            assert response.status_code == status, response.text
    key = runtime.keys.create(name="elsewhere", tenant_id="beta", role=Role.clerk).secret
    with TestClient(create_app(runtime), raise_server_exceptions=False) as other:
        response = other.get("/v1/accounts", headers={"Authorization": f"Bearer {key}"})
        assert response.json()["accounts"] == []  # another tenant's directory


# ------------------------------------------------------------------ the commands


def test_each_contact_detail_is_changed_by_its_own_command(client: TestClient) -> None:
    open_account(client)
    address = {"line1": "1 Main St", "city": "Springfield", "region": "IL", "country": "US"}
    for facts, body, event in (
        ("billing-address-changes", {"address": address}, "BillingAddressChanged"),
        ("email-address-changes", {"email": " ann@example.com "}, "EmailAddressChanged"),
        ("phone-number-changes", {"phone": "555 0100"}, "PhoneNumberChanged"),
        ("preferred-channel-changes", {"channel": "email"}, "PreferredChannelChanged"),
        ("external-reference-changes", {"reference": "SUB-9"}, "ExternalReferenceChanged"),
        ("contact-notes-changes", {"notes": "Call after 5.\nNot Sundays."}, "ContactNotesChanged"),
    ):
        answer = record(client, facts, body | {"effective_on": "2026-01-02"})
        assert recorded(answer) == [event]
    answer = record(
        client, "collector-assignments", {"collector": "carol", "assigned_on": "2026-01-03"}
    )
    assert recorded(answer) == ["CollectorAssigned"]

    details = client.get(f"{A}/contact-details").json()
    assert details == {
        "account_number": "A-1",
        "version": 8,
        "billing_address": {
            "line1": "1 Main St",
            "line2": "",
            "city": "Springfield",
            "region": "IL",
            "postal_code": "",
            "country": "US",
        },
        "email": "ann@example.com",
        "phone": "555 0100",
        "preferred_channel": "email",
        "external_reference": "SUB-9",
        "contact_notes": "Call after 5.\nNot Sundays.",
        "collector": "carol",
    }
    answer = record(client, "collector-unassignments", {"unassigned_on": "2026-01-04"})
    assert recorded(answer) == ["CollectorUnassigned"]
    assert client.get("/v1/accounts/NOPE/contact-details").status_code == 404


def test_contact_details_that_cannot_be_are_refused_and_nothing_is_recorded(
    client: TestClient,
) -> None:
    open_account(client)
    on = {"effective_on": "2026-01-02"}
    refused(client, "email-address-changes", {"email": "ann@example"} | on, "invalid_email")
    refused(
        client, "email-address-changes", {"email": "ann\x00@example.com"} | on, "control_character"
    )
    refused(client, "phone-number-changes", {"phone": "call me"} | on, "invalid_phone")
    refused(client, "phone-number-changes", {"phone": "555\x1b0100"} | on, "control_character")
    refused(client, "external-reference-changes", {"reference": "MRN\n1"} | on, "control_character")
    refused(client, "contact-notes-changes", {"notes": "bell\x07"} | on, "control_character")
    refused(client, "contact-notes-changes", {"notes": "n" * 1001} | on, "invalid_request")
    refused(client, "preferred-channel-changes", {"channel": "email"} | on, "channel_unreachable")
    refused(client, "preferred-channel-changes", {"channel": "fax"} | on, "invalid_request")
    refused(client, "email-address-changes", {"email": None} | on, "nothing_changed")
    refused(client, "email-address-changes", on, "invalid_request")  # null removes; absent is no
    address = {"line1": "1 Main St", "city": "Springfield", "country": "usa"}
    refused(client, "billing-address-changes", {"address": address} | on, "invalid_request")
    address["country"] = "us"
    problem_document = refused(
        client, "billing-address-changes", {"address": address} | on, "invalid_address"
    )
    assert problem_document["field"] == "address.country"
    address |= {"country": "US", "city": "Spring\nfield"}
    refused(client, "billing-address-changes", {"address": address} | on, "control_character")
    address["city"] = "Springfield"
    refused(
        client,
        "billing-address-changes",
        {"address": address | {"zip": "1"}} | on,
        "invalid_request",
    )
    refused(
        client,
        "collector-assignments",
        {"collector": "a b", "assigned_on": "2026-01-02"},
        "invalid_request",
    )
    refused(
        client, "collector-unassignments", {"unassigned_on": "2026-01-02"}, "no_collector_assigned"
    )
    assert version(client) == 1
