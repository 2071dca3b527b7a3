"""The first start's admin key: made, kept in the data folder and shown as one step that
completes or leaves no trace; later starts say where it is, or exactly what to do."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.admin_key import AdminKeyNotStored, Found, ensure_admin_key, reset_admin_key
from services.api_keys import Role
from services.bootstrap import CannotStart, Runtime, bootstrap
from services.cli import app as ar
from services.settings import Settings


def _live_admins(runtime: Runtime) -> list[str]:
    rows = runtime.db.query(
        "SELECT key_id FROM api_keys WHERE role = 'admin' AND revoked_at IS NULL"
    )
    return [row["key_id"] for row in rows]


def test_the_first_start_makes_keeps_and_shows_the_key_once(runtime: Runtime) -> None:
    first = ensure_admin_key(runtime)
    key_file = runtime.settings.admin_key_file
    assert first.found is Found.created
    assert first.secret is not None
    assert first.secret in first.banner
    assert key_file.read_text() == first.secret + "\n"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    caller = runtime.keys.authenticate(first.secret)
    assert caller is not None
    assert caller.role is Role.admin
    assert caller.tenant_id == "default"
    assert not key_file.with_name("admin-api-key.new").exists()

    later = ensure_admin_key(runtime)
    assert later.found is Found.in_file
    assert later.secret is None
    assert first.secret not in later.banner
    assert _live_admins(runtime) == [caller.key_id]


def test_a_data_folder_that_cannot_be_written_stores_no_key_and_the_next_start_shows_one(
    postgres_settings: Settings, tmp_path: Path
) -> None:
    # Tests run as root, whom permissions do not stop: the folder's path is a file instead.
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    runtime = bootstrap(Settings(data_dir=blocked, database_url=postgres_settings.database_url))
    try:
        with pytest.raises(AdminKeyNotStored, match=r"Nothing was stored: make .* a folder"):
            ensure_admin_key(runtime)
        assert _live_admins(runtime) == []
    finally:
        runtime.close()

    fixed = bootstrap(postgres_settings)  # the same database, a folder it can write
    try:
        start = ensure_admin_key(fixed)
        assert start.found is Found.created
        assert start.secret is not None
        assert fixed.keys.authenticate(start.secret) is not None
    finally:
        fixed.close()


def test_on_sqlite_a_data_folder_that_is_a_file_stops_the_start_with_a_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "var"
    blocked.write_text("")
    with pytest.raises(CannotStart, match=r"the data folder .*var \(AR_DATA_DIR\) cannot be made"):
        bootstrap(Settings(data_dir=blocked))

    monkeypatch.setenv("AR_DATA_DIR", str(blocked / "below-a-file"))
    served = CliRunner().invoke(ar, ["serve"])
    assert served.exit_code == 1
    assert served.output.startswith("error: the data folder ")
    assert "Traceback" not in served.output
    assert blocked.read_text() == ""


def test_a_key_file_that_cannot_be_put_in_place_takes_its_row_back(runtime: Runtime) -> None:
    key_file = runtime.settings.admin_key_file
    key_file.mkdir(parents=True)
    (key_file / "something").write_text("")  # a folder in the way: the rename fails
    with pytest.raises(AdminKeyNotStored, match="Nothing was stored"):
        reset_admin_key(runtime)
    assert runtime.db.query("SELECT key_id FROM api_keys") == []
    assert not key_file.with_name("admin-api-key.new").exists()


def test_a_start_stopped_between_storing_and_placing_the_key_finishes_and_shows_it(
    runtime: Runtime,
) -> None:
    key_file = runtime.settings.admin_key_file
    key_file.parent.mkdir(parents=True, exist_ok=True)
    stored = runtime.keys.create(name="local-admin", tenant_id="default", role=Role.admin)
    pending = key_file.with_name("admin-api-key.new")
    pending.write_text(stored.secret + "\n")

    start = ensure_admin_key(runtime)
    assert start.found is Found.created
    assert start.secret == stored.secret
    assert key_file.read_text().strip() == stored.secret
    assert not pending.exists()


def test_a_start_stopped_before_storing_the_key_leaves_nothing_that_counts(
    runtime: Runtime,
) -> None:
    key_file = runtime.settings.admin_key_file
    key_file.parent.mkdir(parents=True, exist_ok=True)
    never_stored = "ar_000000000000_never-stored"
    key_file.with_name("admin-api-key.new").write_text(never_stored + "\n")

    start = ensure_admin_key(runtime)
    assert start.found is Found.created
    assert start.secret != never_stored
    assert runtime.keys.authenticate(key_file.read_text().strip()) is not None


def test_a_lost_key_file_is_named_and_reset_admin_replaces_the_key(runtime: Runtime) -> None:
    first = ensure_admin_key(runtime)
    assert first.secret is not None
    runtime.settings.admin_key_file.unlink()

    lost = ensure_admin_key(runtime)
    assert lost.found is Found.not_in_file
    assert "ar keys reset-admin" in lost.banner

    issued = reset_admin_key(runtime)
    assert runtime.settings.admin_key_file.read_text().strip() == issued.secret
    assert oct(runtime.settings.admin_key_file.stat().st_mode & 0o777) == "0o600"
    assert runtime.keys.authenticate(first.secret) is None  # the lost one stops working
    assert runtime.keys.authenticate(issued.secret) is not None
    assert ensure_admin_key(runtime).found is Found.in_file


def test_a_key_file_this_database_does_not_take_is_named_not_trusted(runtime: Runtime) -> None:
    first = ensure_admin_key(runtime)
    assert first.secret is not None
    runtime.keys.revoke("default", first.secret.split("_")[1])

    start = ensure_admin_key(runtime)
    assert start.found is Found.not_live
    assert "not a live key of this database" in start.banner
    assert "ar keys reset-admin" in start.banner
    assert _live_admins(runtime) == []  # nothing made behind the operator's back


def test_ar_keys_reset_admin_prints_the_new_key_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AR_DATA_DIR", str(tmp_path / "var"))
    made = CliRunner().invoke(ar, ["keys", "reset-admin"])
    assert made.exit_code == 0, made.output
    key = (tmp_path / "var" / "admin-api-key").read_text().strip()
    assert made.stdout.strip() == key
    assert os.stat(tmp_path / "var" / "admin-api-key").st_mode & 0o077 == 0
