"""On real PostgreSQL: what could stop every read model is refused at intake, and the projector
goes on projecting.

A NUL in a name (PostgreSQL text cannot hold it), a total of 19 digits (no event could be
decoded with it again) and running totals past BIGINT (the read models' minor units) were once
accepted, and each stopped the projector for every tenant. Now each is answered 422 with
nothing recorded, and the accounts around them keep projecting to the cent.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from domain.errors import AmountOutOfRange
from projections.runner import read_model_progress
from services.api.app import create_app
from services.api_keys import Role
from services.bootstrap import Runtime
from services.commands import PostCharge
from tests.support import CLERK

LARGEST = "9999999999999.99"
NINETEEN_DIGIT_HALF = "9999999999999999.99"


@pytest.fixture
def clerk(postgres_runtime: Runtime) -> Iterator[TestClient]:
    issued = postgres_runtime.keys.create(name="clerk-ann", tenant_id="acme", role=Role.clerk)
    with TestClient(create_app(postgres_runtime), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {issued.secret}"
        yield client


def _open(client: TestClient, number: str, name: str = "Ann") -> int:
    body = {"account_number": number, "name": name, "currency": "USD", "opened_on": "2026-01-01"}
    return client.post("/v1/accounts", json=body).status_code


def _charge(client: TestClient, number: str, price: str) -> tuple[int, str]:
    body = {
        "code": "VISIT",
        "description": "Visit",
        "unit_price": price,
        "service_date": "2026-01-05",
    }
    response = client.post(f"/v1/accounts/{number}/charges", json=body)
    return response.status_code, response.json().get("code", "")


def _balances(runtime: Runtime) -> dict[str, tuple[int, int]]:
    rows = runtime.db.query(
        "SELECT account_number, charged_minor, balance_minor FROM account_balances"
    )
    return {r["account_number"]: (int(r["charged_minor"]), int(r["balance_minor"])) for r in rows}


def test_hostile_input_is_refused_and_the_projector_keeps_projecting(
    postgres_runtime: Runtime, clerk: TestClient
) -> None:
    runtime = postgres_runtime
    assert _open(clerk, "A-1") == 201
    assert _charge(clerk, "A-1", "10.00") == (201, "")

    # A NUL in the name.
    assert _open(clerk, "EVIL-1", "evil\u0000name") == 422
    # Two charges of 9,999,999,999,999,999.99 then an invoice: a 19-digit total.
    assert _open(clerk, "BIG-1") == 201
    assert _charge(clerk, "BIG-1", NINETEEN_DIGIT_HALF) == (422, "amount_out_of_range")
    # Past the intake, the domain refuses too, before any event.
    head = runtime.app.recorder.max_notification_id()
    sneaked = PostCharge.model_construct(
        charge_id="ch-x",
        code="VISIT",
        description="Visit",
        quantity=Decimal(1),
        unit_price=Decimal(NINETEEN_DIGIT_HALF),
        tax=Decimal(0),
        currency=None,
        service_date=date(2026, 1, 5),
    )
    with pytest.raises(AmountOutOfRange):
        runtime.app.execute(tenant_id="acme", account_number="BIG-1", command=sneaked, meta=CLERK)
    assert runtime.app.recorder.max_notification_id() == head
    # Twelve charges at the largest amount would pass BIGINT: the second is already refused.
    assert _charge(clerk, "BIG-1", LARGEST) == (201, "")
    for _ in range(11):
        assert _charge(clerk, "BIG-1", LARGEST) == (422, "amount_out_of_range")
    invoice = {"invoice_number": "INV-1", "issued_on": "2026-01-06"}
    assert clerk.post("/v1/accounts/BIG-1/invoices", json=invoice).status_code == 201
    assert clerk.get("/v1/accounts/BIG-1").status_code == 200

    projector = runtime.projector()
    projector.catch_up()
    assert _charge(clerk, "A-1", "5.00") == (201, "")
    projector.catch_up()

    largest_minor = int(Decimal(LARGEST) * 100)
    assert _balances(runtime) == {
        "A-1": (1500, 1500),
        "BIG-1": (largest_minor, largest_minor),
    }
    progress = read_model_progress(runtime.app, runtime.db, projector.models)
    assert {p.position for p in progress} == {runtime.app.recorder.max_notification_id()}
