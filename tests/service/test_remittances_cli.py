"""``ar remittances``: a payer's 835 file posted from the CLI, what it did, and the held queue."""

from __future__ import annotations

import json
import re
from concurrent.futures import Future
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from services import remittances as posting_module
from services.app import Receivables
from services.bootstrap import Runtime
from services.cli import app as cli
from services.cli_remittances import _ties
from services.errors import ServiceStopping
from tests.remittances.support import (
    ACME,
    CLAIMS,
    FILES,
    SEED,
    TENANT,
    ClaimOnFile,
    file_bytes,
    open_claim,
)
from tests.service.test_cli import HEAVY, RUNTIME, _modules_loaded_by_ar, _rows, _values
from tests.service.test_verify_and_explain import same_store

#: The claim NOT-ON-FILE-77 of unmatched.835 belongs to, once a clerk has found it.
NEMO = ClaimOnFile(
    "P-77", "Nemo Nobody", "CLM-77", ACME, ("80.00",), date(2026, 3, 21), date(2026, 3, 22)
)


@pytest.fixture
def ar(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    same_store(runtime, monkeypatch)
    monkeypatch.setenv("AR_TENANT", TENANT)
    monkeypatch.setenv("AR_ACTOR", "clerk-ann")
    return CliRunner()


@pytest.fixture
def ar_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """``ar`` on an empty embedded store of its own: for files refused before any posting."""
    monkeypatch.setenv("AR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("AR_TENANT", TENANT)
    monkeypatch.setenv("AR_ACTOR", "clerk-ann")
    monkeypatch.setenv("AR_LOG_LEVEL", "WARNING")
    return CliRunner()


def _ok(ar: CliRunner, *args: str) -> str:
    result = ar.invoke(cli, ["remittances", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def _refused(ar: CliRunner, *args: str) -> Result:
    result = ar.invoke(cli, ["remittances", *args])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    return result


def _imported(runtime: Runtime, ar: CliRunner, name: str, *options: str) -> str:
    for claim in CLAIMS[name]:
        open_claim(runtime.app, claim)
    return _ok(ar, "import", str(FILES / name), *options)


def _balance(ar: CliRunner, account: str) -> str:
    shown = ar.invoke(cli, ["balance", account, "--json"])
    assert shown.exit_code == 0, shown.output
    balance: str = json.loads(shown.stdout)["balance"]
    return balance


def _copy(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


# --- posting a file -------------------------------------------------------------------------


def test_the_seed_story_file_posts_its_claim_and_the_patient_owes_150(
    runtime: Runtime, ar: CliRunner
) -> None:
    printed = _imported(runtime, ar, "seed-story.835")
    assert printed.splitlines()[0] == "remittance TRC-SEED-1 from ACME HEALTH PLAN: posted"
    shown = _values(printed)
    assert (shown["payment"], shown["effective on"]) == ("450.00 USD", "2026-03-20")
    counts = {key: shown[key] for key in ("posted", "denied", "reversed", "held")}
    assert counts == {"posted": "1", "denied": "0", "reversed": "0", "held": "0"}
    assert re.split(r"\s{2,}", shown["matched by"]) == ["patient control number", "1"]
    assert shown["balance"] == (
        "✓ ties to the payment: claims paid 450.00 − provider adjustments 0.00 = 450.00"
    )
    assert _balance(ar, SEED.account) == "150.00"


def test_the_same_file_again_is_already_posted_and_records_nothing(
    runtime: Runtime, ar: CliRunner
) -> None:
    first = _imported(runtime, ar, "seed-story.835")
    head = runtime.app.recorder.max_notification_id()
    again = _ok(ar, "import", str(FILES / "seed-story.835"))
    assert again.splitlines()[0] == (
        "remittance TRC-SEED-1 from ACME HEALTH PLAN: already posted, nothing recorded"
    )
    assert _values(again)["remittance id"] == _values(first)["remittance id"]
    assert runtime.app.recorder.max_notification_id() == head
    assert _balance(ar, SEED.account) == "150.00"


def test_an_import_stopped_part_way_says_so_and_the_same_file_resumes_it(
    runtime: Runtime, ar: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    for claim in CLAIMS["split-claim.835"]:
        open_claim(runtime.app, claim)
    # One claim at a time, and the service stops under the second: the first stays posted.
    monkeypatch.setattr(posting_module, "CHUNK", 1)
    real_submit = Receivables.submit
    calls = {"n": 0}

    def stopping_on_the_second(app: Receivables, **command: Any) -> Future[Any]:
        calls["n"] += 1
        if calls["n"] == 2:
            failed: Future[Any] = Future()
            failed.set_exception(ServiceStopping())
            return failed
        return real_submit(app, **command)

    monkeypatch.setattr(Receivables, "submit", stopping_on_the_second)
    path = str(FILES / "split-claim.835")
    stopped = _refused(ar, "import", path)
    assert stopped.stderr.splitlines() == [
        f"error: {ServiceStopping()}",
        f"error: the import of {path} stopped; what it posted is kept. Import the same file"
        " again to post the rest, each claim once.",
    ]
    assert _balance(ar, "P-2002") == "200.00"

    resumed = _values(_ok(ar, "import", path))
    assert (resumed["claims"], resumed["posted"], resumed["held"]) == ("2", "2", "0")
    assert _balance(ar, "P-2002") == "0.00"
    assert _balance(ar, "P-2001") == "40.00"


def test_an_unbalanced_copy_is_refused_with_every_problem_and_nothing_posted(
    runtime: Runtime, ar: CliRunner, tmp_path: Path
) -> None:
    open_claim(runtime.app, SEED)
    head = runtime.app.recorder.max_notification_id()
    unbalanced = (
        file_bytes("seed-story.835")
        .replace(b"BPR*I*450.00*", b"BPR*I*451.00*")
        .replace(b"CAS*CO*45*400.00~", b"CAS*CO*45*399.00~")
    )
    refused = _refused(ar, "import", _copy(tmp_path, "unbalanced.835", unbalanced))
    assert refused.stdout == ""
    problems = refused.stderr.splitlines()
    assert re.fullmatch(r"error: line \d+ \(BPR\): the payment is 451\.00 USD, .*", problems[0])
    assert any(re.match(r"error: line 16 \(CLP\), claim CLM-1001: ", p) for p in problems[1:-1])
    assert problems[-1].endswith(f"is refused ({len(problems) - 1} problems); nothing was posted.")
    assert runtime.app.recorder.max_notification_id() == head
    assert json.loads(_ok(ar, "list", "--json")) == []


def test_a_file_that_is_not_x12_is_refused_naming_the_isa(
    ar_alone: CliRunner, tmp_path: Path
) -> None:
    refused = _refused(ar_alone, "import", _copy(tmp_path, "notes.835", b"Dear clinic,\n"))
    assert refused.stderr.splitlines() == [
        "error: line 1 (ISA): this is not an X12 interchange: it does not begin with ISA",
        f"error: {tmp_path / 'notes.835'} is refused (1 problem); nothing was posted.",
    ]


def test_a_missing_file_is_one_sentence(ar_alone: CliRunner, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.835"
    refused = _refused(ar_alone, "import", str(missing))
    assert refused.stderr == (
        f"error: cannot read {missing}: No such file or directory. Nothing was posted.\n"
    )


# --- the held claims ------------------------------------------------------------------------


def test_a_held_claim_is_listed_then_posted_to_the_claim_a_clerk_found(
    runtime: Runtime, ar: CliRunner
) -> None:
    printed = _imported(runtime, ar, "unmatched.835")
    assert (_values(printed)["posted"], _values(printed)["held"]) == (
        "1",
        "1 (64.00 USD kept unapplied)",
    )
    remittance_id = _values(printed)["remittance id"]
    [held] = _rows(_ok(ar, "held"), remittance_id)
    assert held[1:4] == ["2", "TRC-UNM-1", "ACME HEALTH PLAN"]
    assert "NOT-ON-FILE-77" in held
    assert "64.00" in held
    assert held[-1].startswith("no claim on file matches NOT-ON-FILE-77")

    open_claim(runtime.app, NEMO)
    posted = _ok(ar, "post-held", remittance_id, "2", "--account", "P-77", "--claim", "CLM-77")
    assert "posted by clerk-ann to P-77 claim CLM-77" in posted.splitlines()[0]
    assert posted.splitlines()[1] == "remittance TRC-UNM-1: no claim held"
    assert _ok(ar, "held") == "no held claims\n"
    assert _balance(ar, "P-77") == "0.00"
    again = _refused(ar, "post-held", remittance_id, "2", "--account", "P-77", "--claim", "CLM-77")
    assert again.stderr == "error: Claim 2 of remittance TRC-UNM-1 is posted, not held.\n"


def test_a_held_claim_refused_with_a_reason_leaves_the_queue(
    runtime: Runtime, ar: CliRunner
) -> None:
    remittance_id = _values(_imported(runtime, ar, "unmatched.835"))["remittance id"]
    refused = _ok(ar, "refuse-held", remittance_id, "2", "--reason", "not our patient")
    assert refused.splitlines() == [
        "claim 2 of remittance TRC-UNM-1 (NOT-ON-FILE-77) refused: not our patient; its 64.00 USD"
        " is the payer's to take back",
        "remittance TRC-UNM-1: no claim held",
    ]
    assert _ok(ar, "held") == "no held claims\n"
    report = json.loads(_ok(ar, "show", remittance_id, "--json"))
    assert report["claims"][1]["result"] == "refused"


def test_a_held_claim_is_not_refused_without_a_reason_nor_posted_to_nothing(
    runtime: Runtime, ar: CliRunner
) -> None:
    remittance_id = _values(_imported(runtime, ar, "unmatched.835"))["remittance id"]
    head = runtime.app.recorder.max_notification_id()
    blank = _refused(ar, "refuse-held", remittance_id, "2", "--reason", " ")
    assert blank.stderr == "error: A refusal needs a reason.\n"
    nowhere = _refused(ar, "post-held", remittance_id, "2", "--account", "P-0", "--claim", "C")
    assert nowhere.stderr == "error: There is no account P-0.\n"
    unknown = _refused(ar, "show", "TRC-UNM-1")
    assert unknown.stderr == "error: There is no remittance TRC-UNM-1.\n"
    assert runtime.app.recorder.max_notification_id() == head


# --- reading what was posted ----------------------------------------------------------------


def test_show_prints_the_claims_the_plb_lines_and_the_balance_check(
    runtime: Runtime, ar: CliRunner
) -> None:
    remittance_id = _values(_imported(runtime, ar, "provider-adjustments.835"))["remittance id"]
    shown = _ok(ar, "show", remittance_id)
    header = _values(shown)
    assert (header["payment"], header["posting"]) == ("525.00 USD by ACH", "completed")
    assert [header[key] for key in ("claims", "posted", "held", "refused")] == ["2", "2", "0", "0"]
    assert _rows(shown, "1")[0][-5:] == [
        "posted",
        "P-4001",
        "CLM-4001",
        "patient control number",
        "processed as primary: posted to P-4001 claim CLM-4001",
    ]
    assert _rows(shown, "CO-45") == [["CO-45", "110.00"]]
    assert _rows(shown, "WO") == [["WO", "overpayment recovery", "CLM-0999", "75.00"]]
    assert _rows(shown, "L6") == [["L6", "interest owed", "—", "-12.50"]]
    check = shown.split("balance check\n", 1)[1].splitlines()
    assert [re.split(r"\s{2,}", line) for line in check[:4]] == [
        ["claims paid", "650.00"],
        ["provider adjustments", "125.00"],
        ["expected payment", "525.00"],
        ["payment", "525.00"],
    ]
    assert check[4] == (
        "✓ ties to the payment: claims paid 650.00 − provider adjustments 125.00 = 525.00"
    )


def test_figures_that_do_not_tie_say_so() -> None:
    figures = {"claims_paid": "650.00", "provider_adjusted": "125.00", "payment": "500.00"}
    assert _ties(figures, False) == (
        "✗ does not tie to the payment: claims paid 650.00 − provider adjustments 125.00"
        " = 525.00, but the payment is 500.00"
    )


def test_every_command_prints_json_for_scripts(runtime: Runtime, ar: CliRunner) -> None:
    [posting] = json.loads(_imported(runtime, ar, "provider-adjustments.835", "--json"))
    assert (posting["trace_number"], posting["payment"]) == ("TRC-PLB-1", "525.00")
    assert (posting["posted"], posting["ties_to_payment"]) == (2, True)
    [listed] = json.loads(_ok(ar, "list", "--json"))
    assert listed["remittance_id"] == posting["remittance_id"]
    assert listed["completed"] is True
    report = json.loads(_ok(ar, "show", posting["remittance_id"], "--json"))
    assert report["balance"]["balances"] is True
    assert json.loads(_ok(ar, "held", "--json")) == []
    ledger = json.loads(_ok(ar, "payer-ledger", "--payer", "1999999999", "--json"))
    assert [line["reason_code"] for line in ledger] == ["WO", "72", "FB", "L6", "CS", "IR"]
    assert ledger[-1]["forwarding_balance"] == "30.00"
    assert json.loads(_ok(ar, "payer-ledger", "--payer", "SOMEONE-ELSE", "--json")) == []
    again = json.loads(_ok(ar, "import", str(FILES / "provider-adjustments.835"), "--json"))
    assert again[0]["already_posted"] is True


def test_the_payer_ledger_shows_each_plb_line_with_the_forwarded_balance(
    runtime: Runtime, ar: CliRunner
) -> None:
    _imported(runtime, ar, "provider-adjustments.835")
    ledger = _ok(ar, "payer-ledger")
    [forwarded] = [row for row in _rows(ledger, "ACME HEALTH PLAN") if "FB" in row]
    assert forwarded[-3:] == ["USD", "30.00", "30.00"]
    assert _rows(ledger, "total") == [["total", "USD", "125.00"]]
    assert _ok(ar, "payer-ledger", "--payer", "NOBODY") == (
        "no provider-level adjustments from payer NOBODY\n"
    )


# --- starting quickly -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [("--help",), ("remittances", "--help"), ("remittances", "import", "--help")],
    ids=" ".join,
)
def test_help_loads_neither_the_posting_service_nor_the_835_reader(args: tuple[str]) -> None:
    loaded = _modules_loaded_by_ar(*args)
    posting = {"services.remittances", "services.x12_835", "domain.remittance_posting"}
    assert sorted(m for m in loaded if m.split(".")[0] in HEAVY | {"pyx12"}) == []
    assert sorted(loaded & (RUNTIME | posting)) == []


# --- bank deposits ------------------------------------------------------------------------------


def test_bank_deposits_import_once_and_reconcile_with_the_remittances(
    runtime: Runtime, ar: CliRunner, tmp_path: Path
) -> None:
    _imported(runtime, ar, "seed-story.835")
    bank = _copy(
        tmp_path,
        "bank.csv",
        b"date,amount,trace,description\n"
        b"2026-03-21,449.00,TRC-SEED-1,ACH ACME\n"
        b"2026-03-30,12.34,,interest\n",
    )
    assert _ok(ar, "deposits", bank) == "2 deposit lines: 2 new, 0 already imported\n"
    assert _ok(ar, "deposits", bank) == "2 deposit lines: 0 new, 2 already imported\n"
    printed = _ok(ar, "reconcile").splitlines()
    assert printed[0] == (
        "matched 0, differing 1, remittances without a deposit 0, deposits without a remittance 1"
    )
    assert (
        "differing TRC-SEED-1: the bank deposited 449.00, the remittance pays 450.00"
        in (printed[1])
    )
    assert printed[2] == "no remittance for the deposit of 12.34 USD on 2026-03-30"
    report = json.loads(_ok(ar, "reconcile", "--json"))
    assert report["differing"][0]["difference"] == "-1.00"


def test_bad_bank_lines_are_refused_whole(ar_alone: CliRunner, tmp_path: Path) -> None:
    bank = _copy(tmp_path, "bank.csv", b"date,amount\n2026-02-30,5.00\n2026-03-01,x\n")
    refused = _refused(ar_alone, "deposits", bank)
    assert refused.stderr.splitlines() == [
        "error: line 2: date '2026-02-30' is not a date (YYYY-MM-DD)",
        f"error: line 3: {refused.stderr.splitlines()[1].split(': ', 2)[2]}",
        f"error: {bank} is refused; nothing was imported.",
    ]
    assert _ok(ar_alone, "reconcile", "--json").count('"deposit_id"') == 0
