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

from bench import (
    close_day,
    commands,
    directory,
    documents,
    http,
    importing,
    projections,
    remittances,
    replay,
    scale,
)
from bench.cpu import limiter
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


def _median(samples: list[dict[str, Any]], *path: str) -> float:
    """The median over runs of the figure at ``path`` in each run's results."""
    values = []
    for sample in samples:
        value: Any = sample
        for step in path:
            value = value[step]
        values.append(float(value))
    return statistics.median(values)


def _per_second(value: float, unit: str = "") -> str:
    return f"{value:,.0f}{' ' + unit if unit else ''}/s"


def _ratio(value: float, times: bool = False) -> str:
    text = f"{value:,.3g}" if value < 10 else f"{value:,.0f}"
    return f"{text}×" if times else text


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
    cores = {
        name: round(statistics.median(s["product"].cores[name] for s in samples), 2)
        for name in samples[0]["product"].cores
    }
    return {
        "figure": "sustained commands/s, PostgreSQL",
        "clients": clients,
        "rates_per_second": {k: round(v, 1) for k, v in rates.items()},
        "ratio_to_baseline": round(ratio, 3),
        "naive_ratio_to_baseline": round(naive, 3),
        "cpu_cores_used": cores,
        "limited_by": limiter(cores),
        "goal": ">= 1.0",
        "row": {
            "product": f"{_per_second(rates['product'])} in process, {clients} clients"
            f" (eventsourcing as documented: {_per_second(rates['naive'])})",
            "baseline": f"single-row INSERT transactions {_per_second(rates['insert_baseline'])}",
            "ratio": _ratio(ratio),
        },
    }


def _aging_figure(name: str, found: dict[str, Any]) -> dict[str, Any]:
    """The aging row: as of the last date and as of an earlier one, against a bare ``SUM``;
    the worse of the two ratios is the one held to the goal."""
    earlier = found["earlier"]
    ratio = max(found["ratio"], earlier["ratio"])
    rows = found["rows"]
    return {
        "figure": name,
        "accounts": found["accounts"],
        "ms": {
            "aging": found["aging_ms"],
            "aging_earlier": earlier["aging_ms"],
            "bare_sum": found["bare_sum_ms"],
        },
        "as_of": {"last": found["as_of"], "earlier": earlier["as_of"]},
        "rows_read": {"last": rows, "earlier": earlier["rows"]},
        "ratios": {"last": found["ratio"], "earlier": earlier["ratio"]},
        "ratio_to_baseline": ratio,
        "goal": "<= 2",
        "limited_by": f"PostgreSQL: the report groups {rows['aging_terms']:,} open terms"
        f" ({earlier['rows']['aging_terms']:,} as of the earlier date) into buckets per account"
        f" where the bare SUM adds {rows['bare_sum_items']:,} items into one number",
        "row": {
            "product": f"aging of {found['accounts']:,} accounts: as of the last date"
            f" {found['aging_ms']} ms, as of an earlier date {earlier['aging_ms']} ms",
            "baseline": f"bare SUM over the open items {found['bare_sum_ms']} ms",
            "ratio": f"{_ratio(found['ratio'], times=True)} / {_ratio(earlier['ratio'], times=True)}",
        },
    }


def _median_cores(samples: list[dict[str, Any]], *path: str) -> dict[str, float]:
    first: Any = samples[0]
    for step in path:
        first = first[step]
    return {side: round(_median(samples, *path, side), 2) for side in first}


def projection_figures(
    url: str, runs: int, accounts: int, commands_each: int, command_rate: float
) -> list[dict[str, Any]]:
    """Rebuild (against the product's command rate above), aging, relay: medians of runs."""
    samples = [projections.measure(url, accounts, commands_each) for _ in range(runs)]

    rebuild_rate = _median(samples, "rebuild", "events_per_second")
    rebuild_ratio = round(rebuild_rate / command_rate, 2) if command_rate else None
    rebuild_cores = _median_cores(samples, "rebuild", "cpu_cores_used")
    relay_rate = _median(samples, "relay", "relay_per_second")
    bare_rate = _median(samples, "relay", "bare_producer_per_second")
    relay_ratio = _median(samples, "relay", "ratio")
    relay_cores = _median_cores(samples, "relay", "cpu_cores_used")
    aging_runs = sorted(samples, key=lambda s: float(s["aging"]["ratio"]))
    return [
        {
            "figure": "projection rebuild events/s",
            "events": samples[0]["events"],
            "rates_per_second": {"rebuild": rebuild_rate, "product_commands": command_rate},
            "ratio_to_baseline": rebuild_ratio,
            "peak_rss_mb": _median(samples, "rebuild", "peak_rss_mb"),
            "cpu_cores_used": rebuild_cores,
            "limited_by": limiter(rebuild_cores),
            "goal": ">= 5",
            "row": {
                "product": f"rebuild of every read model {_per_second(rebuild_rate, 'events')}"
                f" ({samples[0]['events']:,} events)",
                "baseline": f"the product's own commands {_per_second(command_rate)} (above)",
                "ratio": _ratio(rebuild_ratio or 0.0, times=True),
            },
        },
        _aging_figure(
            "aging report over every account, ms", aging_runs[len(aging_runs) // 2]["aging"]
        ),
        {
            "figure": "relay to Kafka records/s",
            "rates_per_second": {
                "relay": relay_rate,
                "bare_producer": bare_rate,
                "bare_producer_relay_settings": _median(
                    samples, "relay", "bare_producer_relay_settings_per_second"
                ),
            },
            "ratio_to_baseline": relay_ratio,
            "ratio_relay_settings": _median(samples, "relay", "ratio_relay_settings"),
            "cpu_cores_used": relay_cores,
            "limited_by": limiter(relay_cores),
            "goal": ">= 0.8",
            "row": {
                "product": f"relay {_per_second(relay_rate, 'records')}, in order per account,"
                " positions recorded",
                "baseline": f"a bare kafka-python producer {_per_second(bare_rate, 'records')}",
                "ratio": _ratio(relay_ratio),
            },
        },
    ]


def http_figures(
    url: str, runs: int, seconds: float, clients: int, accounts: int, workers: int
) -> list[dict[str, Any]]:
    """Commands over HTTP as users run the server (projector running, ``accounts`` accounts),
    then on one hot account, against the INSERT baseline; latency at half the sustained rate."""
    samples = [http.measure(url, clients, seconds, accounts, workers) for _ in range(runs)]

    def median(*path: str) -> float:
        return round(_median(samples, *path), 3)

    def cores(*path: str) -> dict[str, float]:
        first: Any = samples[0]
        for step in path:
            first = first[step]
        return {name: median(*path, name) for name in first}

    spread = cores("http", "detail", "http", "cpu_cores_used")
    hot = cores("http", "detail", "http_hot_account", "cpu_cores_used")
    latency_cores = cores("latency", "http", "cpu_cores_used")
    return [
        {
            "figure": "sustained commands/s over HTTP, PostgreSQL",
            "clients": clients,
            "accounts": accounts,
            "workers": workers,
            "rates_per_second": {
                "insert_baseline": median("http", "rates_per_second", "insert_baseline"),
                "product_http": median("http", "rates_per_second", "product_http"),
                "product_in_process": median("http", "rates_per_second", "product_in_process"),
            },
            "read_models_behind_at_end": median(
                "http", "detail", "http", "read_models_behind_at_end"
            ),
            "ratio_to_baseline": median("http", "ratio_to_baseline"),
            "failures": sum(int(s["http"]["failures"]) for s in samples),
            "cpu_cores_used": spread,
            "limited_by": limiter(spread, product="server_process"),
            "goal": ">= 0.3",
            "row": {
                "product": f"{_per_second(median('http', 'rates_per_second', 'product_http'))}"
                f" over HTTP, projector running, {accounts:,} accounts, {clients} keep-alive"
                f" clients, {workers} worker process{'es' if workers > 1 else ''}",
                "baseline": "single-row INSERT transactions"
                f" {_per_second(median('http', 'rates_per_second', 'insert_baseline'))}",
                "ratio": _ratio(median("http", "ratio_to_baseline")),
            },
        },
        {
            "figure": "sustained commands/s over HTTP on one hot account",
            "clients": clients,
            "workers": workers,
            "rates_per_second": {
                "insert_baseline": median("http", "rates_per_second", "insert_baseline"),
                "product_http": median("http", "rates_per_second", "product_http_hot_account"),
            },
            "ratio_to_baseline": median("http", "hot_account_ratio_to_baseline"),
            "cpu_cores_used": hot,
            "limited_by": limiter(hot, product="server_process"),
            "goal": ">= 0.3",
            "row": {
                "product": _per_second(
                    median("http", "rates_per_second", "product_http_hot_account")
                )
                + f", every one of {clients} clients on the same account",
                "baseline": "single-row INSERT transactions"
                f" {_per_second(median('http', 'rates_per_second', 'insert_baseline'))}",
                "ratio": _ratio(median("http", "hot_account_ratio_to_baseline")),
            },
        },
        {
            "figure": "command latency at half the sustained rate, ms",
            "in_process": {
                "rate": median("latency", "in_process", "achieved_rate"),
                "p50": median("latency", "in_process", "p50_ms"),
                "p99": median("latency", "in_process", "p99_ms"),
            },
            "http": {
                "rate": median("latency", "http", "achieved_rate"),
                "p50": median("latency", "http", "p50_ms"),
                "p99": median("latency", "http", "p99_ms"),
            },
            "cpu_cores_used": latency_cores,
            "limited_by": limiter(latency_cores, product="server_process"),
            "goal": "http p99 <= 10",
            "row": {
                "product": f"HTTP p50 {median('latency', 'http', 'p50_ms')} ms, p99"
                f" {median('latency', 'http', 'p99_ms')} ms at"
                f" {_per_second(median('latency', 'http', 'achieved_rate'))}; in process p50"
                f" {median('latency', 'in_process', 'p50_ms')} ms, p99"
                f" {median('latency', 'in_process', 'p99_ms')} ms",
                "baseline": "—",
                "ratio": "—",
            },
        },
    ]


def import_figure(url: str, runs: int, invoices: int) -> dict[str, Any]:
    samples = [importing.measure(url, invoices) for _ in range(runs)]
    rates = {
        name: _median(samples, "rates_per_second", name) for name in ("product_events", "copy_rows")
    }
    ratio = _median(samples, "ratio_to_baseline")
    cores = _median_cores(samples, "cpu_cores_used")
    return {
        "figure": "bulk import events/s (CSV of accounts, invoices, payments)",
        "rows": samples[0]["rows"],
        "rates_per_second": rates,
        "ratio_to_baseline": ratio,
        "cpu_cores_used": cores,
        "limited_by": limiter(cores),
        "goal": ">= 0.05",
        "row": {
            "product": f"ar import {_per_second(rates['product_events'], 'events')}"
            f" ({samples[0]['rows']:,} rows, all-or-nothing)",
            "baseline": f"COPY of the same rows {_per_second(rates['copy_rows'], 'rows')}",
            "ratio": _ratio(ratio),
        },
    }


def replay_figure(url: str, runs: int, events: int) -> dict[str, Any]:
    samples = [replay.measure(url, events) for _ in range(runs)]
    as_of = _median(samples, "ms", "as_of")
    full = _median(samples, "ms", "full_replay")
    ratio = _median(samples, "ratio_to_baseline")
    snapshot = _median(samples, "as_of_split_ms", "snapshot_and_tail")
    cores = _median_cores(samples, "cpu_cores_used")
    return {
        "figure": f"as-of replay of an account with {events} events, ms",
        "ms": {"as_of": as_of, "full_replay": full},
        "as_of_split_ms": {
            "version_search": _median(samples, "as_of_split_ms", "version_search"),
            "snapshot_and_tail": snapshot,
        },
        "snapshot_bytes": samples[0]["snapshot_bytes"],
        "ratio_to_baseline": ratio,
        "cpu_cores_used": cores,
        "limited_by": f"{limiter(cores)}: reading the snapshot of"
        f" {samples[0]['snapshot_bytes']:,} bytes back into the account takes {snapshot} ms"
        f" of the {as_of} ms",
        "goal": "<= 0.1",
        "row": {
            "product": f"as-of read {as_of} ms (snapshot, then the events after it)",
            "baseline": f"replay of every event {full} ms",
            "ratio": _ratio(ratio),
        },
    }


def scale_figures(url: str, small: int, large: int) -> list[dict[str, Any]]:
    """Rebuild memory at two sizes, and aging over the large history's accounts (one run)."""
    found = scale.measure(url, small, large)
    first, last = found["rebuilds"][0], found["rebuilds"][-1]
    cores = last["cpu_cores_used"]
    return [
        {
            "figure": "peak memory of a rebuild, MB",
            "events": {"small": first["events"], "large": last["events"]},
            "peak_rss_mb": {"small": first["peak_rss_mb"], "large": last["peak_rss_mb"]},
            "rebuild_events_per_second": {
                "small": first["events_per_second"],
                "large": last["events_per_second"],
            },
            "cpu_cores_used": cores,
            "growth": found["memory_growth"],
            "goal": "growth < 0.10",
            "limited_by": f"rebuild speed: {limiter(cores)}",
            "row": {
                "product": f"rebuild of {last['events']:,} events: peak"
                f" {last['peak_rss_mb']} MB, {_per_second(last['events_per_second'], 'events')}",
                "baseline": f"rebuild of {first['events']:,} events: peak"
                f" {first['peak_rss_mb']} MB",
                "ratio": f"{found['memory_growth']:+.0%}",
            },
        },
        _aging_figure("aging report over the large history's accounts, ms", found["aging"]),
    ]


def directory_figure(url: str, accounts: int, repeats: int) -> dict[str, Any]:
    """Account search over a directory of ``accounts`` (one fill, every query ``repeats`` times)."""
    found = directory.measure(url, accounts, repeats)
    return {
        "figure": f"account search over {accounts} accounts, ms",
        "queries": found["queries"],
        "ms": {"search": found["search_ms"], "bare_select": found["bare_select_ms"]},
        "p50_by_query_ms": found["p50_by_query_ms"],
        "trigram_index": found["trigram_index"],
        "ratio_to_baseline": found["ratio_to_baseline"],
        "goal": "ms search p99 < 50",
        "limited_by": "the trigram index's candidates re-checked by PostgreSQL"
        if found["trigram_index"]
        else "no trigram index: a sequential scan",
        "row": {
            "product": f"account search p50 {found['search_ms']['p50']} ms, p99"
            f" {found['search_ms']['p99']} ms over {accounts:,} accounts",
            "baseline": f"bare SELECT by primary key p50 {found['bare_select_ms']['p50']} ms",
            "ratio": _ratio(found["ratio_to_baseline"], times=True),
        },
    }


def close_day_figure(url: str, accounts: int, due_percent: float) -> dict[str, Any]:
    """One close of day over ``accounts`` accounts, ``due_percent`` of them with something due,
    against a bare SELECT of the due accounts (one run: the setup is the slow part)."""
    found = close_day.measure(url, accounts, due_percent)
    return {
        "figure": "close of day over many accounts, few due",
        "accounts": found["accounts"],
        "accounts_due": found["accounts_due"],
        "events": found["events"],
        "wall_seconds": found["close_seconds"],
        "rates_per_second": {"close_of_day_events": found["events_per_second"]},
        "ms": {
            "close_of_day": round(found["close_seconds"] * 1000, 1),
            "bare_select": found["bare_select_ms"],
        },
        "ratio_to_baseline": found["ratio"],
        "goal": "report",
        "limited_by": "each due account loaded and saved by the group committer's writer, one"
        " after another",
        "row": {
            "product": f"close of day: {found['close_seconds']} s over {found['accounts']:,}"
            f" accounts, {found['accounts_due']:,} due, {found['events']:,} events",
            "baseline": f"bare SELECT of the due accounts {found['bare_select_ms']} ms",
            "ratio": _ratio(found["ratio"], times=True),
        },
    }


def remittance_figure(url: str, claims: int) -> dict[str, Any]:
    """One 835 file of ``claims`` claims posted, against posting the same facts as commands
    (one run: the setup is the slow part)."""
    found = remittances.measure(url, claims)
    return {
        "figure": "835 remittance posting claims/s",
        "claims": found["claims"],
        "file_bytes": found["file_bytes"],
        "posted": found["posted"],
        "seconds": found["seconds"],
        "share_of_product": found["share_of_product"],
        "rates_per_second": found["rates_per_second"],
        "ratio_to_baseline": found["ratio_to_baseline"],
        "goal": "report",
        "limited_by": f"reading and checking the file against the guide"
        f" ({found['share_of_product']['read']:.0%} of the time), then posting",
        "row": {
            "product": f"835 posting {_per_second(found['rates_per_second']['product_claims'], 'claims')}"
            f" ({found['claims']:,} claims)",
            "baseline": "the same facts keyed in as JSON commands"
            f" {_per_second(found['rates_per_second']['by_hand_claims'], 'claims')}",
            "ratio": _ratio(found["ratio_to_baseline"]),
        },
    }


def statement_run_figure(url: str, accounts: int) -> dict[str, Any]:
    """A statement run over ``accounts`` accounts, PDF and HTML, against the engines alone on
    the same statements (one run: the setup is the slow part)."""
    found = documents.measure(url, accounts)
    return {
        "figure": "statement run statements/s",
        "accounts": found["accounts"],
        "pages_per_statement": found["pages_per_statement"],
        "seconds": found["seconds"],
        "print_batch": found["print_batch"],
        "rates_per_second": found["rates_per_second"],
        # The run (PDF, recorded as sent) is what users run; the HTML ratio is beside it.
        "ratio_to_baseline": found["ratio_to_baseline"]["pdf"],
        "ratios": found["ratio_to_baseline"],
        "goal": "report",
        "limited_by": "the PDF engine's layout (WeasyPrint alone makes"
        f" {found['rates_per_second']['engine_pdf_statements']:.1f} statements/s)",
        "row": {
            "product": f"statement run, PDF, recorded as sent:"
            f" {found['rates_per_second']['run_pdf_statements']:.1f} statements/s"
            f" ({found['accounts']:,} accounts)",
            "baseline": "WeasyPrint alone on the same statements' HTML"
            f" {found['rates_per_second']['engine_pdf_statements']:.1f}/s",
            "ratio": _ratio(found["ratio_to_baseline"]["pdf"]),
        },
    }


def _write(path: Path, command: str, runs: int, figures: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "runs": runs,
        "command": command,
        "figures": figures,
    }
    path.write_text(json.dumps(result, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each timed run")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--accounts", type=int, default=2_000, help="history for projections")
    parser.add_argument("--commands", type=int, default=10, help="commands per account")
    parser.add_argument(
        "--http-accounts", type=int, default=10_000, help="accounts of the HTTP figure"
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="HTTP worker processes of the server measured"
    )
    parser.add_argument("--invoices", type=int, default=20_000, help="rows of the import")
    parser.add_argument("--replay-events", type=int, default=10_000, help="one account's events")
    parser.add_argument("--small", type=int, default=100_000, help="events, rebuild memory")
    parser.add_argument("--large", type=int, default=1_000_000, help="events, memory and aging")
    parser.add_argument(
        "--no-scale", action="store_true", help="skip the slow figures at 100k and 1M events"
    )
    parser.add_argument(
        "--close-accounts",
        type=int,
        default=100_000,
        help="accounts of the close-of-day figure",
    )
    parser.add_argument(
        "--close-due-percent", type=float, default=1.0, help="of them with something due"
    )
    parser.add_argument(
        "--directory-accounts", type=int, default=100_000, help="accounts, account search"
    )
    parser.add_argument(
        "--remittance-claims", type=int, default=10_000, help="claims of the 835 file posted"
    )
    parser.add_argument(
        "--document-accounts", type=int, default=10_000, help="accounts of the statement run"
    )
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/latest.json")
    args = parser.parse_args(argv)

    url = local_postgres_url()
    command = " ".join(["python -m bench", *(sys.argv[1:] if argv is None else argv)])
    partial = args.out.with_name(args.out.stem + ".partial.json")
    figures: list[dict[str, Any]] = []

    def measured(*found: dict[str, Any]) -> None:
        # Each figure is kept as soon as it is measured: a run that fails at its last figure
        # (an hour in) still leaves the others to read.
        figures.extend(found)
        _write(partial, command, args.runs, figures)

    measured(commands_figure(url, args.runs, args.seconds, args.clients))
    command_rate = figures[0]["rates_per_second"]["product"]
    measured(
        *http_figures(url, args.runs, args.seconds, args.clients, args.http_accounts, args.workers)
    )
    measured(import_figure(url, args.runs, args.invoices))
    measured(*projection_figures(url, args.runs, args.accounts, args.commands, command_rate))
    measured(replay_figure(url, args.runs, args.replay_events))
    measured(directory_figure(url, args.directory_accounts, repeats=20 * args.runs))
    measured(close_day_figure(url, args.close_accounts, args.close_due_percent))
    measured(remittance_figure(url, args.remittance_claims))
    measured(statement_run_figure(url, args.document_accounts))
    if not args.no_scale:
        measured(*scale_figures(url, args.small, args.large))
    _write(args.out, command, args.runs, figures)
    partial.unlink(missing_ok=True)
    for figure in figures:
        print(json.dumps(figure))
    print(f"results written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
