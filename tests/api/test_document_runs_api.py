"""Statement runs over HTTP (``services.api.document_runs``), on SQLite, against a real SMTP
server on loopback (``tests.smtp_server``).

The tenant ``acme`` (today 30 April 2026, a fixed clock) has five accounts, recorded through
the application's commands (:func:`seed_tenant`), each meeting one fate in a run of statements
as of 15 April 2026:

    S-1  owes 123.45, has an e-mail address and prefers e-mail  -> e-mailed
    S-2  owes 200.00, has a billing address                      -> printed
    S-3  owes 350.50, has a billing address                      -> printed
    S-4  owes  80.00, has neither address nor e-mail             -> failed, no_billing_address
    S-5  owes nothing and had no activity                        -> skipped, nothing_to_state

Every assertion reads what left: the message the SMTP server took and its attachment, the
print batch's text as ``pdftotext`` lays it out.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from email.message import EmailMessage
from typing import Any, Final, get_args

import pytest
from fastapi.testclient import TestClient

from domain.letterhead import Letterhead
from domain.provenance import Provenance
from services.api import document_runs
from services.api.app import create_app
from services.api_keys import Role
from services.app import Receivables
from services.bootstrap import Runtime
from services.commands import (
    AccountCommand,
    AddressIn,
    ChangeBillingAddress,
    ChangeEmailAddress,
    ChangePreferredChannel,
    IssueInvoice,
    PostCharge,
)
from services.documents import runs
from services.tenants import TenantSettings
from tests.documents_story import one_spaced, pdf_text
from tests.smtp_server import SmtpServer, smtp_server_fixture  # noqa: F401

TENANT: Final = "acme"
NOW: Final = datetime(2026, 4, 30, 12, 0, tzinfo=UTC)
AS_OF: Final = "2026-04-15"
META: Final = Provenance(actor="clerk-ann", correlation_id="statement-runs-test")
EMAIL: Final = "pat@customer.example.org"
#: account -> (amount owed, its statement's closing balance as printed)
OWED: Final = {"S-1": "123.45", "S-2": "200.00", "S-3": "350.50", "S-4": "80.00"}
CLOSING: Final = {"S-2": "$200.00", "S-3": "$350.50"}
NAMES: Final = {"S-1": "Pat Ames", "S-2": "Lee Brook", "S-3": "Kim Cole", "S-4": "Ray Dunn"}
NAMES = {**NAMES, "S-5": "Sam Eady"}


def address(line1: str) -> AddressIn:
    return AddressIn(line1=line1, city="Portland", region="OR", postal_code="97201", country="US")


def _run(app: Receivables, number: str, command: AccountCommand) -> None:
    app.execute(tenant_id=TENANT, account_number=number, command=command, meta=META)


def give_address(app: Receivables, number: str, line1: str) -> None:
    _run(app, number, ChangeBillingAddress(address=address(line1), effective_on=date(2026, 4, 1)))


def seed_tenant(runtime: Runtime, smtp_server: SmtpServer) -> None:
    """The five accounts of the module docstring, the tenant's letterhead and mail settings
    (reaching ``smtp_server``), and the account directory caught up with them."""
    app = runtime.app
    for number, name in NAMES.items():
        app.open_account(
            tenant_id=TENANT,
            account_number=number,
            name=name,
            currency="USD",
            opened_on=date(2026, 1, 2),
            meta=META,
        )
    for number, amount in OWED.items():
        charge = PostCharge(
            charge_id="c1",
            code="VISIT",
            description="Office visit",
            unit_price=Decimal(amount),
            service_date=date(2026, 4, 2),
        )
        _run(app, number, charge)
        _run(app, number, IssueInvoice(invoice_number=f"I-{number}", issued_on=date(2026, 4, 3)))
    _run(app, "S-1", ChangeEmailAddress(email=EMAIL, effective_on=date(2026, 1, 2)))
    _run(app, "S-1", ChangePreferredChannel(channel="email", effective_on=date(2026, 1, 2)))
    give_address(app, "S-2", "2 Birch Lane")
    give_address(app, "S-3", "3 Cedar Court")
    tenants = TenantSettings(app, clock=lambda: NOW)
    letterhead = Letterhead(name="Acme Dental", address_lines=("1 Main Street", "Springfield"))
    tenants.set_letterhead(TENANT, letterhead, META)
    tenants.set_mail_settings(TENANT, smtp_server.mail_settings(), META)
    # A run lists the tenant's accounts from the account directory, a read model.
    runtime.projector().catch_up()


def attached_pdf(message: EmailMessage) -> bytes:
    (part,) = list(message.iter_attachments())
    assert part.get_content_type() == "application/pdf"
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload


def print_batch_pages(pdf: bytes) -> list[list[str]]:
    """The batch's pages (``pdftotext`` ends each with a form feed), each a list of lines."""
    pages = pdf_text(pdf).split("\f")
    return [
        [line for line in one_spaced(page).splitlines() if line] for page in pages if page.strip()
    ]


def cover_rows(cover: list[str]) -> list[tuple[str, str]]:
    """The cover list's rows: (position, account)."""
    return [(m[1], m[2]) for line in cover if (m := re.match(r"(\d+) (S-\d) ", line))]


@dataclass
class Http:
    runtime: Runtime
    clerk: TestClient
    auditor: TestClient
    other: TestClient


@pytest.fixture
def http(sqlite_runtime: Runtime) -> Iterator[Http]:
    runtime = sqlite_runtime
    app = create_app(runtime)
    app.state.tenant_settings = TenantSettings(runtime.app, clock=lambda: NOW)
    keys = {
        "clerk": runtime.keys.create(name="clerk-ann", tenant_id=TENANT, role=Role.clerk),
        "auditor": runtime.keys.create(name="aud-al", tenant_id=TENANT, role=Role.auditor),
        "other": runtime.keys.create(name="clerk-zed", tenant_id="zeta", role=Role.clerk),
    }
    with ExitStack() as stack:
        clients = {}
        for name, issued in keys.items():
            client = stack.enter_context(TestClient(app, raise_server_exceptions=False))
            client.headers["Authorization"] = f"Bearer {issued.secret}"
            clients[name] = client
        yield Http(runtime, clients["clerk"], clients["auditor"], clients["other"])


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def start(client: TestClient, status: int = 201, **body: Any) -> dict[str, Any]:
    summary: dict[str, Any] = ok(
        client.post("/v1/statement-runs", json={"as_of": AS_OF, **body}), status
    )
    return summary


def items_by_account(client: TestClient, run_id: str) -> dict[str, dict[str, Any]]:
    items = ok(client.get(f"/v1/statement-runs/{run_id}/items"))
    return {item["account_number"]: item for item in items}


def test_a_statement_run_emails_prints_skips_and_fails_each_account_once(
    http: Http, smtp_server: SmtpServer
) -> None:
    seed_tenant(http.runtime, smtp_server)

    summary = start(http.clerk)

    figures = {
        k: summary[k] for k in ("accounts", "done", "skipped", "failed", "emailed", "printed")
    }
    assert figures == {
        "accounts": 5,
        "done": 3,
        "skipped": 1,
        "failed": 1,
        "emailed": 1,
        "printed": 2,
    }
    assert (summary["kind"], summary["as_of"], summary["period_from"]) == (
        "statement",
        AS_OF,
        "2026-04-01",
    )
    assert summary["started_by"] == "clerk-ann"
    assert [(f["account_number"], f["code"]) for f in summary["failures"]] == [
        ("S-4", "no_billing_address")
    ]
    run_id = summary["run_id"]
    items = items_by_account(http.clerk, run_id)
    assert {n: (i["status"], i["channel"], i["code"]) for n, i in items.items()} == {
        "S-1": ("done", "email", None),
        "S-2": ("done", "print", None),
        "S-3": ("done", "print", None),
        "S-4": ("failed", None, "no_billing_address"),
        "S-5": ("skipped", None, "nothing_to_state"),
    }
    assert "S-4" in items["S-4"]["sentence"]
    assert items["S-2"]["recipient"].startswith("Lee Brook, 2 Birch Lane")

    # What the customer received is what the run recorded it sent.
    got = smtp_server.only
    assert got.rcpt_tos == (EMAIL,)
    pdf = attached_pdf(got.message)
    assert hashlib.sha256(pdf).hexdigest() == items["S-1"]["pdf_sha256"]
    assert "$123.45" in one_spaced(pdf_text(pdf))
    failed_only = ok(http.clerk.get(f"/v1/statement-runs/{run_id}/items?status=failed"))
    assert [i["account_number"] for i in failed_only] == ["S-4"]

    # Asked again: the same run, resumed; nothing leaves twice.
    head = http.runtime.app.recorder.max_notification_id()
    again = start(http.clerk, status=200)
    assert again["run_id"] == run_id
    assert (again["done"], again["failed"], again["emailed"]) == (3, 1, 1)
    assert len(smtp_server.received) == 1
    assert http.runtime.app.recorder.max_notification_id() == head
    assert ok(http.clerk.get(f"/v1/statement-runs/{run_id}")) == again
    assert ok(http.auditor.get(f"/v1/document-runs/{run_id}")) == again
    listed = ok(http.auditor.get("/v1/statement-runs"))
    assert [run["run_id"] for run in listed] == [run_id]


def test_the_print_batch_is_a_cover_list_then_each_printed_statement_in_account_order(
    http: Http, smtp_server: SmtpServer
) -> None:
    seed_tenant(http.runtime, smtp_server)
    run_id = start(http.clerk)["run_id"]

    answer = http.auditor.get(f"/v1/statement-runs/{run_id}/print.pdf")

    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-disposition"].startswith("attachment; filename=")
    cover, *statements = print_batch_pages(answer.content)
    assert cover_rows(cover) == [("1", "S-2"), ("2", "S-3")]
    assert any(f"Print batch {run_id}: 2 documents" in line for line in cover)
    assert len(statements) == len(CLOSING)  # one page each
    for page, (number, closing) in zip(statements, CLOSING.items(), strict=True):
        assert any(line.startswith(f"{NAMES[number]} Account {number}") for line in page), page
        assert f"Balance on Apr 15, 2026 {closing}" in page
        assert f"Apr 15, 2026 Closing balance {closing}" in page
    assert all("Pat Ames" not in line for page in statements for line in page)
    # Alias: the same batch under /v1/document-runs.
    alias = http.clerk.get(f"/v1/document-runs/{run_id}/print.pdf")
    assert alias.status_code == 200
    assert print_batch_pages(alias.content) == [cover, *statements]


def test_resuming_after_the_failing_account_is_fixed_does_only_that_account(
    http: Http, smtp_server: SmtpServer
) -> None:
    seed_tenant(http.runtime, smtp_server)
    first = start(http.clerk)
    before = items_by_account(http.clerk, first["run_id"])
    give_address(http.runtime.app, "S-4", "4 Dogwood Drive")
    http.runtime.projector().catch_up()

    resumed = ok(http.clerk.post(f"/v1/statement-runs/{first['run_id']}/resume"))

    assert (resumed["done"], resumed["failed"], resumed["printed"]) == (4, 0, 3)
    after = items_by_account(http.clerk, first["run_id"])
    assert after["S-4"]["status"] == "done"
    assert after["S-4"]["channel"] == "print"
    assert {n: after[n] for n in ("S-1", "S-2", "S-3", "S-5")} == {
        n: before[n] for n in ("S-1", "S-2", "S-3", "S-5")
    }
    assert len(smtp_server.received) == 1


def test_a_refused_recipient_fails_that_account_and_the_run_goes_on(
    http: Http, smtp_server: SmtpServer
) -> None:
    seed_tenant(http.runtime, smtp_server)
    smtp_server.refuse_recipients.add(EMAIL)

    summary = start(http.clerk)

    assert (summary["done"], summary["failed"], summary["printed"]) == (2, 2, 2)
    assert [(f["account_number"], f["code"]) for f in summary["failures"]] == [
        ("S-1", "smtp_refused"),
        ("S-4", "no_billing_address"),
    ]
    assert smtp_server.received == []

    before = items_by_account(http.clerk, summary["run_id"])
    smtp_server.refuse_recipients.clear()
    resumed = ok(http.clerk.post(f"/v1/document-runs/{summary['run_id']}/resume"))
    assert (resumed["emailed"], resumed["printed"], resumed["failed"]) == (1, 2, 1)
    assert smtp_server.only.rcpt_tos == (EMAIL,)
    after = items_by_account(http.clerk, summary["run_id"])
    assert after["S-1"]["status"] == "done"
    assert (
        hashlib.sha256(attached_pdf(smtp_server.only.message)).hexdigest()
        == (after["S-1"]["pdf_sha256"])
    )
    assert {n: after[n] for n in ("S-2", "S-3", "S-4", "S-5")} == {
        n: before[n] for n in ("S-2", "S-3", "S-4", "S-5")
    }


def test_another_tenants_run_is_unknown_and_a_day_to_come_is_refused(
    http: Http, smtp_server: SmtpServer
) -> None:
    seed_tenant(http.runtime, smtp_server)
    run_id = start(http.clerk, delivery="none")["run_id"]
    assert smtp_server.connections == 0

    for path in ("", "/items", "/print.pdf"):
        for prefix in ("/v1/statement-runs", "/v1/document-runs"):
            answer = http.other.get(f"{prefix}/{run_id}{path}")
            assert answer.status_code == 404, (prefix, path, answer.text)
            assert answer.json()["code"] == "unknown_document_run"
    refused = http.other.post(f"/v1/statement-runs/{run_id}/resume")
    assert (refused.status_code, refused.json()["code"]) == (404, "unknown_document_run")
    assert ok(http.other.get("/v1/statement-runs")) == []

    head = http.runtime.app.recorder.max_notification_id()
    future = http.clerk.post("/v1/statement-runs", json={"as_of": "2026-05-01"})
    assert future.status_code == 422, future.text
    assert (future.json()["code"], future.json()["field"]) == ("statement_date_in_future", "as_of")
    backwards = http.clerk.post("/v1/statement-runs", json={"as_of": AS_OF, "from": "2026-04-16"})
    assert backwards.status_code == 422
    assert backwards.json()["field"] == "from"
    unknown = http.clerk.post("/v1/statement-runs", json={"as_of": AS_OF, "delivery": "fax"})
    assert unknown.status_code == 422
    forbidden = http.auditor.post("/v1/statement-runs", json={"as_of": AS_OF})
    assert forbidden.status_code == 403
    assert http.runtime.app.recorder.max_notification_id() == head
    assert len(ok(http.clerk.get("/v1/statement-runs"))) == 1

    nothing = http.clerk.get(f"/v1/statement-runs/{run_id}/print.pdf")
    assert (nothing.status_code, nothing.json()["code"]) == (409, "nothing_to_print")


def test_the_deliveries_and_states_offered_are_the_runs_own() -> None:
    assert get_args(document_runs.Delivery) == runs.DELIVERIES
    states = (runs.PENDING, runs.SENT, runs.DONE, runs.SKIPPED, runs.FAILED)
    assert set(get_args(document_runs.ItemStatus)) == set(states)
