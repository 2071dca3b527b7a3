"""What the tenant's documents carry, over HTTP: letterhead, mail settings, template overrides.

Admins set them, clerks read them; a value already in force answers 200 with nothing recorded,
a refused one 422 with its stable code and nothing recorded (the store's head does not move).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from domain.letterhead import TEMPLATE_MAX_CHARS, TEMPLATE_NAMES
from services.api.app import create_app
from services.api_keys import Role
from services.bootstrap import Runtime
from services.documents.rendering import TEMPLATES_DIR
from services.tenants import TenantSettings

NOW = datetime(2026, 4, 30, 12, 0, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
LETTERHEAD: dict[str, Any] = {
    "name": "Acme Dental",
    "address_lines": ["1 Main Street", "Springfield, IL 62701"],
    "locale": "en_US",
    "remit_to": ["Acme Dental, PO Box 9", "Springfield, IL 62702"],
    "payment_instructions": "Pay by cheque to Acme Dental,\nor by card at acme.example.",
    "phone": "+1 217 555 0100",
    "email": "billing@acme.example",
    "logo_base64": base64.b64encode(PNG).decode(),
}
MAIL: dict[str, Any] = {
    "host": "smtp.acme.example",
    "port": 587,
    "sender": "billing@acme.example",
    "security": "starttls",
    "username": "billing",
    "password_env": "ACME_SMTP_PASSWORD",
    "reply_to": "accounts@acme.example",
}
INVOICE = "<h1>Invoice {{ doc.number }}</h1>\n"


@dataclass
class Clients:
    runtime: Runtime
    clerk: TestClient
    admin: TestClient

    def head(self) -> int:
        return self.runtime.app.recorder.max_notification_id() or 0


@pytest.fixture
def http(runtime: Runtime) -> Iterator[Clients]:
    clerk = runtime.keys.create(name="clerk-ann", tenant_id="acme", role=Role.clerk)
    admin = runtime.keys.create(name="admin-bea", tenant_id="acme", role=Role.admin)
    app = create_app(runtime)
    app.state.tenant_settings = TenantSettings(runtime.app, clock=lambda: NOW)
    with (
        TestClient(app, raise_server_exceptions=False) as clerk_client,
        TestClient(app, raise_server_exceptions=False) as admin_client,
    ):
        clerk_client.headers["Authorization"] = f"Bearer {clerk.secret}"
        admin_client.headers["Authorization"] = f"Bearer {admin.secret}"
        yield Clients(runtime, clerk_client, admin_client)


def refused(http: Clients, method: str, path: str, body: Any, code: str, status: int = 422) -> None:
    """The request is refused with ``code`` as a problem document, and nothing is recorded."""
    head = http.head()
    answer = http.admin.request(method, path, json=body)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == code, answer.text
    assert http.head() == head


def test_a_letterhead_is_set_once_and_read_back(http: Clients) -> None:
    assert http.clerk.get("/v1/tenant/letterhead").json() is None
    first = http.admin.put("/v1/tenant/letterhead", json=LETTERHEAD)
    assert first.status_code == 201, first.text
    assert first.json() == {**LETTERHEAD, "logo_media_type": "image/png"}
    head = http.head()
    again = http.admin.put("/v1/tenant/letterhead", json=LETTERHEAD)
    assert again.status_code == 200, again.text
    assert http.head() == head

    read = http.clerk.get("/v1/tenant/letterhead")
    assert read.status_code == 200
    assert read.json() == {**LETTERHEAD, "logo_media_type": "image/png"}
    assert base64.b64decode(read.json()["logo_base64"]) == PNG

    plain = {"name": "Acme", "address_lines": ["1 Main Street"]}
    assert http.admin.put("/v1/tenant/letterhead", json=plain).status_code == 201
    defaults = http.clerk.get("/v1/tenant/letterhead").json()
    assert (defaults["locale"], defaults["logo_base64"], defaults["logo_media_type"]) == (
        "en_US",
        None,
        None,
    )


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"name": "Acme\x00Dental"}, "control_character"),
        ({"address_lines": [f"line {n}" for n in range(7)]}, "invalid_letterhead"),
        ({"address_lines": []}, "missing_value"),
        ({"logo_base64": base64.b64encode(b"GIF89a" + PNG).decode()}, "invalid_logo"),
        ({"logo_base64": "%%% not base64 %%%"}, "invalid_logo"),
        ({"logo_base64": base64.b64encode(PNG + bytes(300 * 1024)).decode()}, "invalid_logo"),
        ({"locale": "xx_YY"}, "invalid_locale"),
        ({"locale": "english"}, "invalid_locale"),
        ({"email": "billing at acme"}, "invalid_email"),
        ({"colour": "red"}, "invalid_request"),
    ],
    ids=[
        "control-character",
        "seven-lines",
        "no-address",
        "gif",
        "garbage-logo",
        "300KiB-logo",
        "unknown-locale",
        "no-locale",
        "bad-email",
        "unknown-field",
    ],
)
def test_a_letterhead_that_breaks_a_rule_is_refused_with_nothing_recorded(
    http: Clients, changes: dict[str, Any], code: str
) -> None:
    http.admin.put("/v1/tenant/letterhead", json=LETTERHEAD)
    refused(http, "PUT", "/v1/tenant/letterhead", {**LETTERHEAD, **changes}, code)
    assert http.clerk.get("/v1/tenant/letterhead").json()["name"] == LETTERHEAD["name"]


def test_mail_settings_are_set_read_and_cleared(http: Clients) -> None:
    assert http.clerk.get("/v1/tenant/mail-settings").json() is None
    assert http.admin.put("/v1/tenant/mail-settings", json=MAIL).status_code == 201
    assert http.admin.put("/v1/tenant/mail-settings", json=MAIL).status_code == 200
    assert http.clerk.get("/v1/tenant/mail-settings").json() == MAIL
    assert http.admin.delete("/v1/tenant/mail-settings").status_code == 204
    assert http.clerk.get("/v1/tenant/mail-settings").json() is None
    head = http.head()
    assert http.admin.delete("/v1/tenant/mail-settings").status_code == 204
    assert http.head() == head


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"port": 0}, "invalid_mail_settings"),
        ({"port": 70000}, "invalid_mail_settings"),
        ({"port": "587"}, "invalid_request"),
        ({"sender": "billing"}, "invalid_email"),
        ({"password_env": None}, "invalid_mail_settings"),
        ({"security": "ssl"}, "invalid_mail_settings"),
        ({"host": "smtp.acme.example/evil"}, "invalid_mail_settings"),
        ({"password": "hunter2"}, "invalid_request"),
    ],
    ids=[
        "port-0",
        "port-70000",
        "port-as-text",
        "bad-sender",
        "user-without-password-env",
        "unknown-security",
        "bad-host",
        "a-password",
    ],
)
def test_mail_settings_that_break_a_rule_are_refused_with_nothing_recorded(
    http: Clients, changes: dict[str, Any], code: str
) -> None:
    refused(http, "PUT", "/v1/tenant/mail-settings", {**MAIL, **changes}, code)


def test_a_template_is_overridden_read_and_cleared(http: Clients) -> None:
    listed = http.clerk.get("/v1/tenant/templates").json()
    assert listed == [{"name": name, "overridden": False} for name in sorted(TEMPLATE_NAMES)]
    default = http.clerk.get("/v1/tenant/templates/invoice")
    assert default.status_code == 200
    shipped = (TEMPLATES_DIR / "invoice.html.j2").read_text(encoding="utf-8")
    assert default.json() == {"name": "invoice", "source": shipped, "overridden": False}

    put = http.admin.put("/v1/tenant/templates/invoice", json={"source": INVOICE})
    assert put.status_code == 201, put.text
    assert (
        http.admin.put("/v1/tenant/templates/invoice", json={"source": INVOICE}).status_code == 200
    )
    assert http.clerk.get("/v1/tenant/templates/invoice").json() == {
        "name": "invoice",
        "source": INVOICE,
        "overridden": True,
    }
    overridden = [
        t["name"] for t in http.clerk.get("/v1/tenant/templates").json() if t["overridden"]
    ]
    assert overridden == ["invoice"]

    assert http.admin.delete("/v1/tenant/templates/invoice").status_code == 204
    assert http.clerk.get("/v1/tenant/templates/invoice").json()["overridden"] is False
    refused(http, "DELETE", "/v1/tenant/templates/invoice", None, "nothing_changed")


def test_a_template_that_breaks_a_rule_is_refused_with_nothing_recorded(http: Clients) -> None:
    refused(http, "PUT", "/v1/tenant/templates/receipt", {"source": INVOICE}, "invalid_template")
    refused(
        http,
        "PUT",
        "/v1/tenant/templates/invoice",
        {"source": "x" * (TEMPLATE_MAX_CHARS + 1)},
        "text_too_long",
    )
    refused(http, "PUT", "/v1/tenant/templates/invoice", {"source": "{% if %}"}, "invalid_template")
    refused(
        http,
        "PUT",
        "/v1/tenant/templates/invoice",
        {"source": "{{ doc.no_such_field }}"},
        "invalid_template",
    )
    refused(http, "DELETE", "/v1/tenant/templates/receipt", None, "invalid_template")
    unknown = http.clerk.get("/v1/tenant/templates/receipt")
    assert (unknown.status_code, unknown.json()["code"]) == (422, "invalid_template")
    traversal = http.clerk.get("/v1/tenant/templates/..%2F..%2Fpyproject")
    assert traversal.status_code in (404, 422)
    assert traversal.json()["code"] in ("not_found", "invalid_template")


def test_a_default_template_missing_is_404_with_a_stable_code(
    http: Clients, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from services.documents import rendering

    monkeypatch.setattr(rendering, "TEMPLATES_DIR", tmp_path)
    missing = http.clerk.get("/v1/tenant/templates/statement")
    assert (missing.status_code, missing.json()["code"]) == (404, "template_not_found")


def test_only_admins_change_the_document_settings(http: Clients) -> None:
    head = http.head()
    for method, path, body in [
        ("PUT", "/v1/tenant/letterhead", LETTERHEAD),
        ("PUT", "/v1/tenant/mail-settings", MAIL),
        ("DELETE", "/v1/tenant/mail-settings", None),
        ("PUT", "/v1/tenant/templates/invoice", {"source": INVOICE}),
        ("DELETE", "/v1/tenant/templates/invoice", None),
    ]:
        answer = http.clerk.request(method, path, json=body)
        assert (answer.status_code, answer.json()["code"]) == (403, "forbidden"), path
    assert http.head() == head
    for path in ("letterhead", "mail-settings", "templates", "templates/invoice"):
        assert http.admin.get(f"/v1/tenant/{path}").status_code == 200, path
