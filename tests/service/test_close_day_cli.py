"""``ar close-day`` and ``ar tenant``: the close of day and the tenant's settings from the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from services.bootstrap import Runtime
from services.cli import app as cli
from tests.service.test_close_of_day import owing
from tests.service.test_verify_and_explain import same_store

AS = ["--tenant", "acme", "--actor", "ops-olga"]


@pytest.fixture
def ar(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    same_store(runtime, monkeypatch)
    return CliRunner()


def test_a_day_is_closed_from_the_cli_once_with_a_summary(runtime: Runtime, ar: CliRunner) -> None:
    owing(runtime, "A-1", "2026-02-01")
    owing(runtime, "A-2", "2026-09-01")
    policy = ar.invoke(
        cli,
        [
            "tenant",
            "set-policy",
            "15:reminder",
            "45:final_notice",
            *AS,
            "--effective-on",
            "2026-01-01",
        ],
    )
    assert policy.exit_code == 0, policy.output
    assert "dunning policy v1, in force from 2026-01-01" in policy.output

    closed = ar.invoke(cli, ["close-day", "--as-of", "2026-03-01", *AS, "--json"])
    assert closed.exit_code == 0, closed.output
    run = json.loads(closed.output)
    assert run["recorded"] is True
    (day,) = run["days"]
    assert (day["accounts_due"], day["dunning_escalated"], day["events"]) == (1, 1, 1)

    again = ar.invoke(cli, ["close-day", "--as-of", "2026-03-01", *AS])
    assert again.exit_code == 0, again.output
    pairs = [line.split("  ", 1) for line in again.output.splitlines()]
    shown = {key.strip(): value.strip() for key, value in pairs}
    assert shown["business day"] == "2026-03-01"
    assert shown["closed"] == "before (nothing recorded now)"
    assert (shown["dunning policy"], shown["dunning escalated"]) == ("v1", "1")

    caught_up = ar.invoke(cli, ["close-day", "--as-of", "2026-03-03", *AS])
    assert caught_up.exit_code == 0, caught_up.output
    days = [line.split()[0] for line in caught_up.output.splitlines()[2:] if line[0] != "─"]
    assert days == ["2026-03-02", "2026-03-03", "total"]

    shown = ar.invoke(
        cli, ["tenant", "policy", "--tenant", "acme", "--as-of", "2026-03-01", "--json"]
    )
    assert json.loads(shown.output)["levels"][1] == {
        "level": 2,
        "days_past_due": 45,
        "action": "final_notice",
    }


def test_the_cli_refuses_bad_input_with_a_sentence_and_records_nothing(
    runtime: Runtime, ar: CliRunner
) -> None:
    head = runtime.app.recorder.max_notification_id()
    tomorrow = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    future = ar.invoke(cli, ["close-day", "--as-of", tomorrow, *AS])
    assert future.exit_code == 1
    assert "has not come yet" in future.output
    decreasing = ar.invoke(cli, ["tenant", "set-policy", "30:reminder", "20:final_notice", *AS])
    assert decreasing.exit_code == 1
    assert "increasing" in decreasing.output
    zone = ar.invoke(
        cli, ["tenant", "set-schedule", "--at", "18:00", "--time-zone", "Nowhere", *AS]
    )
    assert zone.exit_code == 1
    assert "IANA" in zone.output
    assert runtime.app.recorder.max_notification_id() == head


def test_a_schedule_is_set_shown_and_cleared(ar: CliRunner) -> None:
    assert "closes no day" in ar.invoke(cli, ["tenant", "schedule", "--tenant", "acme"]).output
    set_ = ar.invoke(
        cli, ["tenant", "set-schedule", "--at", "18:30", "--time-zone", "Europe/Berlin", *AS]
    )
    assert set_.exit_code == 0, set_.output
    assert (
        "18:30 Europe/Berlin" in ar.invoke(cli, ["tenant", "schedule", "--tenant", "acme"]).output
    )
    assert "cleared" in ar.invoke(cli, ["tenant", "clear-schedule", *AS]).output
