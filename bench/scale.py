"""Figures at scale: a rebuild's peak memory at 100k and 1M events, aging over 100k accounts.

    uv run python -m bench.scale [--small 100000] [--large 1000000]

For each size a seeded history of about ten events per account (``bench.history``) is recorded
into a scratch PostgreSQL database; then every read model is rebuilt from the first event in a
fresh process (``--rebuild URL``), whose peak RSS is the figure, so the recording's own memory
does not count. On the large history, the aging report over every account is timed against a
bare ``SUM`` over the open-items table, as of the last date and as of an earlier one
(``bench.projections.aging_against_sum``).

This is slow on purpose (the large history is a million events): it runs once per ``make bench``,
not once per run.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from pydantic import SecretStr

from bench.cpu import CpuMeter
from bench.history import record
from bench.projections import TENANT, aging_against_sum
from bench.scratch import local_postgres_url, scratch_database
from projections.catalogue import read_models
from projections.runner import Projector
from services.bootstrap import bootstrap
from services.settings import Settings

EVENTS_PER_ACCOUNT = 10


def _settings(url: str, folder: str) -> Settings:
    return Settings(data_dir=Path(folder), database_url=SecretStr(url), log_level="WARNING")


def rebuild_here(url: str) -> dict[str, Any]:
    """Rebuild every read model of the store at ``url`` in this process; rate and peak RSS."""
    with TemporaryDirectory() as folder:
        runtime = bootstrap(_settings(url, folder))
        try:
            projector = Projector(runtime.app, runtime.db, read_models())
            projector.reset()
            meter = CpuMeter()
            start = meter.mark()
            started = time.perf_counter()
            events = projector.rebuild()
            seconds = time.perf_counter() - started
            cores = meter.since(start)
        finally:
            runtime.close()
    return {
        "events": events,
        "events_per_second": round(events / seconds),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "cpu_cores_used": cores,
    }


def _rebuild_elsewhere(url: str) -> dict[str, Any]:
    done = subprocess.run(  # noqa: S603 - this module, in a fresh interpreter
        [sys.executable, "-m", "bench.scale", "--rebuild", url],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def measure(url: str, small: int, large: int, repeats: int = 5) -> dict[str, Any]:
    """Both sizes: each rebuild's rate and peak memory, and aging on the large one."""
    found: dict[str, Any] = {"rebuilds": []}
    for events in (small, large):
        with scratch_database(url, f"scale{events}") as scratch, TemporaryDirectory() as folder:
            runtime = bootstrap(_settings(scratch, folder))
            try:
                recorded = record(
                    runtime.app, TENANT, events // EVENTS_PER_ACCOUNT, EVENTS_PER_ACCOUNT - 1
                )
            finally:
                runtime.close()
            rebuilt = _rebuild_elsewhere(scratch) | {"recorded": recorded}
            found["rebuilds"].append(rebuilt)
            if events == large:
                runtime = bootstrap(_settings(scratch, folder))
                try:
                    found["aging"] = aging_against_sum(runtime, repeats)
                finally:
                    runtime.close()
    first, last = found["rebuilds"][0], found["rebuilds"][-1]
    found["memory_growth"] = round(last["peak_rss_mb"] / first["peak_rss_mb"] - 1, 3)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--small", type=int, default=100_000, help="events in the small history")
    parser.add_argument("--large", type=int, default=1_000_000, help="events in the large one")
    parser.add_argument("--rebuild", metavar="URL", help="(internal) rebuild the store at URL")
    args = parser.parse_args()
    if args.rebuild:
        print(json.dumps(rebuild_here(args.rebuild)))
        return
    print(json.dumps(measure(local_postgres_url(), args.small, args.large), indent=2))


if __name__ == "__main__":
    main()
