"""``ar documents``: an account's statement, invoices and letters written to files, reprinted
byte for byte as known at the moment printed, and e-mailed through a real SMTP server.

The seed story (``tests.documents_story``) is recorded through the application on the
embedded store the command is pointed at; each test runs ``ar`` in a folder of its own and
reads the files it wrote with poppler's ``pdftotext``.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from services.bootstrap import Runtime
from services.cli import app as cli
from services.cli_documents import Kind, LetterKind
from services.documents.service import Documents
from services.tenants import TenantSettings
from tests.documents_story import (
    ACCOUNT,
    AS_OF,
    EMAIL,
    PERIOD_FROM,
    STORY_META,
    TENANT,
    later_payment,
    one_spaced,
    pdf_text,
    record_story,
)
from tests.service.test_cli import HEAVY, RUNTIME, _modules_loaded_by_ar
from tests.service.test_verify_and_explain import same_store
from tests.smtp_server import SmtpServer, smtp_server_fixture  # noqa: F401

#: The line a written document prints: its path, SHA-256 and the moment it is as known at.
WRITTEN = re.compile(r"^(\S+)  sha256 ([0-9a-f]{64})  known at (\S+)$")


@pytest.fixture
def ar(sqlite_runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """``ar`` on the story's store, in tenant acme, run from an empty folder."""
    record_story(sqlite_runtime.app)
    same_store(sqlite_runtime, monkeypatch)
    monkeypatch.setenv("AR_TENANT", TENANT)
    monkeypatch.setenv("AR_ACTOR", "clerk-ann")
    folder = tmp_path / "out"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return CliRunner()


def _ok(ar: CliRunner, *args: str) -> Result:
    result = ar.invoke(cli, ["documents", *args])
    assert result.exit_code == 0, result.output
    return result


def _refused(ar: CliRunner, *args: str) -> Result:
    result = ar.invoke(cli, ["documents", *args])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    return result


def _written(result: Result) -> tuple[Path, bytes, str]:
    """The file a command wrote (checked against the hash it printed) and its moment."""
    [line] = result.stdout.splitlines()
    found = WRITTEN.match(line)
    assert found is not None, line
    path, digest, known_at = Path(found[1]), found[2], found[3]
    body = path.read_bytes()
    assert hashlib.sha256(body).hexdigest() == digest
    return path, body, known_at


def test_the_statement_is_written_to_the_current_folder_with_its_hash_and_moment(
    ar: CliRunner, sqlite_runtime: Runtime
) -> None:
    closing = sqlite_runtime.app.get_account(TENANT, ACCOUNT).balance_as_of(date(2026, 4, 15))

    result = _ok(ar, "statement", ACCOUNT, "--from", PERIOD_FROM, "--to", AS_OF)

    path, pdf, known_at = _written(result)
    assert path == Path.cwd() / f"statement-{ACCOUNT}-{PERIOD_FROM}..{AS_OF}.pdf"
    assert datetime.fromisoformat(known_at) <= datetime.now(UTC)
    text = one_spaced(pdf_text(pdf))
    assert "Opening balance $0.00" in text
    assert f"Closing balance ${closing.amount:,.2f}" in text
    assert "Day surgery INV-1 $1,000.00" in text
    for number in (1, 2, 3):
        assert f"Payment (card) auth {number:04d} -$100.00" in text


def test_a_reprint_as_known_at_the_moment_printed_is_the_same_file_after_a_later_payment(
    ar: CliRunner, sqlite_runtime: Runtime, tmp_path: Path
) -> None:
    period = ("--from", PERIOD_FROM, "--to", AS_OF)
    _, first, known_at = _written(_ok(ar, "statement", ACCOUNT, *period))
    step = later_payment()
    sqlite_runtime.app.execute(
        tenant_id=TENANT, account_number=ACCOUNT, command=step.command(), meta=STORY_META
    )

    again = tmp_path / "again.pdf"
    reprinted = _ok(
        ar, "statement", ACCOUNT, *period, "--as-known-at", known_at, "--out", str(again)
    )
    fresh = _ok(ar, "statement", ACCOUNT, *period, "--out", str(tmp_path / "fresh.pdf"))

    path, reprint, reprint_known_at = _written(reprinted)
    assert path == again
    assert reprint == first
    assert reprint_known_at == known_at
    _, now, _ = _written(fresh)
    assert now != first
    assert "auth 0004" in pdf_text(now)
    assert "auth 0004" not in pdf_text(reprint)


def test_an_invoice_and_a_letter_in_html_and_pdf(ar: CliRunner, tmp_path: Path) -> None:
    invoice = _ok(ar, "invoice", ACCOUNT, "INV-1", "--as-of", AS_OF, "--format", "html")
    offer = _ok(ar, "letter", ACCOUNT, "settlement-offer", "--subject", "S1", "--as-of", AS_OF)

    path, page, _ = _written(invoice)
    assert path.name == f"invoice-{ACCOUNT}-INV-1.html"
    assert "INV-1" in page.decode()
    assert "$1,000.00" in page.decode()
    path, pdf, _ = _written(offer)
    assert path.name == f"settlement-offer-{ACCOUNT}-S1.pdf"
    text = one_spaced(pdf_text(pdf))
    assert "Amount off $300.00" in text
    assert "Amount to pay $400.00" in text
    assert "Apr 30, 2026" in text


def test_what_the_account_does_not_have_is_refused_and_nothing_is_written(ar: CliRunner) -> None:
    unknown = _refused(ar, "invoice", ACCOUNT, "INV-9", "--as-of", AS_OF)
    no_subject = _refused(ar, "letter", ACCOUNT, "plan-agreement")
    no_account = _refused(ar, "statement", "A-9")

    assert unknown.stderr == f"error: Account {ACCOUNT} has no invoice INV-9 as of {AS_OF}.\n"
    assert no_subject.stderr == "error: A plan-agreement names its plan id.\n"
    assert no_account.stderr == "error: There is no account A-9.\n"
    assert list(Path.cwd().iterdir()) == []


def test_an_emailed_invoice_arrives_with_the_pdf_whose_hash_is_recorded(
    ar: CliRunner, sqlite_runtime: Runtime, smtp_server: SmtpServer
) -> None:
    TenantSettings(sqlite_runtime.app).set_mail_settings(
        TENANT, smtp_server.mail_settings(), STORY_META
    )

    result = _ok(ar, "email", ACCOUNT, "invoice", "--subject", "INV-1", "--as-of", AS_OF)

    [attachment] = list(smtp_server.only.message.iter_attachments())
    pdf = attachment.get_content()
    assert smtp_server.only.rcpt_tos == (EMAIL,)
    digest = hashlib.sha256(pdf).hexdigest()
    [sent] = sqlite_runtime.app.get_account(TENANT, ACCOUNT).documents_sent.values()
    assert (sent.kind, sent.subject, sent.recipient, sent.pdf_sha256) == (
        "invoice",
        "INV-1",
        EMAIL,
        digest,
    )
    assert f"sent {sent.document_id} to {EMAIL}" in result.stdout
    assert f"pdf sha256 {digest}" in result.stdout
    # Produced again as known at the moment recorded, the PDF is the one that left.
    again = Documents(sqlite_runtime.app, TenantSettings(sqlite_runtime.app)).produce(
        TENANT,
        ACCOUNT,
        "invoice",
        as_of=date(2026, 4, 15),
        subject="INV-1",
        as_known_at=datetime.fromisoformat(sent.known_at),
    )
    assert again.rendered.pdf == pdf


def test_a_refused_recipient_ends_in_the_servers_sentence_and_nothing_is_recorded(
    ar: CliRunner, sqlite_runtime: Runtime, smtp_server: SmtpServer
) -> None:
    TenantSettings(sqlite_runtime.app).set_mail_settings(
        TENANT, smtp_server.mail_settings(), STORY_META
    )
    smtp_server.refuse_recipients.add("nobody@example.net")

    refused = _refused(
        ar, "email", ACCOUNT, "statement", "--as-of", AS_OF, "--to", "nobody@example.net"
    )
    no_subject = _refused(ar, "email", ACCOUNT, "invoice")

    assert "refused the recipient nobody@example.net" in refused.stderr
    assert "550" in refused.stderr
    assert "invoice number" in no_subject.stderr
    assert smtp_server.received == []
    assert dict(sqlite_runtime.app.get_account(TENANT, ACCOUNT).documents_sent) == {}


def test_without_mail_settings_nothing_is_sent(ar: CliRunner, sqlite_runtime: Runtime) -> None:
    unset = _refused(ar, "email", ACCOUNT, "plan-agreement", "--subject", "P1")

    assert unset.stderr == "error: No mail settings: set the tenant's SMTP server first.\n"
    assert dict(sqlite_runtime.app.get_account(TENANT, ACCOUNT).documents_sent) == {}


def test_the_kinds_offered_are_the_domains() -> None:
    from domain.documents import DOCUMENT_KINDS, SUBJECT_FIELD

    assert [kind.value for kind in Kind] == list(DOCUMENT_KINDS)
    assert {kind.value for kind in LetterKind} == {
        kind for kind in DOCUMENT_KINDS if kind not in ("invoice", "statement")
    }
    assert SUBJECT_FIELD["dunning-letter"] is None


@pytest.mark.parametrize("command", ["statement", "invoice", "letter", "email"])
def test_help_loads_neither_the_application_nor_the_pdf_engine(command: str) -> None:
    loaded = _modules_loaded_by_ar("documents", command, "--help")

    assert sorted(m for m in loaded if m.split(".")[0] in HEAVY | {"weasyprint", "jinja2"}) == []
    assert sorted(loaded & RUNTIME) == []
