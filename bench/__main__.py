"""``python -m bench`` (``make bench``): run the figures, print the table, write the JSON.

Each figure runs ``--runs`` times; the table shows the median of each rate and the median of
the per-run ratios to the baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import commands
from bench.scratch import local_postgres_url

REPO = Path(__file__).resolve().parent.parent


def _machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version()}


def commands_figure(url: str, runs: int, seconds: float, clients: int) -> dict[str, Any]:
    samples = [
        commands.measure(url, threads=clients, seconds=seconds, accounts_each=20)
        for _ in range(runs)
    ]
    rates = {name: statistics.median(s[name].per_second for s in samples) for name in samples[0]}
    ratio = statistics.median(
        s["product"].per_second / s["insert_baseline"].per_second for s in samples
    )
    naive = statistics.median(
        s["naive"].per_second / s["insert_baseline"].per_second for s in samples
    )
    return {
        "figure": "sustained commands/s, PostgreSQL",
        "clients": clients,
        "rates_per_second": {k: round(v, 1) for k, v in rates.items()},
        "ratio_to_baseline": round(ratio, 3),
        "naive_ratio_to_baseline": round(naive, 3),
        "goal": ">= 1.0",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each timed run")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/latest.json")
    args = parser.parse_args(argv)

    url = local_postgres_url()
    figures = [commands_figure(url, args.runs, args.seconds, args.clients)]
    result = {
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "runs": args.runs,
        "figures": figures,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for figure in figures:
        print(json.dumps(figure))
    print(f"results written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
