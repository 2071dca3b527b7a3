"""A failure stays with the command that caused it, on embedded SQLite and on PostgreSQL.

The group committer keeps recently used accounts in memory and saves many commands in one
transaction. These tests break a save or a command on purpose and check that nothing of what
failed survives anywhere: not in the answer to the next command, not in the store (no version
gap, no event without its idempotency key), not in the other commands of the batch.
"""

from __future__ import annotations

from concurrent.futures import Future
from datetime import date
from uuid import UUID

import psycopg.errors
import pytest
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    InternalError,
    OperationalError,
    ProgrammingError,
    StoredEvent,
)

from domain.account import Account
from domain.errors import DuplicatePayment
from domain.money import Money
from services.bootstrap import Runtime, bootstrap
from services.group_commit import Command, Outcome
from services.views import account_summary
from tests.store_faults import one_batch, pay_then_break, saves_fail, submit_charge
from tests.support import CLERK, open_charge_and_pay, payment, run

ACME = Account.id_for("acme", "A-100")


def _versions(runtime: Runtime, account_id: UUID = ACME) -> list[int]:
    return [e.originator_version for e in runtime.app.events.get(account_id)]


def _pay(runtime: Runtime, amount: str, payment_id: str, key: str) -> Outcome:
    return run(runtime.app, payment(amount, payment_id, date(2026, 1, 10)), key=key)


SAVE_FAILURES = [
    pytest.param(OperationalError("server closed the connection unexpectedly"), id="connection"),
    pytest.param(InterfaceError("the connection is closed"), id="interface"),
    pytest.param(InternalError("cannot execute INSERT in a read-only transaction"), id="read-only"),
    pytest.param(OperationalError("canceling statement due to statement timeout"), id="timeout"),
    pytest.param(
        OperationalError("could not serialize access due to concurrent update"), id="serialization"
    ),
]


@pytest.mark.parametrize("failure", SAVE_FAILURES)
def test_a_save_that_fails_leaves_no_phantom_in_the_next_answer(
    runtime: Runtime, failure: Exception
) -> None:
    open_charge_and_pay(runtime.app)  # balance 16.50, version 3
    with saves_fail(runtime, failure), pytest.raises(type(failure)):
        _pay(runtime, "3.00", "pay-2", "K1")

    second = _pay(runtime, "2.00", "pay-3", "K2")

    assert second.body["balance"] == "14.50"
    assert second.body["version"] == 4
    # The first payment was never stored: its retry records it now, it is no duplicate.
    retried = _pay(runtime, "3.00", "pay-2", "K1")
    assert not retried.replayed
    assert retried.body["balance"] == "11.50"
    assert _versions(runtime) == [1, 2, 3, 4, 5]
    runtime.close()
    restarted = bootstrap(runtime.settings)
    try:
        assert restarted.app.get_account("acme", "A-100").balance == Money("11.50", "USD")
    finally:
        restarted.close()


def test_a_save_whose_answer_is_lost_is_answered_by_its_retry_and_stored_once(
    runtime: Runtime,
) -> None:
    open_charge_and_pay(runtime.app)
    lost = OperationalError("connection lost")
    with saves_fail(runtime, lost, after_writing=True), pytest.raises(OperationalError):
        _pay(runtime, "3.00", "pay-2", "K1")

    retried = _pay(runtime, "3.00", "pay-2", "K1")
    after = _pay(runtime, "2.00", "pay-3", "K2")

    assert retried.replayed
    assert retried.body["balance"] == "13.50"
    assert after.body["balance"] == "11.50"
    assert _versions(runtime) == [1, 2, 3, 4, 5]


def test_a_payment_never_stored_is_not_a_duplicate_of_itself(runtime: Runtime) -> None:
    open_charge_and_pay(runtime.app)
    with saves_fail(runtime, InternalError("read-only")), pytest.raises(InternalError):
        _pay(runtime, "3.00", "pay-2", "K1")

    # Without the key: the domain must not think pay-2 was received.
    stored = run(runtime.app, payment("3.00", "pay-2", date(2026, 1, 10)))
    assert stored.body["balance"] == "13.50"
    with pytest.raises(DuplicatePayment):
        run(runtime.app, payment("3.00", "pay-2", date(2026, 1, 10)))


def test_the_store_refuses_a_version_gap(runtime: Runtime) -> None:
    open_charge_and_pay(runtime.app)
    state = next(iter(runtime.app.recorder.select_events(ACME, desc=True, limit=1)))

    gap = StoredEvent(
        originator_id=ACME, originator_version=5, topic=state.topic, state=state.state
    )
    with pytest.raises(IntegrityError):
        runtime.app.recorder.insert_events([gap])

    assert _versions(runtime) == [1, 2, 3]
    assert run(runtime.app, payment("1.00", "pay-2")).body["version"] == 4


def test_a_command_that_fails_unexpectedly_fails_alone_and_its_batch_is_stored_with_its_keys(
    runtime: Runtime,
) -> None:
    app = runtime.app
    open_charge_and_pay(app)
    for n in range(5):
        app.open_account(
            tenant_id="acme",
            account_number=f"B-{n}",
            name=f"Other {n}",
            currency="USD",
            opened_on=date(2026, 1, 1),
            meta=CLERK,
        )

    def submit_all() -> list[Future[Outcome]]:
        futures = [submit_charge(runtime, "A-100", "a-before")]
        futures += [submit_charge(runtime, f"B-{n}", f"b-{n}") for n in range(5)]
        futures.append(
            app.committer.submit(
                Command(account_id=ACME, apply=pay_then_break, respond=account_summary)
            )
        )
        futures += [submit_charge(runtime, "A-100", "a-after")]
        futures += [submit_charge(runtime, f"B-{n}", f"b2-{n}") for n in range(5)]
        return futures

    results = one_batch(runtime, submit_all)

    broken = results[6]
    assert isinstance(broken, OverflowError)
    others = results[:6] + results[7:]
    assert all(isinstance(r, Outcome) for r in others), others
    # The account's other commands keep the order they were sent in.
    assert [results[0].body["version"], results[7].body["version"]] == [4, 5]
    account = app.get_account("acme", "A-100")
    assert account.balance == Money("36.50", "USD")  # 16.50 + two charges of 10.00
    assert _versions(runtime) == [1, 2, 3, 4, 5]
    for n in range(5):
        assert _versions(runtime, Account.id_for("acme", f"B-{n}")) == [1, 2, 3]
    keys = {
        row["idempotency_key"]
        for row in runtime.db.query("SELECT idempotency_key FROM idempotency_keys")
    }
    assert keys == {"a-before", "a-after"} | {f"b-{n}" for n in range(5)} | {
        f"b2-{n}" for n in range(5)
    }
    # Every retry is answered from its key, never refused as a duplicate.
    again = submit_charge(runtime, "B-0", "b-0").result(10)
    assert again.replayed


def test_a_batch_that_cannot_be_saved_answers_every_command_and_keeps_nothing(
    runtime: Runtime,
) -> None:
    app = runtime.app
    open_charge_and_pay(app)
    app.open_account(
        tenant_id="acme",
        account_number="B-0",
        name="Other",
        currency="USD",
        opened_on=date(2026, 1, 1),
        meta=CLERK,
    )

    with saves_fail(runtime, OperationalError("connection lost"), times=1):
        results = one_batch(
            runtime,
            lambda: [submit_charge(runtime, "A-100", "a-1"), submit_charge(runtime, "B-0", "b-1")],
        )
    assert all(isinstance(r, OperationalError) for r in results), results

    after = [
        submit_charge(runtime, "A-100", "a-2").result(10),
        submit_charge(runtime, "B-0", "b-2").result(10),
    ]
    assert [a.body["version"] for a in after] == [4, 2]
    assert [a.body["balance"] for a in after] == ["26.50", "10.00"]
    retried = submit_charge(runtime, "A-100", "a-1").result(10)
    assert not retried.replayed
    assert retried.body["balance"] == "36.50"
    assert _versions(runtime) == [1, 2, 3, 4, 5]


def test_a_save_lost_to_a_stale_prepared_statement_is_redone_not_answered_500(
    runtime: Runtime,
) -> None:
    # psycopg can believe a statement is prepared on a connection when an earlier pipeline
    # failed before the server parsed it; the next insert then fails once, having written
    # nothing. The committer redoes it instead of answering the driver's error.
    open_charge_and_pay(runtime.app)
    stale = ProgrammingError('prepared statement "_pg3_42" does not exist')
    stale.__cause__ = psycopg.errors.InvalidSqlStatementName(
        'prepared statement "_pg3_42" does not exist'
    )
    with saves_fail(runtime, stale, times=1):
        answer = _pay(runtime, "3.00", "pay-2", "K1")

    assert answer.body["balance"] == "13.50"
    assert _versions(runtime) == [1, 2, 3, 4]


def test_a_save_lost_to_a_pipeline_aborted_before_it_is_redone_not_answered_500(
    runtime: Runtime,
) -> None:
    # An earlier failure inside psycopg's pipeline on the same connection makes the server
    # skip the next statements until a sync: the next insert fails once, having written
    # nothing (found by the fault simulation under load). The committer redoes it.
    open_charge_and_pay(runtime.app)
    aborted = OperationalError("pipeline aborted")
    aborted.__cause__ = psycopg.errors.PipelineAborted("pipeline aborted")
    with saves_fail(runtime, aborted, times=1):
        answer = _pay(runtime, "3.00", "pay-2", "K1")

    assert answer.body["balance"] == "13.50"
    assert _versions(runtime) == [1, 2, 3, 4]
