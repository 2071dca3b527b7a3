"""API keys and roles: admins manage their tenant's keys; each role does only its own work."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from services.api.app import create_app
from services.api_keys import Role
from services.bootstrap import Runtime

OPEN = {"account_number": "A-1", "name": "Ann", "currency": "USD", "opened_on": "2026-01-01"}


@pytest.fixture
def http(sqlite_runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(sqlite_runtime), raise_server_exceptions=False) as client:
        yield client


def _key(
    runtime: Runtime, role: Role, tenant: str = "acme", name: str | None = None
) -> dict[str, str]:
    issued = runtime.keys.create(name=name or f"{role.value}-1", tenant_id=tenant, role=role)
    return {"Authorization": f"Bearer {issued.secret}"}


def test_an_admin_creates_a_key_that_works_once_shown_and_stops_working_when_revoked(
    http: TestClient, sqlite_runtime: Runtime
) -> None:
    admin = _key(sqlite_runtime, Role.admin)

    created = http.post("/v1/keys", json={"name": "clerk-bob", "role": "clerk"}, headers=admin)
    assert created.status_code == 201, created.text
    clerk = {"Authorization": f"Bearer {created.json()['key']}"}
    assert http.post("/v1/accounts", json=OPEN, headers=clerk).status_code == 201

    listed = http.get("/v1/keys", headers=admin).json()
    assert {k["name"] for k in listed} == {"admin-1", "clerk-bob"}
    assert all("key" not in k for k in listed)  # secrets are never listed

    assert http.delete(f"/v1/keys/{created.json()['key_id']}", headers=admin).status_code == 204
    assert http.get("/v1/accounts/A-1", headers=clerk).status_code == 401
    assert (
        http.delete(f"/v1/keys/{created.json()['key_id']}", headers=admin).json()["code"]
        == "key_not_found"
    )


def test_keys_are_stored_hashed(sqlite_runtime: Runtime) -> None:
    issued = sqlite_runtime.keys.create(name="clerk-1", tenant_id="acme", role=Role.clerk)
    secret = issued.secret.rsplit("_", 1)[1]
    rows = sqlite_runtime.db.query("SELECT * FROM api_keys")
    assert all(secret not in str(value) for row in rows for value in row.values())


@pytest.mark.parametrize(
    ("role", "may_command", "may_read_account", "may_manage_keys", "may_read_reports"),
    [
        (Role.clerk, True, True, False, True),
        (Role.auditor, False, True, False, True),
        (Role.reporter, False, False, False, True),
        (Role.admin, False, False, True, False),
        (Role.approver, False, True, False, True),
    ],
)
def test_each_role_does_only_its_own_work(
    http: TestClient,
    sqlite_runtime: Runtime,
    role: Role,
    may_command: bool,
    may_read_account: bool,
    may_manage_keys: bool,
    may_read_reports: bool,
) -> None:
    http.post(
        "/v1/accounts", json=OPEN, headers=_key(sqlite_runtime, Role.clerk, name="setup-clerk")
    )
    headers = _key(sqlite_runtime, role)

    command = http.post("/v1/accounts", json={**OPEN, "account_number": "A-2"}, headers=headers)
    read = http.get("/v1/accounts/A-1/balance", headers=headers)
    keys = http.get("/v1/keys", headers=headers)
    report = http.get("/v1/reports/trial-balance", params={"as_of": "2026-01-31"}, headers=headers)

    assert command.status_code == (201 if may_command else 403)
    assert read.status_code == (200 if may_read_account else 403)
    assert keys.status_code == (200 if may_manage_keys else 403)
    assert report.status_code == (200 if may_read_reports else 403)
    if not may_command:
        assert command.json()["code"] == "forbidden"


def test_another_tenants_account_is_not_found_rather_than_forbidden(
    http: TestClient, sqlite_runtime: Runtime
) -> None:
    http.post("/v1/accounts", json=OPEN, headers=_key(sqlite_runtime, Role.clerk, tenant="acme"))
    intruder = _key(sqlite_runtime, Role.clerk, tenant="globex")

    read = http.get("/v1/accounts/A-1/balance", headers=intruder)
    pay = http.post(
        "/v1/accounts/A-1/payments",
        json={"amount": "1.00", "method": "cash", "reference": "r", "received_on": "2026-01-02"},
        headers=intruder,
    )
    assert read.status_code == pay.status_code == 404
    assert read.json()["code"] == pay.json()["code"] == "account_not_found"
    assert sqlite_runtime.app.get_account("acme", "A-1").version == 1


def test_an_admin_cannot_revoke_another_tenants_key(
    http: TestClient, sqlite_runtime: Runtime
) -> None:
    other = sqlite_runtime.keys.create(name="clerk-x", tenant_id="globex", role=Role.clerk)
    admin = _key(sqlite_runtime, Role.admin, tenant="acme")

    assert http.delete(f"/v1/keys/{other.caller.key_id}", headers=admin).status_code == 404
    assert sqlite_runtime.keys.authenticate(other.secret) is not None


@pytest.mark.parametrize(
    ("role", "may_set_chart", "may_read_chart", "may_export_gl", "may_tie_out"),
    [
        (Role.clerk, False, True, False, True),
        (Role.auditor, False, True, True, True),
        (Role.reporter, False, False, True, True),
        (Role.admin, True, True, False, False),
    ],
)
def test_admins_map_the_gl_auditors_and_reporters_export_it_and_reports_readers_tie_it_out(
    http: TestClient,
    sqlite_runtime: Runtime,
    role: Role,
    may_set_chart: bool,
    may_read_chart: bool,
    may_export_gl: bool,
    may_tie_out: bool,
) -> None:
    from tests.controls.general_ledger_story import CHART_BODY

    setup = _key(sqlite_runtime, Role.admin, name="setup-admin")
    assert http.put("/v1/tenant/chart-of-accounts", json=CHART_BODY, headers=setup).is_success
    headers = _key(sqlite_runtime, role)

    set_chart = http.put("/v1/tenant/chart-of-accounts", json=CHART_BODY, headers=headers)
    read_chart = http.get("/v1/tenant/chart-of-accounts", headers=headers)
    preview = http.get("/v1/gl/journal", params={"period": "2026-01"}, headers=headers)
    export = http.post("/v1/gl/exports", json={"period": "2026-01"}, headers=headers)
    listed = http.get("/v1/gl/exports", headers=headers)
    tie_out = http.get("/v1/gl/tie-out", params={"as_of": "2026-01-31"}, headers=headers)

    assert set_chart.status_code == (200 if may_set_chart else 403)
    assert read_chart.status_code == (200 if may_read_chart else 403)
    assert preview.status_code == (200 if may_export_gl else 403)
    assert export.status_code == (201 if may_export_gl else 403)
    assert listed.status_code == (200 if may_export_gl else 403)
    assert tie_out.status_code == (200 if may_tie_out else 403)
