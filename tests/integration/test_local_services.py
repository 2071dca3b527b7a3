"""The scripts under deploy/local/: idempotent, and clear when they cannot start a service."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LOCAL = REPO / "deploy" / "local"


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LOCAL / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


def test_starting_the_running_services_again_changes_nothing(
    postgres_url: str, kafka_bootstrap: str
) -> None:
    again = _run("services.sh", "up")
    assert again.returncode == 0, again.stderr
    assert "PostgreSQL already running" in again.stderr
    assert "Kafka already running" in again.stderr
    status = _run("services.sh", "status")
    assert status.returncode == 0, status.stderr


@pytest.mark.parametrize(
    ("script", "port_variable"),
    [("postgres.sh", "AR_PG_PORT"), ("kafka.sh", "AR_KAFKA_PORT")],
)
def test_a_service_whose_port_is_taken_fails_with_one_clear_sentence(
    script: str, port_variable: str, taken_port: int, tmp_path: Path
) -> None:
    env = os.environ | {"AR_LOCAL_DIR": str(tmp_path / "local"), port_variable: str(taken_port)}
    result = _run(script, "start", env=env)
    assert result.returncode == 1
    assert f"error: port {taken_port} on 127.0.0.1 is taken by another program" in result.stderr


def test_the_scripts_name_their_usage_when_called_wrongly() -> None:
    result = _run("services.sh", "sideways")
    assert result.returncode == 2
    assert "usage:" in result.stderr
