"""Four-eyes approval at the application: a controlled command above the tenant's limit waits
for another key's approval, and only then moves the balance, the aging and the ledger; on
embedded SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from domain import errors
from domain.provenance import Provenance
from projections.reports import aging, aging_totals
from services.bootstrap import Runtime
from services.commands import IssueCreditNote, ReceivePayment, WriteOff
from services.controls import Controls
from services.group_commit import Outcome
from tests.controls.controls_story import (
    ACCOUNT,
    ADMIN,
    CHECKER,
    TENANT,
    clock_at,
    do,
    open_and_invoice,
)

MARCH_10 = date(2026, 3, 10)


@pytest.fixture
def office(runtime: Runtime) -> Runtime:
    """A tenant whose write-offs above 500.00 USD wait for approval (requests last 7 days)."""
    runtime.app.clock = clock_at(MARCH_10)
    Controls(runtime).set_approval_policy(
        TENANT,
        [("write_off", "USD", Decimal("500.00")), ("issue_credit_note", "USD", Decimal(0))],
        7,
        ADMIN,
    )
    open_and_invoice(runtime)
    return runtime


def figures(runtime: Runtime) -> tuple[Decimal, int]:
    """The account's balance (loaded back from the store) and the aging total in minor units
    (from the read models, brought up to date)."""
    runtime.projector().catch_up()
    balance = runtime.app.get_account(TENANT, ACCOUNT).balance.amount
    (total,) = aging_totals(aging(runtime.db, TENANT, MARCH_10))
    return balance, sum(total.buckets.values())


def decide(
    office: Runtime,
    request_id: str,
    *,
    approve: bool = True,
    meta: Provenance = CHECKER,
    on: date | None = None,
) -> Outcome:
    """An approver's decision on a request of the story's account."""
    return office.app.decide_approval(
        tenant_id=TENANT,
        account_number=ACCOUNT,
        request_id=request_id,
        approve=approve,
        meta=meta,
        decided_on=on,
    ).result()


def write_off(amount: str | None = "600.00") -> WriteOff:
    return WriteOff(
        write_off_id="wo-1",
        invoice_number="INV-1",
        written_off_on=date(2026, 3, 9),
        amount=None if amount is None else Decimal(amount),
    )


def test_a_write_off_above_the_limit_moves_nothing_until_another_key_approves_it(
    office: Runtime,
) -> None:
    held = do(office, write_off())
    request = held.body["approval_request"]
    assert request["status"] == "pending"
    assert (request["amount"], request["currency"], request["maker"]) == (
        "600.00",
        "USD",
        "clerk-ann",
    )
    assert request["expires_on"] == "2026-03-17"
    assert request["reason"] == "Customer bankrupt"
    assert [e["type"] for e in held.body["recorded"]] == ["ApprovalRequested"]
    assert figures(office) == (Decimal("1000.00"), 100000)

    approved = decide(office, request["request_id"])
    assert [e["type"] for e in approved.body["recorded"]][:2] == ["ApprovalGranted", "WrittenOff"]
    assert approved.body["approval_request"]["checker"] == "approver-bea"
    assert figures(office) == (Decimal("400.00"), 40000)
    written = office.app.get_account(TENANT, ACCOUNT).write_offs["wo-1"]
    assert written.amount.amount == Decimal("600.00")
    events = office.app.history(TENANT, ACCOUNT)
    (effect,) = [e for e in events if type(e).__name__ == "WrittenOff"]
    assert (effect.actor, effect.reason) == ("clerk-ann", "Customer bankrupt")


def test_a_write_off_within_the_limit_takes_effect_at_once(office: Runtime) -> None:
    done = do(office, write_off("500.00"))
    assert "approval_request" not in done.body
    assert figures(office) == (Decimal("500.00"), 50000)


def test_a_limit_of_zero_holds_back_every_such_command(office: Runtime) -> None:
    note = IssueCreditNote(
        note_number="CN-1", invoice_number="INV-1", issued_on=MARCH_10, amount=Decimal("0.01")
    )
    assert do(office, note).body["approval_request"]["amount"] == "0.01"


def test_the_maker_never_approves_or_rejects_their_own_request(office: Runtime) -> None:
    request_id = do(office, write_off()).body["approval_request"]["request_id"]
    for approve in (True, False):
        same = Provenance(actor="clerk-ann", correlation_id="again", reason="mine")
        with pytest.raises(errors.OwnApprovalRequest):
            decide(office, request_id, approve=approve, meta=same)
    assert figures(office) == (Decimal("1000.00"), 100000)


def test_a_request_is_decided_once(office: Runtime) -> None:
    request_id = do(office, write_off()).body["approval_request"]["request_id"]
    rejected = Provenance(actor="approver-bea", correlation_id="r", reason="Not bankrupt: paying")
    decide(office, request_id, approve=False, meta=rejected)
    for approve in (True, False):
        with pytest.raises(errors.ApprovalAlreadyDecided, match="already rejected by approver-bea"):
            decide(office, request_id, approve=approve, meta=rejected)
    assert figures(office) == (Decimal("1000.00"), 100000)
    request = office.app.get_account(TENANT, ACCOUNT).approval_requests[request_id]
    assert (request.status, request.decision_reason) == ("rejected", "Not bankrupt: paying")


def test_a_rejection_says_why(office: Runtime) -> None:
    request_id = do(office, write_off()).body["approval_request"]["request_id"]
    with pytest.raises(errors.ReasonRequired):
        decide(office, request_id, approve=False)


def test_an_expired_request_cannot_be_approved(office: Runtime) -> None:
    request_id = do(office, write_off()).body["approval_request"]["request_id"]
    with pytest.raises(errors.ApprovalExpired, match="expired after 2026-03-17"):
        office.app.decide_approval(
            tenant_id=TENANT,
            account_number=ACCOUNT,
            request_id=request_id,
            approve=True,
            meta=CHECKER,
            decided_on=date(2026, 3, 18),
        ).result()
    assert figures(office) == (Decimal("1000.00"), 100000)


def test_the_effect_is_judged_on_the_account_as_it_is_when_approved(office: Runtime) -> None:
    """Paid in full meanwhile: the write-off would write off more than is open, so the
    approval is refused and nothing is recorded (not written off on top of the payment)."""
    request_id = do(office, write_off()).body["approval_request"]["request_id"]
    do(
        office,
        ReceivePayment(
            payment_id="p-1",
            amount=Decimal("1000.00"),
            method="card",
            reference="auth 9",
            received_on=MARCH_10,
        ),
    )
    version = office.app.get_account(TENANT, ACCOUNT).version
    with pytest.raises(errors.WriteOffExceedsOpen):
        decide(office, request_id)
    account = office.app.get_account(TENANT, ACCOUNT)
    assert account.version == version
    assert account.approval_requests[request_id].status == "pending"
    assert account.balance.amount == Decimal("0.00")


def test_a_command_that_could_not_take_effect_is_refused_not_held(office: Runtime) -> None:
    with pytest.raises(errors.WriteOffExceedsOpen):
        do(office, write_off("1000.01"))
    assert office.app.get_account(TENANT, ACCOUNT).approval_requests == {}


def test_an_unknown_request_is_refused(office: Runtime) -> None:
    with pytest.raises(errors.UnknownApprovalRequest):
        decide(office, "apr_nope")


def test_a_retry_with_the_same_key_names_the_same_request(office: Runtime) -> None:
    first = do(office, write_off(), key="k-1")
    again = do(office, write_off(), key="k-1")
    assert again.replayed
    assert again.body["approval_request"] == first.body["approval_request"]
    assert len(office.app.get_account(TENANT, ACCOUNT).approval_requests) == 1


def test_a_write_off_of_all_that_is_open_is_judged_by_what_is_open(office: Runtime) -> None:
    assert do(office, write_off(None)).body["approval_request"]["amount"] == "1000.00"


def test_a_currency_the_policy_has_no_limit_for_always_waits(runtime: Runtime) -> None:
    runtime.app.clock = clock_at(MARCH_10)
    Controls(runtime).set_approval_policy(
        TENANT, [("write_off", "EUR", Decimal("1000.00"))], 7, ADMIN
    )
    open_and_invoice(runtime)
    assert do(runtime, write_off("1.00")).body["approval_request"]["status"] == "pending"


@pytest.mark.parametrize(
    ("rules", "days", "field"),
    [
        ([("receive_payment", "USD", Decimal(1))], 7, "rules"),
        ([("write_off", "USD", Decimal(-1))], 7, "rules"),
        ([("write_off", "USD", Decimal(1)), ("write_off", "USD", Decimal(2))], 7, "rules"),
        ([("write_off", "USD", Decimal("0.001"))], 7, "amount"),
        ([], 0, "expires_after_days"),
        ([], 367, "expires_after_days"),
    ],
)
def test_a_policy_that_makes_no_sense_is_refused_and_nothing_recorded(
    runtime: Runtime, rules: list[tuple[str, str, Decimal]], days: int, field: str
) -> None:
    with pytest.raises(errors.DomainError) as refused:
        Controls(runtime).set_approval_policy(TENANT, rules, days, ADMIN)
    assert refused.value.field == field or field == "amount"
    assert Controls(runtime).approval_policy(TENANT) is None


def test_requests_and_the_policy_survive_a_snapshot(office: Runtime) -> None:
    """Accounts and tenants are loaded from snapshots: a pending request and the policy must
    come back from one exactly as they were."""
    from domain.account import Account
    from domain.tenant import Tenant

    do(office, write_off())
    account_id = Account.id_for(TENANT, ACCOUNT)
    before = office.app.get_account(TENANT, ACCOUNT).approval_requests
    office.app.take_snapshot(account_id)
    office.app.take_snapshot(Tenant.id_for(TENANT))
    assert office.app.snapshots is not None
    snapshot = next(iter(office.app.snapshots.get(account_id, desc=True, limit=1)))
    restored: Any = snapshot.mutate(None)
    assert restored.approval_requests == before
    tenant_snapshot = next(
        iter(office.app.snapshots.get(Tenant.id_for(TENANT), desc=True, limit=1))
    )
    tenant: Any = tenant_snapshot.mutate(None)
    assert tenant.approval_policy == Controls(office).approval_policy(TENANT)
    assert tenant.approval_policy.rules[0].above == Decimal("500.00")


def test_the_close_of_the_day_after_its_last_day_records_the_request_expired(
    office: Runtime,
) -> None:
    """The agenda selects the account for the day after the request's last day (nothing else
    is due on it then), and the close records ``ApprovalExpired``."""
    from services.close_day import CloseOfDay

    request_id = do(office, write_off()).body["approval_request"]["request_id"]
    office.projector().catch_up()
    closer = CloseOfDay(office, clock=clock_at(date(2026, 3, 20)))
    closer.close(TENANT, date(2026, 3, 17), started_by="ops")
    assert office.app.get_account(TENANT, ACCOUNT).approval_requests[request_id].status == "pending"
    closer.close(TENANT, date(2026, 3, 18), started_by="ops")
    request = office.app.get_account(TENANT, ACCOUNT).approval_requests[request_id]
    assert (request.status, request.decided_on) == ("expired", date(2026, 3, 18))
    assert figures(office) == (Decimal("1000.00"), 100000)
