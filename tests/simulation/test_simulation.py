"""The seeded fault simulation, CI size: fixed seeds against real PostgreSQL and Kafka.

Each seed is a stream of 400 commands over three tenants — valid ones and hostile ones —
sent by two application instances at once while the recorder drops, refuses or loses the
answer of a save for about one command in thirty (per try). Every answer, the store, the read models, ``verify`` and
the topic must agree with the shadow model. A failure names the seed, its findings and the
shortest command list found that still fails the same way; run it again with
``uv run --frozen python -m tests.simulation --seed N --commands 400``. One shorter seed runs
the process-level tier: the same checks over HTTP while ``ar serve``, ``ar project`` and
``ar relay`` are SIGKILLed and the database's connections are cut (``--processes``).
"""

from __future__ import annotations

import io

import pytest

from tests.simulation import generator
from tests.simulation.__main__ import run_seed

#: Seeds that, on the code before issue 12's fixes, found defect 1 (phantom state after a failed
#: save), defect 2 (one command's OverflowError failing its batch) and defect 3 (hostile input
#: accepted, then an unreadable event and a stopped projector): see tests/simulation/README.md.
CI_SEEDS = (1, 2, 3, 4, 5, 6)
COMMANDS = 400
#: Seconds a failing seed may spend cutting its stream down before it reports.
SHRINK_SECONDS = 30.0

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("seed", CI_SEEDS)
def test_a_seeded_stream_with_faults_keeps_every_invariant(
    seed: int, postgres_url: str, kafka_bootstrap: str
) -> None:
    out = io.StringIO()
    report = run_seed(
        seed,
        COMMANDS,
        server_url=postgres_url,
        kafka=kafka_bootstrap,
        fault_rate=0.03,
        shrink_seconds=SHRINK_SECONDS,
        out=out,
    )
    assert report.ok, out.getvalue()
    assert report.acknowledged > COMMANDS // 2
    assert sum(report.faults.values()) > 0
    assert report.published == report.events


#: The process-level tier in CI: one short seed over HTTP, with SIGKILLs and cut connections.
PROCESS_SEED = 2
PROCESS_COMMANDS = 80


def test_a_seeded_stream_over_http_survives_killed_processes_and_cut_connections(
    postgres_url: str, kafka_bootstrap: str
) -> None:
    out = io.StringIO()
    report = run_seed(
        PROCESS_SEED,
        PROCESS_COMMANDS,
        server_url=postgres_url,
        kafka=kafka_bootstrap,
        fault_rate=0,
        shrink_seconds=0,
        processes=True,
        out=out,
    )
    assert report.ok, out.getvalue()
    assert sum(report.faults.values()) > 0
    assert report.published == report.events


def test_the_same_seed_makes_the_same_stream() -> None:
    assert generator.stream(42, 200) == generator.stream(42, 200)
    assert generator.stream(42, 200) != generator.stream(43, 200)
