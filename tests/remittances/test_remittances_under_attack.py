"""Remittance posting under attack: hostile files, races and clerks, on SQLite and PostgreSQL.

The house's first rule is trust: nothing answered 2xx unless stored; a failure stays with the
one command or account that caused it; what cannot be stored and read back is refused at
intake; money is never lost nor posted twice; a 500 is a bug; bad input gets a clear refusal
with nothing half-written. Each test states the behaviour trust requires; a failing one is a
defect report (none is marked xfail or skipped on purpose).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from domain.claims import ADJUDICATED, REVERSED, SUBMITTED
from domain.errors import DomainError
from domain.money import Money
from projections.verify import verify
from services.api.app import create_app
from services.api_keys import Role
from services.bootstrap import Runtime
from services.commands import PostCharge, SubmitClaim
from services.errors import AccountAlreadyExists, ServiceError
from services.remittances import RemittanceBusy, Remittances
from services.x12_835 import RemittanceFileRefused, read_835
from tests.remittances.support import (
    ACME,
    CLAIMS,
    SEED,
    TENANT,
    account,
    file_bytes,
    open_claim,
    usd,
)
from tests.support import CLERK, payment, run

# ------------------------------------------------------------------------------- files

_ISA = (
    "ISA*00*          *00*          *ZZ*ACMEHEALTH     *ZZ*RIVERSIDE      *260320*0930*^*00501"
    "*000009901*0*T*:~"
)
_GS = "GS*HP*ACMEHEALTH*RIVERSIDE*20260320*0930*9901*X*005010X221A1~"
ACME_ID = "1999999999"
SECOND = "SECOND CHANCE INSURANCE"
SECOND_ID = "1888888888"


def clp(
    pcn: str,
    status: str,
    billed: str,
    paid: str,
    *segments: str,
    pr: str = "",
    icn: str = "ICN-ATK",
    patient: str = "DOE*JANE",
) -> list[str]:
    """One claim: its CLP, the claim-level segments given (CAS, NM1*TT ...) and the patient."""
    cas = [s for s in segments if s.startswith("CAS*")]
    others = [s for s in segments if not s.startswith("CAS*")]
    return [
        f"CLP*{pcn}*{status}*{billed}*{paid}*{pr}*12*{icn}*11*1",
        *cas,
        f"NM1*QC*1*{patient}****MI*ATK0001",
        *others,
    ]


def x12(
    claims: Sequence[list[str]],
    *,
    payment: str,
    trace: str = "TRC-ATK-1",
    credit: str = "C",
    bpr16: str = "20260320",
    payer: str = ACME,
    payer_id: str = ACME_ID,
    currency: str | None = None,
    plb: Sequence[str] = (),
) -> bytes:
    """An 835 with one transaction, clean to the implementation guide, SE01 counted."""
    body = [
        f"BPR*I*{payment}*{credit}*ACH*CCP*01*999999992*DA*1234567890*{payer_id}**01*123123123"
        f"*DA*987654321*{bpr16}",
        f"TRN*1*{trace}*{payer_id}",
        *([f"CUR*PR*{currency}"] if currency else []),
        f"DTM*405*{bpr16}",
        f"N1*PR*{payer}",
        "N3*100 INSURANCE WAY",
        "N4*HARTFORD*CT*06103",
        "PER*BL*EDI SUPPORT*TE*8005550100",
        "N1*PE*RIVERSIDE CLINIC*XX*1234567893",
        "N3*200 RIVER ROAD",
        "N4*RIVERSIDE*CA*92501",
        "REF*TJ*123456789",
        "LX*1",
    ]
    for claim in claims:
        body.extend(claim)
    body.extend(plb)
    segments = ["ST*835*990001", *body]
    segments.append(f"SE*{len(segments) + 1}*990001")
    lines = [_ISA, _GS, *(s + "~" for s in segments), "GE*1*9901~", "IEA*1*000009901~"]
    return ("\n".join(lines) + "\n").encode()


def claim_on_file(
    runtime: Runtime,
    number: str,
    claim_id: str,
    amount: str,
    *,
    name: str = "Jane Doe",
    currency: str = "USD",
    payer: str = ACME,
    day: date = date(2026, 3, 2),
    opened_on: date = date(2026, 1, 1),
) -> None:
    """An account (opened once) with one charge of ``amount`` billed on claim ``claim_id``."""
    with contextlib.suppress(AccountAlreadyExists):
        runtime.app.open_account(
            tenant_id=TENANT,
            account_number=number,
            name=name,
            currency=currency,
            opened_on=opened_on,
            meta=CLERK,
        )
    charge = f"{claim_id}-ch"
    run(
        runtime.app,
        PostCharge(
            charge_id=charge,
            code="VISIT",
            description="visit",
            unit_price=Decimal(amount),
            service_date=day,
        ),
        number,
        TENANT,
    )
    run(
        runtime.app,
        SubmitClaim(claim_id=claim_id, payer=payer, charge_ids=[charge], submitted_on=day),
        number,
        TENANT,
    )


def posted_files(runtime: Runtime, *names: str) -> Remittances:
    remittances = Remittances(runtime)
    for name in names:
        for claim in CLAIMS.get(name, ()):
            open_claim(runtime.app, claim)
        remittances.import_file(file_bytes(name), tenant_id=TENANT, meta=CLERK)
    return remittances


def outcome(remittances: Remittances, remittance_id: str, number: int = 1) -> dict[str, Any]:
    claim: dict[str, Any] = remittances.describe(remittances.get(TENANT, remittance_id))["claims"][
        number - 1
    ]
    return claim


def held_one(remittances: Remittances, data: bytes) -> str:
    """Import ``data``, whose one claim matches nothing: the remittance's id."""
    [report] = remittances.import_file(data, tenant_id=TENANT, meta=CLERK)
    assert (report.held, report.posted) == (1, 0), report.as_dict()
    return report.remittance_id


class _UnhandledErrors:
    """Stands in for the API's error log in the HTTP tests: keeps what a 500 logged (its
    rendering, every frame's locals, takes seconds), so an assertion can show it."""

    def __init__(self) -> None:
        self.logged: list[str] = []

    def exception(self, event: str, **fields: Any) -> None:
        import sys

        self.logged.append(f"{event}: {sys.exc_info()[1]!r}"[:300])

    def warning(self, event: str, **fields: Any) -> None:
        self.logged.append(event)


def quiet_api_errors(monkeypatch: pytest.MonkeyPatch) -> _UnhandledErrors:
    errors = _UnhandledErrors()
    monkeypatch.setattr("services.api.problems.log", errors)
    return errors


def assert_books_agree(runtime: Runtime) -> None:
    result = verify(runtime.app, runtime.db)
    assert result.ok, result.discrepancies
    assert runtime.projector().parked() == []


def paid_on(runtime: Runtime, number: str, claim_id: str) -> Money:
    return account(runtime.app, number).claims[claim_id].paid_by_insurer


#: A claim billed 100.00 that matches no claim on file (no such claim id, no such patient).
STRAY = clp("STRAY-1", "1", "100.00", "100.00", patient="NOBODY*NEMO")


def two_claims_ready_for_the_stray(runtime: Runtime) -> tuple[Remittances, str]:
    """Two accounts each with a claim of 100.00 to ACME, and the stray claim held."""
    claim_on_file(runtime, "P-A", "CLM-A", "100.00", name="Anna Able")
    claim_on_file(runtime, "P-B", "CLM-B", "100.00", name="Bert Baker")
    remittances = Remittances(runtime)
    return remittances, held_one(remittances, x12([STRAY], payment="100.00"))


# ============================================================================ defects
# ------------------------------------------------------------------------- currency


def test_a_remittance_in_euros_is_not_posted_to_a_dollar_account(runtime: Runtime) -> None:
    """CUR*PR*EUR: the payer pays 100.00 EUR. The claim on file is a USD account's. Posting
    must never turn euros into dollars: the claim is held (the money kept, unapplied, in EUR)
    with a sentence naming both currencies, and the USD account is untouched."""
    claim_on_file(runtime, "P-1", "CLM-1", "100.00")
    version = account(runtime.app, "P-1").version
    remittances = Remittances(runtime)
    [report] = remittances.import_file(
        x12([clp("CLM-1", "1", "100.00", "100.00")], payment="100.00", currency="EUR"),
        tenant_id=TENANT,
        meta=CLERK,
    )
    assert report.payment == Money("100.00", "EUR")
    assert (report.posted, report.held) == (0, 1), report.as_dict()
    assert account(runtime.app, "P-1").version == version
    assert account(runtime.app, "P-1").claims["CLM-1"].status == SUBMITTED


def test_a_dollar_remittance_is_not_posted_to_a_yen_account(runtime: Runtime) -> None:
    """A USD remittance (no CUR) pays 10000.00 USD on a claim of a JPY account billing
    10000 JPY. The figures happen to be the same numbers; the money is not. It is held, and
    the JPY account is never credited 10000 JPY for 10000 USD."""
    claim_on_file(runtime, "P-Y", "CLM-Y", "10000", currency="JPY")
    remittances = Remittances(runtime)
    [report] = remittances.import_file(
        x12([clp("CLM-Y", "1", "10000.00", "10000.00")], payment="10000.00"),
        tenant_id=TENANT,
        meta=CLERK,
    )
    assert (report.posted, report.held) == (0, 1), report.as_dict()
    assert paid_on(runtime, "P-Y", "CLM-Y") == Money("0", "JPY")


def test_a_clerk_cannot_post_a_held_dollar_claim_to_a_yen_account(runtime: Runtime) -> None:
    """A clerk resolving a held USD claim picks a JPY account's claim: the account refuses it
    (4xx, a DomainError or ServiceError the API answers as such), nothing is posted there, and
    the claim stays held with its USD money."""
    claim_on_file(runtime, "P-Y", "CLM-Y", "100", currency="JPY", name="Yoko Yen")
    remittances = Remittances(runtime)
    remittance_id = held_one(remittances, x12([STRAY], payment="100.00"))
    with pytest.raises((DomainError, ServiceError)):
        remittances.post_held(
            tenant_id=TENANT,
            remittance_id=remittance_id,
            claim_number=1,
            account_number="P-Y",
            claim_id="CLM-Y",
            meta=CLERK,
        )
    assert paid_on(runtime, "P-Y", "CLM-Y") == Money("0", "JPY")
    assert outcome(remittances, remittance_id)["result"] == "held"


# ---------------------------------------------------------------------- the payment


def test_a_negative_debit_payment_is_refused_not_read_as_a_credit(runtime: Runtime) -> None:
    """BPR*I*-100.00*D: a debit of a negative amount. The 835 is never issued for less than
    zero (BPR02 is the amount, BPR03 its direction); reading it as a credit of +100.00
    (two negations) posts money the payer never sent. The file is refused at intake, naming
    BPR02, and nothing is posted."""
    claim_on_file(runtime, "P-1", "CLM-1", "100.00")
    version = account(runtime.app, "P-1").version
    remittances = Remittances(runtime)
    with pytest.raises(RemittanceFileRefused, match="BPR"):
        remittances.import_file(
            x12([clp("CLM-1", "1", "100.00", "100.00")], payment="-100.00", credit="D"),
            tenant_id=TENANT,
            meta=CLERK,
        )
    assert account(runtime.app, "P-1").version == version
    assert remittances.listing(TENANT) == []


def test_negative_zero_is_never_reported_as_a_payment_of_minus_zero(runtime: Runtime) -> None:
    """BPR02 and CLP04 written "-0.00" (a denial paying nothing). Either the file is refused,
    or it is read as the zero it is: no report, description or listing of the remittance ever
    shows "-0.00", and all of them show the same figure."""
    claim_on_file(runtime, "P-1", "CLM-1", "100.00")
    remittances = Remittances(runtime)
    data = x12([clp("CLM-1", "4", "100.00", "-0.00", "CAS*CO*50*100.00")], payment="-0.00")
    try:
        [report] = remittances.import_file(data, tenant_id=TENANT, meta=CLERK)
    except RemittanceFileRefused:
        return
    described = remittances.describe(remittances.get(TENANT, report.remittance_id))
    shown = json.dumps([report.as_dict(), described, remittances.listing(TENANT)])
    assert "-0.00" not in shown, shown


# ------------------------------------------------------------------------ intake text


@pytest.mark.parametrize(
    ("what", "patient"),
    [("a C1 control (U+0085)", "DOE\u0085X*JANE"), ("a line feed", "DOE\nX*JANE")],
)
def test_a_control_character_inside_an_element_refuses_the_file(what: str, patient: str) -> None:
    """The reader promises: control characters that are not the file's own delimiters are
    refused, CR and LF allowed only after a segment terminator. A patient's name holding a
    C1 control or a line feed is text the house refuses everywhere else (services.fields): the
    file is refused at intake, naming the line, not stored with it (pyx12's finding on NM1 is
    only a note)."""
    data = x12([clp("CLM-1", "1", "100.00", "100.00", patient=patient)], payment="100.00")
    with pytest.raises(RemittanceFileRefused, match="control character"):
        read_835(data)


# ------------------------------------------------------------------------- dates


def test_a_remittance_dated_before_the_claim_was_submitted_is_held(runtime: Runtime) -> None:
    """The claim was submitted on 2026-03-10; the payer's payment is dated 2026-03-05. An
    adjudication, a payment and a write-off dated before the claim existed would rewrite the
    account's past (as-of balances show a credit for a claim not yet billed). The account
    refuses it, as it refuses cash before the account was opened: the claim is held with a
    sentence naming both dates, and the account is untouched."""
    claim_on_file(runtime, "P-1", "CLM-1", "100.00", day=date(2026, 3, 10))
    version = account(runtime.app, "P-1").version
    remittances = Remittances(runtime)
    [report] = remittances.import_file(
        x12([clp("CLM-1", "1", "100.00", "100.00")], payment="100.00", bpr16="20260305"),
        tenant_id=TENANT,
        meta=CLERK,
    )
    assert (report.posted, report.held) == (0, 1), report.as_dict()
    assert account(runtime.app, "P-1").version == version


def _seed_reversal(bpr16: str = "20260417", trace: str = "TRC-ATK-REV") -> bytes:
    """The seed claim (CLM-1001, paid 450.00) reversed exactly, on its own."""
    reversal = clp(
        "CLM-1001",
        "22",
        "-1000.00",
        "-450.00",
        "CAS*CO*45*-400.00",
        "CAS*PR*1*-100.00**2*-50.00",
        pr="-150.00",
        icn="PCN-ICN-1001",
    )
    return x12([reversal], payment="450.00", credit="D", bpr16=bpr16, trace=trace)


def test_a_reversal_dated_before_the_adjudication_it_reverses_is_held(runtime: Runtime) -> None:
    """The seed claim was adjudicated and paid on 2026-03-20; a reversal dated 2026-03-10
    would take back, as of 03-15, a write-off and a share that did not exist yet (the payer
    owing more than it was ever billed). Cash's own rule (a payment cannot be reversed
    earlier than received) holds for the whole reversal: it is held, not posted with its
    payment reversal silently moved to 03-20 and the rest left on 03-10."""
    remittances = posted_files(runtime, "seed-story.835")
    [report] = remittances.import_file(
        _seed_reversal(bpr16="20260310"), tenant_id=TENANT, meta=CLERK
    )
    claim = account(runtime.app, SEED.account).claims[SEED.claim_id]
    assert claim.owed_by_payer_as_of(date(2026, 3, 15)) <= claim.billed
    assert (report.reversed, report.held) == (0, 1), report.as_dict()
    assert claim.status == ADJUDICATED


# ---------------------------------------------------------------------- reversals


def test_the_reversal_of_a_split_claim_reverses_the_claim(runtime: Runtime) -> None:
    """CLM-2001 was paid as two CLPs (split-claim.835: 500.00/400.00 billed, 400.00/300.00
    paid). The payer reverses each CLP it sent, so the reversal comes as two status-22 parts.
    Read together they take back exactly what was adjudicated: the claim is reversed, its
    700.00 reversed, nothing held. (A reversal part alone can never match the claim, so
    holding them leaves the clerk no way to post them either.)"""
    remittances = posted_files(runtime, "split-claim.835")
    assert paid_on(runtime, "P-2001", "CLM-2001") == usd("700.00")
    parts = [
        clp(
            "CLM-2001",
            "22",
            "-500.00",
            "-400.00",
            "CAS*CO*45*-100.00",
            icn="ICN-2001-1",
            patient="SMITH*ALICE",
        ),
        clp(
            "CLM-2001",
            "22",
            "-400.00",
            "-300.00",
            "CAS*CO*45*-60.00",
            "CAS*PR*3*-40.00",
            pr="-40.00",
            icn="ICN-2001-2",
            patient="SMITH*ALICE",
        ),
    ]
    [report] = remittances.import_file(
        x12(parts, payment="700.00", credit="D", bpr16="20260417", trace="TRC-ATK-SPLITREV"),
        tenant_id=TENANT,
        meta=CLERK,
    )
    assert report.held == 0, report.as_dict()
    claim = account(runtime.app, "P-2001").claims["CLM-2001"]
    assert claim.status == REVERSED
    assert claim.paid_by_insurer == usd("0.00")


def test_a_secondary_payers_reversal_reverses_the_secondary_claim(runtime: Runtime) -> None:
    """After crossover.835 and crossover-secondary.835, SECOND CHANCE paid 50.00 on the
    secondary claim CLM-6001-2 (billed 60.00, the share forwarded). Its reversal remits the
    claim as it remitted it (billed -400.00, paid -50.00): read against the share forwarded,
    like its payment was, it reverses CLM-6001-2 and takes back the 50.00. Held, it can never
    be posted (the clerk's post sends the same command) and the account keeps 50.00 the payer
    took back."""
    remittances = posted_files(runtime, "crossover.835", "crossover-secondary.835")
    assert paid_on(runtime, "P-6001", "CLM-6001-2") == usd("50.00")
    reversal = clp(
        "CLM-6001",
        "22",
        "-400.00",
        "-50.00",
        "CAS*OA*23*-340.00",
        "CAS*PR*1*-10.00",
        pr="-10.00",
        icn="SCI-6001",
        patient="DOE*JOHN",
    )
    [report] = remittances.import_file(
        x12(
            [reversal],
            payment="50.00",
            credit="D",
            bpr16="20260501",
            trace="TRC-SCI-REV",
            payer=SECOND,
            payer_id=SECOND_ID,
        ),
        tenant_id=TENANT,
        meta=CLERK,
    )
    assert (report.reversed, report.held) == (1, 0), report.as_dict()
    secondary = account(runtime.app, "P-6001").claims["CLM-6001-2"]
    assert secondary.status == REVERSED
    assert secondary.paid_by_insurer == usd("0.00")


def test_a_reversal_of_a_forwarded_claim_never_says_the_patient_paid(runtime: Runtime) -> None:
    """ACME reverses CLM-6001, which it had forwarded to SECOND CHANCE (crossover.835): the
    patient's share went to the secondary claim, the patient paid nothing. Whatever becomes of
    the reversal, what the clerk reads is true: it is posted, or held with a sentence about the
    forwarded share, never "the patient has paid 60.00"."""
    remittances = posted_files(runtime, "crossover.835")
    reversal = clp(
        "CLM-6001",
        "22",
        "-400.00",
        "-300.00",
        "CAS*CO*45*-40.00",
        "CAS*PR*2*-60.00",
        pr="-60.00",
        icn="ICN-6001",
        patient="DOE*JOHN",
    )
    [report] = remittances.import_file(
        x12([reversal], payment="300.00", credit="D", bpr16="20260417", trace="TRC-XREV"),
        tenant_id=TENANT,
        meta=CLERK,
    )
    sentence = outcome(remittances, report.remittance_id)["sentence"]
    assert "patient has paid" not in sentence, sentence


# ------------------------------------------------------------------- held claims


def test_two_clerks_posting_one_held_claim_to_two_accounts_post_its_money_once(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two clerks resolve the same held claim (100.00) at the same moment, one to P-A's
    claim, one to P-B's. One resolution stands; the other is refused (422 not held) and
    leaves no trace: the 100.00 is on exactly one account, the one the remittance names."""
    remittances, remittance_id = two_claims_ready_for_the_stray(runtime)
    both_sent = threading.Barrier(2, timeout=5)
    real_execute = runtime.app.execute

    def execute_together(**kwargs: Any) -> Any:
        with contextlib.suppress(threading.BrokenBarrierError):  # one at a time: no line-up
            both_sent.wait()
        return real_execute(**kwargs)

    monkeypatch.setattr(runtime.app, "execute", execute_together)
    errors: list[BaseException] = []

    def clerk(number: str, claim_id: str) -> None:
        try:
            remittances.post_held(
                tenant_id=TENANT,
                remittance_id=remittance_id,
                claim_number=1,
                account_number=number,
                claim_id=claim_id,
                meta=CLERK,
            )
        except (DomainError, ServiceError) as refused:
            errors.append(refused)

    threads = [
        threading.Thread(target=clerk, args=("P-A", "CLM-A")),
        threading.Thread(target=clerk, args=("P-B", "CLM-B")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    resolved = outcome(remittances, remittance_id)
    assert resolved["result"] == "posted"
    paid = {n: paid_on(runtime, n, c) for n, c in (("P-A", "CLM-A"), ("P-B", "CLM-B"))}
    assert sum(p.amount for p in paid.values()) == Decimal("100.00"), (paid, errors)
    assert paid[resolved["account_number"]] == usd("100.00")


def test_a_held_claim_refused_while_being_posted_is_not_both(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clerk posts the held 100.00 to P-A's claim while another refuses it (the payer's to
    take back). One resolution stands: if it is the refusal, P-A has none of the money; if
    the posting, it is not refused. Never both: the payer repaid and P-A credited."""
    remittances, remittance_id = two_claims_ready_for_the_stray(runtime)
    real_execute = runtime.app.execute

    def refused_meanwhile(**kwargs: Any) -> Any:
        with contextlib.suppress(DomainError, ServiceError):
            remittances.refuse_held(
                tenant_id=TENANT,
                remittance_id=remittance_id,
                claim_number=1,
                reason="not ours",
                meta=CLERK,
            )
        return real_execute(**kwargs)

    monkeypatch.setattr(runtime.app, "execute", refused_meanwhile)
    with contextlib.suppress(DomainError, ServiceError):
        remittances.post_held(
            tenant_id=TENANT,
            remittance_id=remittance_id,
            claim_number=1,
            account_number="P-A",
            claim_id="CLM-A",
            meta=CLERK,
        )
    result = outcome(remittances, remittance_id)["result"]
    on_account = paid_on(runtime, "P-A", "CLM-A")
    assert (result, on_account) in {("refused", usd("0.00")), ("posted", usd("100.00"))}


def _crossover_with_unpostable_carrier() -> bytes:
    """crossover.835's claim, forwarded to a carrier whose name is longer than any stored
    text (NM1*TT 210 characters: the guide's 60 is only a note, NM1 posting no money)."""
    claim = clp(
        "CLM-6001",
        "19",
        "400.00",
        "300.00",
        "CAS*CO*45*40.00",
        "CAS*PR*2*60.00",
        "NM1*TT*2*" + "X" * 210 + "*****PI*SCI01",
        pr="60.00",
        icn="ICN-6001",
        patient="DOE*JOHN",
    )
    return x12([claim], payment="300.00", bpr16="20260410", trace="TRC-ATK-TT")


def test_posting_a_held_claim_the_command_cannot_carry_answers_4xx_not_500(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The crossover carrier's name does not fit a command: the import holds the claim with
    a sentence (it cannot be posted as it is). A clerk then posts it to the account's claim
    over HTTP: the answer is a 4xx problem naming the field, the claim stays held, the
    account untouched. A 500 is a bug."""
    for claim in CLAIMS["crossover.835"]:
        open_claim(runtime.app, claim)
    version = account(runtime.app, "P-6001").version
    logged = quiet_api_errors(monkeypatch)
    issued = runtime.keys.create(name="clerk-atk", tenant_id=TENANT, role=Role.clerk)
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {issued.secret}"
        answer = client.post(
            "/v1/remittances",
            content=_crossover_with_unpostable_carrier(),
            headers={"Content-Type": "application/edi-x12"},
        )
        assert answer.status_code == 201, answer.text
        [report] = answer.json()["remittances"]
        assert report["held"] == 1
        resolved = client.post(
            f"/v1/remittances/{report['remittance_id']}/claims/1/post",
            json={"account_number": "P-6001", "claim_id": "CLM-6001"},
        )
        assert 400 <= resolved.status_code < 500, (resolved.text, logged.logged)
        described = client.get(f"/v1/remittances/{report['remittance_id']}").json()
    assert described["claims"][0]["result"] == "held"
    assert account(runtime.app, "P-6001").version == version


def test_the_first_remittance_requests_at_the_same_moment_answer_200_not_500(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A freshly started app (a fresh database) gets its first remittance requests at the
    same moment, as a clerk's browser does. Each is answered 200: making the posting's
    tables (CREATE TABLE IF NOT EXISTS, raced on PostgreSQL) is never a 500 for some."""
    logged = quiet_api_errors(monkeypatch)
    issued = runtime.keys.create(name="clerk-atk", tenant_id=TENANT, role=Role.clerk)
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {issued.secret}"
        together = threading.Barrier(4, timeout=10)
        statuses: list[int] = []

        def listing() -> None:
            together.wait()
            statuses.append(client.get("/v1/remittances").status_code)

        threads = [threading.Thread(target=listing) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert statuses == [200, 200, 200, 200], logged.logged


# --------------------------------------------------------------- interrupted imports


def test_a_resumed_import_keeps_what_the_stopped_one_posted(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An import stops half-way (the service stopping) after CLM-1's 100.00 reached P-1.
    Meanwhile another account gets a claim numbered CLM-1 too. Sending the file again
    resumes it: CLM-1 is what the first attempt made it, posted to P-1, not re-matched and
    held as unapplied cash while P-1 has the money (counted twice)."""
    from services import remittances as posting_module
    from services.errors import ServiceStopping

    claim_on_file(runtime, "P-1", "CLM-1", "100.00", name="Anna Able")
    claim_on_file(runtime, "P-2", "CLM-2", "50.00", name="Bert Baker", day=date(2026, 3, 3))
    data = x12(
        [clp("CLM-1", "1", "100.00", "100.00"), clp("CLM-2", "1", "50.00", "50.00")],
        payment="150.00",
    )
    real_submit = runtime.app.submit
    calls = {"n": 0}

    def stopping_on_the_second(**kwargs: Any) -> Future[Any]:
        calls["n"] += 1
        if calls["n"] == 2:
            failed: Future[Any] = Future()
            failed.set_exception(ServiceStopping())
            return failed
        return real_submit(**kwargs)

    monkeypatch.setattr(posting_module, "CHUNK", 500)
    monkeypatch.setattr(runtime.app, "submit", stopping_on_the_second)
    remittances = Remittances(runtime)
    with pytest.raises(ServiceStopping):
        remittances.import_file(data, tenant_id=TENANT, meta=CLERK)
    assert paid_on(runtime, "P-1", "CLM-1") == usd("100.00")  # the account has it already

    claim_on_file(runtime, "P-9", "CLM-1", "100.00", name="Carl Clone", day=date(2026, 3, 4))
    [report] = remittances.import_file(data, tenant_id=TENANT, meta=CLERK)
    first = outcome(remittances, report.remittance_id, 1)
    assert (first["result"], first["account_number"]) == ("posted", "P-1"), first
    assert report.held_amount == usd("0.00")
    assert paid_on(runtime, "P-9", "CLM-1") == usd("0.00")


def test_an_import_running_behind_another_leaves_the_claims_table_as_posted(
    runtime: Runtime,
) -> None:
    """Two imports of one file at nearly the same moment: the second reads the posting just
    before the first records its claims, and writes its tables a moment after the first
    finished. The second is told RemittanceBusy (409); the table of claims must still say
    what the posting says (posted), not "pending": the held queue and the payer-claim-number
    matching read it. Sending the file again, as the 409 advises, must leave it right too."""
    for claim in CLAIMS["split-claim.835"]:
        open_claim(runtime.app, claim)
    data = file_bytes("split-claim.835")
    first, second = Remittances(runtime), Remittances(runtime)
    first_created, second_loaded, first_done = (threading.Event() for _ in range(3))

    def waiting(event: threading.Event, then: threading.Event | None, call: Callable[..., Any]):
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            event.set()
            if then is not None:
                then.wait(timeout=20)
            return call(*args, **kwargs)

        return wrapper

    first._post_claims = waiting(first_created, second_loaded, first._post_claims)  # type: ignore[method-assign]
    second._write_all = waiting(second_loaded, first_done, second._write_all)  # type: ignore[method-assign]
    answers: dict[str, Any] = {}

    def importing(name: str, remittances: Remittances) -> None:
        try:
            answers[name] = remittances.import_file(data, tenant_id=TENANT, meta=CLERK)
        except (DomainError, ServiceError) as refused:
            answers[name] = refused
        finally:
            if name == "second":
                second_loaded.set()  # refused before it loaded: the first need not wait

    one = threading.Thread(target=importing, args=("first", first))
    one.start()
    assert first_created.wait(timeout=20)
    two = threading.Thread(target=importing, args=("second", second))
    two.start()
    one.join(timeout=30)
    first_done.set()
    two.join(timeout=30)
    assert not isinstance(answers["first"], Exception), answers
    assert isinstance(answers["second"], RemittanceBusy | list), answers
    rows = runtime.db.query("SELECT claim_index, result FROM remittance_claims ORDER BY 1")
    assert [r["result"] for r in rows] == ["posted", "posted"], rows

    [again] = Remittances(runtime).import_file(data, tenant_id=TENANT, meta=CLERK)
    assert again.already_posted is True
    rows = runtime.db.query("SELECT claim_index, result FROM remittance_claims ORDER BY 1")
    assert [r["result"] for r in rows] == ["posted", "posted"], rows


# ======================================================================= attacks held


def test_the_same_file_from_two_threads_at_once_posts_once(runtime: Runtime) -> None:
    """Two imports of one file at the same moment: one posts, the other answers already
    posted or RemittanceBusy (409, saying this one changed nothing); the money is on the
    accounts once, the books verify and no account is parked."""
    for claim in CLAIMS["split-claim.835"]:
        open_claim(runtime.app, claim)
    data = file_bytes("split-claim.835")
    start = threading.Barrier(2, timeout=10)
    answers: list[Any] = []
    importers = [Remittances(runtime), Remittances(runtime)]

    def importing(remittances: Remittances) -> None:
        start.wait()
        try:
            answers.append(remittances.import_file(data, tenant_id=TENANT, meta=CLERK)[0])
        except RemittanceBusy as busy:
            answers.append(busy)

    threads = [threading.Thread(target=importing, args=(r,)) for r in importers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == 2
    busy = [a for a in answers if isinstance(a, RemittanceBusy)]
    assert all("this one changed nothing" in str(b) for b in busy)
    assert paid_on(runtime, "P-2001", "CLM-2001") == usd("700.00")
    assert paid_on(runtime, "P-2002", "CLM-2002") == usd("200.00")
    assert_books_agree(runtime)


def test_the_same_claim_twice_in_a_file_is_never_posted_twice(runtime: Runtime) -> None:
    """CLM-1 (billed 100.00) appears twice with status 1, each paying 100.00: read as one
    split claim it bills 200.00, which is not the claim's: held whole (200.00 unapplied),
    nothing posted."""
    claim_on_file(runtime, "P-1", "CLM-1", "100.00")
    twice = clp("CLM-1", "1", "100.00", "100.00")
    [report] = Remittances(runtime).import_file(
        x12([twice, twice], payment="200.00"), tenant_id=TENANT, meta=CLERK
    )
    assert (report.posted, report.held, report.held_amount) == (0, 1, usd("200.00"))
    assert paid_on(runtime, "P-1", "CLM-1") == usd("0.00")


def test_a_claim_number_on_two_accounts_is_held_not_guessed(runtime: Runtime) -> None:
    """CLM-1 is a claim of P-1 and of P-2, both billed to ACME: the claim is held naming
    both, and neither account gets the money."""
    claim_on_file(runtime, "P-1", "CLM-1", "100.00", name="Anna Able")
    claim_on_file(runtime, "P-2", "CLM-1", "100.00", name="Bert Baker")
    remittances = Remittances(runtime)
    remittance_id = held_one(
        remittances, x12([clp("CLM-1", "1", "100.00", "100.00")], payment="100.00")
    )
    sentence = outcome(remittances, remittance_id)["sentence"]
    assert "P-1" in sentence
    assert "P-2" in sentence
    assert paid_on(runtime, "P-1", "CLM-1") == paid_on(runtime, "P-2", "CLM-1") == usd("0.00")


def test_reversals_of_claims_not_adjudicated_are_held(runtime: Runtime) -> None:
    """A reversal of the seed claim before it was ever adjudicated, and the same reversal
    again after a real one: each is held, nothing reversed twice, the books verify."""
    open_claim(runtime.app, SEED)
    remittances = Remittances(runtime)
    [early] = remittances.import_file(
        _seed_reversal(trace="TRC-EARLY"), tenant_id=TENANT, meta=CLERK
    )
    assert (early.reversed, early.held) == (0, 1)
    remittances.import_file(file_bytes("seed-story.835"), tenant_id=TENANT, meta=CLERK)
    [once] = remittances.import_file(_seed_reversal(trace="TRC-ONCE"), tenant_id=TENANT, meta=CLERK)
    [twice] = remittances.import_file(
        _seed_reversal(trace="TRC-TWICE"), tenant_id=TENANT, meta=CLERK
    )
    assert (once.reversed, twice.reversed, twice.held) == (1, 0, 1)
    claim = account(runtime.app, SEED.account).claims[SEED.claim_id]
    assert (claim.status, claim.paid_by_insurer) == (REVERSED, usd("0.00"))
    assert_books_agree(runtime)


def test_a_reversal_after_the_patient_paid_part_of_the_share_is_held(runtime: Runtime) -> None:
    """The patient paid 50.00 of the seed claim's 150.00 share: the payer's reversal is held
    (the clerk settles with the patient first), nothing of it posted."""
    remittances = posted_files(runtime, "seed-story.835")
    run(runtime.app, payment("50.00", "pay-pt", date(2026, 3, 25)), SEED.account, TENANT)
    version = account(runtime.app, SEED.account).version
    [report] = remittances.import_file(_seed_reversal(), tenant_id=TENANT, meta=CLERK)
    assert (report.reversed, report.held) == (0, 1)
    assert account(runtime.app, SEED.account).version == version


def test_a_held_claim_is_resolved_once(runtime: Runtime) -> None:
    """Posted to P-A, it cannot be posted again (not to P-B either) nor refused; refused,
    it cannot be posted: each second resolution is refused (remittance_claim_not_held) with
    nothing posted."""
    remittances, remittance_id = two_claims_ready_for_the_stray(runtime)
    post = {"tenant_id": TENANT, "remittance_id": remittance_id, "claim_number": 1, "meta": CLERK}
    remittances.post_held(**post, account_number="P-A", claim_id="CLM-A")
    with pytest.raises(DomainError, match="not held"):
        remittances.post_held(**post, account_number="P-B", claim_id="CLM-B")
    with pytest.raises(DomainError, match="not held"):
        remittances.refuse_held(**post, reason="changed my mind")
    assert paid_on(runtime, "P-B", "CLM-B") == usd("0.00")
    other = held_one(remittances, x12([STRAY], payment="100.00", trace="TRC-ATK-2"))
    post["remittance_id"] = other
    remittances.refuse_held(**post, reason="not ours")
    with pytest.raises(DomainError, match="not held"):
        remittances.post_held(**post, account_number="P-B", claim_id="CLM-B")
    assert paid_on(runtime, "P-B", "CLM-B") == usd("0.00")
    assert_books_agree(runtime)


def test_a_payer_named_in_another_case_and_spacing_is_the_same_payer(runtime: Runtime) -> None:
    """N1*PR "Acme  Health   plan" is the claim's payer ACME HEALTH PLAN: matched and posted."""
    claim_on_file(runtime, "P-1", "CLM-1", "100.00")
    [report] = Remittances(runtime).import_file(
        x12([clp("CLM-1", "1", "100.00", "100.00")], payment="100.00", payer="Acme  Health   plan"),
        tenant_id=TENANT,
        meta=CLERK,
    )
    assert report.posted == 1
    assert paid_on(runtime, "P-1", "CLM-1") == usd("100.00")


def test_a_remittance_before_the_account_was_opened_is_held(runtime: Runtime) -> None:
    """Paid on 2026-01-15, for an account opened on 2026-03-01: held with the account's
    sentence, the account untouched."""
    claim_on_file(
        runtime, "P-1", "CLM-1", "100.00", day=date(2026, 3, 10), opened_on=date(2026, 3, 1)
    )
    remittances = Remittances(runtime)
    remittance_id = held_one(
        remittances,
        x12([clp("CLM-1", "1", "100.00", "100.00")], payment="100.00", bpr16="20260115"),
    )
    assert "before the account was opened" in outcome(remittances, remittance_id)["sentence"]
