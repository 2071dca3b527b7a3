from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from services.api.app import create_app
from services.api_keys import Role
from services.bootstrap import Runtime


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    """An HTTP client with a clerk's key of tenant 'acme', on SQLite and on PostgreSQL."""
    issued = runtime.keys.create(name="clerk-ann", tenant_id="acme", role=Role.clerk)
    with TestClient(create_app(runtime), raise_server_exceptions=False) as test_client:
        test_client.headers["Authorization"] = f"Bearer {issued.secret}"
        yield test_client
