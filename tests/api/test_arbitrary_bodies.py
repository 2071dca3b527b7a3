"""Hypothesis throws arbitrary JSON at every command endpoint: the answer is never a 500.

Where schemathesis generates from the declared schema, this generates anything a broken or
hostile client might send — wrong types, nesting, huge numbers, odd strings — and checks each
refusal is a problem document with a stable code.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.api.app import create_app
from services.api_keys import Role
from services.bootstrap import Runtime, bootstrap
from services.settings import Settings
from tests.support import CLERK


@pytest.fixture(scope="module")
def runtime() -> Iterator[Runtime]:
    data_dir = Path(tempfile.mkdtemp(prefix="ar-arbitrary-"))
    runtime = bootstrap(Settings(data_dir=data_dir))
    runtime.app.open_account(
        tenant_id="acme",
        account_number="A-1",
        name="Ann",
        currency="USD",
        opened_on=date(2026, 1, 1),
        meta=CLERK,
    )
    yield runtime
    runtime.close()
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def http(runtime: Runtime) -> Iterator[TestClient]:
    key = runtime.keys.create(name="fuzz", tenant_id="acme", role=Role.clerk).secret
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        yield client


def _command_paths(client: TestClient) -> list[str]:
    spec = client.get("/openapi.json").json()
    return sorted(
        p for p, ops in spec["paths"].items() if "post" in ops and "{account_number}" in p
    )


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=12,
)
# Bodies shaped like the real ones more often than not: real field names with wild values.
field_names = st.sampled_from(
    ["amount", "invoice_number", "payment_id", "issued_on", "due_on", "received_on", "unit_price", "quantity",
     "schedule", "installments", "adjustments", "allocations", "method", "reference", "code", "description"]
)  # fmt: skip
bodies = st.dictionaries(field_names, json_values, max_size=8) | json_values


@pytest.fixture(scope="module")
def command_paths(http: TestClient) -> list[str]:
    return _command_paths(http)


def test_every_command_endpoint_is_covered(command_paths: list[str]) -> None:
    assert len(command_paths) >= 30


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_arbitrary_json_never_gets_a_server_error(
    http: TestClient, command_paths: list[str], data: st.DataObject
) -> None:
    path = data.draw(st.sampled_from(command_paths)).replace("{account_number}", "A-1")
    body: Any = data.draw(bodies)
    response = http.post(path, json=body)
    assert response.status_code < 500, (path, body, response.text)
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"]
