"""The tenant's document settings through the service and ``ar tenant``: letterhead, mail
settings and template overrides, recorded once, read as known at a moment, and refused with
nothing recorded.

An override is recorded only once it renders the sample documents
(``services.documents.rendering``); a template not overridden is read from the defaults.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from domain.errors import DomainError
from domain.hash_chain import verify_chain
from domain.letterhead import LOGO_MAX_BYTES, TEMPLATE_MAX_CHARS, Letterhead, MailSettings
from domain.provenance import Provenance
from domain.tenant import Tenant
from services.bootstrap import Runtime
from services.cli import app as cli
from services.documents import rendering
from services.errors import ServiceError
from services.tenants import TenantSettings
from tests.service.test_verify_and_explain import same_store

NOW = datetime(2026, 4, 30, 12, 0, tzinfo=UTC)
META = Provenance(actor="admin-bea", correlation_id="test-documents")
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
AS = ["--tenant", "acme", "--actor", "admin-bea"]
MAIL = ["tenant", "set-mail-settings", "--host", "smtp.acme.example"]
MAIL += ["--sender", "billing@acme.example"]
INVOICE = "<h1>Invoice {{ doc.number }}</h1>\n"


def letterhead(**changes: Any) -> Letterhead:
    fields: dict[str, Any] = {
        "name": "Acme Dental",
        "address_lines": ("1 Main Street", "Springfield, IL 62701"),
        "locale": "en_US",
        "remit_to": ("Acme Dental, PO Box 9", "Springfield, IL 62702"),
        "payment_instructions": "Pay by cheque to Acme Dental,\nor by card at acme.example.",
        "phone": "+1 217 555 0100",
        "email": "billing@acme.example",
        "logo_base64": base64.b64encode(PNG).decode(),
        **changes,
    }
    return Letterhead(**fields)


def mail(**changes: Any) -> MailSettings:
    fields: dict[str, Any] = {
        "host": "smtp.acme.example",
        "port": 587,
        "sender": "billing@acme.example",
        "username": "billing",
        "password_env": "ACME_SMTP_PASSWORD",
        **changes,
    }
    return MailSettings(**fields)


@pytest.fixture
def tenants(runtime: Runtime) -> TenantSettings:
    return TenantSettings(runtime.app, clock=lambda: NOW)


def version(tenants: TenantSettings) -> int:
    tenant = tenants.get("acme")
    return 0 if tenant is None else tenant.version


def loaded(tenants: TenantSettings) -> Tenant:
    tenant = tenants.get("acme")
    assert tenant is not None
    return tenant


# --- letterhead and mail settings ------------------------------------------------------------


def test_a_letterhead_is_recorded_once_and_read_back_as_set(tenants: TenantSettings) -> None:
    assert tenants.set_letterhead("acme", letterhead(), META) is True
    tenant = loaded(tenants)
    assert tenant.letterhead == letterhead()
    assert tenant.letterhead is not None
    assert tenant.letterhead.logo == PNG
    assert tenant.letterhead.logo_media_type == "image/png"

    recorded = version(tenants)
    assert tenants.set_letterhead("acme", letterhead(), META) is False
    assert version(tenants) == recorded

    assert tenants.set_letterhead("acme", letterhead(locale="de_DE"), META) is True
    assert loaded(tenants).letterhead == letterhead(locale="de_DE")
    stored = list(tenants.app.events.get(Tenant.id_for("acme")))
    assert [type(event).__name__ for event in stored] == [
        "Registered",
        "LetterheadSet",
        "LetterheadSet",
    ]
    assert verify_chain(stored) == []


def test_mail_settings_are_set_cleared_and_hold_no_password(tenants: TenantSettings) -> None:
    assert tenants.clear_mail_settings("acme", META) is False
    assert tenants.set_mail_settings("acme", mail(), META) is True
    assert tenants.set_mail_settings("acme", mail(), META) is False
    assert loaded(tenants).mail_settings == mail()
    assert tenants.clear_mail_settings("acme", META) is True
    assert loaded(tenants).mail_settings is None
    assert tenants.clear_mail_settings("acme", META) is False
    names = [type(e).__name__ for e in tenants.app.events.get(Tenant.id_for("acme"))]
    assert names == ["Registered", "MailSettingsSet", "MailSettingsCleared"]


def test_a_tenant_with_a_letterhead_round_trips_through_the_store_and_a_snapshot(
    tenants: TenantSettings,
) -> None:
    tenants.set_letterhead("acme", letterhead(), META)
    tenants.set_mail_settings("acme", mail(), META)
    tenant = loaded(tenants)
    app = tenants.app
    assert app.snapshots is not None
    app.snapshots.put([Tenant.Snapshot.take(tenant)])

    snapshot = next(iter(app.snapshots.get(tenant.id, desc=True, limit=1)))
    restored = snapshot.mutate(None)
    assert isinstance(restored, Tenant)
    assert restored.letterhead == letterhead()
    assert restored.letterhead is not None
    assert isinstance(restored.letterhead.address_lines, tuple)
    assert isinstance(restored.letterhead.remit_to, tuple)
    assert restored.mail_settings == mail()
    reloaded = loaded(tenants)  # from the snapshot
    assert (reloaded.letterhead, reloaded.mail_settings) == (letterhead(), mail())
    assert reloaded.version == tenant.version


def test_a_tenant_recorded_before_document_settings_existed_still_loads(
    tenants: TenantSettings,
) -> None:
    tenants.set_dunning_policy("acme", [(15, "reminder")], None, META)
    tenant = loaded(tenants)
    snapshot = Tenant.Snapshot.take(tenant)
    # The state such a tenant was snapshotted with: none of the attributes added since.
    assert not {"letterhead", "mail_settings", "templates"} & set(snapshot.state)
    app = tenants.app
    assert app.snapshots is not None
    app.snapshots.put([snapshot])

    old = loaded(tenants)
    assert (old.letterhead, old.mail_settings, dict(old.templates)) == (None, None, {})
    assert old.latest_policy == tenant.latest_policy
    assert tenants.set_letterhead("acme", letterhead(), META) is True
    assert loaded(tenants).letterhead == letterhead()


REFUSED_LETTERHEADS = {
    "control character in the name": ({"name": "Acme\x1b[31m"}, "control_character"),
    "seven address lines": ({"address_lines": tuple(f"line {n}" for n in range(7))}, None),
    "a GIF logo": ({"logo_base64": base64.b64encode(b"GIF89a" + PNG).decode()}, "invalid_logo"),
    "a logo that is not base64": ({"logo_base64": "not base64!"}, "invalid_logo"),
    "a 300 KiB logo": (
        {"logo_base64": base64.b64encode(PNG + bytes(300 * 1024)).decode()},
        "invalid_logo",
    ),
    "a locale Babel does not know": ({"locale": "xx_YY"}, "invalid_locale"),
    "a country Babel would stand in for": ({"locale": "en_ZZ"}, "invalid_locale"),
}


@pytest.mark.parametrize("case", list(REFUSED_LETTERHEADS))
def test_a_letterhead_that_breaks_a_rule_is_refused_with_nothing_recorded(
    tenants: TenantSettings, case: str
) -> None:
    tenants.set_letterhead("acme", letterhead(), META)
    before = version(tenants)
    changes, code = REFUSED_LETTERHEADS[case]
    with pytest.raises(DomainError) as refused:
        tenants.set_letterhead("acme", letterhead(**changes), META)
    assert refused.value.code == (code or "invalid_letterhead")
    assert version(tenants) == before
    assert loaded(tenants).letterhead == letterhead()


def test_a_logo_of_exactly_the_bound_is_taken() -> None:
    assert (
        letterhead(
            logo_base64=base64.b64encode(PNG + bytes(LOGO_MAX_BYTES - len(PNG))).decode()
        ).logo_media_type
        == "image/png"
    )


REFUSED_MAIL = {
    "port 0": ({"port": 0}, "invalid_mail_settings"),
    "port 70000": ({"port": 70000}, "invalid_mail_settings"),
    "a sender that is no address": ({"sender": "billing at acme"}, "invalid_email"),
    "a user name without its password variable": ({"password_env": None}, "invalid_mail_settings"),
    "a password variable that is no name": ({"password_env": "pa$$"}, "invalid_mail_settings"),
    "a host with a space": ({"host": "smtp acme"}, "invalid_mail_settings"),
}


@pytest.mark.parametrize("case", list(REFUSED_MAIL))
def test_mail_settings_that_break_a_rule_are_refused_with_nothing_recorded(
    tenants: TenantSettings, case: str
) -> None:
    tenants.set_mail_settings("acme", mail(), META)
    before = version(tenants)
    changes, code = REFUSED_MAIL[case]
    with pytest.raises(DomainError) as refused:
        tenants.set_mail_settings("acme", mail(**changes), META)
    assert refused.value.code == code
    assert version(tenants) == before


# --- templates -----------------------------------------------------------------------------


def test_a_template_that_breaks_a_rule_is_refused_with_nothing_recorded(
    tenants: TenantSettings,
) -> None:
    tenants.set_letterhead("acme", letterhead(), META)
    before = version(tenants)
    refusals = {
        "invalid_template": lambda: tenants.set_template("acme", "receipt", INVOICE, META),
        "text_too_long": lambda: tenants.set_template(
            "acme", "invoice", "x" * (TEMPLATE_MAX_CHARS + 1), META
        ),
        "nothing_changed": lambda: tenants.clear_template("acme", "invoice", META),
    }
    for code, refused_call in refusals.items():
        with pytest.raises(DomainError) as refused:
            refused_call()
        assert refused.value.code == code
    with pytest.raises(DomainError) as unknown:
        tenants.clear_template("acme", "../layout", META)
    assert unknown.value.code == "invalid_template"
    with pytest.raises(DomainError) as unknown:
        tenants.template_in_force("acme", "../../pyproject")
    assert unknown.value.code == "invalid_template"
    assert version(tenants) == before


def test_a_template_not_overridden_and_without_a_default_is_not_found(
    tenants: TenantSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rendering, "TEMPLATES_DIR", tmp_path)
    with pytest.raises(ServiceError) as missing:
        tenants.template_in_force("acme", "statement")
    assert (missing.value.code, missing.value.status) == ("template_not_found", 404)
    (tmp_path / "statement.html.j2").write_text("default statement\n", encoding="utf-8")
    default = tenants.template_in_force("acme", "statement")
    assert (default.source, default.overridden) == ("default statement\n", False)


def test_an_override_is_in_force_until_cleared_and_the_default_after(
    tenants: TenantSettings,
) -> None:
    assert tenants.set_template("acme", "invoice", INVOICE, META) is True
    assert tenants.set_template("acme", "invoice", INVOICE, META) is False
    in_force = tenants.template_in_force("acme", "invoice")
    assert (in_force.source, in_force.overridden) == (INVOICE, True)
    tenants.clear_template("acme", "invoice", META)
    assert dict(loaded(tenants).templates) == {}
    default = tenants.template_in_force("acme", "invoice")
    shipped = rendering.TEMPLATES_DIR / "invoice.html.j2"
    assert (default.source, default.overridden) == (shipped.read_text(encoding="utf-8"), False)


def test_a_template_as_known_at_a_moment_is_the_one_recorded_by_then(
    tenants: TenantSettings,
) -> None:
    before_any = datetime.now(UTC)
    tenants.set_template("acme", "invoice", INVOICE, META)
    between = datetime.now(UTC)
    tenants.set_template("acme", "invoice", "<h1>Rechnung {{ doc.number }}</h1>\n", META)

    then = tenants.get("acme", as_known_at=between)
    assert then is not None
    assert then.templates == {"invoice": INVOICE}
    assert loaded(tenants).templates["invoice"].startswith("<h1>Rechnung")
    assert tenants.get("acme", as_known_at=before_any) is None


def test_a_letterhead_as_known_at_a_moment_is_the_one_recorded_by_then(
    tenants: TenantSettings,
) -> None:
    tenants.set_letterhead("acme", letterhead(), META)
    between = datetime.now(UTC)
    tenants.set_letterhead("acme", letterhead(name="Acme Dental Group"), META)
    then = tenants.get("acme", as_known_at=between)
    assert then is not None
    assert then.letterhead == letterhead()
    assert loaded(tenants).letterhead == letterhead(name="Acme Dental Group")


# --- the CLI -------------------------------------------------------------------------------


@pytest.fixture
def ar(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    same_store(runtime, monkeypatch)
    return CliRunner()


def test_a_letterhead_is_set_and_shown_from_the_cli(
    runtime: Runtime, ar: CliRunner, tmp_path: Path
) -> None:
    logo = tmp_path / "logo.png"
    logo.write_bytes(PNG)
    expected = letterhead()
    arguments = [
        "tenant",
        "set-letterhead",
        "--name",
        expected.name,
        *(word for line in expected.address_lines for word in ("--address-line", line)),
        *(word for line in expected.remit_to for word in ("--remit-to-line", line)),
        "--payment-instructions",
        expected.payment_instructions,
        "--phone",
        expected.phone,
        "--email",
        expected.email,
        "--logo",
        str(logo),
        *AS,
    ]
    first = ar.invoke(cli, arguments)
    assert first.exit_code == 0, first.output
    assert "image/png, 264 bytes" in first.output
    again = ar.invoke(cli, arguments)
    assert again.exit_code == 0, again.output
    assert "nothing recorded" in again.output

    shown = ar.invoke(cli, ["tenant", "letterhead", "--tenant", "acme", "--json"])
    assert shown.exit_code == 0, shown.output
    document = json.loads(shown.output)
    assert document["address_lines"] == list(expected.address_lines)
    assert base64.b64decode(document["logo_base64"]) == PNG
    assert TenantSettings(runtime.app).get("acme") is not None


def test_the_cli_refuses_bad_document_settings_with_a_sentence_and_records_nothing(
    runtime: Runtime, ar: CliRunner, tmp_path: Path
) -> None:
    head = runtime.app.recorder.max_notification_id()
    gif = tmp_path / "logo.gif"
    gif.write_bytes(b"GIF89a" + PNG)
    base = ["tenant", "set-letterhead", "--name", "Acme", "--address-line", "1 Main St"]
    locale = ar.invoke(cli, [*base, "--locale", "xx_YY", *AS])
    assert (locale.exit_code, "not a locale" in locale.output) == (1, True)
    logo = ar.invoke(cli, [*base, "--logo", str(gif), *AS])
    assert (logo.exit_code, "PNG or JPEG" in logo.output) == (1, True)
    port = ar.invoke(
        cli,
        [*MAIL, "--port", "0", *AS],
    )
    assert (port.exit_code, "1 to 65535" in port.output) == (1, True)
    clear = ar.invoke(cli, ["tenant", "clear-template", "invoice", *AS])
    assert (clear.exit_code, "not overridden" in clear.output) == (1, True)
    unknown = ar.invoke(cli, ["tenant", "template", "receipt", "--tenant", "acme"])
    assert (unknown.exit_code, "no document template" in unknown.output) == (1, True)
    assert runtime.app.recorder.max_notification_id() == head


def test_mail_settings_are_set_shown_and_cleared_from_the_cli(ar: CliRunner) -> None:
    assert (
        "sends no e-mail" in ar.invoke(cli, ["tenant", "mail-settings", "--tenant", "acme"]).output
    )
    set_ = ar.invoke(
        cli,
        [*MAIL, "--port", "465", "--security", "tls", *AS],
    )
    assert set_.exit_code == 0, set_.output
    shown = ar.invoke(cli, ["tenant", "mail-settings", "--tenant", "acme", "--json"])
    assert json.loads(shown.output) == {
        "host": "smtp.acme.example",
        "port": 465,
        "sender": "billing@acme.example",
        "security": "tls",
        "username": None,
        "password_env": None,
        "reply_to": None,
    }
    assert "cleared" in ar.invoke(cli, ["tenant", "clear-mail-settings", *AS]).output
    assert "no mail settings" in ar.invoke(cli, ["tenant", "clear-mail-settings", *AS]).output


def test_a_template_is_overridden_printed_and_cleared_from_the_cli(
    ar: CliRunner, tmp_path: Path
) -> None:
    source = tmp_path / "invoice.html.j2"
    source.write_text(INVOICE, encoding="utf-8")
    set_ = ar.invoke(cli, ["tenant", "set-template", "invoice", str(source), *AS])
    assert set_.exit_code == 0, set_.output
    shown = ar.invoke(cli, ["tenant", "template", "invoice", "--tenant", "acme"])
    assert (shown.exit_code, shown.output) == (0, INVOICE)
    assert (
        "nothing recorded"
        in ar.invoke(cli, ["tenant", "set-template", "invoice", str(source), *AS]).output
    )
    cleared = ar.invoke(cli, ["tenant", "clear-template", "invoice", *AS])
    assert cleared.exit_code == 0, cleared.output
