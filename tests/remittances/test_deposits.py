"""Bank deposit lines matched to the remittances they pay, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest

from services.bootstrap import Runtime
from services.deposits import BankLinesInvalid, Deposits
from services.remittances import Remittances
from tests.remittances.support import CLAIMS, TENANT, file_bytes, open_claim
from tests.support import CLERK

TODAY = date(2026, 4, 20)


def posted(runtime: Runtime, *names: str) -> None:
    remittances = Remittances(runtime)
    for name in names:
        for claim in CLAIMS[name]:
            open_claim(runtime.app, claim)
        remittances.import_file(file_bytes(name), tenant_id=TENANT, meta=CLERK)


def test_deposits_match_by_trace_differ_or_wait(runtime: Runtime) -> None:
    posted(runtime, "seed-story.835", "denial.835", "split-claim.835", "unmatched.835")
    bank = (
        "date,amount,trace,description\n"
        "2026-03-21,450.00,TRC-SEED-1,ACH ACME HEALTH PLAN\n"  # the seed payment, exact
        "2026-03-28,99.00,TRC-DENY-1,ACH ACME HEALTH PLAN\n"  # 1.00 short of 100.00
        "2026-03-27,900.00,,ACH deposit without addenda\n"  # split-claim.835, by amount+date
        "2026-03-30,12.34,,interest\n"  # no remittance pays it
    )
    deposits = Deposits(runtime)
    imported = deposits.import_lines(bank, tenant_id=TENANT, imported_on=TODAY)
    assert (imported.lines, imported.new) == (4, 4)
    report = deposits.reconciliation(TENANT)
    assert report["counts"] == {
        "matched": 2,
        "differing": 1,
        "remittances_without_deposit": 1,
        "deposits_without_remittance": 1,
    }
    by_trace = {m["remittance"]["trace_number"]: m["matched_by"] for m in report["matched"]}
    assert by_trace == {"TRC-SEED-1": "trace number", "TRC-SPLIT-1": "amount and date"}
    [differing] = report["differing"]
    assert differing["difference"] == "-1.00"
    assert "1.00 less" in differing["sentence"]
    assert [r["trace_number"] for r in report["remittances_without_deposit"]] == ["TRC-UNM-1"]
    assert [d["amount"] for d in report["deposits_without_remittance"]] == ["12.34"]


def test_the_same_bank_file_twice_keeps_nothing_twice(runtime: Runtime) -> None:
    bank = "date,amount\n2026-03-21,10.00\n2026-03-21,10.00\n"
    deposits = Deposits(runtime)
    assert deposits.import_lines(bank, tenant_id=TENANT, imported_on=TODAY).new == 2
    again = deposits.import_lines(bank, tenant_id=TENANT, imported_on=TODAY)
    assert (again.new, again.already_imported) == (0, 2)
    assert len(deposits.reconciliation(TENANT)["deposits_without_remittance"]) == 2


@pytest.mark.parametrize(
    ("bank", "says"),
    [
        ("when,amount\n2026-01-01,1.00\n", "header must name"),
        ("date,amount\n2026-02-30,1.00\n", "line 2: date '2026-02-30' is not a date"),
        ("date,amount\n2026-01-01,1.001\n", "line 2:"),
        ("date,amount\n2026-01-01,-5.00\n", "line 2:"),
        ("date,amount\n2026-01-01,0\n", "more than zero"),
        ("date,amount,trace\n2026-01-01,1.00,A\x01B\n", "control character"),
        ("date,amount\n2026-01-01,1.00,extra\n", "line 2: more values than columns"),
    ],
)
def test_bad_bank_lines_refuse_the_file_whole(runtime: Runtime, bank: str, says: str) -> None:
    deposits = Deposits(runtime)
    with pytest.raises(BankLinesInvalid, match=says.replace("(", r"\(")):
        deposits.import_lines(bank + "2026-01-02,5.00\n", tenant_id=TENANT, imported_on=TODAY)
    assert runtime.db.query("SELECT * FROM bank_deposits") == []


def test_a_bank_file_without_lines_is_refused(runtime: Runtime) -> None:
    with pytest.raises(BankLinesInvalid, match="no deposit line"):
        Deposits(runtime).import_lines("date,amount\n", tenant_id=TENANT, imported_on=TODAY)
