"""Faults arranged for the group committer's tests: saves that fail, batches held together.

``saves_fail`` wraps the application's recorder so the next saves fail the way a database does
(before anything is written, or after the commit with the answer lost); ``one_batch`` holds the
writer on a gate command while the test queues the commands it wants applied and saved as one
batch. Both act on the real recorder and the real writer thread, on SQLite or PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import uuid4

from eventsourcing.persistence import StoredEvent

from domain.account import Account
from domain.money import Money
from services.bootstrap import Runtime
from services.commands import PostCharge
from services.group_commit import Command, Outcome
from services.views import account_summary
from tests.support import CLERK


@contextmanager
def saves_fail(
    runtime: Runtime, failure: Exception, *, after_writing: bool = False, times: int = 1
) -> Iterator[list[int]]:
    """The next ``times`` saves fail with ``failure``: before anything is written (the
    database refused), or after the events are committed (the answer was lost). Yields the
    number of events each failed save carried."""
    recorder = runtime.app.recorder
    real = recorder.insert_events
    failed: list[int] = []

    def insert_events(stored_events: Sequence[StoredEvent], **kwargs: Any) -> Any:
        if len(failed) < times:
            failed.append(len(stored_events))
            if after_writing:
                real(stored_events, **kwargs)
            raise failure
        return real(stored_events, **kwargs)

    recorder.insert_events = insert_events  # type: ignore[method-assign]
    try:
        yield failed
    finally:
        recorder.insert_events = real  # type: ignore[method-assign]


def outcome_or_error(future: Future[Outcome], timeout: float = 30) -> Any:
    try:
        return future.result(timeout)
    except BaseException as error:
        return error


def hold_writer(runtime: Runtime) -> Callable[[], None]:
    """Hold the runtime's writer on a gate command (it records nothing); the function
    returned lets it go."""
    gate = threading.Event()
    held = threading.Event()

    def wait_at_the_gate(account: Account | None) -> Account:
        held.set()
        gate.wait(10)
        raise AssertionError("the gate command records nothing")

    runtime.app.committer.submit(
        Command(account_id=uuid4(), apply=wait_at_the_gate, respond=account_summary)
    )
    assert held.wait(10)
    return gate.set


def one_batch(runtime: Runtime, submit_all: Callable[[], list[Future[Outcome]]]) -> list[Any]:
    """Hold the writer while ``submit_all`` queues the rest, so that they are applied and
    saved as one batch; each future's result or error, in order."""
    release = hold_writer(runtime)
    futures = submit_all()
    release()
    return [outcome_or_error(f) for f in futures]


def submit_charge(
    runtime: Runtime, number: str, key: str | None, charge_id: str | None = None
) -> Future[Outcome]:
    """Queue a charge of 10.00 on account ``number`` of tenant acme."""
    return runtime.app.submit(
        tenant_id="acme",
        account_number=number,
        command=PostCharge(
            charge_id=charge_id or f"ch-{key}",
            code="VISIT",
            description="Office visit",
            quantity=Decimal(1),
            unit_price=Decimal("10.00"),
            service_date=date(2026, 1, 4),
        ),
        meta=CLERK,
        idempotency_key=key,
    )


def pay_then_break(account: Account | None) -> Account:
    """A fault after an event was triggered: the account is half-changed in memory."""
    assert account is not None
    account.receive_payment(
        payment_id="pay-broken",
        amount=Money("7.00", "USD"),
        method="cash",
        reference="",
        received_on=date(2026, 1, 10),
        meta=CLERK,
    )
    raise OverflowError("date value out of range")
