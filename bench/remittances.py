"""Posting a payer's 835 remittance file: claims/s, next to posting the same facts by hand.

    uv run python -m bench.remittances --claims 10000

Writes one balanced 835 (005010X221A1) of ``--claims`` claims from one payer, as a clearing
house sends it: one payment (BPR, by ACH), one trace number, every claim with its patient
(NM1*QC), its dates (DTM*232) and one to three service lines (SVC, DTM*472). Most claims are
paid with a contractual CO-45 and a patient share (PR-1 deductible, PR-2 coinsurance), some
with CO-45 only, a few denied (status 4, CO-50 of the whole charge, paid 0.00), and a few
name a claim that is on no account, so they are held. The CO-45 sits on the claim or on its
lines, as payers do both. Every claim, every line and the payment balance to the cent.

Each account (one patient, one claim) is opened, charged and its claim submitted first,
through ``Receivables.submit`` in windows as the CSV import sends its rows; the claims index
is then brought up to date (a running server's projector keeps it so). None of that is timed.
Then, in the same run, on the same PostgreSQL server, each on a scratch database of its own
holding the same accounts:

- ``product``: ``Remittances.import_file``, what ``ar remittances import`` and the API call: the
  file read and checked (pyx12, then the money), each claim matched to an account's claim,
  posted as one ``PostRemittedClaim`` through the group committer, and its outcome recorded on
  the posting and in the remittance tables. Its time is split into ``read``, the same bytes
  through ``read_835`` alone (timed on its own, before the import), and ``posting``, the rest;
- ``by_hand``: the same facts as a clerk posts them from the paper remittance, one JSON body
  per command: ``AdjudicateClaim``, ``PostInsurerPayment`` (when paid) and
  ``PostContractualAdjustment`` (when there is a CO), or ``DenyClaim``, each validated from its
  body and sent through ``Receivables.submit`` in windows, every answer awaited. The clerk
  names the account and the claim, so nothing is matched, and the held claims are not posted.

Both record the same account events. The ratio is the product's claims/s over the baseline's
(every claim of the file counted for both): what reading, checking and matching a file costs
over keying the same facts in. A sample of accounts is compared between the two databases
afterwards, so a figure over a posting that went wrong is refused rather than printed.
Benchmarks are not tests: nothing here asserts a time. One call is one run (the setup is the
slow part). The result is printed as JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from pydantic import SecretStr

from bench.scratch import local_postgres_url, scratch_database
from domain.provenance import Provenance
from services.app import Receivables
from services.bootstrap import Runtime, bootstrap
from services.commands import (
    AccountCommand,
    AdjudicateClaim,
    DenyClaim,
    PostCharge,
    PostContractualAdjustment,
    PostInsurerPayment,
    SubmitClaim,
)
from services.group_commit import Outcome
from services.remittances import Remittances
from services.settings import Settings
from services.x12_835 import read_835

TENANT = "bench"
CLERK = Provenance(actor="bench-remittances", correlation_id="bench-remittances")
PAYER = "ACME HEALTH PLAN"
PAYER_ID = "1999999999"
TRACE = "TRC-BENCH-1"
OPENED_ON = date(2026, 1, 1)
PAID_ON = date(2026, 4, 15)
#: Commands in flight at once, as the CSV import keeps them.
WINDOW = 2_048

_FIRST = ["JAMES", "MARY", "ROBERT", "PATRICIA", "JOHN", "JENNIFER", "MICHAEL", "LINDA",
          "DAVID", "ELIZABETH", "WILLIAM", "BARBARA", "RICHARD", "SUSAN", "JOSEPH", "JESSICA",
          "THOMAS", "SARAH", "CARLOS", "MARIA", "WEI", "AIKO", "NOAH", "EMMA", "JOSE", "ANA",
          "SOREN", "INES", "DMITRI", "CHLOE"]  # fmt: skip
_LAST = ["SMITH", "JOHNSON", "WILLIAMS", "BROWN", "JONES", "GARCIA", "MILLER", "DAVIS",
         "RODRIGUEZ", "MARTINEZ", "HERNANDEZ", "LOPEZ", "GONZALEZ", "WILSON", "ANDERSON",
         "THOMAS", "TAYLOR", "MOORE", "JACKSON", "MARTIN", "LEE", "PEREZ", "THOMPSON", "WHITE",
         "HARRIS", "SANCHEZ", "CLARK", "RAMIREZ", "LEWIS", "ROBINSON", "NGUYEN", "KOWALSKI",
         "OBRIEN", "MULLER", "ROSSI", "DUBOIS", "NOWAK", "SILVA", "OZTURK", "ORSTED"]  # fmt: skip
#: Procedure codes and what the practice charges for them, in cents.
_PROCEDURES = [("99213", 15_000), ("99214", 22_500), ("99215", 30_000), ("93000", 8_500),
               ("85025", 4_500), ("80053", 6_000), ("36415", 2_500), ("71046", 12_000),
               ("97110", 9_500), ("99204", 27_500)]  # fmt: skip

PAID_WITH_SHARE = "paid, CO and PR"
PAID_CO_ONLY = "paid, CO only"
DENIED = "denied"
UNMATCHED = "on no account"
_KINDS = (PAID_WITH_SHARE, PAID_CO_ONLY, DENIED, UNMATCHED)


# --- the file ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Line:
    procedure: str
    charge: int
    #: The contractual adjustment in cents; on the line unless the claim carries it.
    co: int
    #: The patient's share by reason code, in cents.
    pr: tuple[tuple[str, int], ...]

    @property
    def paid(self) -> int:
        return self.charge - self.co - sum(cents for _, cents in self.pr)


@dataclass(frozen=True, slots=True)
class PlannedClaim:
    """One claim of the file, and the account it is on (none for ``UNMATCHED``)."""

    kind: str
    account: str
    claim_id: str
    first: str
    last: str
    service_date: date
    lines: tuple[Line, ...]
    co_on_claim: bool

    @property
    def billed(self) -> int:
        return sum(line.charge for line in self.lines)

    @property
    def co(self) -> int:
        return sum(line.co for line in self.lines)

    @property
    def pr(self) -> int:
        return sum(cents for line in self.lines for _, cents in line.pr)

    @property
    def paid(self) -> int:
        return self.billed - self.co - self.pr

    @property
    def co_reason(self) -> str:
        return "50" if self.kind == DENIED else "45"


def plan(claims: int, seed: int = 13) -> list[PlannedClaim]:
    """``claims`` claims: about 60 in 100 paid with a patient share, 33 with CO-45 only, 5
    denied and 2 on no account; one to three service lines each, on one day of the quarter."""
    rng = random.Random(seed)  # noqa: S311 - a seeded workload, not secrecy
    planned = []
    for n in range(claims):
        draw = rng.random()
        kind = (
            PAID_WITH_SHARE
            if draw < 0.60
            else PAID_CO_ONLY
            if draw < 0.93
            else DENIED
            if draw < 0.98
            else UNMATCHED
        )
        lines = []
        for procedure, charge in rng.sample(_PROCEDURES, rng.choice((1, 1, 2, 2, 3))):
            if kind == DENIED:
                lines.append(Line(procedure, charge, charge, ()))
                continue
            co = charge * rng.randint(15, 45) // 100
            pr: tuple[tuple[str, int], ...] = ()
            if kind == PAID_WITH_SHARE:
                allowed = charge - co
                coinsurance = allowed * rng.choice((10, 20, 20, 30)) // 100
                deductible = min(allowed - coinsurance - 100, rng.choice((0, 0, 2_500, 5_000)))
                pr = tuple((r, c) for r, c in (("1", deductible), ("2", coinsurance)) if c > 0)
            lines.append(Line(procedure, charge, co, pr))
        unmatched = kind == UNMATCHED
        planned.append(
            PlannedClaim(
                kind=kind,
                account="" if unmatched else f"P-{n:07d}",
                claim_id=f"NOT-ON-FILE-{n:07d}" if unmatched else f"CLM-{n:07d}",
                # Nobody of these names is on file: matching by patient finds nothing either.
                first="NEMO" if unmatched else rng.choice(_FIRST),
                last=f"NOBODY{n}" if unmatched else rng.choice(_LAST),
                service_date=OPENED_ON + timedelta(days=rng.randrange(1, 90)),
                lines=tuple(lines),
                co_on_claim=kind != DENIED and rng.random() < 0.5,
            )
        )
    return planned


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _claim_segments(claim: PlannedClaim, n: int) -> Iterator[str]:
    status = "4" if claim.kind == DENIED else "1"
    share = _money(claim.pr) if claim.pr else ""
    yield (
        f"CLP*{claim.claim_id}*{status}*{_money(claim.billed)}*{_money(claim.paid)}*{share}"
        f"*12*ICN-{n:09d}*11*1"
    )
    if claim.co_on_claim:
        yield f"CAS*CO*{claim.co_reason}*{_money(claim.co)}"
    yield f"NM1*QC*1*{claim.last}*{claim.first}****MI*MBR{n:08d}"
    day = claim.service_date.strftime("%Y%m%d")
    yield f"DTM*232*{day}"
    for line in claim.lines:
        line_paid = line.paid + (line.co if claim.co_on_claim else 0)
        yield f"SVC*HC:{line.procedure}*{_money(line.charge)}*{_money(line_paid)}"
        yield f"DTM*472*{day}"
        triplets = [] if claim.co_on_claim else [f"CO*{claim.co_reason}*{_money(line.co)}"]
        if line.pr:
            triplets.append("PR*" + "**".join(f"{r}*{_money(c)}" for r, c in line.pr))
        yield from (f"CAS*{t}" for t in triplets)


def write_835(claims: list[PlannedClaim]) -> bytes:
    """One interchange, one transaction, one payment of every claim's paid amount."""
    paid_on = PAID_ON.strftime("%Y%m%d")
    produced = (PAID_ON - timedelta(days=2)).strftime("%Y%m%d")
    isa = (
        f"ISA*00*{'':10}*00*{'':10}*ZZ*{'ACMEHEALTH':15}*ZZ*{'RIVERSIDE':15}"
        f"*{paid_on[2:]}*0930*^*00501*000009001*0*T*:~"
    )
    if len(isa) != 106:  # pragma: no cover - the fixed widths above
        msg = f"the ISA is {len(isa)} characters, not 106"
        raise AssertionError(msg)
    body = [
        "ST*835*900001",
        f"BPR*I*{_money(sum(c.paid for c in claims))}*C*ACH*CCP*01*999999992*DA*1234567890"
        f"*{PAYER_ID}**01*123123123*DA*987654321*{paid_on}",
        f"TRN*1*{TRACE}*{PAYER_ID}",
        f"DTM*405*{produced}",
        f"N1*PR*{PAYER}",
        "N3*100 INSURANCE WAY",
        "N4*HARTFORD*CT*06103",
        "PER*BL*EDI SUPPORT*TE*8005550100",
        "N1*PE*RIVERSIDE CLINIC*XX*1234567893",
        "N3*200 RIVER ROAD",
        "N4*RIVERSIDE*CA*92501",
        "REF*TJ*123456789",
        "LX*1",
    ]
    for n, claim in enumerate(claims, start=1):
        body.extend(_claim_segments(claim, n))
    body.append(f"SE*{len(body) + 1}*900001")
    segments = [
        isa.removesuffix("~"),
        f"GS*HP*ACMEHEALTH*RIVERSIDE*{paid_on}*0930*9001*X*005010X221A1",
        *body,
        "GE*1*9001",
        "IEA*1*000009001",
    ]
    return "".join(f"{segment}~\n" for segment in segments).encode()


# --- the accounts -----------------------------------------------------------------------


def _windowed(
    app: Receivables, sends: Iterator[tuple[str, str, AccountCommand | None, str]]
) -> int:
    """Submit ``(account, name, command, key)`` in order, at most ``WINDOW`` unanswered (no
    command: open the account named); every answer awaited. How many were recorded; a
    refusal is raised, since a figure over a half-built book would mean nothing."""
    in_flight: list[Future[Outcome]] = []
    done = 0

    def settle(futures: list[Future[Outcome]]) -> int:
        for future in futures:
            future.result()
        return len(futures)

    for account, name, command, key in sends:
        if command is None:
            future = app.submit_open_account(
                tenant_id=TENANT,
                account_number=account,
                name=name,
                currency="USD",
                opened_on=OPENED_ON,
                meta=CLERK,
                idempotency_key=key,
            )
        else:
            future = app.submit(
                tenant_id=TENANT,
                account_number=account,
                command=command,
                meta=CLERK,
                idempotency_key=key,
            )
        in_flight.append(future)
        if len(in_flight) >= WINDOW:
            done += settle(in_flight[: WINDOW // 2])
            del in_flight[: WINDOW // 2]
    return done + settle(in_flight)


def _opening(claims: list[PlannedClaim]) -> Iterator[tuple[str, str, AccountCommand | None, str]]:
    for claim in claims:
        if claim.kind == UNMATCHED:
            continue
        name = f"{claim.first.title()} {claim.last.title()}"
        yield claim.account, name, None, f"open:{claim.account}"
        charge_ids = []
        for n, line in enumerate(claim.lines, start=1):
            charge = PostCharge(
                charge_id=f"{claim.claim_id}-ch{n}",
                code=line.procedure,
                description=f"CPT {line.procedure}",
                unit_price=Decimal(_money(line.charge)),
                service_date=claim.service_date,
            )
            charge_ids.append(charge.charge_id or "")
            yield claim.account, name, charge, f"charge:{claim.claim_id}-ch{n}"
        submitted = SubmitClaim(
            claim_id=claim.claim_id,
            payer=PAYER,
            charge_ids=charge_ids,
            submitted_on=claim.service_date + timedelta(days=3),
        )
        yield claim.account, name, submitted, f"claim:{claim.claim_id}"


def set_up(runtime: Runtime, claims: list[PlannedClaim]) -> dict[str, float]:
    """Every claim on file but the unmatched ones, and the claims index current: seconds."""
    started = time.perf_counter()
    commands = _windowed(runtime.app, _opening(claims))
    recorded = time.perf_counter()
    runtime.projector(["claims_index"]).catch_up()
    return {
        "commands": commands,
        "record_seconds": round(recorded - started, 1),
        "claims_index_seconds": round(time.perf_counter() - recorded, 1),
    }


# --- the contenders ---------------------------------------------------------------------


def product(runtime: Runtime, data: bytes) -> dict[str, Any]:
    """``import_file`` over the whole file: seconds, and its report."""
    remittances = Remittances(runtime, today=lambda: PAID_ON)
    started = time.perf_counter()
    [report] = remittances.import_file(data, tenant_id=TENANT, meta=CLERK)
    return {"seconds": time.perf_counter() - started, "report": report.as_dict()}


def _bodies(claims: list[PlannedClaim]) -> Iterator[tuple[str, type[AccountCommand], Any, str]]:
    """Each claim's commands as a clerk's JSON bodies: account, command, body, key."""
    on = PAID_ON.isoformat()
    for claim in claims:
        if claim.kind == UNMATCHED:
            continue
        key = f"hand:{claim.claim_id}"
        if claim.kind == DENIED:
            body = {"claim_id": claim.claim_id, "reason_code": "CO-50", "denied_on": on}
            yield claim.account, DenyClaim, body, f"{key}:deny"
            continue
        adjustments = [{"group": "CO", "reason_code": "45", "amount": _money(claim.co)}]
        for reason in ("1", "2"):
            cents = sum(c for line in claim.lines for r, c in line.pr if r == reason)
            if cents:
                adjustments.append({"group": "PR", "reason_code": reason, "amount": _money(cents)})
        adjudicated = {
            "claim_id": claim.claim_id,
            "paid": _money(claim.paid),
            "adjustments": adjustments,
            "adjudicated_on": on,
        }
        yield claim.account, AdjudicateClaim, adjudicated, f"{key}:adjudicate"
        payment = {
            "claim_id": claim.claim_id,
            "payment_id": f"hand-{claim.claim_id}",
            "amount": _money(claim.paid),
            "method": "ACH",
            "reference": f"ERA {TRACE}",
            "received_on": on,
        }
        yield claim.account, PostInsurerPayment, payment, f"{key}:payment"
        contractual = {"claim_id": claim.claim_id, "posted_on": on}
        yield claim.account, PostContractualAdjustment, contractual, f"{key}:contractual"


def by_hand(runtime: Runtime, claims: list[PlannedClaim]) -> dict[str, Any]:
    """The same facts as one command per fact, each from its JSON body: seconds, commands."""
    bodies = list(_bodies(claims))
    started = time.perf_counter()
    commands = _windowed(
        runtime.app,
        (
            (account, "", kind.model_validate_json(json.dumps(body)), key)
            for account, kind, body, key in bodies
        ),
    )
    return {"seconds": time.perf_counter() - started, "commands": commands}


def _sample(runtime: Runtime, claims: list[PlannedClaim]) -> list[tuple[Any, ...]]:
    """What a few accounts hold after posting: balance, the claim's status and owed amounts."""
    found = []
    for claim in claims[:: max(1, len(claims) // 50)]:
        if claim.kind == UNMATCHED:
            continue
        account = runtime.app.get_account(TENANT, claim.account)
        on_file = account.claims[claim.claim_id]
        found.append(
            (
                claim.account,
                str(account.balance),
                on_file.status,
                str(on_file.owed_by_payer),
                str(on_file.paid_by_insurer),
            )
        )
    return found


def _runtime(url: str, folder: str) -> Runtime:
    return bootstrap(
        Settings(data_dir=Path(folder), database_url=SecretStr(url), log_level="WARNING")
    )


def measure(url: str, claims: int = 10_000, seed: int = 13) -> dict[str, Any]:
    """One run: plan and write the file, read it alone, post it, post its facts by hand."""
    planned = plan(claims, seed)
    data = write_835(planned)
    started = time.perf_counter()
    read = read_835(data)
    read_seconds = time.perf_counter() - started
    if len(read.remittances[0].claims) != claims:  # pragma: no cover - the file as written
        msg = f"the file reads as {len(read.remittances[0].claims)} claims, not {claims}"
        raise RuntimeError(msg)
    setups: dict[str, Any] = {}
    samples = {}
    with scratch_database(url, "bench_era") as era_url, TemporaryDirectory() as folder:
        runtime = _runtime(era_url, folder)
        try:
            setups["product"] = set_up(runtime, planned)
            posted = product(runtime, data)
            samples["product"] = _sample(runtime, planned)
        finally:
            runtime.close()
    with scratch_database(url, "bench_hand") as hand_url, TemporaryDirectory() as folder:
        runtime = _runtime(hand_url, folder)
        try:
            setups["by_hand"] = set_up(runtime, planned)
            keyed = by_hand(runtime, planned)
            samples["by_hand"] = _sample(runtime, planned)
        finally:
            runtime.close()
    report = posted["report"]
    kinds = {kind: sum(c.kind == kind for c in planned) for kind in _KINDS}
    expected = (claims - kinds[DENIED] - kinds[UNMATCHED], kinds[DENIED], kinds[UNMATCHED])
    if (report["posted"], report["denied"], report["held"]) != expected or not report[
        "ties_to_payment"
    ]:
        # A figure over a file that was not posted as written would flatter the product.
        msg = f"the file was not posted as written (posted, denied, held {expected}): {report}"
        raise RuntimeError(msg)
    if samples["product"] != samples["by_hand"]:
        msg = "the accounts differ between the file's posting and the one by hand"
        raise RuntimeError(msg)
    seconds = posted["seconds"]
    product_rate = claims / seconds
    hand_rate = claims / keyed["seconds"]
    return {
        "figure": "835 remittance posting claims/s",
        "how": "services.remittances.Remittances.import_file in-process (what the CLI and API call)",
        "claims": claims,
        "seed": seed,
        "file_bytes": len(data),
        "kinds": kinds,
        "posted": {k: report[k] for k in ("posted", "denied", "held", "matched_by")},
        "setup": setups,
        "by_hand_commands": keyed["commands"],
        "seconds": {
            "product": round(seconds, 3),
            "read": round(read_seconds, 3),
            "posting": round(seconds - read_seconds, 3),
            "by_hand": round(keyed["seconds"], 3),
        },
        "share_of_product": {
            "read": round(read_seconds / seconds, 3),
            "posting": round(1 - read_seconds / seconds, 3),
        },
        "rates_per_second": {
            "product_claims": round(product_rate, 1),
            "posting_claims": round(claims / (seconds - read_seconds), 1),
            "read_claims": round(claims / read_seconds, 1),
            "by_hand_claims": round(hand_rate, 1),
        },
        "ratio_to_baseline": round(product_rate / hand_rate, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--write", type=Path, metavar="FILE", help="only write the 835 file to FILE"
    )
    args = parser.parse_args()
    if args.write:
        args.write.write_bytes(write_835(plan(args.claims, args.seed)))
        return
    print(json.dumps(measure(local_postgres_url(), args.claims, args.seed), indent=2))


if __name__ == "__main__":
    main()
