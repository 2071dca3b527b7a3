"""A database that goes away answers 503, never 500, and nothing refused is stored.

The real ``ar serve`` runs in a subprocess on a scratch PostgreSQL database of its own. Only that
database goes away (other tests share the cluster, so the server itself is never stopped):
terminating its backends leaves every pooled connection stale, as a PostgreSQL restart does;
``ALLOW_CONNECTIONS false`` plus terminating them is a database that is down. One HTTP client
keeps one keep-alive connection for the whole story, so a 503 must not close it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2 as httpx
import psycopg
import pytest
from eventsourcing.persistence import PersistenceError
from fastapi.testclient import TestClient

from services.api.app import create_app
from services.api_keys import Role
from services.bootstrap import Runtime
from services.store_errors import is_database_unavailable
from tests.conftest import REPO

# How long a request waits for a connection before the API gives up with 503; short, so the
# test does not sit through the production default while the database is down.
WAIT_SECONDS = "2"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AR_")}
    return env | {
        "AR_DATABASE_URL": database_url,
        "AR_DATA_DIR": str(data_dir),
        "AR_LOG_FORMAT": "json",
        "AR_DATABASE_TIMEOUT_SECONDS": WAIT_SECONDS,
        **extra,
    }


class Server:
    def __init__(self, database_url: str, data_dir: Path) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "serve", "--no-projector"],
            env=_env(database_url, data_dir, AR_PORT=str(self.port)),
            cwd=REPO,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.log = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
            if self.process.poll() is not None:
                break
        self.stop()
        pytest.fail(f"ar serve did not answer on {self.base}:\n{self.log}")

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.terminate()
        _, err = self.process.communicate(timeout=30)
        self.log = err
        return err


class Database:
    """The scratch database, as its owner on a connection of the test's own."""

    def __init__(self, server_url: str, database_url: str) -> None:
        self.server_url = server_url
        self.name = urlsplit(database_url).path.lstrip("/")

    def _run(self, statement: str) -> None:
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            conn.execute(statement)

    def terminate_backends(self) -> None:
        self._run(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            f" WHERE datname = '{self.name}' AND pid <> pg_backend_pid()"
            " AND backend_type = 'client backend'"
        )

    def go_down(self) -> None:
        self._run(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false')
        self.terminate_backends()

    def come_back(self) -> None:
        self._run(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true')


@pytest.fixture
def database(postgres_url: str, fresh_postgres_url: str) -> Iterator[Database]:
    db = Database(postgres_url, fresh_postgres_url)
    yield db
    db.come_back()


@pytest.fixture
def server(fresh_postgres_url: str, tmp_path: Path, database: Database) -> Iterator[Server]:
    running = Server(fresh_postgres_url, tmp_path / "var")
    yield running
    running.stop()


def _client_address(response: httpx.Response) -> Any:
    """The client side of the TCP connection the response came on."""
    return response.extensions["network_stream"].get_extra_info("client_addr")


def _charge(code: str, price: str) -> dict[str, str]:
    return {
        "code": code,
        "description": f"charge {code}",
        "unit_price": price,
        "service_date": "2026-01-05",
    }


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["code"] == "database_unavailable"
    assert response.json()["detail"].endswith(".")
    assert "close" not in response.headers.get("connection", "").lower()


def test_a_database_that_goes_away_answers_503_and_comes_back_without_a_500(
    server: Server, database: Database, fresh_postgres_url: str, tmp_path: Path
) -> None:
    admin_key = (tmp_path / "var" / "admin-api-key").read_text().strip()
    with httpx.Client(base_url=f"{server.base}/v1", timeout=60) as client:
        made = client.post(
            "/keys",
            json={"name": "clerk-ann", "role": "clerk"},
            headers={"Authorization": f"Bearer {admin_key}"},
        )
        assert made.status_code == 201, made.text
        client.headers["Authorization"] = f"Bearer {made.json()['key']}"
        opened = client.post(
            "/accounts",
            json={
                "account_number": "A-1",
                "name": "Ann",
                "currency": "USD",
                "opened_on": "2026-01-01",
            },
        )
        assert opened.status_code == 201, opened.text
        assert client.get("/accounts/A-1/balance").status_code == 200

        # A restart's worth of stale pooled connections: every request still answers 2xx.
        database.terminate_backends()
        after_restart = [client.get("/accounts/A-1/balance") for _ in range(6)]
        after_restart += [
            client.post(
                "/accounts/A-1/charges",
                json=_charge(f"C{n}", "10.00"),
                headers={"Idempotency-Key": f"stale-{n}"},
            )
            for n in range(3)
        ]
        after_restart += [client.get("/accounts/A-1/balance") for _ in range(6)]
        assert [r.status_code for r in after_restart] == [200] * 6 + [201] * 3 + [200] * 6, [
            r.text for r in after_restart if r.status_code >= 300
        ]

        # The same under a burst of concurrent readers and writers, as a restart under load.
        database.terminate_backends()
        token = client.headers["Authorization"]

        def burst(worker: int) -> list[int]:
            with httpx.Client(base_url=f"{server.base}/v1", timeout=60) as own:
                own.headers["Authorization"] = token
                answers = []
                for n in range(5):
                    answers.append(own.get("/accounts/A-1/balance").status_code)
                    charged = own.post(
                        "/accounts/A-1/charges",
                        json=_charge(f"B{worker}-{n}", "0.01"),
                        headers={"Idempotency-Key": f"burst-{worker}-{n}"},
                    )
                    answers.append(charged.status_code)
                return answers

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = [s for answers in pool.map(burst, range(8)) for s in answers]
        assert sorted(set(statuses)) == [200, 201], statuses
        assert client.get("/accounts/A-1/balance").json()["balance"] == "30.40"

        # Down: reads, the key check and commands answer 503 on the same keep-alive connection.
        before = client.get("/accounts/A-1/balance")
        database.go_down()
        refused_read = client.get("/accounts/A-1/balance")
        refused_command = client.post(
            "/accounts/A-1/charges",
            json=_charge("REFUSED", "1000.00"),
            headers={"Idempotency-Key": "refused-1"},
        )
        kept_alive = _client_address(before)
        assert kept_alive is not None
        for refused in (refused_read, refused_command):
            _assert_unavailable(refused)
            assert _client_address(refused) == kept_alive
        ready = client.get(f"{server.base}/ready")
        _assert_unavailable(ready)

        # The CLI says so in a sentence, without a traceback.
        cli = subprocess.run(
            [sys.executable, "-m", "services.cli", "balance", "A-1", "--tenant", "default"],
            env=_env(fresh_postgres_url, tmp_path / "var"),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert cli.returncode != 0
        assert "Traceback" not in cli.stderr + cli.stdout
        assert "database" in cli.stderr.lower(), cli.stderr

        # Back: requests succeed again, and the refused charge was not stored.
        database.come_back()
        deadline = time.monotonic() + 90
        while (answer := client.get("/accounts/A-1/balance")).status_code == 503:
            assert time.monotonic() < deadline, "the API did not recover from the outage"
        assert answer.status_code == 200, answer.text
        assert answer.json()["balance"] == "30.40"
        assert client.get(f"{server.base}/ready").status_code == 200
        # The refused command, sent again with its key, is recorded once.
        again = client.post(
            "/accounts/A-1/charges",
            json=_charge("REFUSED", "1000.00"),
            headers={"Idempotency-Key": "refused-1"},
        )
        assert again.status_code == 201, again.text
        assert client.get("/accounts/A-1/balance").json()["balance"] == "1030.40"
    log = server.stop()
    assert '"status": 500' not in log, log


def test_a_read_only_database_refuses_commands_with_503_and_still_serves_reads(
    postgres_runtime: Runtime, postgres_url: str, fresh_postgres_url: str
) -> None:
    # A standby, or a primary being failed over: connections that take no writes. The store's
    # error (eventsourcing's InternalError caused by psycopg's ReadOnlySqlTransaction) is 503.
    issued = postgres_runtime.keys.create(name="clerk-ann", tenant_id="acme", role=Role.clerk)
    database = Database(postgres_url, fresh_postgres_url)
    with TestClient(create_app(postgres_runtime), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {issued.secret}"
        opened = client.post(
            "/v1/accounts",
            json={
                "account_number": "A-1",
                "name": "Ann",
                "currency": "USD",
                "opened_on": "2026-01-01",
            },
        )
        assert opened.status_code == 201, opened.text
        database._run(f'ALTER DATABASE "{database.name}" SET default_transaction_read_only = on')
        database.terminate_backends()
        assert client.get("/v1/accounts/A-1/balance").status_code == 200
        refused = client.post("/v1/accounts/A-1/charges", json=_charge("C1", "10.00"))
        assert refused.status_code == 503, refused.text
        assert refused.json()["code"] == "database_unavailable"
        assert refused.headers["retry-after"]
        database._run(f'ALTER DATABASE "{database.name}" RESET default_transaction_read_only')
        database.terminate_backends()
        assert client.get("/v1/accounts/A-1/balance").json()["balance"] == "0.00"


def test_a_mistake_in_sql_on_sqlite_is_a_bug_not_a_database_that_is_away(
    sqlite_runtime: Runtime,
) -> None:
    # SQLite reports a missing table as an OperationalError too; that must stay a 500.
    with pytest.raises(PersistenceError, match="no such table") as raised:
        sqlite_runtime.db.query("SELECT * FROM no_such_table")
    assert not is_database_unavailable(raised.value)
    with TestClient(create_app(sqlite_runtime), raise_server_exceptions=False) as client:
        assert client.get("/ready").status_code == 200
