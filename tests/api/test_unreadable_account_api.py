"""An account whose stored history cannot be read answers 409 ``account_unreadable``, not 500.

A stored payment of A-1 is altered by hand so it no longer decodes, or one of its events is
removed (a version gap): reading the account, its balance or its events answers a problem that
names the version where the history stops reading and tells the caller an operator must look
at it. The same check is what the group committer calls where it loads an account for a
command (``load_account_or_problem``).
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from domain.account import Account
from projections.database import events_table
from services.bootstrap import Runtime
from services.unreadable import AccountUnreadable, load_account_or_problem
from tests.api.account_steps import A, charge, open_account, record
from tests.service.test_verify_and_explain import _alter_stored_event


def _paid(client: TestClient) -> None:
    open_account(client)
    charge(client, "ch-1", "100.00")
    record(
        client,
        "payments",
        {"amount": "40.00", "method": "cash", "reference": "r-1", "received_on": "2026-01-10"},
    )
    record(
        client,
        "payments",
        {"amount": "10.00", "method": "cash", "reference": "r-2", "received_on": "2026-01-11"},
    )


def _unreadable(client: TestClient, path: str, version: int) -> None:
    answer = client.get(path)
    assert answer.status_code == 409, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["code"] == "account_unreadable"
    assert f"cannot be read at version {version}" in problem["detail"]
    assert "An operator must look at it" in problem["detail"]
    assert "forty" not in problem["detail"]


def test_an_event_that_no_longer_decodes_answers_409_naming_its_version(
    client: TestClient, runtime: Runtime
) -> None:
    _paid(client)
    _alter_stored_event(runtime, "PaymentReceived", b'"40.00"', b'"forty"')
    for path in (A, f"{A}/balance", f"{A}/events", f"{A}/open-items"):
        _unreadable(client, path, 3)
    account_id = Account.id_for("acme", "A-1")
    with pytest.raises(AccountUnreadable, match="account A-1 cannot be read at version 3"):
        load_account_or_problem(runtime.app, account_id, "A-1")
    assert load_account_or_problem(runtime.app, Account.id_for("acme", "Z-9")) is None


def test_a_version_gap_answers_409_naming_the_missing_version(
    client: TestClient, runtime: Runtime
) -> None:
    _paid(client)
    table = events_table(runtime.app)
    runtime.db.execute(f"DELETE FROM {table} WHERE originator_version = 2")
    _unreadable(client, A, 2)
    with pytest.raises(AccountUnreadable, match="version 2"):
        load_account_or_problem(runtime.app, Account.id_for("acme", "A-1"), "A-1")


def test_a_command_on_an_unreadable_account_answers_409_and_other_accounts_carry_on(
    client: TestClient, runtime: Runtime
) -> None:
    _paid(client)
    client.post(
        "/v1/accounts",
        json={"account_number": "A-2", "name": "Bo", "currency": "USD", "opened_on": "2026-01-01"},
    ).raise_for_status()
    _alter_stored_event(runtime, "PaymentReceived", b'"40.00"', b'"forty"')
    runtime.app.committer._cache.clear()  # as after a restart: accounts come from the store

    refused = client.post(
        f"{A}/payments",
        json={"amount": "5.00", "method": "cash", "reference": "r-3", "received_on": "2026-01-12"},
        headers={"Idempotency-Key": "pay-unreadable"},
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "account_unreadable"
    other = client.post(
        "/v1/accounts/A-2/charges",
        json={
            "charge_id": "ch-9",
            "code": "VISIT",
            "description": "Visit",
            "quantity": "1",
            "unit_price": "10.00",
            "service_date": "2026-01-05",
        },
    )
    assert other.status_code == 201, other.text
    stored = runtime.app.recorder.select_events(Account.id_for("acme", "A-1"))
    assert [e.originator_version for e in stored] == [1, 2, 3, 4]  # nothing recorded on it
