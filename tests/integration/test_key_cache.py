"""A remembered API key stops working at once when it is revoked: by the serving process itself
(its very next request is refused), by another process (refused as soon as PostgreSQL's
notification arrives, and from then on), by anyone while the process's listening connection
is lost (keys are read from the table until it listens again), and on the embedded SQLite
store by a second process (its next check is refused)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx2 as httpx
import psycopg

from services.api_keys import Role
from services.bootstrap import Runtime, bootstrap
from services.settings import Settings
from tests.integration.test_database_goes_away import Server


def _until(condition: Callable[[], bool], failure: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, failure
        time.sleep(0.01)


def test_a_revoked_key_is_refused_by_the_server_whichever_process_revoked_it(
    fresh_postgres_url: str, tmp_path: Path
) -> None:
    server = Server(fresh_postgres_url, tmp_path / "var")
    try:
        admin_key = (tmp_path / "var" / "admin-api-key").read_text().strip()
        admin = {"Authorization": f"Bearer {admin_key}"}
        with httpx.Client(base_url=f"{server.base}/v1", timeout=60) as client:
            ann, bob = (
                client.post("/keys", json={"name": name, "role": "clerk"}, headers=admin).json()
                for name in ("clerk-ann", "clerk-bob")
            )

            def balance(key: dict[str, str]) -> int:
                headers = {"Authorization": f"Bearer {key['key']}"}
                return client.get("/accounts/A-1/balance", headers=headers).status_code

            # Read from the table, then from the server's memory: the keys work.
            assert [balance(ann) for _ in range(3)] == [404] * 3
            assert [balance(bob) for _ in range(3)] == [404] * 3

            # Revoked through the server: its very next request is refused.
            revoked = client.delete(f"/keys/{ann['key_id']}", headers=admin)
            assert revoked.status_code == 204, revoked.text
            assert balance(ann) == 401

            # Revoked by another process: refused once the notification is in, and after.
            revoker = bootstrap(
                Settings(data_dir=tmp_path / "revoker", database_url=fresh_postgres_url)
            )
            try:
                assert revoker.keys.revoke("default", bob["key_id"])
            finally:
                revoker.close()
            _until(lambda: balance(bob) == 401, "the revocation did not reach the server")
            assert [balance(bob) for _ in range(3)] == [401] * 3
    finally:
        log = server.stop()
    assert ann["key"] not in log
    assert bob["key"] not in log


def _listening_backends(conn: psycopg.Connection[tuple[int]]) -> list[int]:
    return [
        pid
        for (pid,) in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND query = 'LISTEN api_keys_changed'"
        )
    ]


def test_while_its_listening_connection_is_lost_a_process_reads_keys_and_honours_changes(
    postgres_runtime: Runtime, fresh_postgres_url: str
) -> None:
    keys = postgres_runtime.keys
    ann = keys.create(name="clerk-ann", tenant_id="acme", role=Role.clerk)
    bob = keys.create(name="clerk-bob", tenant_id="acme", role=Role.clerk)
    assert keys.authenticate(ann.secret) is not None
    assert keys.cached(ann.secret) is not None
    with psycopg.connect(fresh_postgres_url, autocommit=True) as other:
        # Any change to the row, made elsewhere, reaches the remembered key.
        other.execute(
            "UPDATE api_keys SET role = 'auditor' WHERE key_id = %s", (ann.caller.key_id,)
        )
        _until(lambda: keys.cached(ann.secret) is None, "the change did not reach the process")
        changed = keys.authenticate(ann.secret)
        assert changed is not None
        assert changed.role is Role.auditor
        assert keys.cached(ann.secret) == changed

        # The listening session ended, and gone: a change now has nobody to be told to.
        (listener,) = _listening_backends(other)
        ended = other.execute("SELECT pg_terminate_backend(%s, 60000)", (listener,)).fetchone()
        assert ended == (True,)
        other.execute(
            "UPDATE api_keys SET revoked_at = now() WHERE key_id = %s", (ann.caller.key_id,)
        )
        assert keys.cached(ann.secret) is None
        assert keys.authenticate(ann.secret) is None

        # Listening again, the process remembers keys again; the revoked one stays refused.
        _until(
            lambda: (
                keys.authenticate(bob.secret) is not None and keys.cached(bob.secret) is not None
            ),
            "the listening connection did not come back",
        )
        assert keys.authenticate(ann.secret) is None


def test_an_embedded_store_key_revoked_by_another_process_is_refused_at_once(
    sqlite_runtime: Runtime,
) -> None:
    keys = sqlite_runtime.keys
    ann = keys.create(name="clerk-ann", tenant_id="acme", role=Role.clerk)
    assert keys.authenticate(ann.secret) is not None
    assert keys.cached(ann.secret) is not None
    revoke = (
        "import sqlite3, sys\n"
        "with sqlite3.connect(sys.argv[1]) as db:\n"
        "    db.execute('UPDATE api_keys SET revoked_at = ? WHERE key_id = ?',"
        " ('2026-12-01T00:00:00+00:00', sys.argv[2]))\n"
    )
    subprocess.run(
        [sys.executable, "-c", revoke, str(sqlite_runtime.settings.sqlite_path), ann.caller.key_id],
        check=True,
        timeout=60,
    )
    assert keys.cached(ann.secret) is None
    assert keys.authenticate(ann.secret) is None
