"""The four-eyes approval and the closed periods under attack: what a hostile caller or a
careless office does to them, and what must hold all the same.

Each test is one attack. What must hold is the house rule: nothing is answered 2xx unless it
is stored, a refusal is a 4xx with a stable code and leaves nothing half-written, a 500 is a
bug; and, for these controls, that no command held for a second person takes effect without
one (once, on the account as it is then), and that a closed period's seal still verifies
whatever is written around its close. On embedded SQLite and on PostgreSQL where the engine
matters (concurrency, the barrier, the seal).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from domain import errors
from domain.money import Money
from domain.provenance import Provenance
from projections.database import events_table
from projections.verify import verify
from services.api.app import create_app
from services.api_keys import Role
from services.bootstrap import Runtime, bootstrap
from services.close_day import CloseOfDay
from services.commands import (
    AccountCommand,
    IssueCreditNote,
    IssueInvoice,
    OfferSettlement,
    ReceivePayment,
    RefundCredit,
    ReversePayment,
    WriteOff,
)
from services.controls import Controls, PeriodBusy
from services.settings import Settings
from tests.controls.controls_story import (
    ACCOUNT,
    ADMIN,
    CHECKER,
    MAKER,
    TENANT,
    clock_at,
    do,
    open_and_invoice,
)
from tests.controls.test_controls_api import Office

MARCH_10 = date(2026, 3, 10)
REOPEN = Provenance(actor="approver-bea", correlation_id="r", reason="Bank statement late")
OTHER_CHECKER = Provenance(actor="approver-dan", correlation_id="req-dan")


# --- the story --------------------------------------------------------------------------


def write_off(amount: str | None = "600.00", on: date = date(2026, 3, 9)) -> WriteOff:
    return WriteOff(
        write_off_id="wo-1",
        invoice_number="INV-1",
        written_off_on=on,
        amount=None if amount is None else Decimal(amount),
    )


def payment(payment_id: str, on: date, amount: str = "100.00") -> ReceivePayment:
    return ReceivePayment(
        payment_id=payment_id,
        amount=Decimal(amount),
        method="cheque",
        reference=f"chq {payment_id}",
        received_on=on,
    )


def set_policy(runtime: Runtime, *rules: tuple[str, str, str], days: int = 7) -> None:
    Controls(runtime).set_approval_policy(
        TENANT, [(c, cur, Decimal(above)) for c, cur, above in rules], days, ADMIN
    )


def decide(
    runtime: Runtime,
    request_id: str,
    *,
    approve: bool = True,
    meta: Provenance = CHECKER,
    decided_on: date | None = None,
    account: str = ACCOUNT,
    key: str | None = None,
) -> Any:
    return runtime.app.decide_approval(
        tenant_id=TENANT,
        account_number=account,
        request_id=request_id,
        approve=approve,
        meta=meta,
        decided_on=decided_on,
        idempotency_key=key,
    ).result()


def held(runtime: Runtime, command: AccountCommand, **kwargs: Any) -> str:
    """Send ``command`` (it must be held back) and return its request id."""
    body = do(runtime, command, **kwargs).body
    assert body.get("approval_request", {}).get("status") == "pending", body
    request_id: str = body["approval_request"]["request_id"]
    return request_id


def events_named(runtime: Runtime, name: str, account: str = ACCOUNT) -> list[Any]:
    return [e for e in runtime.app.history(TENANT, account) if type(e).__name__ == name]


def close_days(runtime: Runtime, through: date) -> None:
    CloseOfDay(runtime, clock=clock_at(date(2026, 4, 10))).close(TENANT, through, started_by="ops")


@pytest.fixture
def office(runtime: Runtime) -> Runtime:
    """Write-offs above 500.00 USD wait (7 days); A-1 invoiced 1,000.00 on INV-1."""
    runtime.app.clock = clock_at(MARCH_10)
    set_policy(runtime, ("write_off", "USD", "500.00"))
    open_and_invoice(runtime)
    return runtime


def settings_of(runtime: Runtime) -> Settings:
    return runtime.settings


@pytest.fixture
def second(runtime: Runtime) -> Iterator[Runtime]:
    """Another process on the same store (its own application, committer and connections)."""
    other = bootstrap(settings_of(runtime))
    other.app.clock = runtime.app.clock
    yield other
    other.close()


def at_once(*calls: Callable[[], Any]) -> list[Any]:
    """Run ``calls`` in threads released together; each one's result or exception."""
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        start.wait()
        try:
            return call()
        except Exception as exc:  # the attack's outcome, judged by the test
            return exc

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


# --- approving: who, what, how often ---------------------------------------------------


def test_two_approvers_in_two_processes_approving_at_once_write_off_once(
    office: Runtime, second: Runtime
) -> None:
    request_id = held(office, write_off())
    outcomes = at_once(
        lambda: decide(office, request_id),
        lambda: decide(second, request_id, meta=OTHER_CHECKER),
    )
    done = [o for o in outcomes if not isinstance(o, Exception)]
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(done) == 1, outcomes
    assert len(refused) == 1
    assert isinstance(refused[0], errors.ApprovalAlreadyDecided), refused
    assert len(events_named(office, "WrittenOff")) == 1
    assert len(events_named(office, "ApprovalGranted")) == 1
    assert office.app.get_account(TENANT, ACCOUNT).balance.amount == Decimal("400.00")


def test_an_approval_racing_a_full_payment_never_writes_off_what_was_paid(
    office: Runtime, second: Runtime
) -> None:
    request_id = held(office, write_off())
    outcomes = at_once(
        lambda: decide(office, request_id),
        lambda: do(second, payment("p-all", MARCH_10, "1000.00")),
    )
    approval, paid = outcomes
    assert not isinstance(paid, Exception), paid
    account = office.app.get_account(TENANT, ACCOUNT)
    if isinstance(approval, Exception):
        # The payment came first: the approval is judged on a paid invoice and refused whole.
        assert isinstance(approval, errors.WriteOffExceedsOpen), approval
        assert account.approval_requests[request_id].status == "pending"
        assert events_named(office, "WrittenOff") == []
        assert account.balance.amount == Decimal("0.00")
    else:
        # The write-off came first: the payment pays the 400.00 open, the rest is credit.
        assert len(events_named(office, "WrittenOff")) == 1
        assert account.balance.amount == Decimal("-600.00")


def test_a_request_of_one_account_cannot_be_approved_on_another(office: Runtime) -> None:
    open_and_invoice(office, account="A-2")
    request_id = held(office, write_off())
    version = office.app.get_account(TENANT, "A-2").version
    with pytest.raises(errors.UnknownApprovalRequest):
        decide(office, request_id, account="A-2")
    assert office.app.get_account(TENANT, "A-2").version == version
    assert office.app.get_account(TENANT, ACCOUNT).approval_requests[request_id].status == (
        "pending"
    )


def test_back_dating_the_decision_does_not_bring_an_expired_request_back(office: Runtime) -> None:
    """The request's last day was 03-17; on 03-20 an approver dates the approval 03-15. The
    request has expired whatever date the approval claims: it is refused, nothing moves."""
    request_id = held(office, write_off())
    office.app.clock = clock_at(date(2026, 3, 20))
    with pytest.raises(errors.ApprovalExpired):
        decide(office, request_id, decided_on=date(2026, 3, 15))
    assert events_named(office, "WrittenOff") == []
    assert office.app.get_account(TENANT, ACCOUNT).balance.amount == Decimal("1000.00")


def test_a_retried_approval_with_its_key_is_the_same_approval_even_the_next_day(
    office: Runtime,
) -> None:
    """The approver's network failed after the approval was stored; the retry (same key, same
    empty body) comes after midnight. It is the same request: the first answer, not a 409."""
    request_id = held(office, write_off())
    first = decide(office, request_id, key="approve-once")
    office.app.clock = clock_at(date(2026, 3, 11))
    again = decide(office, request_id, key="approve-once")
    assert again.replayed
    assert again.body == first.body
    assert len(events_named(office, "WrittenOff")) == 1


def test_a_key_replayed_with_a_different_rejection_reason_is_not_a_replay(
    office: Runtime,
) -> None:
    request_id = held(office, write_off())
    said = Provenance(actor="approver-bea", correlation_id="r1", reason="Customer is paying")
    decide(office, request_id, approve=False, meta=said, key="decide-1")
    other = Provenance(actor="approver-bea", correlation_id="r2", reason="Wrong invoice")
    from services.errors import IdempotencyKeyReused

    with pytest.raises(IdempotencyKeyReused):
        decide(office, request_id, approve=False, meta=other, key="decide-1")
    with pytest.raises(IdempotencyKeyReused):
        decide(office, request_id, approve=True, key="decide-1")
    request = office.app.get_account(TENANT, ACCOUNT).approval_requests[request_id]
    assert (request.status, request.decision_reason) == ("rejected", "Customer is paying")


def test_a_held_command_whose_arguments_no_longer_validate_is_refused_not_a_fault(
    office: Runtime,
) -> None:
    """A request stored by an older release whose command model has changed since (here: an
    amount the model no longer reads). Approving it is refused with a code; nothing moves."""
    account = office.app.get_account(TENANT, ACCOUNT)
    account.request_approval(
        request_id="apr_old",
        command="write_off",
        params={"invoice_number": "INV-1", "written_off_on": "2026-03-09", "amount": "lots"},
        amount=Money(Decimal("600.00"), "USD"),
        requested_on=MARCH_10,
        expires_on=date(2026, 3, 17),
        meta=MAKER,
    )
    office.app.save(account)
    version = office.app.get_account(TENANT, ACCOUNT).version
    from services.approvals import ApprovalNotApplicable

    with pytest.raises(ApprovalNotApplicable) as refused:
        decide(office, "apr_old")
    assert (refused.value.status, refused.value.code) == (409, "approval_not_applicable")
    assert office.app.get_account(TENANT, ACCOUNT).version == version
    # It can still be rejected, so the queue does not keep it for ever.
    rejected = Provenance(actor="approver-bea", correlation_id="r", reason="Obsolete request")
    decide(office, "apr_old", approve=False, meta=rejected)


# --- what is at stake ---------------------------------------------------------------------


def test_a_credit_note_of_all_that_is_open_is_held_for_what_is_open(office: Runtime) -> None:
    set_policy(office, ("issue_credit_note", "USD", "999.99"))
    note = IssueCreditNote(note_number="CN-1", invoice_number="INV-1", issued_on=MARCH_10)
    request_id = held(office, note)
    request = office.app.get_account(TENANT, ACCOUNT).approval_requests[request_id]
    assert request.amount == Money(Decimal("1000.00"), "USD")
    assert office.app.get_account(TENANT, ACCOUNT).balance.amount == Decimal("1000.00")
    decide(office, request_id)
    assert office.app.get_account(TENANT, ACCOUNT).balance.amount == Decimal("0.00")


def test_a_settlement_offer_is_held_for_its_discount_not_for_what_is_left_to_pay(
    office: Runtime,
) -> None:
    set_policy(office, ("offer_settlement", "USD", "100.00"))
    open_and_invoice(office, account="A-2")
    small = OfferSettlement(
        offer_id="so-1",
        settle_for=Decimal("950.00"),
        offered_on=MARCH_10,
        expires_on=date(2026, 3, 31),
    )
    # 950.00 is left to pay, far above the limit; the discount of 50.00 is what is at stake.
    assert "approval_request" not in do(office, small, account="A-2").body
    big = OfferSettlement(
        offer_id="so-2",
        amount_off=Decimal("300.00"),
        offered_on=MARCH_10,
        expires_on=date(2026, 3, 31),
    )
    request_id = held(office, big)
    assert office.app.get_account(TENANT, ACCOUNT).approval_requests[request_id].amount == Money(
        Decimal("300.00"), "USD"
    )
    assert "so-2" not in office.app.get_account(TENANT, ACCOUNT).offers
    decide(office, request_id)
    assert office.app.get_account(TENANT, ACCOUNT).offers["so-2"].discount.amount == Decimal(
        "300.00"
    )


def test_a_payment_reversal_is_held_for_the_payment_and_moves_nothing_until_approved(
    office: Runtime,
) -> None:
    set_policy(office, ("reverse_payment", "USD", "100.00"))
    do(office, payment("p-1", MARCH_10, "250.00"))
    reversal = ReversePayment(payment_id="p-1", reason_code="NSF", reversed_on=MARCH_10)
    request_id = held(office, reversal)
    account = office.app.get_account(TENANT, ACCOUNT)
    assert account.approval_requests[request_id].amount == Money(Decimal("250.00"), "USD")
    assert account.balance.amount == Decimal("750.00")
    decide(office, request_id)
    assert office.app.get_account(TENANT, ACCOUNT).balance.amount == Decimal("1000.00")


def test_a_refund_is_held_for_what_it_pays_back_and_cannot_pay_it_back_twice(
    office: Runtime,
) -> None:
    set_policy(office, ("refund_credit", "USD", "0"))
    do(office, payment("p-over", MARCH_10, "1200.00"))  # 200.00 of credit
    refund = RefundCredit(
        refund_id="rf-1",
        amount=Decimal("200.00"),
        method="bank_transfer",
        reference="bank",
        refunded_on=MARCH_10,
    )
    first = held(office, refund)
    # The careless office sends it again under another id while the first one waits.
    again = held(office, refund.model_copy(update={"refund_id": "rf-2"}))
    assert office.app.get_account(TENANT, ACCOUNT).credit.amount == Decimal("200.00")
    decide(office, first)
    with pytest.raises(errors.DomainError):
        decide(office, again)
    account = office.app.get_account(TENANT, ACCOUNT)
    assert account.credit.amount == Decimal("0.00")
    assert account.approval_requests[again].status == "pending"


def test_a_command_in_another_currency_than_the_limit_always_waits(office: Runtime) -> None:
    set_policy(office, ("write_off", "EUR", "10000.00"))
    assert held(office, write_off("0.01"))


# --- closed periods and approval together -------------------------------------------------


@pytest.fixture
def closed_february(office: Runtime) -> Runtime:
    """Days closed through 2026-02-28 and February closed (refused back-dating)."""
    close_days(office, date(2026, 2, 28))
    Controls(office).close_period(TENANT, "2026-02", ADMIN)
    return office


def test_a_held_command_dated_in_a_closed_period_is_refused_at_once_not_held(
    closed_february: Runtime,
) -> None:
    """A request that can never be carried out must not be made: the approver would approve
    it and be refused."""
    version = closed_february.app.get_account(TENANT, ACCOUNT).version
    with pytest.raises(errors.PeriodClosed, match="first open date is 2026-03-01"):
        do(closed_february, write_off(on=date(2026, 2, 20)))
    account = closed_february.app.get_account(TENANT, ACCOUNT)
    assert account.version == version
    assert account.approval_requests == {}


def test_a_held_command_whose_period_closes_before_approval_lands_on_the_first_open_day(
    office: Runtime,
) -> None:
    """Asked in an open February, approved after February closed, with a tenant that posts
    such corrections on the first open day: posted on 03-01 naming what it corrects."""
    close_days(office, date(2026, 2, 28))
    request_id = held(office, write_off(on=date(2026, 2, 20)))
    controls = Controls(office)
    controls.set_backdating(TENANT, "first_open_day", ADMIN)
    controls.close_period(TENANT, "2026-02", ADMIN)
    decide(office, request_id)
    account = office.app.get_account(TENANT, ACCOUNT)
    assert account.write_offs["wo-1"].amount.amount == Decimal("600.00")
    (effect,) = events_named(office, "WrittenOff")
    assert effect.effective_on == date(2026, 3, 1)
    assert effect.actor == "clerk-ann"
    assert effect.reason == (
        "Corrects 2026-02 (dated 2026-02-20, in a closed period): Customer bankrupt"
    )
    assert verify(office.app, office.db).ok


def test_a_held_command_whose_period_closes_before_approval_is_refused_whole(
    office: Runtime,
) -> None:
    """With refused back-dating: the approval is refused (409 period_closed), the request
    stays pending and can be rejected; nothing of February changes."""
    close_days(office, date(2026, 2, 28))
    request_id = held(office, write_off(on=date(2026, 2, 20)))
    Controls(office).close_period(TENANT, "2026-02", ADMIN)
    version = office.app.get_account(TENANT, ACCOUNT).version
    with pytest.raises(errors.PeriodClosed):
        decide(office, request_id)
    assert office.app.get_account(TENANT, ACCOUNT).version == version
    rejected = Provenance(actor="approver-bea", correlation_id="r", reason="Period closed")
    decide(office, request_id, approve=False, meta=rejected)
    assert verify(office.app, office.db).ok


def test_an_approval_dated_in_a_closed_period_is_refused(closed_february: Runtime) -> None:
    request_id = held(closed_february, write_off())
    version = closed_february.app.get_account(TENANT, ACCOUNT).version
    with pytest.raises(errors.DomainError):
        decide(closed_february, request_id, decided_on=date(2026, 2, 27))
    assert closed_february.app.get_account(TENANT, ACCOUNT).version == version


def test_an_account_opened_in_a_closed_period_is_refused_and_not_created(
    closed_february: Runtime,
) -> None:
    from services.errors import AccountNotFound

    for backdating in ("refuse", "first_open_day"):
        Controls(closed_february).set_backdating(TENANT, backdating, ADMIN)
        with pytest.raises(errors.PeriodClosed):
            closed_february.app.open_account(
                tenant_id=TENANT,
                account_number="A-LATE",
                name="Late Opener",
                currency="USD",
                opened_on=date(2026, 2, 14),
                meta=MAKER,
            )
        with pytest.raises(AccountNotFound):
            closed_february.app.get_account(TENANT, "A-LATE")
    assert verify(closed_february.app, closed_february.db).ok


def test_a_redated_invoice_whose_due_date_falls_before_its_new_date_is_refused_cleanly(
    closed_february: Runtime,
) -> None:
    """Back-dating moves the issue date to the first open day, not the due date (a term):
    an invoice due inside the closed period is then due before it is issued, a 4xx."""
    Controls(closed_february).set_backdating(TENANT, "first_open_day", ADMIN)
    from services.commands import PostCharge

    do(
        closed_february,
        PostCharge(
            charge_id="ch-2",
            code="X",
            description="Late charge",
            quantity=Decimal(1),
            unit_price=Decimal("10.00"),
            service_date=date(2026, 3, 2),
        ),
    )
    version = closed_february.app.get_account(TENANT, ACCOUNT).version
    with pytest.raises(errors.DomainError):
        do(
            closed_february,
            IssueInvoice(
                invoice_number="INV-LATE",
                charge_ids=["ch-2"],
                issued_on=date(2026, 2, 20),
                due_on=date(2026, 2, 25),
            ),
        )
    assert closed_february.app.get_account(TENANT, ACCOUNT).version == version


def test_a_long_reason_with_the_correction_note_before_it_is_stored_whole(
    closed_february: Runtime,
) -> None:
    Controls(closed_february).set_backdating(TENANT, "first_open_day", ADMIN)
    long_reason = "x" * 500
    meta = Provenance(actor="clerk-ann", correlation_id="long", reason=long_reason)
    do(closed_february, payment("p-late", date(2026, 2, 20)), meta=meta)
    (event,) = [
        e for e in events_named(closed_february, "PaymentReceived") if e.payment_id == "p-late"
    ]
    assert event.reason.endswith(": " + long_reason)
    assert event.effective_on == date(2026, 3, 1)


# --- closing under load ----------------------------------------------------------------


@pytest.fixture
def days_closed(runtime: Runtime) -> Runtime:
    runtime.app.clock = clock_at(date(2026, 4, 10))
    open_and_invoice(runtime)
    do(runtime, payment("p-feb", date(2026, 2, 10)))
    close_days(runtime, date(2026, 2, 28))
    return runtime


def test_two_closes_of_the_same_period_at_once_close_it_once(
    days_closed: Runtime, second: Runtime
) -> None:
    outcomes = at_once(
        lambda: Controls(days_closed).close_period(TENANT, "2026-02", ADMIN),
        lambda: Controls(second).close_period(TENANT, "2026-02", ADMIN),
    )
    closed = [o for o in outcomes if not isinstance(o, Exception)]
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(closed) == 1, outcomes
    assert all(isinstance(r, PeriodBusy | errors.PeriodOutOfOrder) for r in refused), refused
    tenant_events = list(days_closed.app.events.get(_tenant_id()))
    assert [type(e).__name__ for e in tenant_events].count("PeriodClosed") == 1
    assert verify(days_closed.app, days_closed.db).ok


def _tenant_id() -> Any:
    from domain.tenant import Tenant

    return Tenant.id_for(TENANT)


def test_a_close_while_payments_are_written_keeps_a_seal_that_verifies(
    days_closed: Runtime, second: Runtime
) -> None:
    """Another process writes payments dated in February and in March while February is
    closed: each February payment is either stored before the seal (and sealed) or refused;
    the seal verifies afterwards."""
    stop = threading.Event()
    answers: list[Any] = []

    def writer() -> None:
        n = 0
        while not stop.is_set() and n < 200:
            n += 1
            on = date(2026, 2, 1 + n % 28) if n % 2 else date(2026, 3, 1 + n % 28)
            try:
                answers.append(do(second, payment(f"p-{n}", on, "1.00")))
            except errors.PeriodClosed as refused:
                answers.append(refused)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        closed = Controls(days_closed).close_period(TENANT, "2026-02", ADMIN)
    finally:
        stop.set()
        thread.join()
    assert answers
    result = verify(days_closed.app, days_closed.db)
    assert result.ok, result.discrepancies
    february = [
        e
        for e in days_closed.app.history(TENANT, ACCOUNT, limit=10_000)
        if e.effective_on.month == 2
    ]
    assert closed.events == len(february)


def test_reopening_and_closing_again_gives_a_new_seal_that_verifies(days_closed: Runtime) -> None:
    controls = Controls(days_closed)
    first = controls.close_period(TENANT, "2026-02", ADMIN)
    controls.reopen_period(TENANT, "2026-02", REOPEN)
    do(days_closed, payment("p-late", date(2026, 2, 20)))
    second_close = controls.close_period(TENANT, "2026-02", ADMIN)
    assert second_close.seal != first.seal
    assert second_close.events == first.events + 1
    assert [p.seal for p in controls.periods(TENANT)] == [second_close.seal]
    assert verify(days_closed.app, days_closed.db).ok


def test_the_seal_verifies_with_snapshots_taken_of_the_accounts_and_the_tenant(
    days_closed: Runtime,
) -> None:
    from domain.account import Account

    Controls(days_closed).close_period(TENANT, "2026-02", ADMIN)
    days_closed.app.take_snapshot(Account.id_for(TENANT, ACCOUNT))
    days_closed.app.take_snapshot(_tenant_id())
    do(days_closed, payment("p-march", date(2026, 3, 2)))
    result = verify(days_closed.app, days_closed.db)
    assert result.ok, result.discrepancies


def test_a_deleted_event_of_a_closed_period_breaks_its_seal(days_closed: Runtime) -> None:
    Controls(days_closed).close_period(TENANT, "2026-02", ADMIN)
    table = events_table(days_closed.app)
    rows = days_closed.db.query(
        f"SELECT originator_version, state FROM {table} WHERE topic LIKE ?",
        ("%PaymentReceived",),
    )
    (version,) = [r["originator_version"] for r in rows if b"p-feb" in bytes(r["state"])]
    days_closed.db.execute(
        f"DELETE FROM {table} WHERE originator_version >= ? AND topic LIKE ?",
        (version, "receivables.account:%"),
    )
    result = verify(days_closed.app, days_closed.db)
    assert ("period seals", "2026-02", "seal_broken") in {
        (d.table, d.key, d.figure) for d in result.discrepancies
    }


# --- over HTTP: bodies, ids, tenants, roles ----------------------------------------------


POLICY = {
    "rules": [{"command": "write_off", "currency": "USD", "above": "500.00"}],
    "expires_after_days": 7,
}


@pytest.fixture
def http(runtime: Runtime) -> Iterator[Office]:
    runtime.app.clock = clock_at(MARCH_10)
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        office = Office(runtime, client)
        assert office.put("admin-ops", "/v1/tenant/approval-policy", POLICY).status_code == 200
        open_and_invoice(runtime)
        yield office


def held_over_http(office: Office) -> str:
    answer = office.post(
        "clerk-ann",
        "/v1/accounts/A-1/write-offs",
        {
            "write_off_id": "wo-1",
            "invoice_number": "INV-1",
            "written_off_on": "2026-03-09",
            "amount": "600.00",
        },
    )
    assert answer.status_code == 202, answer.text
    request_id: str = answer.json()["approval_request"]["request_id"]
    return request_id


def test_another_tenants_approver_finds_no_such_request(http: Office) -> None:
    request_id = held_over_http(http)
    stranger = http.runtime.keys.create(name="approver-zed", tenant_id="globex", role=Role.approver)
    auth = {"Authorization": f"Bearer {stranger.secret}"}
    path = f"/v1/accounts/A-1/approval-requests/{request_id}"
    for verb, body in (("approval", None), ("rejection", {"reason": "mine now"})):
        answer = http.http.post(f"{path}/{verb}", json=body, headers=auth)
        assert answer.status_code == 404, answer.text
    assert http.http.get("/v1/approval-requests", headers=auth).json() == []
    assert (
        http.get("approver-bea", "/v1/approval-requests", status="pending").json()[0]["request_id"]
        == request_id
    )
    assert http.runtime.app.get_account(TENANT, ACCOUNT).balance.amount == Decimal("1000.00")


@pytest.mark.parametrize(
    "request_id",
    [
        "apr_%2E%2E",
        "..",
        "a%20b",
        "%C3%BCn%C3%AFc%C3%B6de",
        "%00",
        "%0A",
        "'%20OR%201=1--",
        "x" * 200,
        "x" * 201,
    ],
)
def test_an_odd_request_id_is_a_404_or_a_422_never_a_500(http: Office, request_id: str) -> None:
    held_over_http(http)
    for verb, body in (("approval", None), ("rejection", {"reason": "no"})):
        answer = http.post(
            "approver-bea", f"/v1/accounts/A-1/approval-requests/{request_id}/{verb}", body
        )
        assert answer.status_code in (404, 422), (verb, answer.status_code, answer.text)
        if answer.status_code != 404 or "code" in answer.json():
            assert answer.json()["code"]
    assert http.runtime.app.get_account(TENANT, ACCOUNT).balance.amount == Decimal("1000.00")


BAD_BODIES: list[Any] = ["not json", "[]", '"text"', "42", "null", '{"x": 1}']


@pytest.mark.parametrize(
    ("who", "method", "path", "typed"),
    [
        (
            "admin-ops",
            "PUT",
            "/v1/tenant/approval-policy",
            {"rules": "all", "expires_after_days": "7"},
        ),
        ("admin-ops", "PUT", "/v1/tenant/backdating", {"policy": 1}),
        ("approver-bea", "POST", "/v1/periods/2026-02/reopening", {"reason": 42}),
        (
            "approver-bea",
            "POST",
            "/v1/accounts/A-1/approval-requests/{id}/rejection",
            {"reason": ["x"]},
        ),
        (
            "approver-bea",
            "POST",
            "/v1/accounts/A-1/approval-requests/{id}/approval",
            {"decided_on": 20260310},
        ),
    ],
)
def test_a_body_that_is_not_json_or_has_wrong_types_is_a_4xx_on_every_new_endpoint(
    http: Office, who: str, method: str, path: str, typed: Any
) -> None:
    request_id = held_over_http(http)
    url = path.format(id=request_id)
    headers = {**http.keys[who], "Content-Type": "application/json"}
    for raw in [*BAD_BODIES, __import__("json").dumps(typed)]:
        if raw == "null" and url.endswith("/approval"):
            continue  # no body at all is an approval dated today, by design
        answer = http.http.request(method, url, content=raw, headers=headers)
        assert 400 <= answer.status_code < 500, (raw, answer.status_code, answer.text)
        assert answer.json().get("code"), answer.text
    assert http.runtime.app.get_account(TENANT, ACCOUNT).approval_requests[request_id].status == (
        "pending"
    )
    assert http.get("admin-ops", "/v1/tenant/approval-policy").json() == POLICY


def test_a_policy_of_too_many_rules_is_refused(http: Office) -> None:
    currencies = ["USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "NZD", "SEK", "NOK"]
    commands = [
        "write_off",
        "issue_credit_note",
        "offer_settlement",
        "refund_credit",
        "reverse_payment",
        "post_contractual_adjustment",
    ]
    rules = [
        {"command": c, "currency": cur, "above": "1"} for c in commands for cur in currencies
    ] * 2
    refused = http.put("admin-ops", "/v1/tenant/approval-policy", {"rules": rules})
    assert refused.status_code == 422, refused.text
    many = http.put("admin-ops", "/v1/tenant/approval-policy", {"rules": rules[:60]})
    assert many.status_code == 200, many.text
    assert len(many.json()["rules"]) == 60


@pytest.mark.parametrize(
    ("who", "method", "path", "body"),
    [
        ("approver-bea", "POST", "/v1/accounts/A-1/write-offs", "WRITE_OFF"),
        ("approver-bea", "POST", "/v1/accounts/A-1/payments", "PAYMENT"),
        ("approver-bea", "PUT", "/v1/tenant/approval-policy", POLICY),
        ("approver-bea", "PUT", "/v1/tenant/backdating", {"policy": "first_open_day"}),
        ("clerk-ann", "POST", "/v1/accounts/A-1/approval-requests/{id}/approval", None),
        ("clerk-cal", "POST", "/v1/accounts/A-1/approval-requests/{id}/rejection", {"reason": "r"}),
        ("clerk-ann", "POST", "/v1/periods/2026-02/reopening", {"reason": "r"}),
        ("clerk-ann", "POST", "/v1/periods/2026-02/close", None),
        ("clerk-ann", "PUT", "/v1/tenant/backdating", {"policy": "first_open_day"}),
        ("clerk-ann", "PUT", "/v1/tenant/approval-policy", POLICY),
        ("auditor-eve", "POST", "/v1/periods/2026-02/close", None),
        ("auditor-eve", "POST", "/v1/accounts/A-1/approval-requests/{id}/approval", None),
        ("admin-ops", "POST", "/v1/accounts/A-1/approval-requests/{id}/approval", None),
        ("admin-ops", "POST", "/v1/periods/2026-02/reopening", {"reason": "r"}),
        ("reporter-rex", "GET", "/v1/periods", None),
        ("reporter-rex", "GET", "/v1/approval-requests", None),
        ("reporter-rex", "POST", "/v1/periods/2026-02/close", None),
    ],
)
def test_the_role_matrix_has_no_holes(
    http: Office, who: str, method: str, path: str, body: Any
) -> None:
    request_id = held_over_http(http)
    bodies = {
        "WRITE_OFF": {
            "write_off_id": "wo-2",
            "invoice_number": "INV-1",
            "written_off_on": "2026-03-09",
            "amount": "1.00",
        },
        "PAYMENT": {
            "amount": "1.00",
            "method": "cash",
            "reference": "r",
            "received_on": "2026-03-10",
        },
    }
    sent = bodies.get(body, body) if isinstance(body, str) else body
    answer = http.http.request(
        method, path.format(id=request_id), json=sent, headers=http.keys[who]
    )
    assert (answer.status_code, answer.json()["code"]) == (403, "forbidden"), answer.text
    account = http.runtime.app.get_account(TENANT, ACCOUNT)
    assert account.approval_requests[request_id].status == "pending"
    assert account.balance.amount == Decimal("1000.00")
    assert Controls(http.runtime).periods(TENANT) == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"decided_on": "2026-02-30"}, None),
        ({"decided_on": "2026-03-09"}, "invalid_date"),  # before the request was made
        ({"decided_on": "2026-03-18"}, "approval_expired"),  # after its last day
        ({"decided_on": "10/03/2026"}, None),
        ({"decided_on": None, "extra": 1}, None),
    ],
)
def test_an_approval_dated_oddly_is_refused_with_a_code(
    http: Office, body: Any, code: str | None
) -> None:
    request_id = held_over_http(http)
    answer = http.post(
        "approver-bea", f"/v1/accounts/A-1/approval-requests/{request_id}/approval", body
    )
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["code"] == (code or answer.json()["code"])
    assert http.runtime.app.get_account(TENANT, ACCOUNT).balance.amount == Decimal("1000.00")


@pytest.mark.parametrize("above", ["NaN", "Infinity", "-0.01", "1e999", "0.001", "", "1,000.00"])
def test_a_limit_that_is_not_an_amount_is_refused_over_http(http: Office, above: str) -> None:
    body = {"rules": [{"command": "write_off", "currency": "USD", "above": above}]}
    refused = http.put("admin-ops", "/v1/tenant/approval-policy", body)
    assert refused.status_code == 422, refused.text
    assert http.get("admin-ops", "/v1/tenant/approval-policy").json() == POLICY


@pytest.mark.parametrize(
    "args",
    [
        ["approvals", "set-policy", "--rule", "write_off:USD:NaN"],
        ["approvals", "set-policy", "--rule", "write_off:USD:sNaN"],
        ["approvals", "set-policy", "--rule", "write_off:USD:1e999"],
        ["approvals", "set-policy", "--rule", "write_off:usd:1"],
        ["approvals", "set-policy", "--rule", "write_off"],
        ["approvals", "set-policy", "--rule", "write_off:USD:1", "--expires-after-days", "-1"],
        ["approvals", "approve", ACCOUNT, "apr_nope"],
        ["approvals", "approve", ACCOUNT, "../../etc"],
        ["approvals", "approve", "NO-SUCH", "apr_nope"],
        ["approvals", "reject", ACCOUNT, "apr_nope", "--reason", "no"],
        ["periods", "close", "2026-13"],
        ["periods", "close", "2026-02"],  # no day closed yet
        ["periods", "reopen", "2026-02", "--reason", "r"],  # none closed
        ["periods", "reopen", "1850-01", "--reason", "r"],
    ],
)
def test_the_cli_refuses_nonsense_with_a_sentence_not_a_traceback(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    from typer.testing import CliRunner

    from services.cli import app as cli
    from tests.service.test_verify_and_explain import same_store

    same_store(runtime, monkeypatch)
    open_and_invoice(runtime)
    result = CliRunner().invoke(cli, [*args, "--tenant", TENANT, "--actor", "approver-bea"])
    assert result.exit_code in (1, 2), result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert Controls(runtime).approval_policy(TENANT) is None
    assert Controls(runtime).periods(TENANT) == []
