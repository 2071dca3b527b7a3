"""The product's own tables under versioned migrations: from an empty database, from a store of
the release before migrations (``tests/fixtures/store_of_release_00a8215``, recorded by that
release's code), by ``ar migrate``, one process at a time, and never over a later release's."""

from __future__ import annotations

import json
import multiprocessing
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from services import migrations
from services.api.app import create_app
from services.api_keys import Role
from services.bootstrap import CannotStart, Runtime, bootstrap
from services.cli import app as ar
from services.relay_positions import relay_position
from services.settings import Settings

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "store_of_release_00a8215"
BASELINE = migrations.SCRIPTS / "versions" / "0001_product_tables.py"


def _baseline_tables() -> list[str]:
    namespace: dict[str, Any] = {}
    exec(compile(BASELINE.read_text(), str(BASELINE), "exec"), namespace)
    return list(namespace["TABLES"])


def _tables(runtime: Runtime) -> set[str]:
    listing = (
        "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'"
        if runtime.db.is_postgres
        else "SELECT name FROM sqlite_master WHERE type = 'table'"
    )
    return {row["name"] for row in runtime.db.query(listing)}


@pytest.fixture
def previous_release_store(tmp_path: Path) -> tuple[Settings, dict[str, Any]]:
    """A copy of the recorded store in a data folder of its own, as the release left it."""
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    shutil.copy(FIXTURE / "receivables.sqlite", data_dir / "receivables.sqlite")
    shutil.copy(FIXTURE / "admin-api-key", data_dir / "admin-api-key")
    (data_dir / "admin-api-key").chmod(0o600)
    recording = json.loads((FIXTURE / "recording.json").read_text())
    return Settings(data_dir=data_dir), recording


def test_the_head_named_in_code_is_the_newest_migration_and_the_baseline_names_its_tables() -> None:
    config = Config()
    config.set_main_option("script_location", str(migrations.SCRIPTS))
    assert ScriptDirectory.from_config(config).get_current_head() == migrations.HEAD
    statements = BASELINE.read_text()
    for table in _baseline_tables():
        assert f"CREATE TABLE IF NOT EXISTS {table} (" in statements
    assert statements.count("CREATE TABLE IF NOT EXISTS") == len(_baseline_tables())


def test_an_empty_database_gets_every_product_table_at_the_newest_migration(
    runtime: Runtime,
) -> None:
    assert migrations.current_revision(runtime.db) == migrations.HEAD
    assert set(_baseline_tables()) <= _tables(runtime)
    assert migrations.status(runtime.settings).up_to_date
    # The read models are the projector's, not the migrations'.
    assert "account_balances" not in _tables(runtime)


def test_processes_starting_together_migrate_once(runtime: Runtime) -> None:
    runtime.db.execute("DROP TABLE alembic_version")
    runtime.db.execute("DROP TABLE gl_exports")
    # Processes, as Alembic's context is one per process.
    with multiprocessing.get_context("fork").Pool(3) as pool:
        befores = pool.map(migrations.migrate, [runtime.settings] * 3)
    assert [b.current for b in befores].count(None) >= 1
    assert runtime.db.query("SELECT version_num FROM alembic_version") == [
        {"version_num": migrations.HEAD}
    ]
    assert "gl_exports" in _tables(runtime)


def test_a_database_migrated_by_a_later_release_is_refused_untouched(runtime: Runtime) -> None:
    runtime.db.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(CannotStart, match="migration 9999, which this release does not know"):
        bootstrap(runtime.settings)
    assert migrations.current_revision(runtime.db) == "9999"


def test_the_release_before_migrations_store_is_adopted_with_its_keys_replays_and_figures(
    previous_release_store: tuple[Settings, dict[str, Any]],
) -> None:
    settings, recording = previous_release_store
    with sqlite3.connect(settings.sqlite_path) as before:
        tables_before = {r[0] for r in before.execute("SELECT name FROM sqlite_master")}
        keys_before = before.execute("SELECT * FROM api_keys ORDER BY key_id").fetchall()
    assert "alembic_version" not in tables_before  # as that release left it
    assert "period_barriers" not in tables_before  # a table it did not have yet

    runtime = bootstrap(settings)
    try:
        assert migrations.current_revision(runtime.db) == migrations.HEAD
        with sqlite3.connect(settings.sqlite_path) as after:
            assert after.execute("SELECT * FROM api_keys ORDER BY key_id").fetchall() == keys_before
        admin = runtime.keys.authenticate((settings.admin_key_file).read_text().strip())
        assert admin is not None
        assert admin.role is Role.admin
        clerk = runtime.keys.authenticate(recording["clerk_key"])
        assert clerk is not None
        assert clerk.name == "clerk-ann"
        assert runtime.keys.authenticate(recording["revoked_key"]) is None
        assert relay_position(runtime.db) == recording["relay_position"]

        with TestClient(create_app(runtime)) as client:
            client.headers["Authorization"] = f"Bearer {recording['clerk_key']}"
            for sent in recording["requests"]:
                again = client.post(
                    sent["path"],
                    json=sent["body"],
                    headers={"Idempotency-Key": sent["idempotency_key"]},
                )
                assert again.status_code == sent["status"], again.text
                assert again.headers.get("Idempotent-Replayed") == "true"
                replayed = again.json()
                # The answer recorded then, with whatever fields this release added to it.
                assert {k: replayed[k] for k in sent["answer"]} == sent["answer"]
            # A read model whose version changed rebuilds itself from the events.
            runtime.db.execute(
                "UPDATE projection_versions SET version = version - 1"
                " WHERE projection = 'account_balances'"
            )
            projector = runtime.projector()
            assert projector.positions()["account_balances"] == 0  # dropped, to be rebuilt
            projector.catch_up()
            assert projector.positions()["account_balances"] == recording["relay_position"]
            balance = client.get("/v1/accounts/A-100/balance").json()
            assert {k: balance[k] for k in recording["balance"]} == recording["balance"]
            # The tables that release did not have work too: a new command is recorded.
            charged = client.post(
                "/v1/accounts/A-100/charges",
                json={
                    "code": "VISIT",
                    "description": "Follow-up",
                    "unit_price": "50.00",
                    "service_date": "2026-01-20",
                },
                headers={"Idempotency-Key": "after-migration"},
            )
            assert charged.status_code == 201, charged.text
            assert charged.json()["balance"] == "650.00"
    finally:
        runtime.close()


def test_ar_migrate_says_where_the_store_stands_then_migrates_it(
    previous_release_store: tuple[Settings, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, _ = previous_release_store
    monkeypatch.setenv("AR_DATA_DIR", str(settings.data_dir))
    runner = CliRunner()

    status = runner.invoke(ar, ["migrate", "--status"])
    assert status.exit_code == 0, status.output
    assert "at migration none" in status.output
    assert "to run: 0001  The product's own tables" in status.output
    assert "to run: 0002  Changes to API keys announced" in status.output
    with sqlite3.connect(settings.sqlite_path) as store:
        names = {r[0] for r in store.execute("SELECT name FROM sqlite_master")}
    assert "alembic_version" not in names  # --status changes nothing

    migrated = runner.invoke(ar, ["migrate"])
    assert migrated.exit_code == 0, migrated.output
    assert f"migrated from none (no migration run yet) to {migrations.HEAD}" in migrated.output
    again = runner.invoke(ar, ["migrate"])
    assert f"at migration {migrations.HEAD}, up to date; nothing to run" in again.output

    with sqlite3.connect(settings.sqlite_path) as store:
        store.execute("UPDATE alembic_version SET version_num = '9999'")
    refused = runner.invoke(ar, ["migrate"])
    assert refused.exit_code == 1
    assert "error: the database's product tables are at migration 9999" in refused.output
