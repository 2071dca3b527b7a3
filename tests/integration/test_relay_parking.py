"""The relay parks an account whose event it cannot read, and the topic goes on, in order.

On the real PostgreSQL and broker: two tenants' events, one of acme's A-1 altered by hand so it
no longer decodes. The relay publishes every other account's events, holds back A-1's from
the altered one on (never publishing a later event of A-1 before it), and shows A-1 in
``ar relay --status`` and ``GET /v1/projections``. Once the bytes are restored,
``ar relay --retry-parked`` asks the running relay to publish A-1's backlog, which it does, in
order, before its next batch; every event is then on the topic once, each account's in version
order.
"""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from projections.parking import parked_accounts
from services.api.app import create_app
from services.api_keys import Role
from services.bootstrap import Runtime
from services.cli import app as cli
from services.relay import PARKING_CONSUMER, Relay
from services.relay_positions import relay_position
from tests.integration.test_relay_guarantees import (
    assert_every_event_once_in_order,
    publish_all,
    read_topic,
)
from tests.service.test_parked_accounts import A1, TENANT, paid, poisoned, restored, two_tenants
from tests.service.test_verify_and_explain import same_store


def test_an_unreadable_event_parks_its_account_on_the_relay_and_its_backlog_follows_in_order(
    kafka_runtime: Runtime,
    kafka_bootstrap: str,
    kafka_topic: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    same_store(kafka_runtime, monkeypatch)
    monkeypatch.setenv("AR_KAFKA_BOOTSTRAP", kafka_bootstrap)
    monkeypatch.setenv("AR_KAFKA_TOPIC", kafka_topic)
    two_tenants(kafka_runtime)
    poisoned(kafka_runtime)
    head = kafka_runtime.app.recorder.max_notification_id()
    relay = Relay(kafka_runtime, batch_size=4)
    publish_all(relay)
    relay.close()

    assert relay_position(kafka_runtime.db) == head  # the topic did not stall
    on_topic = read_topic(kafka_bootstrap, kafka_topic)
    assert [p.value["account_version"] for p in on_topic if p.key == A1] == [1, 2, 3]
    assert len(on_topic) == head - 2  # all but A-1's altered payment and the one after it
    (row,) = parked_accounts(kafka_runtime.db, [PARKING_CONSUMER])
    assert (row.account_id, row.tenant_id, row.event_version, row.skipped) == (A1, TENANT, 4, 1)

    status = CliRunner().invoke(cli, ["relay", "--status"])
    assert status.exit_code == 0, status.output
    # The parked table's first columns: consumer, account, tenant.
    assert [PARKING_CONSUMER, A1, TENANT] in [
        line.split()[:3] for line in status.stdout.splitlines()
    ]
    key = kafka_runtime.keys.create(name="ops", tenant_id=TENANT, role=Role.clerk)
    with TestClient(create_app(kafka_runtime), raise_server_exceptions=False) as client:
        seen = client.get("/v1/projections", headers={"Authorization": f"Bearer {key.secret}"})
    assert [(p["consumer"], p["account_id"]) for p in seen.json()["parked"]] == [
        (PARKING_CONSUMER, A1)
    ]

    # Not fixed yet: the retry publishes nothing and A-1 stays parked.
    again = CliRunner().invoke(cli, ["relay", "--retry-parked", f"{TENANT}/A-1"])
    assert again.exit_code == 1
    assert "still failing" in again.stdout
    assert len(read_topic(kafka_bootstrap, kafka_topic)) == head - 2

    # Fixed, with a relay running: the retry is asked of it, and it publishes the backlog
    # before its next batch.
    restored(kafka_runtime)
    running = Relay(kafka_runtime, batch_size=4)
    stop = threading.Event()
    worker = threading.Thread(target=running.run, args=(stop,), daemon=True)
    worker.start()
    try:
        while not running.lock.held():
            stop.wait(0.05)
        retried = CliRunner().invoke(cli, ["relay", "--retry-parked", f"{TENANT}/A-1"])
        assert retried.exit_code == 0, retried.output
        assert "a relay is running" in retried.stdout
        paid(kafka_runtime, "5.00", "p-5")  # A-1's next event follows its backlog
        while parked_accounts(kafka_runtime.db, [PARKING_CONSUMER]) or (
            relay_position(kafka_runtime.db) < head + 1
        ):
            assert worker.is_alive()
            stop.wait(0.05)
    finally:
        stop.set()
        worker.join(timeout=30)
    on_topic = read_topic(kafka_bootstrap, kafka_topic)
    assert assert_every_event_once_in_order(on_topic, head + 1) == 0
    assert [p.value["account_version"] for p in on_topic if p.key == A1] == [1, 2, 3, 4, 5, 6]
