"""Run the simulation from the command line.

    uv run --frozen python -m tests.simulation --seed 7 --commands 300
    uv run --frozen python -m tests.simulation --seed 1 --minutes 30      # a soak: seeds 1, 2, ...
    uv run --frozen python -m tests.simulation --seed 7 --commands 150 --processes  # HTTP, SIGKILLs

A failing seed prints its findings, then the shortest command list found that still fails
the same way (``--shrink-seconds 0`` to skip shrinking). Exit status 1 when anything failed.
A soak ends with a summary over every seed run: faults injected by kind, commands
acknowledged, lost, stored twice, wrong answers, read models exact.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter

from bench.scratch import local_postgres_url
from services.logging import configure_logging
from services.settings import Settings
from tests.simulation import generator
from tests.simulation.harness import Report, run
from tests.simulation.processes import ProcessSimulation
from tests.simulation.shrink import shrink

LOST = {"key_missing", "no_answer", "hung"}
TWICE = {"stored_count", "version", "version_gap", "key_unacknowledged", "stored_unacknowledged"}
WRONG = {"wrong_answer", "replay_differs", "read_back"}


def _kafka() -> str | None:
    import subprocess
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "deploy/local/kafka.sh"
    try:
        return subprocess.run(
            [str(script), "bootstrap"], check=True, capture_output=True, text=True, timeout=30
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def run_seed(
    seed: int,
    commands: int,
    *,
    server_url: str,
    kafka: str | None,
    fault_rate: float,
    shrink_seconds: float,
    hostile: float = 0.15,
    processes: bool = False,
    kafka_outages: bool = False,
    pg_restarts: bool = False,
    shrink_kind: str | None = None,
    out: object = sys.stdout,
) -> Report:
    cmds = generator.stream(seed, commands, hostile)
    if processes:
        report = ProcessSimulation(
            cmds,
            seed=seed,
            server_url=server_url,
            kafka_bootstrap=kafka or "127.0.0.1:1",
            kafka_outages=kafka_outages,
            pg_restarts=pg_restarts,
        ).run()
        print(report.summary(), file=out)  # type: ignore[call-overload]
        for line in findings_text(report):
            print(line, file=out)  # type: ignore[call-overload]
        return report
    report = run(
        cmds, seed=seed, server_url=server_url, fault_rate=fault_rate, kafka_bootstrap=kafka
    )
    print(report.summary(), file=out)  # type: ignore[call-overload]
    if report.ok:
        return report
    for line in findings_text(report):
        print(line, file=out)  # type: ignore[call-overload]
    if shrink_seconds > 0:
        wanted = [f for f in report.findings if shrink_kind is None or f.matches(shrink_kind)]
        target = (wanted or report.findings)[0]
        what = shrink_kind if wanted and shrink_kind else target.kind

        def still_fails(candidate: list[generator.Cmd]) -> bool:
            again = run(
                candidate,
                seed=seed,
                server_url=server_url,
                fault_rate=fault_rate,
                kafka_bootstrap=kafka,
                until=target.stage,
                stop_at=what if target.stage == "answers" else None,
            )
            return any(f.matches(what) for f in again.findings)

        focus = next((c for c in cmds if c.n == target.cmd), None)
        shortest = shrink(cmds, still_fails, budget_seconds=shrink_seconds, focus=focus)
        again = run(
            shortest,
            seed=seed,
            server_url=server_url,
            fault_rate=fault_rate,
            kafka_bootstrap=kafka,
            until=target.stage,
        )
        print(  # type: ignore[call-overload]
            f"seed {seed}: shortest list found showing '{what}'"
            f" ({len(shortest)} of {len(cmds)} commands; faults injected at each save shown):",
            file=out,
        )
        for cmd in shortest:
            faults = again.faulted.get(cmd.key)
            shown = f"  <- save failed: {', '.join(faults)}" if faults else ""
            print("  " + cmd.line() + shown, file=out)  # type: ignore[call-overload]
        print("  which gives:", file=out)  # type: ignore[call-overload]
        for line in findings_text(again, most=5):
            print("  " + line, file=out)  # type: ignore[call-overload]
    return report


def findings_text(report: Report, most: int = 25) -> list[str]:
    """The findings, one line each, the same finding about many commands told once."""
    seen: Counter[tuple[str, str]] = Counter()
    lines = []
    for finding in report.findings:
        what = (finding.kind, finding.detail.split(" [tries:")[0])
        seen[what] += 1
        if seen[what] == 1:
            lines.append(finding)
    text = []
    for finding in lines[:most]:
        again = seen[(finding.kind, finding.detail.split(" [tries:")[0])] - 1
        text.append("  " + finding.line() + (f"  (and {again} more like it)" if again else ""))
    if len(lines) > most:
        text.append(f"  ... and {len(lines) - most} other findings")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.simulation", description=__doc__)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--commands", type=int, default=300)
    parser.add_argument("--minutes", type=float, default=0.0, help="soak: run seeds from --seed on")
    parser.add_argument(
        "--fault-rate", type=float, default=0.03, help="chance a command's save fails on a try"
    )
    parser.add_argument("--hostile", type=float, default=0.15, help="share of hostile commands")
    parser.add_argument("--shrink-seconds", type=float, default=90.0)
    parser.add_argument(
        "--shrink-kind",
        help="shrink for findings of this kind, or saying this (e.g. OverflowError);"
        " default: the first finding",
    )
    parser.add_argument("--no-kafka", action="store_true")
    parser.add_argument(
        "--processes",
        action="store_true",
        help="over HTTP against ar serve/project/relay processes, killed on a seeded schedule",
    )
    parser.add_argument(
        "--kafka-outages",
        action="store_true",
        help="with --processes: also stop the shared local Kafka broker for moments",
    )
    parser.add_argument(
        "--pg-restarts",
        action="store_true",
        help="with --processes: also restart the shared local PostgreSQL cluster",
    )
    args = parser.parse_args(argv)
    configure_logging(Settings(log_level="CRITICAL"))
    server_url = local_postgres_url()
    kafka = None if args.no_kafka else _kafka()
    deadline = time.monotonic() + args.minutes * 60
    seed, reports = args.seed, []
    while True:
        reports.append(
            run_seed(
                seed,
                args.commands,
                server_url=server_url,
                kafka=kafka,
                fault_rate=args.fault_rate,
                shrink_seconds=args.shrink_seconds,
                hostile=args.hostile,
                processes=args.processes,
                kafka_outages=args.kafka_outages,
                pg_restarts=args.pg_restarts,
                shrink_kind=args.shrink_kind,
            )
        )
        seed += 1
        if time.monotonic() >= deadline:
            break
    if args.minutes:
        print(soak_summary(reports))
    return 0 if all(r.ok for r in reports) else 1


def soak_summary(reports: list[Report]) -> str:
    faults: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    for report in reports:
        faults.update(report.faults)
        kinds.update(f.kind for f in report.findings)
    read_models = sum(1 for r in reports if not any(f.stage == "read_models" for f in r.findings))
    return "\n".join(
        [
            f"soak: {len(reports)} seeds ({reports[0].seed}..{reports[-1].seed}),"
            f" {sum(r.commands for r in reports)} commands,"
            f" {sum(r.seconds for r in reports) / 60:.1f} minutes",
            "faults injected: "
            + (", ".join(f"{k} {v}" for k, v in sorted(faults.items())) or "none"),
            f"commands acknowledged {sum(r.acknowledged for r in reports)}"
            f" (replays {sum(r.replayed for r in reports)}),"
            f" refused {sum(r.refused for r in reports)}, retries {sum(r.retries for r in reports)}",
            f"lost {sum(kinds[k] for k in LOST)}, stored twice {sum(kinds[k] for k in TWICE)},"
            f" wrong answers {sum(kinds[k] for k in WRONG)},"
            f" read models exact in {read_models} of {len(reports)} seeds",
            f"events stored {sum(r.events for r in reports)},"
            f" published {sum(r.published for r in reports)}",
            "findings: " + (", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) or "none"),
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
