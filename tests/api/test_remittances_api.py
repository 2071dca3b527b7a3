"""Payers' remittance files (X12 835) over HTTP, on SQLite and on PostgreSQL: posted once, every
figure exact, a refused file posting nothing, and the held claims worked by a clerk.

The files and the claims they are matched to are the posting tests' (``tests/remittances``);
here they are on tenant 'acme', the client fixture's.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.api_keys import Role
from services.bootstrap import Runtime
from services.remittances import Remittances
from services.x12_835 import RemittanceFileRefused, read_835
from tests.remittances.support import ACME, CLAIMS, ClaimOnFile, file_bytes, open_claim

TENANT = "acme"
R = "/v1/remittances"
X12 = {"Content-Type": "application/edi-x12"}
#: The claim NOT-ON-FILE-77 of unmatched.835 belongs to, once a clerk has found it.
NEMO = ClaimOnFile(
    "P-77", "Nemo Nobody", "CLM-77", ACME, ("80.00",), date(2026, 3, 21), date(2026, 3, 22)
)


def claims_on_file(runtime: Runtime, name: str) -> None:
    for claim in CLAIMS[name]:
        open_claim(runtime.app, claim, TENANT)


def send(
    client: TestClient, data: bytes, status: int = 201, content_type: str = "application/edi-x12"
) -> dict[str, Any]:
    response = client.post(R, content=data, headers={"Content-Type": content_type})
    assert response.status_code == status, response.text
    answer: dict[str, Any] = response.json()
    return answer


def posted(client: TestClient, runtime: Runtime, name: str) -> dict[str, Any]:
    """File ``name`` posted with its claims on file: what posting did to its one remittance."""
    claims_on_file(runtime, name)
    [report] = send(client, file_bytes(name))["remittances"]
    answer: dict[str, Any] = report
    return answer


def refused(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    document: dict[str, Any] = response.json()
    assert document["code"] == code, document
    assert document["detail"]
    return document


def get(client: TestClient, path: str, **params: Any) -> Any:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def version(client: TestClient, account_number: str) -> int:
    current: int = get(client, f"/v1/accounts/{account_number}")["version"]
    return current


def head(runtime: Runtime) -> int:
    return runtime.app.recorder.max_notification_id() or 0


def key(runtime: Runtime, role: Role, tenant: str = TENANT) -> dict[str, str]:
    issued = runtime.keys.create(name=f"{role.value}-{tenant}", tenant_id=tenant, role=role)
    return {"Authorization": f"Bearer {issued.secret}"}


def unbalanced_seed_story() -> bytes:
    """seed-story.835 with a payment (BPR02) of 451.00: its claim pays 450.00."""
    return file_bytes("seed-story.835").replace(b"BPR*I*450.00*", b"BPR*I*451.00*")


# --- posting a file ---------------------------------------------------------------------------


def test_the_seed_story_posted_over_http_leaves_the_patient_owing_150(
    client: TestClient, runtime: Runtime
) -> None:
    report = posted(client, runtime, "seed-story.835")
    assert (report["posted"], report["held"], report["already_posted"]) == (1, 0, False)
    assert (report["payment"], report["ties_to_payment"]) == ("450.00", True)
    assert report["matched_by"] == {"patient_control_number": 1}

    assert get(client, "/v1/accounts/P-1001/balance")["balance"] == "150.00"
    described = get(client, f"{R}/{report['remittance_id']}")
    [claim] = described["claims"]
    assert claim["patient_control_number"] == "CLM-1001"
    assert (claim["result"], claim["matched_by"]) == ("posted", "patient_control_number")
    assert (claim["account_number"], claim["claim_id"]) == ("P-1001", "CLM-1001")
    assert (claim["billed"], claim["paid"], claim["patient_responsibility"]) == (
        "1000.00",
        "450.00",
        "150.00",
    )
    assert described["balance"]["balances"] is True
    assert described["adjustments_by_reason"] == {
        "CO-45": "400.00",
        "PR-1": "100.00",
        "PR-2": "50.00",
    }
    [listed] = get(client, R)["remittances"]
    assert (listed["remittance_id"], listed["trace_number"]) == (
        report["remittance_id"],
        "TRC-SEED-1",
    )
    assert (listed["posted"], listed["held"], listed["completed"]) == (1, 0, True)


def test_the_same_file_again_answers_200_already_posted_and_records_nothing(
    client: TestClient, runtime: Runtime
) -> None:
    first = posted(client, runtime, "seed-story.835")
    before = (head(runtime), version(client, "P-1001"))

    [again] = send(client, file_bytes("seed-story.835"), status=200)["remittances"]

    assert again["already_posted"] is True
    assert again["remittance_id"] == first["remittance_id"]
    assert (head(runtime), version(client, "P-1001")) == before
    assert get(client, "/v1/accounts/P-1001/balance")["balance"] == "150.00"


@pytest.mark.parametrize(
    "content_type", ["application/edi-x12", "text/plain; charset=utf-8", "application/octet-stream"]
)
def test_a_file_is_taken_as_x12_as_plain_text_or_as_bytes(
    client: TestClient, runtime: Runtime, content_type: str
) -> None:
    claims_on_file(runtime, "seed-story.835")
    [report] = send(client, file_bytes("seed-story.835"), content_type=content_type)["remittances"]
    assert report["posted"] == 1


@pytest.mark.parametrize("content_type", ["application/json", "multipart/form-data", None])
def test_a_body_of_another_media_type_is_refused_415_and_nothing_is_posted(
    client: TestClient, runtime: Runtime, content_type: str | None
) -> None:
    claims_on_file(runtime, "seed-story.835")
    before = head(runtime)
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = client.post(R, content=file_bytes("seed-story.835"), headers=headers)
    problem = refused(response, 415, "unsupported_media_type")
    assert "application/edi-x12" in problem["detail"]
    assert head(runtime) == before
    assert get(client, R)["remittances"] == []


def test_an_unbalanced_file_is_refused_with_every_problem_and_nothing_posted(
    client: TestClient, runtime: Runtime
) -> None:
    claims_on_file(runtime, "seed-story.835")
    before = (head(runtime), version(client, "P-1001"))

    response = client.post(R, content=unbalanced_seed_story(), headers=X12)

    problem = refused(response, 422, "remittance_file_refused")
    [found] = problem["problems"]
    assert (found["line"], found["segment"], found["claim"]) == (4, "BPR", None)
    assert "the payment is 451.00 USD, but the claims pay 450.00 USD" in found["sentence"]
    assert "nothing was posted" in problem["detail"]
    assert (head(runtime), version(client, "P-1001")) == before
    assert get(client, R)["remittances"] == []


def test_a_refused_file_lists_every_problem_not_only_the_first(client: TestClient) -> None:
    # The claim paid 451.00 while its lines pay 850.00 - 400.00: the claim and the payment
    # both fail to balance.
    data = unbalanced_seed_story().replace(b"*1000.00*450.00*", b"*1000.00*451.00*")
    with pytest.raises(RemittanceFileRefused) as by_the_reader:
        read_835(data)
    expected = [
        {"line": p.line, "segment": p.segment, "claim": getattr(p, "claim", None)}
        for p in by_the_reader.value.problems
    ]
    assert len(expected) > 1

    problem = refused(client.post(R, content=data, headers=X12), 422, "remittance_file_refused")

    assert [{k: p[k] for k in ("line", "segment", "claim")} for p in problem["problems"]] == (
        expected
    )
    assert "CLM-1001" in {p["claim"] for p in problem["problems"]}
    assert all(p["sentence"] for p in problem["problems"])


@pytest.mark.parametrize("body", [b"hello, this is not a remittance", b""])
def test_a_body_that_is_not_x12_is_refused_naming_isa(client: TestClient, body: bytes) -> None:
    response = client.post(R, content=body, headers={"Content-Type": "text/plain"})
    problem = refused(response, 422, "remittance_file_refused")
    [found] = problem["problems"]
    assert (found["line"], found["segment"]) == (1, "ISA")
    assert "does not begin with ISA" in found["sentence"]


def test_a_changed_file_under_a_trace_already_posted_is_refused_409(
    client: TestClient, runtime: Runtime
) -> None:
    posted(client, runtime, "seed-story.835")
    before = head(runtime)
    changed = file_bytes("seed-story.835").replace(b"DOE*JANE", b"DOE*JANIE")

    problem = refused(client.post(R, content=changed, headers=X12), 409, "remittance_trace_reused")

    assert "TRC-SEED-1" in problem["detail"]
    assert head(runtime) == before


def test_a_file_larger_than_a_remittance_file_may_be_is_refused_413_unread(
    client: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    claims_on_file(runtime, "seed-story.835")
    data = file_bytes("seed-story.835")
    monkeypatch.setattr("services.api.remittances.MAX_FILE_BYTES", len(data) - 1)

    problem = refused(client.post(R, content=data, headers=X12), 413, "body_too_large")

    assert f"{len(data):,} bytes" in problem["detail"]
    assert get(client, R)["remittances"] == []


# --- reading ----------------------------------------------------------------------------------


def test_the_remittances_are_listed_newest_first_as_many_as_asked(
    client: TestClient, runtime: Runtime
) -> None:
    received_on = [date(2026, 4, 1)]
    state: Any = client.app.state  # type: ignore[attr-defined]
    state.remittances = Remittances(runtime, today=lambda: received_on[0])
    posted(client, runtime, "seed-story.835")
    received_on[0] = date(2026, 4, 2)
    posted(client, runtime, "denial.835")

    listed = get(client, R)["remittances"]
    assert [(r["trace_number"], r["received_on"]) for r in listed] == [
        ("TRC-DENY-1", "2026-04-02"),
        ("TRC-SEED-1", "2026-04-01"),
    ]
    assert [r["trace_number"] for r in get(client, R, limit=1)["remittances"]] == ["TRC-DENY-1"]


@pytest.mark.parametrize(
    ("path", "params", "code"),
    [
        (R, {"limt": "5"}, "unknown_parameter"),
        (R, {"limit": ["5", "6"]}, "repeated_parameter"),
        (R, {"limit": "0"}, "invalid_request"),
        (R, {"limit": "501"}, "invalid_request"),
        (f"{R}/held", {"payer": "x"}, "unknown_parameter"),
        (f"{R}/payer-ledger", {"payer": "x"}, "unknown_parameter"),
        (f"{R}/payer-ledger", {"payer_id": "a\u0000b"}, "control_character"),
    ],
)
def test_a_query_it_does_not_take_is_refused_never_ignored(
    client: TestClient, path: str, params: dict[str, Any], code: str
) -> None:
    status = 400 if code in ("unknown_parameter", "repeated_parameter") else 422
    refused(client.get(path, params=params), status, code)


@pytest.mark.parametrize("remittance_id", ["TRC-SEED-1", "00000000-0000-0000-0000-000000000000"])
def test_an_unknown_or_malformed_remittance_id_is_not_found(
    client: TestClient, remittance_id: str
) -> None:
    problem = refused(client.get(f"{R}/{remittance_id}"), 404, "remittance_not_found")
    assert remittance_id in problem["detail"]


def test_another_tenants_remittance_is_not_found_and_not_listed(
    client: TestClient, runtime: Runtime
) -> None:
    report = posted(client, runtime, "seed-story.835")
    intruder = key(runtime, Role.clerk, tenant="globex")

    read = client.get(f"{R}/{report['remittance_id']}", headers=intruder)
    listed = client.get(R, headers=intruder)

    refused(read, 404, "remittance_not_found")
    assert listed.json()["remittances"] == []
    assert get(client, f"{R}/{report['remittance_id']}")["trace_number"] == "TRC-SEED-1"


def test_the_payer_ledger_lists_the_provider_level_adjustments(
    client: TestClient, runtime: Runtime
) -> None:
    report = posted(client, runtime, "provider-adjustments.835")
    assert (report["provider_adjusted"], report["ties_to_payment"]) == ("125.00", True)

    lines = get(client, f"{R}/payer-ledger")["lines"]

    assert [(line["reason_code"], line["amount"]) for line in lines] == [
        ("WO", "75.00"),
        ("72", "20.00"),
        ("FB", "30.00"),
        ("L6", "-12.50"),
        ("CS", "5.00"),
        ("IR", "7.50"),
    ]
    assert lines[0]["reference"] == "CLM-0999"
    assert lines[-1]["forwarding_balance"] == "30.00"
    assert {line["remittance_id"] for line in lines} == {report["remittance_id"]}
    one_payer = get(client, f"{R}/payer-ledger", payer_id=report["payer_id"])["lines"]
    assert one_payer == lines
    assert get(client, f"{R}/payer-ledger", payer_id="ANOTHER PAYER")["lines"] == []


# --- the held claims --------------------------------------------------------------------------


def held_now(client: TestClient) -> list[tuple[str, str, int]]:
    return [
        (c["patient_control_number"], c["paid"], c["claim_number"])
        for c in get(client, f"{R}/held")["claims"]
    ]


def test_an_unmatched_claim_is_held_until_a_clerk_posts_it_to_an_accounts_claim(
    client: TestClient, runtime: Runtime
) -> None:
    report = posted(client, runtime, "unmatched.835")
    assert (report["posted"], report["held"], report["held_amount"]) == (1, 1, "64.00")
    [held] = get(client, f"{R}/held")["claims"]
    assert (held["patient_control_number"], held["paid"], held["claim_number"]) == (
        "NOT-ON-FILE-77",
        "64.00",
        2,
    )
    assert held["remittance_id"] == report["remittance_id"]
    assert "no claim on file matches" in held["sentence"]

    open_claim(runtime.app, NEMO, TENANT)
    response = client.post(
        f"{R}/{report['remittance_id']}/claims/2/post",
        json={"account_number": "P-77", "claim_id": "CLM-77"},
    )

    assert response.status_code == 200, response.text
    described = response.json()
    assert described["counts"] == {"claims": 2, "posted": 2, "held": 0, "refused": 0}
    assert described["held_amount"] == "0.00"
    claim = described["claims"][1]
    assert (claim["result"], claim["account_number"], claim["matched_by"]) == (
        "posted",
        "P-77",
        "clerk",
    )
    assert held_now(client) == []
    assert get(client, "/v1/accounts/P-77/balance")["balance"] == "0.00"
    [listed] = get(client, R)["remittances"]
    assert (listed["posted"], listed["held"], listed["held_amount"]) == (2, 0, "0.00")


def test_a_claim_that_is_not_held_is_neither_posted_nor_refused(
    client: TestClient, runtime: Runtime
) -> None:
    report = posted(client, runtime, "unmatched.835")
    claims = f"{R}/{report['remittance_id']}/claims"
    before = (head(runtime), version(client, "P-5001"))

    # Claim 1 (CLM-5001) was posted to its account; there is no claim 3.
    again = client.post(
        f"{claims}/1/post", json={"account_number": "P-5001", "claim_id": "CLM-5001"}
    )
    refusal = client.post(f"{claims}/1/refuse", json={"reason": "not ours"})
    beyond = client.post(f"{claims}/3/refuse", json={"reason": "not ours"})

    for response in (again, refusal, beyond):
        refused(response, 422, "remittance_claim_not_held")
    assert (head(runtime), version(client, "P-5001")) == before


def test_an_account_that_refuses_the_held_claim_leaves_it_held(
    client: TestClient, runtime: Runtime
) -> None:
    report = posted(client, runtime, "unmatched.835")
    # The claim on file bills 100.00; the payer's claim bills 80.00.
    open_claim(runtime.app, replace(NEMO, charges=("100.00",)), TENANT)
    before = (head(runtime), version(client, "P-77"))

    response = client.post(
        f"{R}/{report['remittance_id']}/claims/2/post",
        json={"account_number": "P-77", "claim_id": "CLM-77"},
    )

    problem = refused(response, 422, "remittance_does_not_match_claim")
    assert "billing 80.00" in problem["detail"]
    assert "bills 100.00" in problem["detail"]
    assert (head(runtime), version(client, "P-77")) == before
    assert held_now(client) == [("NOT-ON-FILE-77", "64.00", 2)]
    assert get(client, f"{R}/{report['remittance_id']}")["claims"][1]["result"] == "held"


def test_a_held_claim_is_not_posted_to_an_account_that_does_not_exist(
    client: TestClient, runtime: Runtime
) -> None:
    report = posted(client, runtime, "unmatched.835")
    before = head(runtime)
    response = client.post(
        f"{R}/{report['remittance_id']}/claims/2/post",
        json={"account_number": "P-0", "claim_id": "CLM-77"},
    )
    refused(response, 404, "account_not_found")
    assert head(runtime) == before
    assert held_now(client) == [("NOT-ON-FILE-77", "64.00", 2)]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"reason": " "}, "invalid_request"),
        ({"reason": "two\nlines"}, "control_character"),
        ({}, "invalid_request"),
    ],
)
def test_a_held_claim_is_not_refused_without_a_reason_of_one_line(
    client: TestClient, runtime: Runtime, body: dict[str, Any], code: str
) -> None:
    report = posted(client, runtime, "unmatched.835")
    before = head(runtime)
    response = client.post(f"{R}/{report['remittance_id']}/claims/2/refuse", json=body)
    assert refused(response, 422, code)["field"] == "reason"
    assert head(runtime) == before
    assert held_now(client) == [("NOT-ON-FILE-77", "64.00", 2)]


def test_a_held_claim_refused_with_a_reason_leaves_the_queue(
    client: TestClient, runtime: Runtime
) -> None:
    # Neither claim is on file: both are held.
    [report] = send(client, file_bytes("unmatched.835"))["remittances"]
    assert report["held"] == 2

    response = client.post(
        f"{R}/{report['remittance_id']}/claims/1/refuse", json={"reason": "not our patient"}
    )

    assert response.status_code == 200, response.text
    described = response.json()
    refused_claim = described["claims"][0]
    assert refused_claim["result"] == "refused"
    assert refused_claim["sentence"] == "refused by clerk-ann: not our patient"
    assert described["counts"] == {"claims": 2, "posted": 0, "held": 1, "refused": 1}
    assert described["held_amount"] == "64.00"
    assert held_now(client) == [("NOT-ON-FILE-77", "64.00", 2)]
    [again] = send(client, file_bytes("unmatched.835"), status=200)["remittances"]
    assert (again["already_posted"], again["refused"], again["held"]) == (True, 1, 1)


# --- who may do what --------------------------------------------------------------------------


def test_clerks_post_and_resolve_auditors_read_and_others_do_neither(
    client: TestClient, runtime: Runtime
) -> None:
    report = posted(client, runtime, "unmatched.835")
    held = f"{R}/{report['remittance_id']}/claims/2"
    before = head(runtime)
    auditor, reporter, admin = (key(runtime, r) for r in (Role.auditor, Role.reporter, Role.admin))

    for headers in (auditor, reporter, admin):
        sent = client.post(R, content=file_bytes("seed-story.835"), headers={**X12, **headers})
        to_post = client.post(
            f"{held}/post",
            json={"account_number": "P-5001", "claim_id": "CLM-5001"},
            headers=headers,
        )
        to_refuse = client.post(f"{held}/refuse", json={"reason": "not ours"}, headers=headers)
        for response in (sent, to_post, to_refuse):
            refused(response, 403, "forbidden")
    assert head(runtime) == before

    reads = [R, f"{R}/held", f"{R}/payer-ledger", f"{R}/{report['remittance_id']}"]
    for path in reads:
        assert client.get(path, headers=auditor).status_code == 200
        for headers in (reporter, admin):
            refused(client.get(path, headers=headers), 403, "forbidden")
    assert client.get(R, headers={"Authorization": "Bearer ar_nope"}).status_code == 401


# --- bank deposits ----------------------------------------------------------------------------


def test_bank_lines_import_once_and_reconcile_with_the_remittances(
    client: TestClient, runtime: Runtime
) -> None:
    posted(client, runtime, "seed-story.835")
    bank = b"date,amount,trace,description\n2026-03-21,450.00,TRC-SEED-1,ACH ACME\n"
    csv = {"Content-Type": "text/csv"}
    first = client.post(f"{R}/deposits", content=bank, headers=csv)
    assert first.status_code == 201, first.text
    assert first.json() == {"lines": 1, "new": 1, "already_imported": 0}
    again = client.post(f"{R}/deposits", content=bank, headers=csv)
    assert again.status_code == 200, again.text
    assert again.json() == {"lines": 1, "new": 0, "already_imported": 1}
    report = get(client, f"{R}/reconciliation")
    [matched] = report["matched"]
    assert matched["remittance"]["trace_number"] == "TRC-SEED-1"
    assert matched["matched_by"] == "trace number"
    assert report["counts"]["deposits_without_remittance"] == 0


def test_bad_bank_lines_are_refused_with_every_problem_and_nothing_kept(
    client: TestClient,
) -> None:
    bank = b"date,amount\n2026-02-30,5.00\n2026-03-01,-1\n"
    response = client.post(f"{R}/deposits", content=bank, headers={"Content-Type": "text/csv"})
    document = refused(response, 422, "bank_lines_refused")
    assert [p.split(":")[0] for p in document["problems"]] == ["line 2", "line 3"]
    assert get(client, f"{R}/reconciliation")["deposits_without_remittance"] == []
    not_csv = client.post(
        f"{R}/deposits", content=b"{}", headers={"Content-Type": "application/json"}
    )
    refused(not_csv, 415, "unsupported_media_type")
