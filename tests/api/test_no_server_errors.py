"""No request can produce a 500: schemathesis generates requests from the app's own OpenAPI.

Every operation is called with generated bodies, paths, queries and headers — valid and
invalid — by an authenticated clerk, against accounts that exist (so generated requests reach
the domain's rules, not only the 404 of an unknown account). The only check is the one this
test is about: no answer is a server error.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from projections.catalogue import read_models
from projections.runner import Projector
from services.api.app import create_app
from services.api_keys import Role
from services.bootstrap import Runtime, bootstrap
from services.commands import IssueInvoice, PostCharge
from services.settings import Settings
from tests.support import CLERK, run


def _seeded_runtime() -> Runtime:
    """A store in a folder of its own, with accounts the generated requests can reach, and read
    models caught up with them (so the reports read rows, not only empty tables)."""
    runtime = bootstrap(Settings(data_dir=Path(tempfile.mkdtemp(prefix="ar-schemathesis-"))))
    for number in ("A-1", "0"):
        runtime.app.open_account(
            tenant_id="acme",
            account_number=number,
            name="Ann",
            currency="USD",
            opened_on=date(2026, 1, 1),
            meta=CLERK,
        )
        charge = PostCharge(
            charge_id="c1",
            code="X",
            description="Visit",
            unit_price=Decimal(100),
            service_date=date(2026, 1, 2),
        )
        run(runtime.app, charge, number)
        run(runtime.app, IssueInvoice(invoice_number="INV-1", issued_on=date(2026, 1, 3)), number)
    Projector(runtime.app, runtime.db, read_models()).catch_up()
    return runtime


# A remittance file is raw X12, not JSON: generate real files, damaged copies and any bytes.
_FILES = Path(__file__).parent.parent / "remittances" / "files"
_SEED = (_FILES / "seed-story.835").read_bytes()
_X12 = st.one_of(
    st.just(_SEED),
    st.builds(
        lambda cut, junk: _SEED[:cut] + junk + _SEED[cut:],
        st.integers(0, len(_SEED)),
        st.binary(max_size=40),
    ),
    st.binary(max_size=400),
)
for _media_type in ("application/edi-x12", "text/plain", "application/octet-stream"):
    schemathesis.openapi.media_type(_media_type, _X12)
# The bank's deposit lines are CSV text: real lines, damaged ones, any bytes.
schemathesis.openapi.media_type(
    "text/csv",
    st.one_of(
        st.just(b"date,amount,trace\n2026-03-21,450.00,TRC-SEED-1\n"),
        st.builds(lambda junk: b"date,amount\n" + junk, st.binary(max_size=80)),
        st.binary(max_size=200),
    ),
)

# The schema is loaded when the module is collected: schemathesis parametrizes the test with one
# case per operation, so the app it reads must exist by then.
RUNTIME = _seeded_runtime()
CLERK_KEY = RUNTIME.keys.create(name="fuzz-clerk", tenant_id="acme", role=Role.clerk).secret
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(RUNTIME))


@pytest.fixture(scope="module", autouse=True)
def _close_runtime() -> Iterator[None]:
    yield
    RUNTIME.close()
    shutil.rmtree(RUNTIME.settings.data_dir, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_request_gets_a_server_error(case: Any) -> None:
    if case.path_parameters and case.path_parameters.get("account_number") not in (None, "A-1"):
        case.path_parameters["account_number"] = "A-1"
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {CLERK_KEY}"}
    case.call_and_validate(checks=[not_a_server_error])
