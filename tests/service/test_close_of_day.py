"""The close of day on the application, on SQLite and on PostgreSQL: it touches only the accounts
with something due, sees what was recorded a moment ago, keeps a failure with its account, runs
once per tenant at a time, and the store's other readers (projector, relay, verify) take the
tenant's own events in their stride. The scheduler closes a day at its time, once.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from domain.account import Account
from domain.tenant import DaySummary, Tenant
from projections.catalogue import read_models
from projections.parking import parked_accounts
from projections.runner import Projector
from projections.verify import verify
from services.bootstrap import Runtime
from services.close_day import CloseOfDay, close_lock
from services.errors import DayCloseRunning
from services.relay import Relay
from services.relay_lock import FileLock
from services.scheduler import CloseScheduler, day_due
from services.tenants import TenantSettings
from tests.service.test_projections import TENANT, do
from tests.support import CLERK

APRIL = datetime(2026, 4, 30, 12, 0, tzinfo=UTC)
LADDER = [(15, "reminder"), (45, "final_notice")]


def clock(moment: datetime = APRIL) -> Any:
    return lambda: moment


def owing(runtime: Runtime, number: str, due_on: str) -> None:
    runtime.app.open_account(
        tenant_id=TENANT,
        account_number=number,
        name=number,
        currency="USD",
        opened_on=date(2026, 1, 1),
        meta=CLERK,
    )
    do(
        runtime,
        "post_charge",
        {
            "charge_id": "c1",
            "code": "LAB",
            "description": "Lab",
            "unit_price": "100.00",
            "service_date": "2026-01-02",
        },
        number,
    )
    do(
        runtime,
        "issue_invoice",
        {"invoice_number": f"I-{number}", "issued_on": "2026-01-02", "due_on": due_on},
        number,
    )


def with_policy(runtime: Runtime) -> None:
    TenantSettings(runtime.app, clock()).set_dunning_policy(TENANT, LADDER, date(2026, 1, 1), CLERK)


def version(runtime: Runtime, number: str) -> int:
    return runtime.app.get_account(TENANT, number).version


def test_the_close_touches_only_the_accounts_with_something_due(runtime: Runtime) -> None:
    with_policy(runtime)
    for n in range(12):
        owing(runtime, f"A-{n}", "2026-02-01" if n < 3 else "2026-06-01")
    versions = {f"A-{n}": version(runtime, f"A-{n}") for n in range(12)}
    run = CloseOfDay(runtime, clock=clock()).close(TENANT, date(2026, 3, 1), started_by="ops")
    (day,) = run.days
    assert (day.summary.accounts_due, day.summary.dunning_escalated) == (3, 3)
    assert day.events == 3
    for number, before in versions.items():
        assert version(runtime, number) == before + (1 if number in {"A-0", "A-1", "A-2"} else 0)


def test_a_plan_agreed_a_moment_ago_is_seen_by_the_close(runtime: Runtime) -> None:
    owing(runtime, "A-1", "2026-02-01")
    closer = CloseOfDay(runtime, clock=clock())
    closer.close(TENANT, date(2026, 2, 1), started_by="ops")  # the agenda is current now
    do(
        runtime,
        "agree_payment_plan",
        {
            "plan_id": "PL-1",
            "invoice_numbers": ["I-A-1"],
            "installments": [
                {"due_on": "2026-02-01", "amount": "50.00"},
                {"due_on": "2026-03-01", "amount": "50.00"},
            ],
            "agreed_on": "2026-02-01",
            "default_after_missed": 2,
        },
        "A-1",
    )
    run = closer.close(TENANT, date(2026, 2, 2), started_by="ops")
    assert run.days[0].summary.installments_missed == 1
    events = runtime.app.history(TENANT, "A-1")
    missed = events[-1]
    assert type(missed).__name__ == "PlanInstallmentMissed"
    assert missed.correlation_id == "close-of-day:acme:2026-02-02"


def test_one_account_that_fails_does_not_stop_the_day(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_policy(runtime)
    for number in ("A-1", "A-2", "A-3"):
        owing(runtime, number, "2026-02-01")
    close_day = Account.close_day

    def failing(self: Account, **kwargs: Any) -> None:
        if self.account_number == "A-2":
            raise RuntimeError("a bug that only this account meets")
        close_day(self, **kwargs)

    monkeypatch.setattr(Account, "close_day", failing)
    run = CloseOfDay(runtime, clock=clock()).close(TENANT, date(2026, 3, 1), started_by="ops")
    summary = run.days[0].summary
    assert (summary.accounts_due, summary.accounts_failed, summary.dunning_escalated) == (3, 1, 2)
    assert [(f.account_number, f.code) for f in summary.failures] == [("A-2", "internal_error")]
    tenant = TenantSettings(runtime.app).get(TENANT)
    assert tenant is not None
    assert tenant.summary_of(date(2026, 3, 1)) == summary


def test_a_close_already_running_for_the_tenant_is_refused(runtime: Runtime) -> None:
    owing(runtime, "A-1", "2026-02-01")
    held = close_lock(runtime.settings, TENANT)
    assert held.acquire()
    try:
        with pytest.raises(DayCloseRunning):
            CloseOfDay(runtime, clock=clock()).close(TENANT, date(2026, 3, 1), started_by="ops")
    finally:
        held.release()
    assert TenantSettings(runtime.app).get(TENANT) is None  # nothing recorded


def test_two_closes_started_together_close_the_day_once(runtime: Runtime) -> None:
    with_policy(runtime)
    for n in range(6):
        owing(runtime, f"A-{n}", "2026-02-01")
    outcomes: list[Any] = []

    def close() -> None:
        try:
            outcomes.append(
                CloseOfDay(runtime, clock=clock()).close(TENANT, date(2026, 3, 1), started_by="ops")
            )
        except DayCloseRunning as refused:
            outcomes.append(refused)

    threads = [threading.Thread(target=close) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tenant = TenantSettings(runtime.app).get(TENANT)
    assert tenant is not None
    closed = [e for e in runtime.app.events.get(tenant.id) if isinstance(e, Tenant.DayClosed)]
    assert len(closed) == 1
    escalations = sum(
        1
        for n in range(6)
        for e in runtime.app.history(TENANT, f"A-{n}")
        if type(e).__name__ == "DunningEscalated"
    )
    assert escalations == 6


def test_the_projector_the_relay_and_verify_take_tenant_events_in_their_stride(
    runtime: Runtime, tmp_path: Path
) -> None:
    with_policy(runtime)
    owing(runtime, "A-1", "2026-02-01")
    CloseOfDay(runtime, clock=clock()).close(TENANT, date(2026, 3, 1), started_by="ops")
    tenant = TenantSettings(runtime.app).get(TENANT)
    assert tenant is not None
    assert tenant.version == 3  # registered, policy set, day closed

    projector = Projector(runtime.app, runtime.db, read_models())
    projector.catch_up()
    head = runtime.app.recorder.max_notification_id()
    assert set(projector.positions().values()) >= {head}
    assert projector.parked() == []
    audit = runtime.db.query("SELECT DISTINCT account_id FROM audit_trail")
    assert {row["account_id"] for row in audit} == {str(Account.id_for(TENANT, "A-1"))}

    result = verify(runtime.app, runtime.db)
    assert result.discrepancies == []
    assert result.accounts == 2  # the account's chain and the tenant's were walked

    sent: list[dict[str, Any]] = []
    relay = Relay(
        runtime,
        producer_factory=lambda: _Producer(sent),
        lock=FileLock(tmp_path / "relay-test.lock"),
    )
    relay._published = set()  # the broker holds nothing yet: no tail to read
    relay._partitions = [0, 1]
    while relay.publish_pending():
        pass
    assert relay.position() == head
    assert parked_accounts(runtime.db) == []
    keys = {record["key"] for record in sent}
    assert keys == {str(Account.id_for(TENANT, "A-1")).encode()}
    assert len(sent) == version(runtime, "A-1")
    relay.close()


def test_the_scheduler_closes_a_day_at_its_local_time_and_only_once(runtime: Runtime) -> None:
    owing(runtime, "A-1", "2026-02-01")
    settings = TenantSettings(runtime.app, clock(datetime(2026, 3, 1, 8, 0, tzinfo=UTC)))
    settings.set_dunning_policy(TENANT, LADDER, date(2026, 1, 1), CLERK)
    settings.set_close_schedule(TENANT, "18:00", "America/New_York", CLERK)
    tenant = settings.get(TENANT)
    assert tenant is not None
    # 1 March: 18:00 in New York is 23:00 UTC.
    assert day_due(tenant, datetime(2026, 3, 1, 22, 59, tzinfo=UTC)) is None
    assert day_due(tenant, datetime(2026, 3, 1, 23, 0, tzinfo=UTC)) == date(2026, 3, 1)

    now = [datetime(2026, 3, 1, 22, 0, tzinfo=UTC)]
    # Each with the scheduler's own lock: PostgreSQL's advisory lock, or the SQLite file lock.
    first = CloseScheduler(runtime, clock=lambda: now[0])
    second = CloseScheduler(runtime, clock=lambda: now[0])
    assert first.tick() == []  # 17:00 in New York: not yet
    now[0] = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    (run,) = first.tick()
    assert [day.business_date for day in run.days] == [date(2026, 3, 1)]
    assert second.tick() == []  # the other scheduler holds the lock: standing by
    first.lock.release()
    assert second.tick() == []  # holds it now; the day is closed
    now[0] = datetime(2026, 3, 4, 0, 0, tzinfo=UTC)  # 3 March 19:00 in New York
    (caught_up,) = second.tick()
    assert [day.business_date for day in caught_up.days] == [date(2026, 3, 2), date(2026, 3, 3)]
    assert all(day.closed_now for day in caught_up.days)
    second.lock.release()
    closed = settings.get(TENANT)
    assert closed is not None
    assert closed.last_closed_on == date(2026, 3, 3)
    days = [e for e in runtime.app.events.get(closed.id) if isinstance(e, Tenant.DayClosed)]
    assert [e.effective_on for e in days] == [date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)]
    assert {e.actor for e in days} == {"close-schedule"}


class _Future:
    def get(self, timeout: float | None = None) -> None:
        return None


class _Producer:
    """What the relay needs of a Kafka producer, keeping what it was sent."""

    def __init__(self, sent: list[dict[str, Any]]) -> None:
        self.sent = sent

    def partitions_for(self, topic: str) -> set[int]:
        return {0, 1}

    def send(self, topic: str, **record: Any) -> _Future:
        self.sent.append(record)
        return _Future()

    def flush(self, timeout: float | None = None) -> None:
        pass

    def close(self, timeout: float | None = None) -> None:
        pass


def test_a_scheduler_far_behind_catches_up_a_year_at_a_tick() -> None:
    tenant = Tenant.register(tenant_id=TENANT, registered_on=date(2024, 1, 1), meta=CLERK)
    tenant.set_close_schedule(at="18:00", time_zone="UTC", starts_on=date(2024, 1, 1), meta=CLERK)
    assert day_due(tenant, APRIL) == date(2026, 4, 29)  # never closed: 12:00, so yesterday
    summary = DaySummary(0, 0, 0, 0, 0, 0, 0, 0, None)
    tenant.close_day(business_date=date(2024, 1, 1), summary=summary, meta=CLERK)
    assert day_due(tenant, APRIL) == date(2025, 1, 1)  # 366 days from 2 January 2024
    assert day_due(tenant, datetime(2024, 1, 1, 19, tzinfo=UTC)) is None  # closed already


def test_verify_walks_the_tenants_hash_chain_too(runtime: Runtime) -> None:
    with_policy(runtime)
    owing(runtime, "A-1", "2026-02-01")
    CloseOfDay(runtime, clock=clock()).close(TENANT, date(2026, 3, 1), started_by="ops")
    table = runtime.app.recorder.events_table_name  # type: ignore[attr-defined]
    rows = runtime.db.query(f"SELECT state FROM {table} WHERE topic = ?", (Tenant.DayClosed.TOPIC,))
    (state,) = [bytes(row["state"]) for row in rows]
    altered = state.replace(b'"dunning_escalated":1', b'"dunning_escalated":0')
    assert altered != state
    runtime.db.execute(f"UPDATE {table} SET state = ? WHERE state = ?", (altered, state))
    result = verify(runtime.app, runtime.db)
    (chain_break,) = result.discrepancies
    assert (chain_break.table, chain_break.figure) == ("stored events", "content_altered")
    assert chain_break.account == str(Tenant.id_for(TENANT))
