"""Reporting from Kafka: a consumer group's events/s against the store-following rebuild.

    uv run python -m bench.kafka_projector --accounts 2000 --commands 10 --members 1 2

Records a seeded history (``bench.history``) into a scratch PostgreSQL database and publishes
it with the relay to a fresh topic (``AR_KAFKA_PARTITIONS`` partitions, 6 by default). Then,
in the same run:

- the baseline: every read model rebuilt from the first event by the projector that follows
  the store (``projections.runner``), events/s;
- for each group size N: N members of a fresh reporting group (``projections.kafka_projector``),
  each a process of its own, build the read models into a fresh reporting database. The clock
  starts once every member owns partitions (joining a group takes seconds and is not the
  figure) and stops when every record is applied; the rate is the records left at the start
  over that time.

Benchmarks are not tests: nothing here asserts a time. The results are printed as JSON.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
import uuid
from collections.abc import Sequence
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from pydantic import SecretStr

from bench.history import record
from bench.projections import TENANT, rebuild
from bench.scratch import local_postgres_url, scratch_database
from projections.catalogue import read_models
from projections.kafka_projector import behind, install_reporting
from services.bootstrap import Runtime, bootstrap
from services.relay import Relay
from services.reporting import reporting_member
from services.settings import Settings

#: Longest wait for a group to settle or to catch up before the figure is given up.
DEADLINE_SECONDS = 600.0


def _member(settings: Settings, group: str, owned: Synchronized[int], stop: Any) -> None:
    """One member process: runs until ``stop``, telling how many partitions it owns."""
    projector, runtime = reporting_member(settings, group)
    try:
        while not stop.is_set():
            projector.project_pending()
            owned.value = len(projector.owned())
    finally:
        projector.close()
        runtime.close()


def _wait(condition: Any, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.05)


def group_rate(settings: Settings, members: int, server_url: str) -> dict[str, float]:
    """``members`` members build every read model from the topic into a fresh database."""
    with scratch_database(server_url, "reporting") as url:
        reporting = settings.model_copy(update={"database_url": SecretStr(url)})
        runtime = bootstrap(reporting)
        try:
            install_reporting(runtime.db, read_models())
            group = f"bench-reporting-{uuid.uuid4().hex[:8]}"
            context = multiprocessing.get_context("spawn")
            stop = context.Event()
            owned = [context.Value("i", 0) for _ in range(members)]
            processes = [
                context.Process(target=_member, args=(reporting, group, o, stop)) for o in owned
            ]
            for process in processes:
                process.start()
            try:
                partitions = settings.kafka_partitions
                _wait(
                    lambda: (
                        all(o.value for o in owned) and sum(o.value for o in owned) == partitions
                    ),
                    "the group did not settle",
                )
                left = behind(runtime.db, settings.kafka_bootstrap, settings.kafka_topic)
                started = time.perf_counter()
                _wait(
                    lambda: behind(runtime.db, settings.kafka_bootstrap, settings.kafka_topic) == 0,
                    "the group did not catch up",
                )
                seconds = time.perf_counter() - started
            finally:
                stop.set()
                for process in processes:
                    process.join(timeout=60)
        finally:
            runtime.close()
    return {"records": left, "events_per_second": round(left / seconds) if seconds else 0.0}


def _publish(runtime: Runtime) -> None:
    relay = Relay(runtime, batch_size=2_000)
    relay.ensure_topic()
    relay.learn_published()
    while relay.publish_pending():
        pass
    relay.close()


def measure(
    url: str, accounts: int, commands: int, members: Sequence[int] = (1, 2)
) -> dict[str, Any]:
    """Record and publish a history on the server at ``url``; the store-following rebuild's
    rate and each group size's, with its ratio to the rebuild."""
    with scratch_database(url, "kafka_projector") as scratch, TemporaryDirectory() as folder:
        settings = Settings(
            data_dir=Path(folder),
            database_url=SecretStr(scratch),
            kafka_topic=f"bench-reporting-{uuid.uuid4().hex[:8]}",
            log_level="WARNING",
        )
        runtime = bootstrap(settings)
        try:
            events = record(runtime.app, TENANT, accounts, commands)
            _publish(runtime)
            baseline = rebuild(runtime)
        finally:
            runtime.close()
        groups = {str(n): group_rate(settings, n, url) for n in members}
    store_rate = baseline["events_per_second"]
    return {
        "events": events,
        "partitions": settings.kafka_partitions,
        "store_rebuild_per_second": store_rate,
        "members": {
            n: {
                **found,
                "ratio_to_store_rebuild": round(found["events_per_second"] / store_rate, 2),
            }
            for n, found in groups.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--accounts", type=int, default=2_000)
    parser.add_argument("--commands", type=int, default=10, help="commands per account")
    parser.add_argument("--members", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    print(json.dumps(measure(local_postgres_url(), args.accounts, args.commands, args.members)))


if __name__ == "__main__":
    main()
