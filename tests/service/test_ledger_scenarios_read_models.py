"""Scenarios from practice, written as ledgers (``tests/ledger/*.ledger``), played through the
application with the read models projected: every figure the text states must come out of the
tables and reports (or, for what the API answers from the account, the account loaded back
from the store), on embedded SQLite and on PostgreSQL.

The same files are played against the aggregate in memory in
``tests/unit/test_ledger_scenarios.py``; the format is described in ``tests/ledger/runner.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from services.bootstrap import Runtime
from tests.ledger.application_book import ApplicationBook
from tests.ledger.runner import ScenarioFailed, parse, play, scenario_files


@pytest.mark.parametrize("path", scenario_files(), ids=lambda path: path.stem)
def test_the_read_models_give_every_figure_of_the_scenario(runtime: Runtime, path: Path) -> None:
    play(parse(path), ApplicationBook(runtime))


def test_a_wrong_figure_fails_naming_the_file_line_and_the_read_models(
    sqlite_runtime: Runtime, tmp_path: Path
) -> None:
    (source,) = [path for path in scenario_files() if path.stem == "one_cent_left_open"]
    copy = tmp_path / source.name
    copy.write_text(source.read_text().replace("31-60 0.01", "31-60 0.02"))
    (line,) = [n for n, text in enumerate(copy.read_text().splitlines(), 1) if "0.02" in text]
    with pytest.raises(ScenarioFailed) as failed:
        play(parse(copy), ApplicationBook(sqlite_runtime))
    message = str(failed.value)
    assert f"{copy}:{line}: check aging as of 2024-03-19" in message
    assert "the application (read models) says: not yet due 0.00, 1-30 0.00, 31-60 0.01" in message
