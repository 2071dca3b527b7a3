"""Projection figures: rebuild rate, aging against a bare SUM, relay against a bare producer.

    uv run python -m bench.projections --accounts 2000 --commands 10

Records a seeded history (``bench.history``) into a scratch PostgreSQL database, then measures,
each next to its baseline in the same run:

- rebuilding every read model from the first event (events/s, peak RSS of this process);
- the aging report over every account against ``SELECT SUM(total_minor) FROM open_items``
  (median of ``--repeats``), as of the last date and as of an earlier one (the ledger's median
  business date);
- the relay publishing the history to a fresh topic against a bare kafka-python producer
  sending the same payloads (already encoded) to another fresh topic, with kafka-python's
  defaults and with the relay's own producer settings.

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

from bench.cpu import CpuMeter
from bench.history import record
from bench.scratch import local_postgres_url, scratch_database
from projections.catalogue import read_models
from projections.reports import aging
from projections.runner import Projector
from services.bootstrap import Runtime, bootstrap
from services.envelope import encode, envelope
from services.relay import Relay, producer_settings
from services.settings import Settings

TENANT = "bench"


def _timed(work: Any) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def rebuild(runtime: Runtime) -> dict[str, Any]:
    projector = Projector(runtime.app, runtime.db, read_models())
    projector.reset()
    events = 0

    def run() -> None:
        nonlocal events
        events = projector.rebuild()

    meter = CpuMeter()
    start = meter.mark()
    seconds = _timed(run)
    return {
        "events": events,
        "events_per_second": round(events / seconds),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "cpu_cores_used": meter.since(start),
    }


def _aging_dates(runtime: Runtime) -> tuple[date, date]:
    """ "Today": the last business date anything in the history is dated (the seeded histories
    of long-lived accounts reach years ahead of the others); and an earlier date: the median
    business date of the ledger's lines, half of the history dated after it."""
    latest = runtime.db.query_one(
        "SELECT MAX(effective_on) AS latest, COUNT(*) AS lines FROM ledger_lines"
        " WHERE tenant_id = ?",
        (TENANT,),
    )
    if latest is None or latest["latest"] is None:
        return date.max, date.max
    middle = runtime.db.query_one(
        "SELECT effective_on FROM ledger_lines WHERE tenant_id = ?"
        " ORDER BY effective_on LIMIT 1 OFFSET ?",
        (TENANT, int(latest["lines"]) // 2),
    )
    last = date.fromisoformat(str(latest["latest"]))
    return last, date.fromisoformat(str(middle["effective_on"])) if middle else last


def aging_against_sum(runtime: Runtime, repeats: int) -> dict[str, Any]:
    """The aging report over every account against a bare ``SUM`` over ``open_items``, as of
    the last date (the top-level figures) and as of an earlier date (``earlier``). Each says
    how many rows each side reads: the report's grouped scan against the bare sum's."""
    items = runtime.db.query_one("SELECT COUNT(*) AS n FROM open_items")
    bare = statistics.median(
        _timed(lambda: runtime.db.query("SELECT SUM(total_minor) AS total FROM open_items"))
        for _ in range(repeats)
    )

    def against_bare(as_of: date) -> dict[str, Any]:
        report = statistics.median(
            _timed(lambda: aging(runtime.db, TENANT, as_of, detail=False)) for _ in range(repeats)
        )
        day = as_of.isoformat()
        scanned = runtime.db.query_one(
            "SELECT COUNT(*) AS n FROM open_item_aging"
            " WHERE tenant_id = ? AND valid_to > ? AND valid_from <= ?",
            (TENANT, day, day),
        )
        return {
            "as_of": day,
            "accounts": len(aging(runtime.db, TENANT, as_of, detail=False)),
            "rows": {
                "aging_terms": int(scanned["n"]) if scanned else 0,
                "bare_sum_items": int(items["n"]) if items else 0,
            },
            "aging_ms": round(report * 1000, 1),
            "bare_sum_ms": round(bare * 1000, 1),
            "ratio": round(report / bare, 1),
        }

    latest, earlier = _aging_dates(runtime)
    return against_bare(latest) | {"earlier": against_bare(earlier)}


def relay_against_producer(runtime: Runtime, events: int) -> dict[str, Any]:
    """The relay publishing every event against a bare producer sending the same records'
    values (already encoded): as kafka-python's defaults have it (``ratio``), and configured as
    the relay's own producer (``ratio_relay_settings``: what the relay costs over its client)."""
    relay = Relay(runtime, topic=f"bench-relay-{uuid.uuid4().hex[:8]}", batch_size=2_000)
    relay.ensure_topic()
    relay.learn_published()

    def publish() -> None:
        while relay.publish_pending():
            pass

    meter = CpuMeter()
    start = meter.mark()
    relayed = _timed(publish)
    relay_cores = meter.since(start)
    relay.close()
    payloads = []
    for notification in runtime.app.recorder.select_notifications(start=1, limit=events):
        event: Any = runtime.app.mapper.to_domain_event(notification)
        document = envelope(event, tenant_id=TENANT, position=notification.id)
        payloads.append((str(event.originator_id).encode(), encode(document)))

    bare_cores: dict[str, float] = {}

    def bare(settings: dict[str, Any]) -> float:
        topic = Relay(runtime, topic=f"bench-bare-{uuid.uuid4().hex[:8]}")
        topic.ensure_topic()
        producer = KafkaProducer(bootstrap_servers=runtime.settings.kafka_bootstrap, **settings)

        def send() -> None:
            futures = [producer.send(topic.topic, key=k, value=v) for k, v in payloads]
            producer.flush()
            for future in futures:
                future.get()

        start = meter.mark()
        seconds = _timed(send)
        bare_cores.update(meter.since(start))
        producer.close()
        return seconds

    defaults = bare({"acks": "all", "enable_idempotence": True, "linger_ms": 5})
    as_the_relay = bare(producer_settings())
    return {
        "relay_per_second": round(events / relayed),
        "bare_producer_per_second": round(len(payloads) / defaults),
        "ratio": round(defaults / relayed, 2),
        "bare_producer_relay_settings_per_second": round(len(payloads) / as_the_relay),
        "ratio_relay_settings": round(as_the_relay / relayed, 2),
        "cpu_cores_used": relay_cores,
        "bare_producer_cpu_cores_used": bare_cores,
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
