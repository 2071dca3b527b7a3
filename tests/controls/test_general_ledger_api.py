"""The general ledger over HTTP, on SQLite and PostgreSQL: the chart of accounts an admin sets,
the journal auditors and reporters read and export (JSON or CSV), exports given again byte
for byte, and bad input answered with a stable code and nothing recorded."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from eventsourcing.application import AggregateNotFoundError
from fastapi.testclient import TestClient

from domain.tenant import Tenant
from services.api.app import create_app
from services.api_keys import Role
from services.bootstrap import Runtime
from tests.controls.general_ledger_story import CHART_BODY, TENANT, paid, projected, seed_story


@pytest.fixture
def http(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        yield client


def key(runtime: Runtime, role: Role) -> dict[str, str]:
    issued = runtime.keys.create(name=f"{role.value}-1", tenant_id=TENANT, role=role)
    return {"Authorization": f"Bearer {issued.secret}"}


@pytest.fixture
def admin(runtime: Runtime) -> dict[str, str]:
    return key(runtime, Role.admin)


@pytest.fixture
def auditor(runtime: Runtime) -> dict[str, str]:
    return key(runtime, Role.auditor)


def chart_events(runtime: Runtime) -> int:
    try:
        events = list(runtime.app.events.get(Tenant.id_for(TENANT)))
    except AggregateNotFoundError:  # no tenant yet: nothing recorded
        return 0
    return sum(isinstance(e, Tenant.ChartOfAccountsSet) for e in events)


def test_an_admin_sets_the_chart_once_and_clerks_and_auditors_read_it(
    runtime: Runtime, http: TestClient, admin: dict[str, str], auditor: dict[str, str]
) -> None:
    assert http.get("/v1/tenant/chart-of-accounts", headers=auditor).json() is None

    first = http.put("/v1/tenant/chart-of-accounts", json=CHART_BODY, headers=admin)
    again = http.put("/v1/tenant/chart-of-accounts", json=CHART_BODY, headers=admin)

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["ar_control_accounts"] == ["1200", "2300"]
    read = http.get("/v1/tenant/chart-of-accounts", headers=auditor)
    assert read.json()["accounts"]["discounts_allowed"] == {
        "code": "4900",
        "name": "Discounts allowed",
    }
    clerk = key(runtime, Role.clerk)
    assert http.get("/v1/tenant/chart-of-accounts", headers=clerk).status_code == 200
    refused = http.put("/v1/tenant/chart-of-accounts", json=CHART_BODY, headers=auditor)
    assert refused.status_code == 403
    assert chart_events(runtime) == 1


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"drop": "tax"}, "unmapped_ledger_account"),
        ({"add": "petty_cash"}, "unknown_ledger_account"),
        ({"code": "10 00"}, "invalid_gl_account"),
        ({"code": "1000\r\n"}, "invalid_gl_account"),
        ({"name": "Cash\u0000"}, "control_character"),
    ],
)
def test_a_chart_that_leaves_out_or_invents_a_ledger_account_is_refused_with_nothing_recorded(
    runtime: Runtime, http: TestClient, admin: dict[str, str], change: dict[str, str], code: str
) -> None:
    accounts = {name: dict(gl) for name, gl in CHART_BODY["accounts"].items()}
    if "drop" in change:
        del accounts[change["drop"]]
    if "add" in change:
        accounts[change["add"]] = {"code": "1010", "name": "Petty cash"}
    if "code" in change:
        accounts["cash"]["code"] = change["code"]
    if "name" in change:
        accounts["cash"]["name"] = change["name"]

    refused = http.put("/v1/tenant/chart-of-accounts", json={"accounts": accounts}, headers=admin)

    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["code"] == code
    assert problem["detail"].endswith(".")
    assert chart_events(runtime) == 0
    if code == "unmapped_ledger_account":
        assert "tax" in problem["detail"]


@pytest.fixture
def story(runtime: Runtime, http: TestClient, admin: dict[str, str]) -> None:
    seed_story(runtime)
    projected(runtime)
    assert http.put("/v1/tenant/chart-of-accounts", json=CHART_BODY, headers=admin).is_success


def test_the_seed_storys_journal_reads_as_json_and_as_csv_and_a_read_records_nothing(
    story: None, http: TestClient, auditor: dict[str, str]
) -> None:
    summary = http.get("/v1/gl/journal", params={"period": "2026-03"}, headers=auditor)

    assert summary.status_code == 200, summary.text
    document = summary.json()
    assert document["number"] is None
    assert document["detail"] == "summary"
    by_account = {line["gl_account"]: line for line in document["lines"]}
    assert (by_account["1000"]["debit"], by_account["1000"]["credit"]) == ("700.00", "0.00")
    assert (by_account["4900"]["debit"], by_account["4900"]["credit"]) == ("300.00", "0.00")
    assert (by_account["4000"]["debit"], by_account["4000"]["credit"]) == ("0.00", "1000.00")
    assert (by_account["1200"]["debit"], by_account["1200"]["credit"]) == ("1000.00", "1000.00")
    as_csv = http.get(
        "/v1/gl/journal",
        params={"period": "2026-03", "detail": "detailed"},
        headers={**auditor, "Accept": "text/csv"},
    )
    assert as_csv.headers["content-type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert len(lines) == 6
    assert {line["account_number"] for line in lines} == {"A-100"}
    assert http.get("/v1/gl/exports", headers=auditor).json() == []


def test_an_export_is_numbered_and_given_again_byte_for_byte(
    runtime: Runtime, story: None, http: TestClient, auditor: dict[str, str]
) -> None:
    reporter = key(runtime, Role.reporter)
    made = http.post(
        "/v1/gl/exports",
        json={"period": "2026-03", "detail": "detailed"},
        params={"format": "csv"},
        headers=reporter,
    )
    assert made.status_code == 201, made.text
    assert made.headers["x-gl-export-number"] == "1"
    paid(runtime, "25.00", "pay-late", "2026-03-25")
    projected(runtime)

    again = http.get("/v1/gl/exports/1", params={"format": "csv"}, headers=auditor)
    assert again.content == made.content
    assert again.headers["x-lines-sha256"] == made.headers["x-lines-sha256"]
    as_json = http.get("/v1/gl/exports/1", headers=auditor)
    assert as_json.content == http.get("/v1/gl/exports/1", headers=auditor).content
    assert as_json.json()["requested_by"] == "reporter-1"
    fresh = http.post(
        "/v1/gl/exports", json={"period": "2026-03", "detail": "detailed"}, headers=auditor
    )
    assert fresh.json()["number"] == 2
    assert "pay-late" in fresh.text
    listed = http.get("/v1/gl/exports", headers=auditor).json()
    assert [(e["number"], e["lines"]) for e in listed] == [
        (2, 10),
        (1, 6),
    ]  # the 25.00 is unapplied credit: two postings


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"period": "2026-3"}, 422, "invalid_period"),
        ({"period": "2099-01"}, 422, "period_in_future"),
        ({"period": "2026-03", "detail": "all"}, 422, "invalid_request"),
        ({"period": "2026-03", "periods": "x"}, 400, "unknown_parameter"),
        ({}, 422, "invalid_request"),
    ],
)
def test_a_bad_journal_ask_is_a_4xx_with_a_stable_code(
    story: None,
    http: TestClient,
    auditor: dict[str, str],
    params: dict[str, str],
    status: int,
    code: str,
) -> None:
    answer = http.get("/v1/gl/journal", params=params, headers=auditor)
    posted = http.post("/v1/gl/exports", json={"detail": "summary", **params}, headers=auditor)

    assert (answer.status_code, answer.json()["code"]) == (status, code)
    if "periods" not in params:
        assert posted.status_code == status
        assert posted.json()["code"] == code
    assert http.get("/v1/gl/exports", headers=auditor).json() == []


def test_no_chart_of_accounts_is_a_409_that_says_to_set_one_and_an_unknown_export_a_404(
    runtime: Runtime, http: TestClient, auditor: dict[str, str]
) -> None:
    seed_story(runtime)
    projected(runtime)

    refused = http.post("/v1/gl/exports", json={"period": "2026-03"}, headers=auditor)
    assert refused.status_code == 409
    assert refused.json()["code"] == "no_chart_of_accounts"
    assert "chart-of-accounts" in refused.json()["detail"]
    missing = http.get("/v1/gl/exports/7", headers=auditor)
    assert (missing.status_code, missing.json()["code"]) == (404, "gl_export_not_found")
    assert http.get("/v1/gl/exports", headers=auditor).json() == []
