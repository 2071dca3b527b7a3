"""No request to the close of day or the tenant's settings gets a server error, even from an
admin (the general fuzz test calls every operation with a clerk's key, which these refuse)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from services.api.app import create_app
from services.api_keys import Role
from services.bootstrap import bootstrap
from services.settings import Settings
from tests.service.test_close_of_day import owing

RUNTIME = bootstrap(Settings(data_dir=Path(tempfile.mkdtemp(prefix="ar-close-fuzz-"))))
owing(RUNTIME, "A-1", "2026-02-01")
ADMIN_KEY = RUNTIME.keys.create(name="fuzz-admin", tenant_id="acme", role=Role.admin).secret
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(RUNTIME)).include(
    path_regex=r"^/v1/(days|tenant)"
)


@pytest.fixture(scope="module", autouse=True)
def _close_runtime() -> Iterator[None]:
    yield
    RUNTIME.close()
    shutil.rmtree(RUNTIME.settings.data_dir, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_request_gets_a_server_error(case: Any) -> None:
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {ADMIN_KEY}"}
    case.call_and_validate(checks=[not_a_server_error])
