"""Statement runs and the close of day's dunning letters, on SQLite and on PostgreSQL: each
account once per run, a failure kept with its account, resumable, the print batch exactly what
was recorded as sent, and letters e-mailed through a real SMTP server on loopback."""

from __future__ import annotations

import hashlib
import subprocess
from datetime import date

import pytest

from domain.account import Account
from domain.letterhead import Letterhead
from services.bootstrap import Runtime
from services.close_day import CloseOfDay
from services.documents.runs import DocumentRunBusy, DocumentRuns, NothingToPrint
from services.documents.service import Documents, message_id_for
from services.relay_lock import named_lock
from services.tenants import TenantSettings
from tests.service.test_close_of_day import LADDER, clock, owing
from tests.service.test_projections import TENANT, do
from tests.smtp_server import SmtpServer, smtp_server_fixture  # noqa: F401
from tests.support import CLERK

LETTERHEAD = Letterhead(
    name="Harbor Family Clinic", address_lines=("400 Quay Street", "Portland, OR 97201")
)


def pdf_text(pdf: bytes) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()


def with_address(runtime: Runtime, number: str) -> None:
    do(
        runtime,
        "change_billing_address",
        {
            "address": {
                "line1": f"{number} Main Street",
                "city": "Portland",
                "region": "OR",
                "postal_code": "97201",
                "country": "US",
            },
            "effective_on": "2026-01-01",
        },
        number,
    )


def with_email(runtime: Runtime, number: str) -> None:
    do(
        runtime,
        "change_email_address",
        {"email": f"{number.lower()}@example.org", "effective_on": "2026-01-01"},
        number,
    )
    do(
        runtime,
        "change_preferred_channel",
        {"channel": "email", "effective_on": "2026-01-01"},
        number,
    )


def services(runtime: Runtime) -> tuple[TenantSettings, DocumentRuns]:
    tenants = TenantSettings(runtime.app, clock())
    return tenants, DocumentRuns(runtime, Documents(runtime.app, tenants))


def sent_events(runtime: Runtime, number: str) -> list[Account.DocumentSent]:
    return [e for e in runtime.app.history(TENANT, number) if isinstance(e, Account.DocumentSent)]


def book(runtime: Runtime) -> None:
    """A-0, A-1: owing, with addresses (print). A-2: owing, e-mail preferred. A-3: owing, no
    address nor e-mail. A-4: opened, nothing ever recorded on it."""
    for n in range(4):
        owing(runtime, f"A-{n}", "2026-02-01")
    for n in (0, 1):
        with_address(runtime, f"A-{n}")
    with_email(runtime, "A-2")
    runtime.app.open_account(
        tenant_id=TENANT,
        account_number="A-4",
        name="A-4",
        currency="USD",
        opened_on=date(2026, 1, 1),
        meta=CLERK,
    )
    runtime.projector(["account_directory"]).catch_up()


def test_a_statement_run_states_each_account_once_and_keeps_each_failure_with_its_account(
    runtime: Runtime, smtp_server: SmtpServer
) -> None:
    book(runtime)
    tenants, runs = services(runtime)
    tenants.set_letterhead(TENANT, LETTERHEAD, CLERK)
    tenants.set_mail_settings(TENANT, smtp_server.mail_settings(), CLERK)

    summary = runs.statement_run(
        TENANT, date(2026, 3, 31), started_by="clerk", period_from=date(2026, 1, 1)
    )
    assert (
        summary.counts.get("done"),
        summary.counts.get("skipped"),
        summary.counts.get("failed"),
    ) == (3, 1, 1)
    assert dict(summary.channels) == {"print": 2, "email": 1}
    (failure,) = summary.failures
    assert (failure.account_number, failure.code) == ("A-3", "no_billing_address")
    items = {i.account_number: i for i in runs.items(TENANT, summary.run_id)}
    assert items["A-4"].code == "nothing_to_state"

    # The e-mail that arrived carries the PDF recorded on the account.
    message = smtp_server.only.message
    assert message["To"] == "a-2@example.org"
    assert message["Message-ID"] == message_id_for(f"{summary.run_id}:A-2")
    (attachment,) = [part for part in message.iter_attachments()]
    pdf = attachment.get_payload(decode=True)
    (sent,) = sent_events(runtime, "A-2")
    assert hashlib.sha256(pdf).hexdigest() == sent.pdf_sha256 == items["A-2"].pdf_sha256
    assert (sent.channel, sent.kind, sent.recipient) == ("email", "statement", "a-2@example.org")
    assert "$100.00" in pdf_text(pdf)

    # Asked again: the same run; nothing produced, sent or recorded again.
    again = runs.statement_run(
        TENANT, date(2026, 3, 31), started_by="clerk", period_from=date(2026, 1, 1)
    )
    assert (again.run_id, again.asked_before, summary.asked_before) == (summary.run_id, True, False)
    assert len(smtp_server.received) == 1
    assert [len(sent_events(runtime, f"A-{n}")) for n in range(5)] == [1, 1, 1, 0, 0]

    # The failing account is given an address; the run resumes it alone.
    with_address(runtime, "A-3")
    resumed = runs.resume(TENANT, summary.run_id, started_by="clerk")
    assert (resumed.counts.get("done"), resumed.counts.get("failed", 0)) == (4, 0)
    assert [len(sent_events(runtime, f"A-{n}")) for n in range(5)] == [1, 1, 1, 1, 0]
    (fixed,) = sent_events(runtime, "A-3")
    assert fixed.recipient == "A-3, A-3 Main Street, Portland, OR 97201, US"
    # The resumed document was made as known at the resume, and says so: it reprints exactly.
    assert fixed.known_at > summary.known_at
    assert len(smtp_server.received) == 1


def test_the_print_batch_is_a_cover_list_then_exactly_the_documents_recorded_as_sent(
    runtime: Runtime,
) -> None:
    book(runtime)
    tenants, runs = services(runtime)
    tenants.set_letterhead(TENANT, LETTERHEAD, CLERK)
    summary = runs.statement_run(TENANT, date(2026, 3, 31), started_by="clerk", delivery="print")
    assert dict(summary.channels) == {"print": 2}
    batch = runs.print_batch(TENANT, summary.run_id)
    text = pdf_text(batch)
    cover, _, rest = text.partition("\f")
    assert cover.index("A-0") < cover.index("A-1")
    assert "A-0 Main Street" in cover
    assert rest.count("Account activity") == 2
    assert rest.index("A-0 Main Street") < rest.index("A-1 Main Street")
    # Every page after the cover is one of the recorded PDFs, byte for byte.
    for n in (0, 1):
        (sent,) = sent_events(runtime, f"A-{n}")
        item = next(i for i in runs.items(TENANT, summary.run_id) if i.account_number == f"A-{n}")
        assert item.pdf_sha256 == sent.pdf_sha256


def test_a_run_that_printed_nothing_has_no_print_batch(runtime: Runtime) -> None:
    book(runtime)
    _, runs = services(runtime)
    summary = runs.statement_run(TENANT, date(2026, 3, 31), started_by="clerk", delivery="none")
    assert summary.counts.get("done") == 4
    with pytest.raises(NothingToPrint):
        runs.print_batch(TENANT, summary.run_id)


def test_an_smtp_server_that_is_down_fails_the_e_mailed_account_alone_and_resuming_sends_it(
    runtime: Runtime, smtp_server: SmtpServer
) -> None:
    book(runtime)
    tenants, runs = services(runtime)
    tenants.set_letterhead(TENANT, LETTERHEAD, CLERK)
    tenants.set_mail_settings(TENANT, smtp_server.mail_settings(), CLERK)
    smtp_server.refuse_recipients = {"a-2@example.org"}
    summary = runs.statement_run(TENANT, date(2026, 3, 31), started_by="clerk")
    failures = {f.account_number: f.code for f in summary.failures}
    assert failures == {"A-2": "smtp_refused", "A-3": "no_billing_address"}
    assert summary.channels.get("print") == 2
    assert sent_events(runtime, "A-2") == []
    smtp_server.refuse_recipients = set()
    resumed = runs.resume(TENANT, summary.run_id, started_by="clerk")
    assert resumed.channels.get("email") == 1
    assert len(sent_events(runtime, "A-2")) == 1
    assert len(smtp_server.received) == 1


def test_a_run_being_worked_elsewhere_is_refused_not_run_twice(runtime: Runtime) -> None:
    book(runtime)
    _, runs = services(runtime)
    run_id = runs.run_id_for(
        TENANT, "statement", date(2026, 3, 31), date(2026, 3, 1), False, "auto"
    )
    lock = named_lock(runtime.settings, f"document-run:{run_id}")
    assert lock.acquire()
    try:
        with pytest.raises(DocumentRunBusy):
            runs.statement_run(TENANT, date(2026, 3, 31), started_by="clerk")
    finally:
        lock.release()


def test_the_close_of_day_prints_a_dunning_letter_for_each_account_it_moved_up_the_ladder(
    runtime: Runtime,
) -> None:
    book(runtime)
    tenants = TenantSettings(runtime.app, clock())
    tenants.set_dunning_policy(TENANT, LADDER, date(2026, 1, 1), CLERK)
    tenants.set_letterhead(TENANT, LETTERHEAD, CLERK)
    run = CloseOfDay(runtime, clock=clock()).close(TENANT, date(2026, 3, 1), started_by="ops")
    (day,) = run.days
    assert day.summary.dunning_escalated == 4
    letters = day.letters
    assert letters is not None
    assert (letters["done"], letters["failed"], letters["printed"]) == (2, 2, 2)
    assert {f["code"] for f in letters["failures"]} == {
        "no_billing_address",
        "invalid_mail_settings",
    }
    (sent,) = sent_events(runtime, "A-0")
    assert (sent.kind, sent.channel, sent.effective_on) == (
        "dunning-letter",
        "print",
        date(2026, 3, 1),
    )
    _, runs = services(runtime)
    text = pdf_text(runs.print_batch(TENANT, letters["run_id"]))
    assert "Payment reminder" in text
    assert "$100.00" in text


def test_a_tenant_without_a_letterhead_gets_no_letters_from_the_close(runtime: Runtime) -> None:
    book(runtime)
    TenantSettings(runtime.app, clock()).set_dunning_policy(TENANT, LADDER, date(2026, 1, 1), CLERK)
    run = CloseOfDay(runtime, clock=clock()).close(TENANT, date(2026, 3, 1), started_by="ops")
    assert run.days[0].letters is None
    assert sent_events(runtime, "A-0") == []
