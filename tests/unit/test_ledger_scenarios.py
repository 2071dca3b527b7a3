"""Scenarios from practice, written as ledgers (``tests/ledger/*.ledger``), played against the
``Account`` aggregate in memory: every figure the text states must come out of it.

The same files are played through the application and its read models in
``tests/service/test_ledger_scenarios_read_models.py``; the format is described in
``tests/ledger/runner.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.ledger.account_book import AccountBook
from tests.ledger.runner import (
    LedgerSyntaxError,
    ScenarioFailed,
    parse,
    play,
    scenario_files,
)


@pytest.mark.parametrize("path", scenario_files(), ids=lambda path: path.stem)
def test_the_aggregate_gives_every_figure_of_the_scenario(path: Path) -> None:
    play(parse(path), AccountBook())


def test_there_are_scenarios_to_play() -> None:
    assert len(scenario_files()) >= 6


def scratch_copy(tmp_path: Path, name: str, old: str, new: str) -> Path:
    """A copy of a scenario with ``old`` replaced by ``new`` (exactly once)."""
    (source,) = [path for path in scenario_files() if path.stem == name]
    text = source.read_text(encoding="utf-8")
    assert text.count(old) == 1
    copy = tmp_path / source.name
    copy.write_text(text.replace(old, new), encoding="utf-8")
    return copy


def line_of(path: Path, text: str) -> int:
    (number,) = [n for n, line in enumerate(path.read_text().splitlines(), start=1) if text in line]
    return number


def test_a_wrong_figure_fails_naming_the_file_line_and_both_figures(tmp_path: Path) -> None:
    copy = scratch_copy(
        tmp_path,
        "plan_of_ten_months_settled_with_300_off",
        "check outstanding INV-1 700.00\n",
        "check outstanding INV-1 600.00\n",
    )
    with pytest.raises(ScenarioFailed) as failed:
        play(parse(copy), AccountBook())
    message = str(failed.value)
    assert f"{copy}:{line_of(copy, 'INV-1 600.00')}: check outstanding INV-1 600.00" in message
    assert "the text says: 600.00" in message
    assert "the aggregate says: 700.00" in message
    assert message.count("\n    the text says") == 1  # the other figures still agree


def test_a_step_the_aggregate_refuses_fails_naming_its_line(tmp_path: Path) -> None:
    copy = scratch_copy(
        tmp_path, "one_cent_left_open", "pay p1 99.99", "credit-note CN-1 on INV-9 1.00"
    )
    with pytest.raises(
        ScenarioFailed,
        match=rf"(?s){re.escape(str(copy))}:{line_of(copy, 'INV-9')}: .*the aggregate refused it",
    ):
        play(parse(copy), AccountBook())


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        ("pay p1 99.99", "pay p1 99.9", "as the ledger prints it: 99.90"),
        ("pay p1 99.99", "pay p1 99.99 cash", "unexpected 'cash'"),
        ("pay p1 99.99", "settle p1 99.99", "unknown step 'settle'"),
        ("check credit 0.00", "check credits 0.00", "unknown check 'credits'"),
        ("2024-01-06 pay", "2024-01-32 pay", "expected a date"),
        ("44 days late", "44 days soon", "expected 'late'"),
        ("not yet due 0.00,", "not due 0.00,", "unknown name 'not due'"),
    ],
)
def test_a_mistake_in_the_text_names_the_file_and_line(
    tmp_path: Path, old: str, new: str, complaint: str
) -> None:
    copy = scratch_copy(tmp_path, "one_cent_left_open", old, new)
    line = line_of(copy, new)
    with pytest.raises(
        LedgerSyntaxError, match=rf"(?s)^{re.escape(str(copy))}:{line}: .*{complaint}"
    ):
        parse(copy)
