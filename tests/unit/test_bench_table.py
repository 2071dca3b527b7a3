"""The benchmark table is laid out from the results file, and judges each goal as written."""

from __future__ import annotations

import json

import pytest

from bench.table import BEGIN, END, README, RESULTS, goal_met, markdown, with_table


@pytest.mark.parametrize(
    ("figure", "met"),
    [
        ({"goal": ">= 1.0", "ratio_to_baseline": 1.0}, True),
        ({"goal": ">= 1.0", "ratio_to_baseline": 0.99}, False),
        ({"goal": "<= 2", "ratio_to_baseline": 2.5}, False),
        ({"goal": "< 0.10", "growth": 0.2, "ratio_to_baseline": 0.01}, True),
        ({"goal": "growth < 0.10", "growth": 0.05}, True),
        ({"goal": "http p99 <= 10", "http": {"p99": 9.5}}, True),
        ({"goal": "http p99 <= 10", "http": {"p99": 32.0}}, False),
        ({"goal": "http p99 <= 10", "http": {}}, False),
        ({"goal": "report", "ratio_to_baseline": 3.0}, None),
    ],
)
def test_a_goal_is_judged_on_the_number_it_names(figure: dict[str, object], met: bool) -> None:
    assert goal_met(figure) is met


def test_the_readme_table_is_replaced_between_its_markers_only() -> None:
    results = {
        "recorded_at": "2026-12-03T04:00:00+00:00",
        "machine": {"cores": 2, "cpu": "x", "python": "3.11.7"},
        "runs": 3,
        "figures": [
            {
                "figure": "relay to Kafka records/s",
                "goal": ">= 0.8",
                "ratio_to_baseline": 0.9,
                "limited_by": "the broker | acks",
                "row": {"product": "9/s", "baseline": "10/s", "ratio": "0.9"},
            }
        ],
    }
    table = markdown(results)
    assert (
        "| relay to Kafka records/s | 9/s | 10/s | 0.9 | >= 0.8 | yes | the broker \\| acks |"
        in table
    )
    readme = f"# R\n\nbefore\n{BEGIN}\nold table\n{END}\nafter\n"
    rewritten = with_table(readme, table)
    assert rewritten == f"# R\n\nbefore\n{BEGIN}\n{table}\n{END}\nafter\n"
    with pytest.raises(ValueError, match="markers"):
        with_table("# no markers\n", table)


def test_the_readme_holds_the_table_of_the_committed_results() -> None:
    results = json.loads(RESULTS.read_text())
    readme = README.read_text()
    assert results["figures"], "the committed results file holds no figure"
    assert with_table(readme, markdown(results)) == readme, (
        "README.md's benchmark table differs from bench/results/latest.json:"
        " run `uv run python -m bench.table --readme`"
    )
