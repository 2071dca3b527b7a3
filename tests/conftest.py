"""Fixtures shared by every test layer.

Unit and service tests run on embedded SQLite in a temporary folder. Integration tests talk to
the real PostgreSQL and Kafka that ``deploy/local/`` starts (``make test`` starts them): each
test gets a database of its own and a topic of its own, so tests never see each other's data.
When a service is not running, the test fails with a sentence saying how to start it — it is
never skipped.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from hypothesis import settings

from bench.scratch import scratch_database
from services.bootstrap import Runtime, bootstrap
from services.settings import Settings

REPO = Path(__file__).resolve().parent.parent

# CI runs the same examples every time, so a submission's result does not depend on luck;
# on a developer's machine hypothesis explores new inputs on every run.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def _script_output(*args: str) -> str:
    return subprocess.run(args, cwd=REPO, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The local cluster's address (deploy/local/postgres.sh dsn); fails clearly when it is down."""
    url = _script_output(str(REPO / "deploy/local/postgres.sh"), "dsn")
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {urlsplit(url).netloc.split('@')[-1]}: run `make infra-up` ({exc})"
        )
    return url


@pytest.fixture
def fresh_postgres_url(postgres_url: str) -> Iterator[str]:
    """A new, empty database for one test, dropped afterwards."""
    with scratch_database(postgres_url, "test") as url:
        yield url


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    bootstrap_servers = _script_output(str(REPO / "deploy/local/kafka.sh"), "bootstrap")
    status = subprocess.run(
        ["kcat", "-L", "-b", bootstrap_servers, "-m", "5"],
        capture_output=True,
        text=True,
        check=False,
    )
    if status.returncode != 0:
        pytest.fail(
            f"Kafka is not answering at {bootstrap_servers}: run `make infra-up` ({status.stderr.strip()})"
        )
    return bootstrap_servers


@pytest.fixture
def kafka_topic() -> str:
    return f"receivables.test.{uuid.uuid4().hex[:12]}"


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var")


@pytest.fixture
def sqlite_runtime(sqlite_settings: Settings) -> Iterator[Runtime]:
    runtime = bootstrap(sqlite_settings)
    yield runtime
    runtime.close()


@pytest.fixture
def postgres_settings(fresh_postgres_url: str, tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", database_url=fresh_postgres_url)  # type: ignore[arg-type]


@pytest.fixture
def postgres_runtime(postgres_settings: Settings) -> Iterator[Runtime]:
    runtime = bootstrap(postgres_settings)
    yield runtime
    runtime.close()


@pytest.fixture(params=["sqlite", "postgres"])
def runtime(request: pytest.FixtureRequest) -> Runtime:
    """The same test on the embedded default and on the real PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_runtime")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that needs the real PostgreSQL or Kafka (through their fixtures) is marked
    ``integration``, so ``make test-fast`` can leave out every such test, and only those."""
    for item in items:
        needs = set(getattr(item, "fixturenames", ())) & {"postgres_url", "kafka_bootstrap"}
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and "postgres" in callspec.params.values()
        if (needs or on_postgres) and not item.get_closest_marker("integration"):
            item.add_marker(pytest.mark.integration)
