"""Posting payers' 835 files end to end, on SQLite and PostgreSQL, every figure exact."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.claims import ADJUDICATED, DENIED, REVERSED
from services.bootstrap import Runtime
from services.remittances import Remittances, RemittanceTraceReused
from services.x12_835 import RemittanceFileRefused
from tests.remittances.support import CLAIMS, SEED, TENANT, account, file_bytes, open_claim, usd
from tests.support import CLERK


def posted(runtime: Runtime, name: str) -> tuple[Remittances, dict]:
    for claim in CLAIMS[name]:
        open_claim(runtime.app, claim)
    remittances = Remittances(runtime)
    [report] = remittances.import_file(file_bytes(name), tenant_id=TENANT, meta=CLERK)
    return remittances, report.as_dict()


def test_the_seed_story_from_a_file_leaves_the_patient_owing_150(runtime: Runtime) -> None:
    _remittances, report = posted(runtime, "seed-story.835")
    assert report["posted"] == 1
    assert report["held"] == 0
    assert report["already_posted"] is False
    assert report["matched_by"] == {"patient_control_number": 1}
    assert report["payment"] == "450.00"
    assert report["ties_to_payment"] is True
    patient = account(runtime.app, SEED.account)
    claim = patient.claims["CLM-1001"]
    assert claim.status == ADJUDICATED
    assert claim.owed_by_payer == usd("0.00")
    assert claim.paid_by_insurer == usd("450.00")
    assert patient.items["CLM-1001-PR"].outstanding == usd("150.00")
    assert patient.balance == usd("150.00")
    assert patient.owed_by_insurers == {}


def test_the_same_file_twice_posts_nothing_the_second_time(runtime: Runtime) -> None:
    remittances, _ = posted(runtime, "seed-story.835")
    version = account(runtime.app, SEED.account).version
    [again] = remittances.import_file(file_bytes("seed-story.835"), tenant_id=TENANT, meta=CLERK)
    assert again.already_posted is True
    assert account(runtime.app, SEED.account).version == version


def test_a_different_file_under_the_same_trace_is_refused(runtime: Runtime) -> None:
    remittances, _ = posted(runtime, "seed-story.835")
    changed = file_bytes("seed-story.835").replace(b"DOE*JANE", b"DOE*JANIE")
    with pytest.raises(RemittanceTraceReused, match="TRC-SEED-1"):
        remittances.import_file(changed, tenant_id=TENANT, meta=CLERK)


def test_a_reversal_and_its_correction_repost_the_claim(runtime: Runtime) -> None:
    remittances, _ = posted(runtime, "seed-story.835")
    [report] = remittances.import_file(
        file_bytes("reversal-and-correction.835"), tenant_id=TENANT, meta=CLERK
    )
    assert (report.reversed, report.posted, report.held) == (1, 1, 0)
    patient = account(runtime.app, SEED.account)
    claim = patient.claims["CLM-1001"]
    assert claim.status == ADJUDICATED
    assert claim.paid_by_insurer == usd("500.00")
    assert patient.items["CLM-1001-PR"].outstanding == usd("0.00")
    assert patient.items["CLM-1001-PR-2"].outstanding == usd("100.00")
    assert patient.balance == usd("100.00")


def test_a_reversal_alone_leaves_the_claim_owed_by_the_payer(runtime: Runtime) -> None:
    remittances, _ = posted(runtime, "seed-story.835")
    data = file_bytes("reversal-and-correction.835")
    lines = data.split(b"\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(b"CLP*CLM-1001*1*"))
    end = next(i for i, line in enumerate(lines) if line.startswith(b"SE*"))
    only_reversal = lines[:start] + lines[end:]
    text = b"\n".join(only_reversal).replace(b"BPR*I*50.00*C", b"BPR*I*450.00*D")
    segments = [s for s in text.split(b"~") if s.strip()]
    st = next(i for i, s in enumerate(segments) if s.strip().startswith(b"ST*"))
    se = next(i for i, s in enumerate(segments) if s.strip().startswith(b"SE*"))
    se_fields = segments[se].strip().split(b"*")
    segments[se] = b"\n" + b"*".join([b"SE", str(se - st + 1).encode(), se_fields[2]])
    [report] = remittances.import_file(b"~".join(segments) + b"~\n", tenant_id=TENANT, meta=CLERK)
    assert report.reversed == 1
    patient = account(runtime.app, SEED.account)
    assert patient.claims["CLM-1001"].status == REVERSED
    assert patient.claims["CLM-1001"].owed_by_payer == usd("1000.00")
    assert patient.balance == usd("1000.00")


def test_split_claim_parts_post_as_one_claim(runtime: Runtime) -> None:
    _, report = posted(runtime, "split-claim.835")
    assert report["claims"] == 2
    assert report["posted"] == 2
    alice = account(runtime.app, "P-2001")
    assert alice.claims["CLM-2001"].paid_by_insurer == usd("700.00")
    assert alice.balance == usd("40.00")
    assert account(runtime.app, "P-2002").balance == usd("0.00")


def test_a_denial_is_recorded_with_its_reasons_ready_for_appeal(runtime: Runtime) -> None:
    _, report = posted(runtime, "denial.835")
    assert (report["denied"], report["posted"]) == (1, 1)
    denied = account(runtime.app, "P-3001").claims["CLM-3001"]
    assert denied.status == DENIED
    assert denied.denial_reason == "CO-50"
    assert account(runtime.app, "P-3002").balance == usd("0.00")


def test_provider_adjustments_go_to_the_payers_ledger(runtime: Runtime) -> None:
    remittances, report = posted(runtime, "provider-adjustments.835")
    assert report["ties_to_payment"] is True
    assert report["provider_adjusted"] == "125.00"
    ledger = remittances.payer_ledger(TENANT)
    assert [(line["reason_code"], line["amount"]) for line in ledger] == [
        ("WO", "75.00"),
        ("72", "20.00"),
        ("FB", "30.00"),
        ("L6", "-12.50"),
        ("CS", "5.00"),
        ("IR", "7.50"),
    ]
    assert ledger[0]["reference"] == "CLM-0999"
    assert ledger[-1]["forwarding_balance"] == "30.00"
    assert account(runtime.app, "P-4001").balance == usd("0.00")
    assert account(runtime.app, "P-4002").balance == usd("40.00")


def test_an_unmatched_claim_is_held_with_its_money_never_lost(runtime: Runtime) -> None:
    remittances, report = posted(runtime, "unmatched.835")
    assert (report["posted"], report["held"]) == (1, 1)
    assert report["held_amount"] == "64.00"
    [held] = remittances.held_claims(TENANT)
    assert held["patient_control_number"] == "NOT-ON-FILE-77"
    assert held["paid"] == "64.00"
    assert "no claim on file matches" in held["sentence"]
    # A clerk finds the claim and posts it there.
    from datetime import date

    from tests.remittances.support import ClaimOnFile

    open_claim(
        runtime.app,
        ClaimOnFile(
            "P-77",
            "Nemo Nobody",
            "CLM-77",
            "ACME HEALTH PLAN",
            ("80.00",),
            date(2026, 3, 21),
            date(2026, 3, 22),
        ),
    )
    described = remittances.post_held(
        tenant_id=TENANT,
        remittance_id=report["remittance_id"],
        claim_number=2,
        account_number="P-77",
        claim_id="CLM-77",
        meta=CLERK,
    )
    assert described["counts"] == {"claims": 2, "posted": 2, "held": 0, "refused": 0}
    assert remittances.held_claims(TENANT) == []
    assert account(runtime.app, "P-77").balance == usd("0.00")


@pytest.mark.parametrize("name", ["managed-care.835", "cob-contractural-adjustment.835"])
def test_the_real_payer_files_post_to_the_cent(runtime: Runtime, name: str) -> None:
    _remittances, report = posted(runtime, name)
    assert report["held"] == 0
    assert report["posted"] == len(CLAIMS[name])
    assert report["ties_to_payment"] is True
    assert any("DTM*405" in note for note in report["notes"])
    balances = {c.account: account(runtime.app, c.account).balance for c in CLAIMS[name]}
    if name == "managed-care.835":
        assert balances == {"M-1": usd("300.00"), "M-2": usd("600.00")}
    else:
        assert balances == {"C-1": usd("0.00")}


#: The files that follow another one, with the claims they are posted against.
FOLLOWING = {
    "reversal-and-correction.835": "seed-story.835",
    "crossover-secondary.835": "crossover.835",
}


@pytest.mark.parametrize("name", sorted([*CLAIMS, *FOLLOWING]))
def test_an_unbalanced_copy_of_each_file_is_refused_with_nothing_posted(
    runtime: Runtime, name: str
) -> None:
    claims = CLAIMS[FOLLOWING.get(name, name)]
    for claim in claims:
        open_claim(runtime.app, claim)
    versions = {c.account: account(runtime.app, c.account).version for c in claims}
    data = file_bytes(name)
    bpr = data.index(b"BPR*")
    amount_start = bpr + len(b"BPR*I*")
    amount_end = data.index(b"*", amount_start)
    payment = data[amount_start:amount_end]
    one_more = str(Decimal(payment.decode()) + 1).encode()
    unbalanced = data[:amount_start] + one_more + data[amount_end:]
    remittances = Remittances(runtime)
    with pytest.raises(RemittanceFileRefused) as refused:
        remittances.import_file(unbalanced, tenant_id=TENANT, meta=CLERK)
    [problem] = refused.value.problems
    assert "(BPR)" in str(problem)
    assert f"the payment is {one_more.decode()}" in str(problem)
    assert {c.account: account(runtime.app, c.account).version for c in claims} == versions
    assert remittances.listing(TENANT) == []


def test_read_models_and_hash_chains_agree_after_posting(runtime: Runtime) -> None:
    from projections.verify import verify

    remittances, _ = posted(runtime, "seed-story.835")
    remittances.import_file(file_bytes("reversal-and-correction.835"), tenant_id=TENANT, meta=CLERK)
    result = verify(runtime.app, runtime.db)
    assert result.ok, result.discrepancies
    assert runtime.projector().parked() == []
    claims = runtime.db.query("SELECT claim_id, status FROM claims_index")
    assert claims == [{"claim_id": "CLM-1001", "status": "adjudicated"}]


def test_a_crossover_forwards_the_share_and_the_secondary_settles_it(runtime: Runtime) -> None:
    remittances, report = posted(runtime, "crossover.835")
    assert report["posted"] == 1
    patient = account(runtime.app, "P-6001")
    assert patient.items["CLM-6001-PR"].outstanding == usd("0.00")
    secondary = patient.claims["CLM-6001-2"]
    assert (secondary.payer, secondary.billed) == ("SECOND CHANCE INSURANCE", usd("60.00"))
    assert patient.owed_by_insurers == {"SECOND CHANCE INSURANCE": usd("60.00")}
    assert patient.balance == usd("60.00")
    [second] = remittances.import_file(
        file_bytes("crossover-secondary.835"), tenant_id=TENANT, meta=CLERK
    )
    assert (second.posted, second.held) == (1, 0)
    assert second.matched_by == {"patient_control_number": 1}
    patient = account(runtime.app, "P-6001")
    settled = patient.claims["CLM-6001-2"]
    assert settled.status == ADJUDICATED
    assert settled.paid_by_insurer == usd("50.00")
    assert patient.items["CLM-6001-2-PR"].outstanding == usd("10.00")
    assert patient.owed_by_insurers == {}
    assert patient.balance == usd("10.00")


def test_an_import_stopped_half_way_resumes_and_posts_each_claim_once(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from concurrent.futures import Future

    from services import remittances as posting_module
    from services.errors import ServiceStopping

    for claim in CLAIMS["split-claim.835"]:
        open_claim(runtime.app, claim)
    monkeypatch.setattr(posting_module, "CHUNK", 1)
    real_submit = runtime.app.submit
    calls = {"n": 0}

    def stopping_on_the_second(**kwargs: object) -> Future:
        calls["n"] += 1
        if calls["n"] == 2:
            failed: Future = Future()
            failed.set_exception(ServiceStopping())
            return failed
        return real_submit(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(runtime.app, "submit", stopping_on_the_second)
    remittances = Remittances(runtime)
    with pytest.raises(ServiceStopping):
        remittances.import_file(file_bytes("split-claim.835"), tenant_id=TENANT, meta=CLERK)
    [half] = remittances.listing(TENANT)
    assert (half["posted"], half["completed"]) == (1, False)
    assert account(runtime.app, "P-2002").balance == usd("200.00")  # its claim not posted yet

    [report] = remittances.import_file(file_bytes("split-claim.835"), tenant_id=TENANT, meta=CLERK)
    assert (report.already_posted, report.posted, report.held) == (False, 2, 0)
    [done] = remittances.listing(TENANT)
    assert (done["posted"], done["completed"]) == (2, True)
    assert account(runtime.app, "P-2001").claims["CLM-2001"].paid_by_insurer == usd("700.00")
    assert account(runtime.app, "P-2002").balance == usd("0.00")


def test_a_file_reusing_a_trace_in_its_second_remittance_posts_nothing(
    runtime: Runtime,
) -> None:
    for claim in CLAIMS["denial.835"]:
        open_claim(runtime.app, claim)
    denial = file_bytes("denial.835")
    versions = {c.account: account(runtime.app, c.account).version for c in CLAIMS["denial.835"]}
    start, end = denial.index(b"ST*"), denial.index(b"GE*")
    transaction = denial[start:end]
    changed = transaction.replace(b"ST*835*", b"ST*835*9").replace(b"SE*", b"SE*", 1)
    changed = changed.replace(
        transaction[transaction.index(b"SE*") :].split(b"~")[0],
        transaction[transaction.index(b"SE*") :].split(b"~")[0].rsplit(b"*", 1)[0]
        + b"*9"
        + transaction[transaction.index(b"SE*") :].split(b"~")[0].rsplit(b"*", 1)[1],
    )
    changed = changed.replace(b"GREEN*GARY", b"GREEN*GARRY")
    gs_end = denial[end:].index(b"~")
    ge = denial[end : end + gs_end].split(b"*")
    two = denial[:end] + changed + b"*".join([ge[0], b"2", ge[2]]) + denial[end + gs_end :]
    with pytest.raises(RemittanceTraceReused):
        Remittances(runtime).import_file(two, tenant_id=TENANT, meta=CLERK)
    assert Remittances(runtime).listing(TENANT) == []
    assert {
        c.account: account(runtime.app, c.account).version for c in CLAIMS["denial.835"]
    } == versions
