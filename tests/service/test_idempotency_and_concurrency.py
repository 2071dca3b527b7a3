"""Idempotency keys and concurrent writers, on embedded SQLite and on the real PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal

import pytest

from domain.money import Money
from services.bootstrap import Runtime, bootstrap
from services.commands import ApplyCredit, IssueInvoice
from services.errors import IdempotencyKeyReused
from services.group_commit import Outcome
from tests.support import open_charge_and_pay, payment, run


def _pay(
    runtime: Runtime, amount: str, key: str | None, payment_id: str, account_number: str = "A-100"
) -> Outcome:
    return run(runtime.app, payment(amount, payment_id, date(2026, 1, 10)), account_number, key=key)


def test_a_retry_with_the_same_key_returns_the_first_answer_and_records_nothing(
    runtime: Runtime,
) -> None:
    open_charge_and_pay(runtime.app)
    first = _pay(runtime, "3.00", "key-1", "pay-2")
    head = runtime.app.recorder.max_notification_id()

    again = _pay(runtime, "3.00", "key-1", "pay-2")

    assert again.replayed
    assert not first.replayed
    assert again.body == first.body
    assert runtime.app.recorder.max_notification_id() == head
    assert runtime.app.get_account("acme", "A-100").balance == Money("13.50", "USD")


def test_the_same_key_with_a_different_body_is_refused(runtime: Runtime) -> None:
    open_charge_and_pay(runtime.app)
    _pay(runtime, "3.00", "key-1", "pay-2")

    with pytest.raises(IdempotencyKeyReused) as refused:
        _pay(runtime, "4.00", "key-1", "pay-2")
    assert refused.value.code == "idempotency_key_reused"
    assert runtime.app.get_account("acme", "A-100").balance == Money("13.50", "USD")


def test_a_key_is_remembered_across_a_restart(runtime: Runtime) -> None:
    open_charge_and_pay(runtime.app)
    first = _pay(runtime, "3.00", "key-1", "pay-2")
    runtime.close()

    restarted = bootstrap(runtime.settings)
    try:
        again = _pay(restarted, "3.00", "key-1", "pay-2")
        assert again.replayed
        assert again.body == first.body
        assert restarted.app.get_account("acme", "A-100").version == 4
    finally:
        restarted.close()


def test_a_retry_the_domain_would_accept_again_is_still_answered_from_its_key(
    runtime: Runtime,
) -> None:
    # Applying credit names no id of its own, so a retry is not refused as a duplicate: only
    # the key, on file with the first request's events, stops it being applied twice.
    open_charge_and_pay(runtime.app)
    run(runtime.app, IssueInvoice(invoice_number="INV-1", issued_on=date(2026, 1, 5)))
    apply = ApplyCredit(applied_on=date(2026, 1, 6), allocations={"INV-1": Decimal("2.00")})
    first = run(runtime.app, apply, key="apply-1")
    head = runtime.app.recorder.max_notification_id()

    again = run(runtime.app, apply, key="apply-1")

    assert again.replayed
    assert again.body == first.body
    assert runtime.app.recorder.max_notification_id() == head
    assert runtime.app.get_account("acme", "A-100").unapplied_credit == Money("3.00", "USD")


def test_a_refused_request_does_not_use_up_its_key(runtime: Runtime) -> None:
    open_charge_and_pay(runtime.app)
    with pytest.raises(Exception, match="finer than the smallest unit"):
        _pay(runtime, "3.001", "key-1", "pay-2")

    corrected = _pay(runtime, "3.00", "key-1", "pay-2")
    assert not corrected.replayed
    assert runtime.app.get_account("acme", "A-100").balance == Money("13.50", "USD")


def test_two_hundred_concurrent_payments_on_one_account_lose_nothing_and_retries_duplicate_nothing(
    runtime: Runtime,
) -> None:
    open_charge_and_pay(runtime.app)  # owes 16.50, of which 5.00 is unapplied credit

    def pay(i: int) -> Outcome:
        # Every payment is sent twice with its key, as a client retrying on a timeout would.
        first = _pay(runtime, "1.00", f"key-{i}", f"pay-c{i}")
        second = _pay(runtime, "1.00", f"key-{i}", f"pay-c{i}")
        assert second.body == first.body
        return first

    with ThreadPoolExecutor(max_workers=32) as pool:
        outcomes = list(pool.map(pay, range(200)))

    account = runtime.app.get_account("acme", "A-100")
    assert account.version == 3 + 200
    assert account.balance == Money("-183.50", "USD")
    assert sorted(o.body["version"] for o in outcomes) == list(range(4, 204))
    assert runtime.app.committer.batches < 200  # they were committed together, not one by one


def test_two_processes_writing_one_account_never_lose_an_update(postgres_runtime: Runtime) -> None:
    open_charge_and_pay(postgres_runtime.app)
    other = bootstrap(postgres_runtime.settings)  # a second API process on the same database
    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(
                pool.map(
                    lambda i: _pay(
                        postgres_runtime if i % 2 else other, "1.00", f"key-{i}", f"pay-p{i}"
                    ),
                    range(100),
                )
            )
        account = postgres_runtime.app.get_account("acme", "A-100")
        assert account.version == 103
        assert account.balance == Money("-83.50", "USD")
    finally:
        other.close()
