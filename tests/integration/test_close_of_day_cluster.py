"""Two servers on one PostgreSQL database close a business day once; the relay publishes what
the close recorded on accounts to the real Kafka, and passes the tenant's own events by."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition

from domain.account import Account
from domain.tenant import Tenant
from services.bootstrap import Runtime, bootstrap
from services.close_day import CloseOfDay
from services.errors import DayCloseRunning
from services.event_contract import validate
from services.relay import Relay
from services.scheduler import CloseScheduler
from services.settings import Settings
from services.tenants import TenantSettings
from tests.service.test_close_of_day import LADDER, owing
from tests.service.test_projections import TENANT
from tests.support import CLERK

SET_AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
#: 1 March, 19:00 in Berlin: past the 18:00 close.
EVENING = datetime(2026, 3, 1, 18, 0, tzinfo=UTC)


@pytest.fixture
def two_servers(postgres_settings: Settings) -> Iterator[tuple[Runtime, Runtime]]:
    first, second = bootstrap(postgres_settings), bootstrap(postgres_settings)
    yield first, second
    first.close()
    second.close()


def test_two_servers_on_one_database_close_a_day_once(two_servers: tuple[Runtime, Runtime]) -> None:
    first, second = two_servers
    for n in range(8):
        owing(first, f"A-{n}", "2026-02-01")
    settings = TenantSettings(first.app, lambda: SET_AT)
    settings.set_dunning_policy(TENANT, LADDER, date(2026, 1, 1), CLERK)
    settings.set_close_schedule(TENANT, "18:00", "Europe/Berlin", CLERK)

    schedulers = [CloseScheduler(server, clock=lambda: EVENING) for server in (first, second)]
    runs: list[Any] = []
    barrier = threading.Barrier(2)

    def tick(scheduler: CloseScheduler) -> None:
        barrier.wait()
        runs.extend(scheduler.tick())

    threads = [threading.Thread(target=tick, args=(s,)) for s in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for scheduler in schedulers:  # and again, each: the day is closed now
        runs.extend(scheduler.tick())
        scheduler.lock.release()

    assert [day.business_date for run in runs for day in run.days] == [date(2026, 3, 1)]
    tenant = settings.get(TENANT)
    assert tenant is not None
    closed = [e for e in second.app.events.get(tenant.id) if isinstance(e, Tenant.DayClosed)]
    assert [e.effective_on for e in closed] == [date(2026, 3, 1)]
    assert closed[0].summary.dunning_escalated == 8
    for n in range(8):
        kinds = [type(e).__name__ for e in second.app.history(TENANT, f"A-{n}")]
        assert kinds.count("DunningEscalated") == 1


def test_a_close_asked_for_on_one_server_while_another_closes_is_refused(
    two_servers: tuple[Runtime, Runtime],
) -> None:
    first, second = two_servers
    for n in range(40):
        owing(first, f"A-{n}", "2026-02-01")
    TenantSettings(first.app, lambda: SET_AT).set_dunning_policy(
        TENANT, LADDER, date(2026, 1, 1), CLERK
    )
    outcomes: list[Any] = []
    barrier = threading.Barrier(2)

    def close(server: Runtime) -> None:
        barrier.wait()
        try:
            closer = CloseOfDay(server, clock=lambda: EVENING)
            outcomes.append(closer.close(TENANT, date(2026, 3, 1), started_by="ops"))
        except DayCloseRunning as refused:
            outcomes.append(refused)

    threads = [threading.Thread(target=close, args=(s,)) for s in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recorded = [o for o in outcomes if not isinstance(o, DayCloseRunning) and o.recorded]
    assert len(recorded) == 1
    tenant = TenantSettings(second.app).get(TENANT)
    assert tenant is not None
    assert tenant.last_closed_on == date(2026, 3, 1)


def test_the_relay_publishes_the_close_on_accounts_and_not_the_tenants_settings(
    kafka_runtime: Runtime, kafka_bootstrap: str, kafka_topic: str
) -> None:
    owing(kafka_runtime, "A-1", "2026-02-01")
    TenantSettings(kafka_runtime.app, lambda: SET_AT).set_dunning_policy(
        TENANT, LADDER, date(2026, 1, 1), CLERK
    )
    CloseOfDay(kafka_runtime, clock=lambda: EVENING).close(
        TENANT, date(2026, 3, 1), started_by="ops"
    )
    relay = Relay(kafka_runtime)
    relay.ensure_topic()
    while relay.publish_pending():
        pass
    assert relay.lag() == 0
    relay.close()

    account = kafka_runtime.app.get_account(TENANT, "A-1")
    records = _read(kafka_bootstrap, kafka_topic, account.version)
    assert {r["account_id"] for r in records} == {str(Account.id_for(TENANT, "A-1"))}
    assert [r["account_version"] for r in records] == list(range(1, account.version + 1))
    dunned = records[-1]
    assert dunned["type"] == "DunningEscalated"
    assert dunned["correlation_id"] == "close-of-day:acme:2026-03-01"
    for record in records:
        validate(record)  # every one is in the public contract


def _read(bootstrap_servers: str, topic: str, expected: int) -> list[dict[str, Any]]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        found: list[dict[str, Any]] = []
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            for records in consumer.poll(timeout_ms=500).values():
                found += [json.loads(r.value) for r in records]
        assert len(found) == expected
        return sorted(found, key=lambda r: r["account_version"])
    finally:
        consumer.close()
