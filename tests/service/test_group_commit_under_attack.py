"""The group committer under attack: the faults an adversary (or a bad day) can arrange.

Each test either exposes a way the committer loses, hides or invents an answer, or pins a
guarantee it must keep: a failure stays with its command, every caller hears exactly one
answer, a key is honoured once, and the store never holds a version gap.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError, OperationalError, StoredEvent

from domain.account import Account
from domain.errors import DuplicatePayment
from domain.money import Money
from services.bootstrap import Runtime, bootstrap
from services.commands import PostCharge, ReceivePayment, VoidCharge
from services.errors import ConcurrentUpdate, IdempotencyKeyReused
from services.group_commit import Command, Outcome
from services.settings import Settings
from services.views import account_summary
from tests.store_faults import (
    hold_writer,
    one_batch,
    outcome_or_error,
    pay_then_break,
    saves_fail,
    submit_charge,
)
from tests.support import CLERK, charge, open_charge_and_pay, payment, run

ACME = Account.id_for("acme", "A-100")


# --- helpers ------------------------------------------------------------------------------


def _versions(runtime: Runtime, account_id: UUID = ACME) -> list[int]:
    return [e.originator_version for e in runtime.app.events.get(account_id)]


def _keys(runtime: Runtime) -> list[str]:
    return sorted(
        r["idempotency_key"]
        for r in runtime.db.query("SELECT idempotency_key FROM idempotency_keys")
    )


def _open(runtime: Runtime, number: str) -> None:
    runtime.app.open_account(
        tenant_id="acme",
        account_number=number,
        name=f"Other {number}",
        currency="USD",
        opened_on=date(2026, 1, 1),
        meta=CLERK,
    )


def _pay(runtime: Runtime, number: str, payment_id: str, key: str | None) -> Future[Outcome]:
    return runtime.app.submit(
        tenant_id="acme",
        account_number=number,
        command=ReceivePayment(
            payment_id=payment_id,
            amount=Decimal("3.00"),
            method="cash",
            reference=f"receipt {payment_id}",
            received_on=date(2026, 1, 10),
        ),
        meta=CLERK,
        idempotency_key=key,
    )


# --- callers that stop waiting, and faults that are not Exceptions ------------------------


def test_a_caller_that_stops_waiting_costs_the_rest_of_its_batch_nothing(
    runtime: Runtime,
) -> None:
    """The HTTP endpoint awaits ``asyncio.wrap_future(future)``: a request cancelled while it
    waits (client gone, timeout) cancels the concurrent future. The writer must still answer
    every other command of the batch with its own outcome."""
    open_charge_and_pay(runtime.app)

    def submit_all() -> list[Future[Outcome]]:
        futures = [submit_charge(runtime, "A-100", f"a-{n}") for n in range(4)]
        assert futures[1].cancel()  # the caller of the second command went away
        return futures

    results = one_batch(runtime, submit_all)

    others = [results[0], *results[2:]]
    assert all(isinstance(r, Outcome) for r in others), results
    # Whatever the writer answered is what the store holds: one version per stored command.
    stored_keys = _keys(runtime)
    assert {"a-0", "a-2", "a-3"} <= set(stored_keys)
    assert _versions(runtime) == list(range(1, 4 + len(stored_keys)))


class _NotAnException(BaseException):
    """What a library may raise that is no Exception (SystemExit, GeneratorExit, ...)."""


def test_the_writer_outlives_a_command_that_raises_a_base_exception(
    sqlite_runtime: Runtime,
) -> None:
    runtime = sqlite_runtime
    open_charge_and_pay(runtime.app)

    def escape(account: Account | None) -> Account:
        raise _NotAnException

    failed = runtime.app.committer.submit(
        Command(account_id=ACME, apply=escape, respond=account_summary)
    )
    assert isinstance(outcome_or_error(failed, 10), _NotAnException)

    # Every later caller must still be answered (app.execute waits with no timeout at all).
    later = outcome_or_error(submit_charge(runtime, "A-100", "after"), 10)
    assert isinstance(later, Outcome), later


def test_a_command_sent_while_the_committer_closes_is_answered(sqlite_runtime: Runtime) -> None:
    """A request that arrives during shutdown must hear an answer (or an error), not wait for
    ever behind the writer's stop."""
    runtime = sqlite_runtime
    open_charge_and_pay(runtime.app)
    committer = runtime.app.committer
    release = hold_writer(runtime)
    closing = threading.Thread(target=committer.close)
    closing.start()
    deadline = time.monotonic() + 10
    while committer._queue.empty() and time.monotonic() < deadline:
        time.sleep(0.001)
    late = submit_charge(runtime, "A-100", "late")
    release()
    closing.join(10)

    answer = outcome_or_error(late, 5)
    assert not isinstance(answer, TimeoutError), "the caller waits for ever"


# --- refusals decided on state that is not the store's ------------------------------------


def test_a_refusal_never_counts_an_event_whose_save_failed(runtime: Runtime) -> None:
    """Two requests for payment pay-2 in one batch: the second is refused as a duplicate of the
    first. When the batch cannot be saved, pay-2 is not on file: telling the second caller
    "duplicate payment" (a final 4xx) answers from a payment that was never stored."""
    open_charge_and_pay(runtime.app)

    with saves_fail(runtime, OperationalError("connection lost")):
        first, second = one_batch(
            runtime,
            lambda: [_pay(runtime, "A-100", "pay-2", "K1"), _pay(runtime, "A-100", "pay-2", "K2")],
        )

    assert isinstance(first, OperationalError)
    assert _versions(runtime) == [1, 2, 3]  # pay-2 is not on file
    assert not isinstance(second, DuplicatePayment), (
        "refused as a duplicate of a payment that was never stored"
    )


def test_a_command_refused_by_the_store_at_every_try_is_answered_with_what_was_refused(
    runtime: Runtime,
) -> None:
    """A save the store refuses every time (here a version gap) ends, after the writer's
    tries, in a 409 that says what was refused, and nothing of the command is stored."""
    open_charge_and_pay(runtime.app)
    refused = IntegrityError("version gap: version 5 follows no version 4")

    with saves_fail(runtime, refused, times=1_000) as failed:
        answer = outcome_or_error(_pay(runtime, "A-100", "pay-2", "K-gap"))

    assert isinstance(answer, ConcurrentUpdate)
    assert answer.__cause__ is refused
    assert len(failed) >= runtime.app.committer.retries  # redone on a fresh account each time
    assert _versions(runtime) == [1, 2, 3]
    assert "K-gap" not in _keys(runtime)


def test_a_refusal_is_checked_against_what_another_instance_stored(runtime: Runtime) -> None:
    """Two processes on one store (two API instances, or the CLI beside the API): the other
    one posts charge ch-9; voiding ch-9 here must not be refused from a stale cached copy."""
    open_charge_and_pay(runtime.app)  # this process now caches the account at version 3
    other = bootstrap(runtime.settings)
    try:
        run(other.app, charge("ch-9"))
    finally:
        other.close()

    void = VoidCharge(charge_id="ch-9", effective_on=date(2026, 1, 5))
    answers = [
        outcome_or_error(
            runtime.app.submit(tenant_id="acme", account_number="A-100", command=void, meta=CLERK)
        )
        for _ in range(2)
    ]

    assert isinstance(answers[0], Outcome), answers
    assert answers[0].body["version"] == 5


# --- idempotency keys ---------------------------------------------------------------------


def test_a_key_belongs_to_the_request_sent_first_even_when_that_one_is_redone(
    runtime: Runtime,
) -> None:
    """The client sends request R1 with key K, then (by mistake) R2 with the same key K. R1's
    account is distrusted in the batch, so R1 is redone after the batch; R2 must not steal K."""
    open_charge_and_pay(runtime.app)
    _open(runtime, "B-0")

    def submit_all() -> list[Future[Outcome]]:
        return [
            runtime.app.committer.submit(
                Command(account_id=ACME, apply=pay_then_break, respond=account_summary)
            ),
            submit_charge(runtime, "A-100", "K", charge_id="ch-r1"),
            submit_charge(runtime, "B-0", "K", charge_id="ch-r2"),
        ]

    _, first, second = one_batch(runtime, submit_all)

    assert isinstance(first, Outcome), first
    assert isinstance(second, IdempotencyKeyReused), second


def test_a_follower_of_a_redone_twin_gets_its_answer_and_the_key_is_stored_once(
    runtime: Runtime,
) -> None:
    open_charge_and_pay(runtime.app)

    def submit_all() -> list[Future[Outcome]]:
        return [
            submit_charge(runtime, "A-100", "K"),
            runtime.app.committer.submit(
                Command(account_id=ACME, apply=pay_then_break, respond=account_summary)
            ),
            submit_charge(runtime, "A-100", "K"),  # the same request again: follows its twin
            submit_charge(runtime, "A-100", "K", charge_id="other"),  # another request, same key
            submit_charge(runtime, "A-100", "L"),
        ]

    twin, broken, follower, reused, later = one_batch(runtime, submit_all)

    assert isinstance(broken, OverflowError)
    assert isinstance(twin, Outcome)
    assert not twin.replayed
    assert isinstance(follower, Outcome)
    assert follower.replayed
    assert follower.body == twin.body
    assert isinstance(reused, IdempotencyKeyReused)
    assert isinstance(later, Outcome)
    assert [twin.body["version"], later.body["version"]] == [4, 5]
    assert _keys(runtime) == ["K", "L"]
    assert _versions(runtime) == [1, 2, 3, 4, 5]


def test_a_batch_whose_answer_was_lost_is_answered_by_retries_and_stored_once(
    runtime: Runtime,
) -> None:
    open_charge_and_pay(runtime.app)
    _open(runtime, "B-0")
    b0 = Account.id_for("acme", "B-0")

    with saves_fail(runtime, OperationalError("connection lost"), after_writing=True):
        results = one_batch(
            runtime,
            lambda: [
                submit_charge(runtime, "A-100", "a-1"),
                submit_charge(runtime, "A-100", "a-2"),
                submit_charge(runtime, "B-0", "b-1"),
            ],
        )
    assert all(isinstance(r, OperationalError) for r in results), results

    # The retries, in one batch again, and then new work on the same accounts.
    retried = one_batch(
        runtime,
        lambda: [
            submit_charge(runtime, "A-100", "a-1"),
            submit_charge(runtime, "A-100", "a-2"),
            submit_charge(runtime, "B-0", "b-1"),
            submit_charge(runtime, "A-100", "a-3"),
        ],
    )
    assert all(isinstance(r, Outcome) for r in retried), retried
    assert [r.replayed for r in retried] == [True, True, True, False]
    assert [r.body["version"] for r in retried] == [4, 5, 2, 6]
    assert retried[3].body["balance"] == "46.50"
    assert _versions(runtime) == [1, 2, 3, 4, 5, 6]
    assert _versions(runtime, b0) == [1, 2]


def test_when_keys_cannot_be_looked_up_a_keyed_refusal_hears_the_store_error(
    runtime: Runtime,
) -> None:
    """A retry of a stored request is refused by the domain (pay-1 is on file) and then
    looked up by key; with the lookup failing, it must not be told "duplicate" (its original
    answer was a success), an unkeyed duplicate is still refused, and the writer carries on."""
    open_charge_and_pay(runtime.app)
    original = _pay(runtime, "A-100", "pay-2", "K1").result(10)
    db = runtime.app.committer.db
    real = db.query

    def query(statement: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        if "idempotency_keys" in statement:
            raise OperationalError("server closed the connection unexpectedly")
        return real(statement, params)

    db.query = query  # type: ignore[method-assign]
    try:
        keyed, unkeyed = one_batch(
            runtime,
            lambda: [_pay(runtime, "A-100", "pay-2", "K1"), _pay(runtime, "A-100", "pay-2", None)],
        )
    finally:
        db.query = real  # type: ignore[method-assign]

    assert isinstance(keyed, OperationalError)
    assert isinstance(unkeyed, DuplicatePayment)
    again = _pay(runtime, "A-100", "pay-2", "K1").result(10)
    assert again.replayed
    assert again.body == original.body
    assert _versions(runtime) == [1, 2, 3, 4]


def test_a_snapshot_that_cannot_be_stored_costs_no_answer(runtime: Runtime) -> None:
    open_charge_and_pay(runtime.app)
    runtime.app.committer.snapshot_interval = 2
    snapshots = runtime.app.snapshots
    assert snapshots is not None
    real = snapshots.put

    def put(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("snapshot store away")

    snapshots.put = put  # type: ignore[method-assign]
    try:
        answers = [submit_charge(runtime, "A-100", f"s-{n}").result(10) for n in range(3)]
    finally:
        snapshots.put = real  # type: ignore[method-assign]
    assert [a.body["version"] for a in answers] == [4, 5, 6]
    assert submit_charge(runtime, "A-100", "s-3").result(10).body["balance"] == "56.50"
    assert _versions(runtime) == [1, 2, 3, 4, 5, 6, 7]
    # With the snapshot store back, snapshots are stored (the gap trigger is not on them).
    submit_charge(runtime, "A-100", "s-4").result(
        10
    )  # version 8: a snapshot, taken after the answer
    submit_charge(runtime, "A-100", "s-5").result(10)  # answered once the writer is past it
    assert [s.originator_version for s in snapshots.get(ACME)] == [8]
    runtime.app.committer._cache.clear()  # replay from the snapshot
    assert submit_charge(runtime, "A-100", "s-6").result(10).body["balance"] == "86.50"


# --- the version-gap trigger --------------------------------------------------------------


def test_a_new_account_and_several_versions_of_others_are_stored_in_one_save(
    runtime: Runtime,
) -> None:
    """One batch: a brand-new account (version 1) and its next versions, and several new
    versions of an existing account: a multi-row insert the gap trigger must let through."""
    open_charge_and_pay(runtime.app)
    new = Account.id_for("acme", "N-1")

    def submit_all() -> list[Future[Outcome]]:
        futures = [
            runtime.app.submit_open_account(
                tenant_id="acme",
                account_number="N-1",
                name="New",
                currency="USD",
                opened_on=date(2026, 1, 1),
                meta=CLERK,
                idempotency_key="open-n1",
            )
        ]
        for n in range(3):
            futures.append(submit_charge(runtime, "N-1", f"n-{n}"))
            futures.append(submit_charge(runtime, "A-100", f"a-{n}"))
        return futures

    results = one_batch(runtime, submit_all)

    assert all(isinstance(r, Outcome) for r in results), results
    assert runtime.app.committer.batches >= 1
    assert _versions(runtime, new) == [1, 2, 3, 4]
    assert _versions(runtime) == [1, 2, 3, 4, 5, 6]


def test_the_gap_trigger_judges_each_row_of_one_insert(runtime: Runtime) -> None:
    recorder = runtime.app.recorder
    open_charge_and_pay(runtime.app)
    template = next(iter(recorder.select_events(ACME, desc=True, limit=1)))
    new = uuid4()

    def event(originator: UUID, version: int) -> StoredEvent:
        return StoredEvent(
            originator_id=originator,
            originator_version=version,
            topic=template.topic,
            state=template.state,
        )

    # Versions 1..3 of a new originator and 4..5 of an old one, in one insert: all stored.
    recorder.insert_events([event(new, 1), event(new, 2), event(new, 3), event(ACME, 4)])
    # A gap anywhere in one insert refuses the whole insert.
    with pytest.raises(IntegrityError):
        recorder.insert_events([event(ACME, 5), event(ACME, 7)])
    other = uuid4()
    with pytest.raises(IntegrityError):
        recorder.insert_events([event(other, 2)])
    assert [e.originator_version for e in recorder.select_events(new)] == [1, 2, 3]
    assert [e.originator_version for e in recorder.select_events(ACME)] == [1, 2, 3, 4]
    assert list(recorder.select_events(other)) == []


def _drop_gap_trigger(runtime: Runtime) -> None:
    """Make the store what it was before the trigger existed."""
    table = runtime.app.recorder.events_table_name  # type: ignore[attr-defined]
    trigger = f"{table}_no_version_gap"
    if runtime.settings.uses_postgres:
        runtime.db.execute(f'DROP TRIGGER "{trigger}" ON "{table}"')
        runtime.db.execute(f'DROP FUNCTION "{trigger}"()')
    else:
        runtime.db.execute(f"DROP TRIGGER {trigger}")


def test_a_database_made_before_the_trigger_gets_it_when_the_service_starts(
    runtime: Runtime,
) -> None:
    open_charge_and_pay(runtime.app)
    template = next(iter(runtime.app.recorder.select_events(ACME, desc=True, limit=1)))

    def gap() -> list[StoredEvent]:  # version 2 of an originator that has no version 1
        return [StoredEvent(uuid4(), 2, template.topic, template.state)]

    _drop_gap_trigger(runtime)
    runtime.app.recorder.insert_events(gap())  # the old store: a gap goes in unnoticed
    runtime.close()

    restarted = bootstrap(runtime.settings)
    try:
        with pytest.raises(IntegrityError):
            restarted.app.recorder.insert_events(gap())
        assert run(restarted.app, payment("1.00", "pay-2")).body["version"] == 4
    finally:
        restarted.close()


def _start_together(settings: Settings, processes: int) -> list[Any]:
    """``processes`` services starting on one database at the same moment."""
    barrier = threading.Barrier(processes)
    outcomes: list[Any] = [None] * processes

    def start(n: int) -> None:
        barrier.wait(10)
        try:
            outcomes[n] = bootstrap(settings)
        except BaseException as error:
            outcomes[n] = error

    threads = [threading.Thread(target=start, args=(n,)) for n in range(processes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for outcome in outcomes:
        if isinstance(outcome, Runtime):
            outcome.close()
    return outcomes


def test_services_starting_together_on_an_existing_database_all_start(
    postgres_runtime: Runtime,
) -> None:
    open_charge_and_pay(postgres_runtime.app)
    for _ in range(3):
        outcomes = _start_together(postgres_runtime.settings, 4)
        assert all(isinstance(o, Runtime) for o in outcomes), outcomes
    template = next(iter(postgres_runtime.app.recorder.select_events(ACME, desc=True, limit=1)))
    gap = StoredEvent(
        originator_id=ACME, originator_version=9, topic=template.topic, state=template.state
    )
    with pytest.raises(IntegrityError):
        postgres_runtime.app.recorder.insert_events([gap])


def test_services_starting_together_on_a_new_database_all_start(
    postgres_settings: Settings,
) -> None:
    outcomes = _start_together(postgres_settings, 4)
    assert all(isinstance(o, Runtime) for o in outcomes), outcomes


# --- two committers on one account --------------------------------------------------------


def test_two_instances_charging_one_account_at_once_lose_nothing_and_leave_no_gap(
    postgres_runtime: Runtime,
) -> None:
    runtime = postgres_runtime
    open_charge_and_pay(runtime.app)
    other = bootstrap(runtime.settings)
    try:
        futures: list[Future[Outcome]] = []
        for n in range(60):
            app_runtime = runtime if n % 2 else other
            futures.append(submit_charge(app_runtime, "A-100", f"c-{n}"))
        answers = [outcome_or_error(f, 60) for f in futures]
    finally:
        other.close()
    assert all(isinstance(a, Outcome) for a in answers), [
        a for a in answers if not isinstance(a, Outcome)
    ]
    assert sorted(a.body["version"] for a in answers) == list(range(4, 64))
    assert _versions(runtime) == list(range(1, 64))
    assert runtime.app.get_account("acme", "A-100").balance == Money("616.50", "USD")
    assert len(_keys(runtime)) == 60


def test_one_key_sent_to_two_instances_at_once_is_stored_once_and_answered_alike(
    postgres_runtime: Runtime,
) -> None:
    """A client retries on another instance while the first still holds the request: both
    batches apply it, one transaction wins, the other hears the winner's answer."""
    runtime = postgres_runtime
    open_charge_and_pay(runtime.app)
    _open(runtime, "B-0")
    other = bootstrap(runtime.settings)
    try:
        releases = [hold_writer(runtime), hold_writer(other)]
        futures = [
            submit_charge(runtime, "A-100", "K1"),
            submit_charge(runtime, "A-100", "K2"),
            submit_charge(other, "A-100", "K1"),
            submit_charge(other, "A-100", "K2"),
            submit_charge(other, "B-0", "K3"),
            submit_charge(runtime, "B-0", "K3"),
        ]
        for release in releases:
            release()
        answers = [outcome_or_error(f, 30) for f in futures]
    finally:
        other.close()
    assert all(isinstance(a, Outcome) for a in answers), answers
    for mine, theirs in [(0, 2), (1, 3), (4, 5)]:
        assert answers[mine].body == answers[theirs].body
        assert sorted([answers[mine].replayed, answers[theirs].replayed]) == [False, True]
    assert _versions(runtime) == [1, 2, 3, 4, 5]
    assert _versions(runtime, Account.id_for("acme", "B-0")) == [1, 2]
    assert _keys(runtime) == ["K1", "K2", "K3"]


def test_a_request_stored_by_another_instance_while_it_is_redone_gets_the_original_answer(
    runtime: Runtime,
) -> None:
    """The redo after a conflict looks the key up, then loads the account. If another instance
    stores the same request (the client's retry) in between, the account already holds its
    charge: the domain refuses it as a duplicate, and that refusal must not be the answer —
    the key is on file, so the answer is the original one (as ``_refuse`` does in a batch)."""
    open_charge_and_pay(runtime.app)  # cached here at version 3
    other = bootstrap(runtime.settings)
    try:
        run(other.app, charge("ch-x"))  # so this instance's next save conflicts
        committer = runtime.app.committer
        real = committer._recorded_keys
        raced: list[Outcome] = []

        def recorded_keys(batch: list[Command]) -> dict[tuple[str, str], dict[str, Any]]:
            found = real(batch)
            if not raced:  # the client's retry lands on the other instance just now
                raced.append(submit_charge(other, "A-100", "K").result(10))
            return found

        committer._recorded_keys = recorded_keys  # type: ignore[method-assign]
        answer = outcome_or_error(submit_charge(runtime, "A-100", "K"))
    finally:
        other.close()

    assert raced
    assert isinstance(answer, Outcome), answer
    assert answer.body == raced[0].body
    assert _versions(runtime) == [1, 2, 3, 4, 5]


def test_a_fault_in_respond_on_an_account_opened_in_the_same_batch_leaves_no_trace(
    runtime: Runtime,
) -> None:
    """N-1 is opened and charged in one batch; between them a command's ``respond`` fails on
    the new account: the opening and the charge are redone on a fresh (absent) account, in
    order, and the failed command leaves nothing."""
    open_charge_and_pay(runtime.app)
    new = Account.id_for("acme", "N-1")

    def charge_new(account: Account | None) -> Account:
        assert account is not None
        account.post_charge(
            charge_id="ch-broken",
            code="VISIT",
            description="Office visit",
            quantity=Decimal(1),
            unit_price=Money("99.00", "USD"),
            tax=Money("0.00", "USD"),
            service_date=date(2026, 1, 4),
            effective_on=date(2026, 1, 4),
            meta=CLERK,
        )
        return account

    def broken_respond(account: Account, recorded: Sequence[Any]) -> dict[str, Any]:
        raise ValueError("cannot describe the account")

    def submit_all() -> list[Future[Outcome]]:
        return [
            runtime.app.submit_open_account(
                tenant_id="acme",
                account_number="N-1",
                name="New",
                currency="USD",
                opened_on=date(2026, 1, 1),
                meta=CLERK,
                idempotency_key="open-n1",
            ),
            runtime.app.committer.submit(
                Command(account_id=new, apply=charge_new, respond=broken_respond)
            ),
            submit_charge(runtime, "N-1", "n-1"),
            submit_charge(runtime, "A-100", "a-1"),
        ]

    opened, broken, charged, other = one_batch(runtime, submit_all)

    assert isinstance(broken, ValueError)
    assert isinstance(opened, Outcome), opened
    assert isinstance(charged, Outcome), charged
    assert isinstance(other, Outcome), other
    assert [opened.body["version"], charged.body["version"]] == [1, 2]
    assert charged.body["balance"] == "10.00"
    assert _versions(runtime, new) == [1, 2]
    assert runtime.app.get_account("acme", "N-1").balance == Money("10.00", "USD")
    assert _keys(runtime) == ["a-1", "n-1", "open-n1"]


def test_an_account_that_cannot_be_loaded_fails_its_command_alone(runtime: Runtime) -> None:
    open_charge_and_pay(runtime.app)
    _open(runtime, "B-0")
    runtime.app.committer._cache.clear()
    repository = runtime.app.repository
    real = repository.get
    failures: list[UUID] = []

    def get(aggregate_id: UUID, *args: Any, **kwargs: Any) -> Any:
        if aggregate_id == ACME and not failures:
            failures.append(aggregate_id)
            raise OperationalError("server closed the connection unexpectedly")
        return real(aggregate_id, *args, **kwargs)

    def select_histories(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("server closed the connection unexpectedly")

    # The batch's accounts are read together first; that fails, and each is loaded alone.
    recorder: Any = runtime.app.recorder
    repository.get = get  # type: ignore[method-assign]
    recorder.select_histories = select_histories
    try:
        results = one_batch(
            runtime,
            lambda: [
                submit_charge(runtime, "A-100", "a-1"),
                submit_charge(runtime, "B-0", "b-1"),
                submit_charge(runtime, "A-100", "a-2"),
            ],
        )
    finally:
        repository.get = real  # type: ignore[method-assign]
        del recorder.select_histories

    assert isinstance(results[0], OperationalError)
    assert [r.body["version"] for r in results[1:]] == [2, 4]
    retried = submit_charge(runtime, "A-100", "a-1").result(10)
    assert not retried.replayed
    assert retried.body["version"] == 5
    assert _versions(runtime) == [1, 2, 3, 4, 5]


def test_a_retry_batched_behind_a_misuse_of_its_key_is_still_replayed(runtime: Runtime) -> None:
    # Found by the soak (seed 1072): a request stored with key K; later, in one batch, the
    # same key with another body (a misuse) and then a verbatim retry of the stored request.
    # The misuse is refused; the retry gets the original answer, not the misuse's refusal.
    open_charge_and_pay(runtime.app)
    first = submit_charge(runtime, "A-100", "K", "ch-8").result(10)

    def misuse_then_retry() -> list[Future[Outcome]]:
        changed = runtime.app.submit(
            tenant_id="acme",
            account_number="A-100",
            command=PostCharge(
                charge_id="ch-8",
                code="VISIT",
                description="changed",
                quantity=Decimal(1),
                unit_price=Decimal("10.00"),
                service_date=date(2026, 1, 4),
            ),
            meta=CLERK,
            idempotency_key="K",
        )
        return [changed, submit_charge(runtime, "A-100", "K", "ch-8")]

    misuse, retry = one_batch(runtime, misuse_then_retry)

    assert isinstance(misuse, IdempotencyKeyReused)
    assert isinstance(retry, Outcome)
    assert retry.replayed
    assert retry.body == first.body
    assert _versions(runtime) == [1, 2, 3, 4]
