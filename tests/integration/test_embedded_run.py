"""`make run`'s promise: `ar serve` works on the embedded default with no server running.

The test starts the real command in a subprocess on a free port with an empty data folder, as a
newcomer would, and talks to it over HTTP.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, data_dir: Path) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AR_")}
        env |= {"AR_DATA_DIR": str(data_dir), "AR_PORT": str(self.port), "AR_LOG_FORMAT": "json"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "serve"],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.banner = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
            if self.process.poll() is not None:
                break
        self.stop()
        pytest.fail(f"ar serve did not answer on {self.base} within 30s:\n{self.banner}")

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.terminate()
        _, err = self.process.communicate(timeout=15)
        self.banner = err
        return err


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "var"


@pytest.fixture
def server(data_dir: Path) -> Iterator[Server]:
    running = Server(data_dir)
    yield running
    running.stop()


def test_serve_on_sqlite_answers_docs_and_the_slice_with_a_clerk_key_made_by_its_admin_key(
    server: Server, data_dir: Path
) -> None:
    assert httpx.get(f"{server.base}/docs").status_code == 200
    assert httpx.get(f"{server.base}/openapi.json").json()["info"]["title"] == "Receivables"
    key = (data_dir / "admin-api-key").read_text().strip()
    assert oct((data_dir / "admin-api-key").stat().st_mode & 0o777) == "0o600"
    admin = {"Authorization": f"Bearer {key}"}
    created = httpx.post(
        f"{server.base}/v1/keys", json={"name": "clerk-ann", "role": "clerk"}, headers=admin
    )
    assert created.status_code == 201, created.text
    headers = {"Authorization": f"Bearer {created.json()['key']}"}

    opened = httpx.post(
        f"{server.base}/v1/accounts",
        json={"account_number": "A-1", "name": "Ann", "currency": "USD", "opened_on": "2026-01-01"},
        headers=headers,
    )
    assert opened.status_code == 201, opened.text
    httpx.post(
        f"{server.base}/v1/accounts/A-1/charges",
        json={
            "code": "VISIT",
            "description": "Visit",
            "unit_price": "80.00",
            "service_date": "2026-01-02",
        },
        headers=headers,
    ).raise_for_status()
    balance = httpx.get(f"{server.base}/v1/accounts/A-1/balance", headers=headers).json()
    assert balance["balance"] == "80.00"

    banner = server.stop()
    assert f"http://127.0.0.1:{server.port}/docs" in banner
    assert key in banner  # shown on the first start
    assert (data_dir / "receivables.sqlite").exists()


def test_the_admin_key_is_shown_only_on_the_first_start(data_dir: Path) -> None:
    first = Server(data_dir)
    first_banner = first.stop()
    key = (data_dir / "admin-api-key").read_text().strip()
    assert key in first_banner

    second = Server(data_dir)
    second_banner = second.stop()
    assert key not in second_banner
    assert re.search(r"admin API key: in .*admin-api-key", second_banner)
