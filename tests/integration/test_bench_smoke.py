"""The benchmark harness still runs end to end, at tiny sizes (benchmarks are not tests: no
time is asserted here, only that every figure is measured next to its baseline)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from bench.scratch import scratch_database
from bench.table import goal_value, markdown

REPO = Path(__file__).resolve().parents[2]


def test_the_harness_measures_every_figure_next_to_its_baseline(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    tiny = ["--runs", "1", "--seconds", "0.3", "--clients", "2", "--accounts", "20"]
    tiny += ["--small", "100", "--large", "300", "--invoices", "30", "--replay-events", "100"]
    tiny += ["--directory-accounts", "300", "--http-accounts", "40", "--workers", "2"]
    tiny += ["--close-accounts", "200"]
    tiny += ["--remittance-claims", "50"]
    tiny += ["--document-accounts", "10"]
    subprocess.run(
        [sys.executable, "-m", "bench", *tiny, "--commands", "2", "--out", str(out)],
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=300,
    )
    result = json.loads(out.read_text())
    assert not (tmp_path / "results.partial.json").exists()  # kept only while the run lasts
    assert result["machine"]["cores"] >= 1
    figures = {figure["figure"]: figure for figure in result["figures"]}
    assert set(figures) == {
        "sustained commands/s, PostgreSQL",
        "sustained commands/s over HTTP, PostgreSQL",
        "sustained commands/s over HTTP on one hot account",
        "command latency at half the sustained rate, ms",
        "bulk import events/s (CSV of accounts, invoices, payments)",
        "as-of replay of an account with 100 events, ms",
        "account search over 300 accounts, ms",
        "projection rebuild events/s",
        "aging report over every account, ms",
        "relay to Kafka records/s",
        "peak memory of a rebuild, MB",
        "aging report over the large history's accounts, ms",
        "close of day over many accounts, few due",
        "835 remittance posting claims/s",
        "statement run statements/s",
    }
    table = markdown(result)
    for name in figures:
        figure = figures[name]
        assert figure["limited_by"], name
        assert figure["row"]["product"], name
        assert figure["row"]["baseline"], name
        assert name in table
    unjudged = [n for n, f in figures.items() if f["goal"] != "report" and goal_value(f) is None]
    assert not unjudged  # every goal names a number the figure carries
    latency = figures.pop("command latency at half the sustained rate, ms")
    assert latency["in_process"]["p99"] >= latency["in_process"]["p50"] > 0
    assert latency["http"]["p99"] >= latency["http"]["p50"] > 0
    assert figures["sustained commands/s over HTTP, PostgreSQL"]["failures"] == 0
    assert figures["sustained commands/s over HTTP, PostgreSQL"]["workers"] == 2
    memory = figures.pop("peak memory of a rebuild, MB")
    assert memory["peak_rss_mb"]["large"] > 0
    assert isinstance(memory["growth"], float)
    for figure in figures.values():
        assert figure["ratio_to_baseline"] > 0, figure
    assert figures["projection rebuild events/s"]["events"] >= 20 + 20 * 2


def test_a_scratch_database_is_dropped_while_sessions_of_its_own_are_open(
    postgres_url: str,
) -> None:
    with scratch_database(postgres_url, "drop") as url:
        name = url.rsplit("/", 1)[1]
        idle = psycopg.connect(url)
        in_transaction = psycopg.connect(url)
        in_transaction.execute("SELECT 1")  # a transaction left open, as a crashed figure's
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        left = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    assert left is None
    for ended in (idle, in_transaction):
        with pytest.raises(psycopg.OperationalError):
            ended.execute("SELECT 1")
        ended.close()
