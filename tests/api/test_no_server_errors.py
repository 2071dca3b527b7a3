"""The API answers as its OpenAPI document says: schemathesis, with every one of its checks.

Every operation is called with generated bodies, paths, queries and headers — valid and
invalid — by an authenticated clerk, against accounts that exist (so generated requests reach
the domain's rules, not only the 404 of an unknown account), and every answer is held to the
document: no server error; a status, a content type, headers and a body the operation
documents; invalid data refused; a request without its key refused; a method the path does
not take answered 405 with ``Allow``.

Valid data may still break a business rule (an unknown currency, a payment for an invoice the
account does not have): that 422 is an answer, not a lie of the schema. What the schema must
not do is let through a request the API then refuses as malformed: a request the schema
allows is never refused for its parameters (``_valid_is_not_malformed``).
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
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation

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
# A business rule may refuse what the schema allows (422); the rest of the defaults stand.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "401", "403", "404", "409", "422"]
            }
        }
    }
)
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(RUNTIME), config=CONFIG)


@pytest.fixture(scope="module", autouse=True)
def _close_runtime() -> Iterator[None]:
    yield
    RUNTIME.close()
    shutil.rmtree(RUNTIME.settings.data_dir, ignore_errors=True)


def _valid_is_not_malformed(_: Any, response: Any, case: Any) -> bool | None:
    """A request the schema allows is not refused for its parameters: not as unknown, not as
    repeated, not as an invalid value of a query, path or header parameter."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return None
    if response.status_code in (400, 422):
        problem = response.json()
        parameters = {
            *(case.query or {}),
            *(case.path_parameters or {}),
            *(name.lower() for name in case.headers or {}),
        }
        malformed = problem["code"] in ("unknown_parameter", "repeated_parameter") or (
            problem["code"] == "invalid_request" and str(problem.get("field")).lower() in parameters
        )
        assert not malformed, f"the schema allows what the API refuses: {response.text}"
    return True


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_is_one_the_document_gives(case: Any) -> None:
    path = case.meta.components.get(ParameterLocation.PATH) if case.meta else None
    negated_path = path is not None and not path.mode.is_positive
    if case.path_parameters and "account_number" in case.path_parameters and not negated_path:
        case.path_parameters["account_number"] = "A-1"
    # The key is the transport's (not the case's), so the checks that drop it know which it is.
    case.call_and_validate(
        headers={"Authorization": f"Bearer {CLERK_KEY}"},
        additional_checks=[_valid_is_not_malformed],
    )
