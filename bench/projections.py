"""Projection figures: rebuild rate, aging against a bare SUM, relay against a bare producer.

    uv run python -m bench.projections --accounts 2000 --commands 10

Records a seeded history (``bench.history``) into a scratch PostgreSQL database, then measures,
each next to its baseline in the same run:

- rebuilding every read model from the first event (events/s, peak RSS of this process);
- the aging report over every account against ``SELECT SUM(total_minor) FROM open_items``
  (median of ``--repeats``);
- the relay publishing the history to a fresh topic against a bare kafka-python producer
  sending the same payloads (already encoded) to another fresh topic.

Benchmarks are not tests: nothing here asserts a time. The results are printed as JSON.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
import uuid
from datetime import date
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from kafka import KafkaProducer
from pydantic import SecretStr

from bench.history import record
from bench.scratch import local_postgres_url, scratch_database
from projections.catalogue import read_models
from projections.reports import aging
from projections.runner import Projector
from services.bootstrap import Runtime, bootstrap
from services.envelope import encode, envelope
from services.relay import Relay
from services.settings import Settings

TENANT = "bench"


def _timed(work: Any) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def rebuild(runtime: Runtime) -> dict[str, float]:
    projector = Projector(runtime.app, runtime.db, read_models())
    projector.reset()
    events = 0

    def run() -> None:
        nonlocal events
        events = projector.catch_up()

    seconds = _timed(run)
    return {
        "events": events,
        "events_per_second": round(events / seconds),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def aging_against_sum(runtime: Runtime, repeats: int) -> dict[str, float]:
    # "As of today": the last business date anything in the history is dated (the seeded
    # histories of long-lived accounts reach years ahead of the others).
    latest = runtime.db.query_one(
        "SELECT MAX(effective_on) AS latest FROM ledger_lines WHERE tenant_id = ?", (TENANT,)
    )
    as_of = date.fromisoformat(str(latest["latest"])) if latest and latest["latest"] else date.max
    report = [
        _timed(lambda: aging(runtime.db, TENANT, as_of, detail=False)) for _ in range(repeats)
    ]
    bare = [
        _timed(lambda: runtime.db.query("SELECT SUM(total_minor) AS total FROM open_items"))
        for _ in range(repeats)
    ]
    return {
        "accounts": len(aging(runtime.db, TENANT, as_of, detail=False)),
        "aging_ms": round(statistics.median(report) * 1000, 1),
        "bare_sum_ms": round(statistics.median(bare) * 1000, 1),
        "ratio": round(statistics.median(report) / statistics.median(bare), 1),
    }


def relay_against_producer(runtime: Runtime, events: int) -> dict[str, float]:
    relay = Relay(runtime, topic=f"bench-relay-{uuid.uuid4().hex[:8]}", batch_size=2_000)
    relay.ensure_topic()
    relay.learn_published()

    def publish() -> None:
        while relay.publish_pending():
            pass

    relayed = _timed(publish)
    relay.close()
    bare_topic = Relay(runtime, topic=f"bench-bare-{uuid.uuid4().hex[:8]}")
    bare_topic.ensure_topic()
    payloads = []
    for notification in runtime.app.recorder.select_notifications(start=1, limit=events):
        event: Any = runtime.app.mapper.to_domain_event(notification)
        document = envelope(event, tenant_id=TENANT, position=notification.id)
        payloads.append((str(event.originator_id).encode(), encode(document)))
    producer = KafkaProducer(
        bootstrap_servers=runtime.settings.kafka_bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
    )

    def send() -> None:
        futures = [producer.send(bare_topic.topic, key=k, value=v) for k, v in payloads]
        producer.flush()
        for future in futures:
            future.get()

    bare = _timed(send)
    producer.close()
    return {
        "relay_per_second": round(events / relayed),
        "bare_producer_per_second": round(len(payloads) / bare),
        "ratio": round(bare / relayed, 2),
    }


def measure(url: str, accounts: int, commands: int, repeats: int = 5) -> dict[str, Any]:
    """Record a history into a scratch database on the server at ``url``; every figure."""
    with scratch_database(url, "projections") as scratch, TemporaryDirectory() as folder:
        runtime = bootstrap(
            Settings(data_dir=Path(folder), database_url=SecretStr(scratch), log_level="WARNING")
        )
        try:
            events = record(runtime.app, TENANT, accounts, commands)
            return {
                "events": events,
                "rebuild": rebuild(runtime),
                "aging": aging_against_sum(runtime, repeats),
                "relay": relay_against_producer(runtime, events),
            }
        finally:
            runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--accounts", type=int, default=2_000)
    parser.add_argument("--commands", type=int, default=10, help="commands per account")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    results = measure(local_postgres_url(), args.accounts, args.commands, args.repeats)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
