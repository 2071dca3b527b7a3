"""An account's documents over HTTP: statement, invoices and letters in PDF and HTML, reprinted
byte for byte as known at a moment, and e-mailed through a real SMTP server on loopback.

Every test records the seed story (``tests.documents_story``) over HTTP in tenant acme on
SQLite and reads the documents' text as poppler's ``pdftotext`` lays it out: what a customer
reads, not what a template was given. The figures expected are read from the JSON endpoints
(the statement report, the balance, the open items) wherever they say them.
"""

from __future__ import annotations

import hashlib
import html
import re
import socket
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, get_args

import pytest
from fastapi.testclient import TestClient

from domain.documents import DOCUMENT_KINDS
from domain.letterhead import STATEMENT
from domain.provenance import Provenance
from domain.tenant import Tenant
from projections.catalogue import read_models
from projections.runner import Projector
from services.api.app import create_app
from services.api.documents import DocumentKind
from services.api_keys import Role
from services.bootstrap import Runtime
from services.tenants import TenantSettings
from tests.documents_story import (
    ACCOUNT,
    AS_OF,
    EMAIL,
    PERIOD_FROM,
    TENANT,
    later_payment,
    one_spaced,
    pdf_text,
    post_story,
)
from tests.smtp_server import SmtpServer, smtp_server_fixture  # noqa: F401

ADMIN = Provenance(actor="admin-ada", correlation_id="documents-api-test")
BASE = f"/v1/accounts/{ACCOUNT}"
PERIOD = {"from": PERIOD_FROM, "to": AS_OF}
#: A statement line as pdftotext lays it out, blanks squeezed: date, words, amount, balance.
LINE = re.compile(r"^(\w{3} \d{1,2}, \d{4}) (.+) (-?\$[\d,]+\.\d\d) (-?\$[\d,]+\.\d\d)$")


@pytest.fixture
def client(sqlite_runtime: Runtime) -> Iterator[TestClient]:
    """A clerk of tenant acme, with the seed story recorded on A-1001."""
    issued = sqlite_runtime.keys.create(name="clerk-ann", tenant_id=TENANT, role=Role.clerk)
    with TestClient(create_app(sqlite_runtime), raise_server_exceptions=False) as test_client:
        test_client.headers["Authorization"] = f"Bearer {issued.secret}"
        post_story(test_client)
        yield test_client


def usd(amount: Decimal | str) -> str:
    """An amount as the en_US documents write it: $1,000.00, -$100.00."""
    value = Decimal(amount)
    return f"{'-' if value < 0 else ''}${abs(value):,.2f}"


def _ok(response: Any) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


def _document(client: TestClient, path: str, **params: Any) -> Any:
    response = client.get(f"{BASE}/{path}", params=params)
    assert response.status_code == 200, response.text
    return response


def _text(response: Any) -> str:
    """What the document says, blanks squeezed: from the PDF by pdftotext, from HTML by
    dropping the tags."""
    if response.headers["content-type"] == "application/pdf":
        return one_spaced(pdf_text(response.content))
    words = html.unescape(re.sub(r"<[^>]+>", " ", response.text))
    return " ".join(words.split())


def _sent_documents(client: TestClient) -> list[dict[str, Any]]:
    events = _ok(client.get(f"{BASE}/events", params={"limit": 500}))["events"]
    return [e["payload"] for e in events if e["type"] == "DocumentSent"]


def _project(runtime: Runtime) -> None:
    Projector(runtime.app, runtime.db, read_models()).catch_up()


# --- the statement ---------------------------------------------------------------------------


def test_the_statement_pdf_runs_from_the_opening_to_the_closing_balance_of_the_json_statement(
    client: TestClient, sqlite_runtime: Runtime
) -> None:
    _project(sqlite_runtime)
    report = _ok(client.get(f"/v1/reports/statements/{ACCOUNT}", params=PERIOD))
    balance = _ok(client.get(f"{BASE}/balance", params={"as_of": AS_OF}))["balance"]

    text = _text(_document(client, "statement.pdf", **PERIOD))

    lines = [LINE.match(line) for line in text.splitlines()]
    activity = [m.groups() for m in lines if m is not None]
    moved = [m for m in report["movements"] if Decimal(m["amount"])]
    assert [(amount, running) for _, _, amount, running in activity] == [
        (usd(m["amount"]), usd(m["balance"])) for m in moved
    ]
    assert report["opening_balance"] == "0.00"
    assert "Balance on Jan 1, 2026 $0.00" in text
    assert "Jan 1, 2026 Opening balance $0.00" in text
    assert report["closing_balance"] == balance
    assert f"Apr 15, 2026 Closing balance {usd(balance)}" in text
    assert f"Balance on Apr 15, 2026 {usd(balance)}" in text
    described = [description for _, description, _, _ in activity]
    assert "Day surgery INV-1" in described
    assert [d for d in described if "auth" in d] == [
        "Payment (card) auth 0001",
        "Payment (card) auth 0002",
        "Payment (card) auth 0003",
    ]
    assert "Payment by Acme Health claim CLM-1" in described


def test_the_statement_in_html_says_the_same_as_the_pdf(client: TestClient) -> None:
    balance = _ok(client.get(f"{BASE}/balance", params={"as_of": AS_OF}))["balance"]

    page = _document(client, "statement.html", **PERIOD)
    text = _text(page)

    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "Opening balance $0.00" in text
    assert f"Closing balance {usd(balance)}" in text
    for words in ("Day surgery INV-1 $1,000.00", "auth 0001 -$100.00", "auth 0003 -$100.00"):
        assert words in text


def test_a_document_is_answered_inline_with_its_name_and_its_hash(client: TestClient) -> None:
    pdf = _document(client, "statement.pdf", **PERIOD)
    page = _document(client, "statement.html", **PERIOD)

    for response, form in ((pdf, "pdf"), (page, "html")):
        digest = hashlib.sha256(response.content).hexdigest()
        assert response.headers["content-disposition"] == (
            f'inline; filename="statement-{ACCOUNT}-{PERIOD_FROM}..{AS_OF}.{form}"'
        )
        assert response.headers["x-document-sha256"] == digest
        assert response.headers["etag"] == f'"{digest}"'
        assert response.headers["x-known-at"].endswith("+00:00")  # UTC, as recorded when sent
        assert datetime.fromisoformat(response.headers["x-known-at"]) <= datetime.now(UTC)
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")


def test_the_statement_runs_by_default_from_the_first_of_the_month_to_today(
    client: TestClient,
) -> None:
    today = datetime.now(UTC).date()  # the tenant has no close schedule: its zone is UTC

    page = _document(client, "statement.html")
    until_the_fifth = _document(client, "statement.html", to="2026-03-05")

    first = today.replace(day=1)
    assert (
        f'filename="statement-{ACCOUNT}-{first}..{today}.html"'
        in (page.headers["content-disposition"])
    )
    assert (
        f"statement-{ACCOUNT}-2026-03-01..2026-03-05.html"
        in (until_the_fifth.headers["content-disposition"])
    )
    assert "auth 0002" in _text(until_the_fifth)
    assert "auth 0001" not in _text(until_the_fifth)


def test_a_statement_of_open_items_only_lists_what_is_open_and_not_the_activity(
    client: TestClient,
) -> None:
    items = _ok(client.get(f"{BASE}/open-items", params={"as_of": AS_OF}))["items"]

    text = _text(_document(client, "statement.pdf", open_items_only="true", **PERIOD))

    assert "auth 0001" not in text
    assert "Opening balance" not in text
    for item in items:
        assert item["number"] in text
        assert usd(item["outstanding"]) in text


def test_the_first_page_of_the_statement_is_inked_from_the_top_not_cut_off(
    client: TestClient, tmp_path: Path
) -> None:
    pdf = tmp_path / "statement.pdf"
    pdf.write_bytes(_document(client, "statement.pdf", **PERIOD).content)

    subprocess.run(
        ["pdftoppm", "-gray", "-r", "50", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
        check=True,
    )
    [image] = tmp_path.glob("page*.pgm")
    width, height, pixels = _pgm(image.read_bytes())

    rows = [pixels[y * width : (y + 1) * width] for y in range(height)]
    ink = [sum(1 for shade in row if shade < 128) for row in rows]
    assert abs(width - 413) <= 1
    assert abs(height - 585) <= 1
    assert sum(ink) > 0.005 * width * height  # text and rules, not a blank page
    assert sum(ink[: height // 5]) > 0  # the letterhead at the top
    bottom = sum(ink[height - height // 10 :])
    assert bottom < sum(ink) / 4  # not all pushed to the foot, nor cut off above it


def _pgm(data: bytes) -> tuple[int, int, bytes]:
    """A binary PGM (P5) image: its width, height and one byte per pixel (0 black, 255 white)."""
    fields: list[bytes] = []
    at = 0
    while len(fields) < 4:
        while data[at : at + 1].isspace():
            at += 1
        if data[at : at + 1] == b"#":  # a comment runs to the end of its line
            at = data.index(b"\n", at)
            continue
        end = at
        while not data[end : end + 1].isspace():
            end += 1
        fields.append(data[at:end])
        at = end
    magic, width, height, maxval = fields
    assert (magic, maxval) == (b"P5", b"255")
    pixels = data[at + 1 :]
    assert len(pixels) == int(width) * int(height)
    return int(width), int(height), pixels


# --- invoices and letters --------------------------------------------------------------------


@pytest.mark.parametrize("form", ["pdf", "html"])
def test_the_invoice_shows_its_number_its_line_and_its_total(client: TestClient, form: str) -> None:
    item = next(
        i
        for i in _ok(client.get(f"{BASE}/open-items", params={"as_of": AS_OF}))["items"]
        if i["number"] == "INV-1"
    )

    response = _document(client, f"invoices/INV-1.{form}", as_of=AS_OF)
    text = _text(response)

    assert f'filename="invoice-{ACCOUNT}-INV-1.{form}"' in response.headers["content-disposition"]
    assert "INV-1" in text
    assert "Day surgery" in text
    assert f"Total {usd(item['total'])}" in text
    assert item["total"] == "1000.00"
    assert f"Amount due {usd(item['outstanding'])}" in text


@pytest.mark.parametrize("form", ["pdf", "html"])
def test_the_settlement_offer_says_how_much_off_and_what_is_left_to_pay_by_when(
    client: TestClient, form: str
) -> None:
    item = next(
        i
        for i in _ok(client.get(f"{BASE}/open-items", params={"as_of": AS_OF}))["items"]
        if i["number"] == "INV-1"
    )

    text = _text(_document(client, f"letters/settlement-offer.{form}", as_of=AS_OF, subject="S1"))

    to_pay = Decimal(item["outstanding"]) - Decimal("300.00")
    assert usd(to_pay) == "$400.00"
    assert "Amount off $300.00" in text
    assert f"Amount to pay {usd(to_pay)}" in text
    assert "Deadline Apr 30, 2026" in text


@pytest.mark.parametrize("form", ["pdf", "html"])
def test_the_plan_agreement_lists_the_ten_installments(client: TestClient, form: str) -> None:
    text = _text(_document(client, f"letters/plan-agreement.{form}", as_of=AS_OF, subject="P1"))

    months = ["Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov"]
    if form == "pdf":
        listed = re.findall(r"^(\d+) (\w{3}) 1, 2026 \$100\.00 (\$\d+\.\d\d)$", text, re.M)
        assert [(int(n), month) for n, month, _ in listed] == list(enumerate(months, start=1))
        # The three paid in Feb, Mar and Apr have nothing left to pay.
        assert [left for _, _, left in listed] == ["$0.00"] * 3 + ["$100.00"] * 7
    for number, month in enumerate(months, start=1):
        assert f"{number} {month} 1, 2026 $100.00" in text
    assert "Total $1,000.00" in text
    assert "11 Dec" not in text


@pytest.mark.parametrize("form", ["pdf", "html"])
def test_the_patient_statement_says_what_the_insurer_paid_and_what_the_patient_owes(
    client: TestClient, form: str
) -> None:
    share = next(
        i
        for i in _ok(client.get(f"{BASE}/open-items", params={"as_of": AS_OF}))["items"]
        if i["claim_id"] == "CLM-1"
    )

    text = _text(
        _document(client, f"letters/patient-statement.{form}", as_of=AS_OF, subject="CLM-1")
    )

    assert "Billed to your insurer $1,000.00" in text
    assert "Paid by your insurer $450.00" in text
    assert "Insurer's contractual adjustment $400.00" in text
    assert share["outstanding"] == "150.00"
    assert f"Amount you owe {usd(share['outstanding'])}" in text
    assert "Acme Health" in text


@pytest.mark.parametrize("form", ["pdf", "html"])
def test_the_promise_confirmation_and_the_reminder_name_their_figures(
    client: TestClient, form: str
) -> None:
    promise = _text(
        _document(client, f"letters/promise-confirmation.{form}", as_of=AS_OF, subject="PTP-1")
    )
    reminder = _text(_document(client, f"letters/dunning-letter.{form}", as_of=AS_OF))

    assert "promise to pay $400.00 by Apr 30, 2026" in " ".join(promise.split())
    assert "CLM-1-PR" in reminder  # the patient's share, due Apr 1, is past due
    assert "INV-1" not in reminder  # the plan's installments are paid to date


# --- reprints --------------------------------------------------------------------------------


def test_a_reprint_as_known_at_the_first_moment_is_the_same_bytes_after_a_later_payment(
    client: TestClient,
) -> None:
    first = _document(client, "statement.pdf", **PERIOD)
    first_page = _document(client, "statement.html", **PERIOD)
    later = later_payment()
    _ok(client.post(f"{BASE}/{later.facts}", json=later.body))

    reprint = _document(client, "statement.pdf", as_known_at=first.headers["x-known-at"], **PERIOD)
    reprint_page = _document(
        client, "statement.html", as_known_at=first_page.headers["x-known-at"], **PERIOD
    )
    fresh = _document(client, "statement.pdf", **PERIOD)

    assert reprint.content == first.content
    assert reprint.headers["x-document-sha256"] == first.headers["x-document-sha256"]
    assert reprint.headers["x-known-at"] == first.headers["x-known-at"]
    assert reprint_page.content == first_page.content
    assert fresh.headers["x-document-sha256"] != first.headers["x-document-sha256"]
    assert "auth 0004" in _text(fresh)
    assert "auth 0004" not in _text(reprint)


def test_a_moment_still_to_come_is_read_as_now(client: TestClient) -> None:
    before = datetime.now(UTC)

    response = _document(
        client, "invoices/INV-1.html", as_of=AS_OF, as_known_at="2999-01-01T00:00:00Z"
    )

    known_at = datetime.fromisoformat(response.headers["x-known-at"])
    assert before <= known_at <= datetime.now(UTC)


# --- refusals --------------------------------------------------------------------------------


def _problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    document: dict[str, Any] = response.json()
    assert document["code"] == code
    return document


def test_an_invoice_the_account_does_not_have_as_of_the_date_is_not_found(
    client: TestClient,
) -> None:
    unknown = client.get(f"{BASE}/invoices/INV-9.pdf", params={"as_of": AS_OF})
    not_yet = client.get(f"{BASE}/invoices/INV-1.html", params={"as_of": "2026-01-05"})
    no_offer = client.get(f"{BASE}/letters/settlement-offer.pdf", params={"subject": "S9"})
    no_account = client.get("/v1/accounts/A-9/statement.pdf")

    assert "no invoice INV-9" in _problem(unknown, 404, "unknown_document")["detail"]
    assert _problem(not_yet, 404, "unknown_document")["field"] == "invoice_number"
    assert "no settlement offer S9" in _problem(no_offer, 404, "unknown_document")["detail"]
    _problem(no_account, 404, "account_not_found")


def test_a_letter_about_something_needs_its_subject_and_a_reminder_takes_none(
    client: TestClient,
) -> None:
    for kind in ("plan-agreement", "settlement-offer", "promise-confirmation", "patient-statement"):
        missing = client.get(f"{BASE}/letters/{kind}.pdf", params={"as_of": AS_OF})
        assert _problem(missing, 422, "missing_value")["field"] == "subject"
    reminder = client.get(f"{BASE}/letters/dunning-letter.pdf", params={"subject": "P1"})
    assert _problem(reminder, 422, "not_taken")["field"] == "subject"
    _problem(
        client.get(f"{BASE}/letters/invoice.pdf", params={"subject": "INV-1"}),
        422,
        "invalid_request",
    )


def test_bad_dates_and_unknown_parameters_are_refused(client: TestClient) -> None:
    _problem(
        client.get(f"{BASE}/statement.pdf", params={"to": "2026-02-30"}), 422, "invalid_request"
    )
    _problem(
        client.get(f"{BASE}/statement.pdf", params={"to": "3000-01-01"}), 422, "date_out_of_range"
    )
    backwards = client.get(
        f"{BASE}/statement.pdf", params={"from": "2026-04-01", "to": "2026-03-01"}
    )
    assert _problem(backwards, 422, "invalid_date")["field"] == "from"
    _problem(
        client.get(f"{BASE}/statement.pdf", params={"as_known_at": "yesterday"}),
        422,
        "invalid_request",
    )
    _problem(client.get(f"{BASE}/statement.pdf", params={"as_of": AS_OF}), 400, "unknown_parameter")


def test_a_tenant_template_that_fails_is_refused_with_its_sentence(
    client: TestClient, sqlite_runtime: Runtime
) -> None:
    # A template that rendered once and no longer does (say, recorded before the documents
    # changed): recorded here without the check an override gets today.
    tenants = TenantSettings(sqlite_runtime.app)
    broken = '{% extends "layout" %}{% block content %}{{ doc.no_such_figure }}{% endblock %}'

    def change(tenant: Tenant) -> bool:
        tenant.set_template(
            name=STATEMENT, source=broken, effective_on=tenants.today(TENANT, tenant), meta=ADMIN
        )
        return True

    tenants.update(TENANT, change, ADMIN)

    failed = client.get(f"{BASE}/statement.pdf", params=PERIOD)
    invoice = client.get(f"{BASE}/invoices/INV-1.pdf", params={"as_of": AS_OF})

    assert "no_such_figure" in _problem(failed, 422, "invalid_template")["detail"]
    assert invoice.status_code == 200  # the other documents' templates are the defaults


# --- e-mail ----------------------------------------------------------------------------------


def _mail_through(runtime: Runtime, server: SmtpServer) -> None:
    TenantSettings(runtime.app).set_mail_settings(TENANT, server.mail_settings(), ADMIN)


def _attached_pdf(server: SmtpServer) -> tuple[str, bytes]:
    [attachment] = list(server.only.message.iter_attachments())
    content = attachment.get_content()
    assert isinstance(content, bytes)
    return str(attachment.get_filename()), content


def test_an_emailed_statement_arrives_with_the_pdf_whose_hash_is_recorded_as_sent(
    client: TestClient, sqlite_runtime: Runtime, smtp_server: SmtpServer
) -> None:
    _mail_through(sqlite_runtime, smtp_server)

    response = client.post(
        f"{BASE}/documents/email",
        json={"kind": "statement", "from": PERIOD_FROM, "as_of": AS_OF},
        headers={"Idempotency-Key": "statement-april"},
    )

    sent = _ok(response)
    assert response.status_code == 201
    filename, pdf = _attached_pdf(smtp_server)
    assert smtp_server.only.rcpt_tos == (EMAIL,)
    assert filename == f"statement-{ACCOUNT}-{PERIOD_FROM}..{AS_OF}.pdf"
    assert "Closing balance" in pdf_text(pdf)
    [recorded] = _sent_documents(client)
    assert hashlib.sha256(pdf).hexdigest() == sent["pdf_sha256"] == recorded["pdf_sha256"]
    assert sent["document_id"] == recorded["document_id"] == "email:statement-april"
    assert (sent["recipient"], recorded["recipient"], recorded["channel"]) == (
        EMAIL,
        EMAIL,
        "email",
    )
    assert sent["known_at"] == recorded["known_at"]
    assert sent["message_id"] == smtp_server.only.message["Message-ID"]
    # What was sent is proved by producing it again as known at the moment recorded.
    reprint = _document(client, "statement.pdf", as_known_at=recorded["known_at"], **PERIOD)
    assert reprint.content == pdf
    html_reprint = _document(client, "statement.html", as_known_at=recorded["known_at"], **PERIOD)
    assert html_reprint.headers["x-document-sha256"] == recorded["html_sha256"]


def test_a_retry_with_the_same_key_answers_what_was_sent_and_sends_nothing_again(
    client: TestClient, sqlite_runtime: Runtime, smtp_server: SmtpServer
) -> None:
    _mail_through(sqlite_runtime, smtp_server)
    body = {"kind": "invoice", "subject": "INV-1", "as_of": AS_OF}

    first = _ok(
        client.post(f"{BASE}/documents/email", json=body, headers={"Idempotency-Key": "k1"})
    )
    again = client.post(f"{BASE}/documents/email", json=body, headers={"Idempotency-Key": "k1"})
    other = client.post(
        f"{BASE}/documents/email",
        json={"kind": "plan-agreement", "subject": "P1"},
        headers={"Idempotency-Key": "k1"},
    )

    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert {**again.json(), "message_id": first["message_id"]} == first
    assert again.json()["message_id"] is None
    _problem(other, 409, "idempotency_key_reused")
    assert len(smtp_server.received) == 1
    assert len(_sent_documents(client)) == 1


def test_a_letter_goes_to_the_address_given_instead_of_the_accounts(
    client: TestClient, sqlite_runtime: Runtime, smtp_server: SmtpServer
) -> None:
    _mail_through(sqlite_runtime, smtp_server)

    sent = _ok(
        client.post(
            f"{BASE}/documents/email",
            json={"kind": "settlement-offer", "subject": "S1", "to": "guardian@example.net"},
        )
    )

    assert smtp_server.only.rcpt_tos == ("guardian@example.net",)
    assert sent["recipient"] == "guardian@example.net"
    assert sent["document_id"].startswith("email:")
    [recorded] = _sent_documents(client)
    assert (recorded["kind"], recorded["subject"]) == ("settlement-offer", "S1")
    _, pdf = _attached_pdf(smtp_server)
    assert "Amount off $300.00" in one_spaced(pdf_text(pdf))


def test_a_refused_recipient_is_an_error_and_nothing_is_recorded(
    client: TestClient, sqlite_runtime: Runtime, smtp_server: SmtpServer
) -> None:
    _mail_through(sqlite_runtime, smtp_server)
    smtp_server.refuse_recipients.add(EMAIL)

    refused = client.post(f"{BASE}/documents/email", json={"kind": "invoice", "subject": "INV-1"})

    assert EMAIL in _problem(refused, 422, "smtp_refused")["detail"]
    assert smtp_server.received == []
    assert _sent_documents(client) == []


def test_a_mail_server_that_cannot_be_reached_is_a_bad_gateway_and_nothing_is_recorded(
    client: TestClient, sqlite_runtime: Runtime, smtp_server: SmtpServer
) -> None:
    with socket.socket() as probe:  # a port nothing listens on once the probe closes
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    TenantSettings(sqlite_runtime.app).set_mail_settings(
        TENANT, smtp_server.mail_settings(port=closed_port), ADMIN
    )

    failed = client.post(f"{BASE}/documents/email", json={"kind": "invoice", "subject": "INV-1"})

    _problem(failed, 502, "smtp_unavailable")
    assert _sent_documents(client) == []


def test_without_mail_settings_nothing_is_sent_or_recorded(client: TestClient) -> None:
    unset = client.post(f"{BASE}/documents/email", json={"kind": "invoice", "subject": "INV-1"})
    no_subject = client.post(f"{BASE}/documents/email", json={"kind": "invoice"})
    period_of_a_letter = client.post(
        f"{BASE}/documents/email",
        json={"kind": "invoice", "subject": "INV-1", "from": "2026-01-01"},
    )

    _problem(unset, 409, "invalid_mail_settings")
    assert _problem(no_subject, 422, "missing_value")["field"] == "subject"
    assert _problem(period_of_a_letter, 422, "not_taken")["field"] == "from"
    assert _sent_documents(client) == []


# --- the schema ------------------------------------------------------------------------------


def test_the_schema_declares_each_documents_media_type(client: TestClient) -> None:
    paths = _ok(client.get("/openapi.json"))["paths"]

    for path, media_type in (
        ("/v1/accounts/{account_number}/statement.pdf", "application/pdf"),
        ("/v1/accounts/{account_number}/statement.html", "text/html"),
        ("/v1/accounts/{account_number}/invoices/{invoice_number}.pdf", "application/pdf"),
        ("/v1/accounts/{account_number}/letters/{kind}.html", "text/html"),
    ):
        answer = paths[path]["get"]["responses"]["200"]
        assert list(answer["content"]) == [media_type]
        assert "X-Known-At" in answer["headers"]
    assert set(get_args(DocumentKind)) == set(DOCUMENT_KINDS)
