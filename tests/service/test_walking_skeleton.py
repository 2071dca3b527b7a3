"""The thinnest slice through the product, on embedded SQLite and on the real PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import date
from decimal import Decimal
from typing import ClassVar

import pytest

from domain.errors import DomainError
from domain.hash_chain import verify_chain
from domain.money import Money
from projections.balances import AccountBalances
from projections.database import Cursor, Database
from projections.replay import Change
from projections.runner import Projector, ReadModel
from services.bootstrap import Runtime
from services.commands import PostCharge
from services.errors import AccountAlreadyExists, AccountNotFound
from tests.support import CLERK, open_charge_and_pay, run


def test_an_account_owes_its_charges_less_its_payments(runtime: Runtime) -> None:
    account = open_charge_and_pay(runtime.app)

    reloaded = runtime.app.get_account("acme", "A-100")
    assert reloaded.balance == Money("16.50", "USD")
    assert reloaded.version == account.version == 3


def test_the_stored_events_form_an_unbroken_hash_chain(runtime: Runtime) -> None:
    account = open_charge_and_pay(runtime.app)

    events = list(runtime.app.events.get(account.id))
    assert [e.originator_version for e in events] == [1, 2, 3]
    assert verify_chain(events) == []
    assert events[1].actor == "clerk-ann"
    assert events[1].correlation_id == "test-correlation"
    assert events[1].effective_on == date(2026, 1, 2)


def test_opening_the_same_account_twice_is_refused_and_records_nothing(runtime: Runtime) -> None:
    open_charge_and_pay(runtime.app)
    head = runtime.app.recorder.max_notification_id()

    with pytest.raises(AccountAlreadyExists):
        runtime.app.open_account(
            tenant_id="acme",
            account_number="A-100",
            name="Someone Else",
            currency="USD",
            opened_on=date(2026, 2, 1),
            meta=CLERK,
        )
    assert runtime.app.recorder.max_notification_id() == head


def test_the_same_account_number_in_another_tenant_is_another_account(runtime: Runtime) -> None:
    open_charge_and_pay(runtime.app, tenant_id="acme")

    with pytest.raises(AccountNotFound):
        runtime.app.get_account("globex", "A-100")


def test_a_charge_in_the_wrong_currency_is_refused_and_records_nothing(runtime: Runtime) -> None:
    account = open_charge_and_pay(runtime.app)

    with pytest.raises(DomainError) as refused:
        run(
            runtime.app,
            PostCharge(
                charge_id="ch-eur",
                code="VISIT",
                description="x",
                unit_price=Decimal("10.00"),
                currency="EUR",
                service_date=date(2026, 1, 5),
            ),
        )
    assert refused.value.code == "currency_mismatch"
    assert runtime.app.get_account("acme", "A-100").version == account.version


def test_the_balance_projection_matches_the_aggregate_and_tracks_its_position(
    runtime: Runtime,
) -> None:
    open_charge_and_pay(runtime.app)
    projector = Projector(runtime.app, runtime.db, [AccountBalances()])

    assert projector.catch_up() == 3
    row = runtime.db.query_one(
        "SELECT * FROM account_balances WHERE account_number = ?", ("A-100",)
    )
    assert row is not None
    assert (row["charged_minor"], row["paid_minor"], row["balance_minor"]) == (2150, 500, 1650)
    assert row["last_version"] == 3
    assert projector.positions() == {"account_balances": 3}
    assert projector.lag() == {"account_balances": 0}
    assert projector.catch_up() == 0  # nothing is counted twice


class _FailsOnPayments(ReadModel):
    """A read model whose writes break when its batch has a payment, after the balances
    were written in the same transaction: a batch is all or nothing."""

    name: ClassVar[str] = "fails_on_payments"
    table_names: ClassVar[list[str]] = []
    tables: ClassVar[list[str]] = []
    saw_payment = False

    def handle(self, change: Change) -> None:
        self.saw_payment |= change.event_type == "PaymentReceived"

    def flush(self, c: Cursor, db: Database) -> None:
        if self.saw_payment:
            raise RuntimeError("projector crashed mid-batch")


def test_a_projector_that_fails_mid_batch_writes_neither_views_nor_tracking(
    runtime: Runtime,
) -> None:
    open_charge_and_pay(runtime.app)
    broken = Projector(runtime.app, runtime.db, [AccountBalances(), _FailsOnPayments()])

    with pytest.raises(RuntimeError, match="mid-batch"):
        broken.project_pending()

    assert runtime.db.query("SELECT * FROM account_balances") == []
    assert broken.positions()["account_balances"] == 0
    healthy = Projector(runtime.app, runtime.db, [AccountBalances()])
    assert healthy.catch_up() == 3
    row = runtime.db.query_one("SELECT balance_minor FROM account_balances")
    assert row == {"balance_minor": 1650}


class _FailsTwice(_FailsOnPayments):
    """Breaks on the first two batches with a payment, then works (a database blip)."""

    name: ClassVar[str] = "fails_twice"
    failures = 0

    def flush(self, c: Cursor, db: Database) -> None:
        if self.saw_payment and self.failures < 2:
            self.failures += 1
            self.saw_payment = False
            raise RuntimeError("database restarting")


def test_a_running_projector_survives_failures_and_catches_up(runtime: Runtime) -> None:
    open_charge_and_pay(runtime.app)
    model = _FailsTwice()
    projector = Projector(runtime.app, runtime.db, [AccountBalances(), model])
    stop = threading.Event()
    worker = threading.Thread(target=projector.run, args=(stop, 0.01))
    worker.start()
    deadline = time.monotonic() + 30
    while projector.positions()["account_balances"] < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    worker.join(timeout=30)
    assert model.failures == 2
    assert projector.positions()["account_balances"] == 3
    assert runtime.db.query_one("SELECT balance_minor FROM account_balances") == {
        "balance_minor": 1650
    }
