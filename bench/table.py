"""The benchmark table: one row per figure of a results file (``bench/results/latest.json``).

    uv run python -m bench.table [--results FILE] [--readme]

Every figure ``python -m bench`` writes carries its ``row``: what the product did, what the
baseline did in the same run, and the ratio between them; beside it its ``goal`` and what
``limited_by`` it, measured (``bench.cpu``). This module only lays them out, so the README's
table is never typed by hand: ``--readme`` rewrites the part of README.md between the two
``bench:table`` markers, and a test checks that the README holds what the committed results
file gives.
"""

from __future__ import annotations

import argparse
import json
import operator
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench/results/latest.json"
README = REPO / "README.md"
BEGIN = "<!-- bench:table begin: written by `python -m bench.table --readme`, not by hand -->"
END = "<!-- bench:table end -->"

_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
_GOAL = re.compile(r"^(?P<what>[a-z0-9 ]*?)\s*(?P<op>>=|<=|>|<)\s*(?P<value>[0-9.]+)$")


def goal_value(figure: dict[str, Any]) -> float | None:
    """The number the figure's goal is judged on; None where the goal names none it carries.

    A goal is ``<op> <value>`` on the figure's ``ratio_to_baseline``, or ``<path> <op> <value>``
    on the number at that path (``http p99 <= 10``: ``figure["http"]["p99"]``)."""
    found = _GOAL.match(str(figure.get("goal", "")))
    if found is None:
        return None
    value: Any = figure
    for step in found["what"].split() or ["ratio_to_baseline"]:
        value = value.get(step) if isinstance(value, dict) else None
    return None if value is None else float(value)


def goal_met(figure: dict[str, Any]) -> bool | None:
    """Whether the figure meets its goal (``goal_value``); None for a figure reported without
    one, False where the number it names is missing."""
    found = _GOAL.match(str(figure.get("goal", "")))
    if found is None:
        return None
    value = goal_value(figure)
    if value is None:
        return False
    return _COMPARISONS[found["op"]](value, float(found["value"]))


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(results: dict[str, Any]) -> str:
    """The table of a results file, in Markdown, with the machine and the date it was run on."""
    machine = results["machine"]
    lines = [
        f"Measured {results['recorded_at'][:10]} on {machine['cores']} cores ({machine['cpu']}),"
        f" Python {machine['python']}, medians of {results['runs']} runs"
        f" (`{results.get('command', 'python -m bench')}`).",
        "",
        "| figure | product | baseline in the same run | ratio | goal | met | limited by |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for figure in results["figures"]:
        row = figure.get("row", {})
        met = goal_met(figure)
        lines.append(
            "| "
            + " | ".join(
                _cell(x)
                for x in (
                    figure["figure"],
                    row.get("product", ""),
                    row.get("baseline", ""),
                    row.get("ratio", ""),
                    figure.get("goal", ""),
                    {True: "yes", False: "**no**", None: "—"}[met],
                    figure.get("limited_by", ""),
                )
            )
            + " |"
        )
    return "\n".join(lines)


def with_table(readme: str, table: str) -> str:
    """``readme`` with the part between the markers replaced by ``table``."""
    before, begin, rest = readme.partition(BEGIN)
    _, end, after = rest.partition(END)
    if not begin or not end:
        msg = f"README.md has no {BEGIN!r} ... {END!r} markers"
        raise ValueError(msg)
    return f"{before}{BEGIN}\n{table}\n{END}{after}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.table", description=__doc__)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--readme", action="store_true", help="rewrite README.md's table")
    args = parser.parse_args(argv)
    table = markdown(json.loads(args.results.read_text()))
    print(table)
    if args.readme:
        README.write_text(with_table(README.read_text(), table))
        print(f"README.md's benchmark table rewritten from {args.results}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
