"""Documents leave by e-mail through the tenant's SMTP server (:mod:`services.documents.mail`).

Every test talks to a real SMTP server on loopback (:mod:`tests.smtp_server`) and asserts on
what arrived there, or on the failure the clerk is shown and that nothing arrived.
"""

from __future__ import annotations

import hashlib
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart

import pytest

from services.documents.mail import (
    SMTP_AUTH_FAILED,
    SMTP_PASSWORD_MISSING,
    SMTP_REFUSED,
    SMTP_UNAVAILABLE,
    Attachment,
    DeliveryFailed,
    Outgoing,
    build_message,
    send,
)
from tests.smtp_server import SENDER, SmtpServer, smtp_server_fixture, start_smtp_server  # noqa: F401

TO = "ap@customer.example.org"
# Bytes that trip naive transports: NUL, bare CR and LF, a line that is a lone dot, non-ASCII.
PDF = b"%PDF-1.7\n" + bytes(range(256)) + b"\r\n.\r\n..\n\r" + b"\x00" * 64 + b"\n%%EOF\n"
PASSWORD_ENV = "ACME_SMTP_PASSWORD"


def invoice_mail(**changes: object) -> Outgoing:
    fields: dict[str, object] = {
        "to": TO,
        "subject": "Invoice INV-1001",
        "text": "Please find invoice INV-1001 attached.\n",
        "html": "<p>Please find invoice <b>INV-1001</b> attached.</p>",
        "attachments": (Attachment("INV-1001.pdf", PDF),),
        "message_id": "<run-7.A-1@acme.example.com>",
        "headers": {"X-Receivables-Document-Sha256": hashlib.sha256(PDF).hexdigest()},
        "from_name": "Acme Supplies",
        "date": datetime(2026, 3, 31, 9, 30, tzinfo=UTC),
    }
    fields.update(changes)
    return Outgoing(**fields)  # type: ignore[arg-type]


def body_text(part: MIMEPart | None) -> str:
    """A text part's content; SMTP carries text with CRLF line ends, the sender wrote LF."""
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def attachments(message: EmailMessage) -> list[tuple[str | None, str, bytes]]:
    found = []
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        found.append((part.get_filename(), part.get_content_type(), payload))
    return found


def test_a_document_arrives_with_its_headers_body_and_the_attachment_byte_for_byte(
    smtp_server: SmtpServer,
) -> None:
    outgoing = invoice_mail()

    sent_id = send(smtp_server.mail_settings(reply_to="accounts@acme.example.com"), outgoing)

    got = smtp_server.only
    assert got.mail_from == SENDER
    assert got.rcpt_tos == (TO,)
    assert got.login is None
    message = got.message
    assert sent_id == "<run-7.A-1@acme.example.com>" == message["Message-ID"]
    assert message["From"].addresses == (Address("Acme Supplies", addr_spec=SENDER),)
    assert message["To"] == TO
    assert message["Subject"] == "Invoice INV-1001"
    assert message["Reply-To"] == "accounts@acme.example.com"
    assert message["Date"] == "Tue, 31 Mar 2026 09:30:00 +0000"
    # Too long for one 78-character line, the value is folded onto the next; Python's parser
    # keeps the folding space, a mail client does not.
    assert message["X-Receivables-Document-Sha256"].strip() == hashlib.sha256(PDF).hexdigest()
    assert message.get_content_type() == "multipart/mixed"
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert body_text(text) == "Please find invoice INV-1001 attached.\n"
    assert "<p>Please find invoice <b>INV-1001</b> attached.</p>" in body_text(html)
    [(filename, media_type, content)] = attachments(message)
    assert (filename, media_type) == ("INV-1001.pdf", "application/pdf")
    assert hashlib.sha256(content).hexdigest() == hashlib.sha256(PDF).hexdigest()


def test_a_resend_carries_the_same_message_id_and_without_one_a_fresh_id_on_the_senders_domain(
    smtp_server: SmtpServer,
) -> None:
    settings = smtp_server.mail_settings()
    first = send(settings, invoice_mail(message_id="run-7.A-1@acme.example.com"))
    again = send(settings, invoice_mail(message_id="run-7.A-1@acme.example.com"))
    fresh = send(settings, invoice_mail(message_id=None, html=None, attachments=()))

    ids = [r.message["Message-ID"] for r in smtp_server.received]
    assert ids == [first, again, fresh]
    assert first == again == "<run-7.A-1@acme.example.com>"
    assert fresh != first
    assert fresh.endswith("@acme.example.com>")
    assert smtp_server.received[2].message.get_content_type() == "text/plain"


def test_non_ascii_subject_display_name_and_file_name_arrive_decoded(
    smtp_server: SmtpServer,
) -> None:
    subject = "Relevé de compte — mars 2026 : 1 234,56 € dû"
    name = "Müller & Söhne, Straße 5 GmbH"
    outgoing = invoice_mail(
        subject=subject,
        from_name=name,
        text="Grüße aus Köln — ünïcödé body\n",
        attachments=(Attachment("Relevé März.pdf", PDF),),
    )

    send(smtp_server.mail_settings(), outgoing)

    got = smtp_server.only
    got.raw.decode("ascii")  # encoded for any relay: no 8-bit bytes on the wire
    assert got.message["Subject"] == subject
    assert got.message["From"].addresses == (Address(name, addr_spec=SENDER),)
    text = got.message.get_body(preferencelist=("plain",))
    assert body_text(text) == "Grüße aus Köln — ünïcödé body\n"
    [(filename, _, content)] = attachments(got.message)
    assert filename == "Relevé März.pdf"
    assert content == PDF


def test_a_refused_recipient_is_a_permanent_refusal_naming_the_servers_reply(
    smtp_server: SmtpServer,
) -> None:
    smtp_server.refuse_recipients.add(TO)

    with pytest.raises(DeliveryFailed) as caught:
        send(smtp_server.mail_settings(), invoice_mail())

    failure = caught.value
    assert (failure.code, failure.permanent, failure.reply_code) == (SMTP_REFUSED, True, 550)
    assert f"127.0.0.1:{smtp_server.port}" in failure.sentence
    assert TO in failure.sentence
    assert "550 5.1.1" in failure.sentence
    assert "User unknown" in failure.sentence
    assert smtp_server.received == []


def test_a_server_refusing_everything_refuses_the_sender_permanently(
    smtp_server: SmtpServer,
) -> None:
    smtp_server.refuse_all = True

    with pytest.raises(DeliveryFailed) as caught:
        send(smtp_server.mail_settings(), invoice_mail())

    failure = caught.value
    assert (failure.code, failure.permanent, failure.reply_code) == (SMTP_REFUSED, True, 554)
    assert SENDER in failure.sentence
    assert "554 5.7.1 Service refused" in failure.sentence
    assert smtp_server.received == []


@pytest.mark.parametrize(
    ("reply", "permanent"),
    [("554 5.6.0 Message content rejected", True), ("451 4.3.0 Try again later", False)],
)
def test_a_refused_message_body_is_permanent_only_for_a_5xx_reply(
    smtp_server: SmtpServer, reply: str, permanent: bool
) -> None:
    smtp_server.data_reply = reply

    with pytest.raises(DeliveryFailed) as caught:
        send(smtp_server.mail_settings(), invoice_mail())

    failure = caught.value
    assert (failure.code, failure.permanent) == (SMTP_REFUSED, permanent)
    assert reply in failure.sentence
    assert failure.reply_code == int(reply[:3])


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port nothing listens on (bound, so no one else takes it, but not listening)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_a_server_that_is_down_is_unavailable_not_permanent(
    smtp_server: SmtpServer, closed_port: int
) -> None:
    settings = smtp_server.mail_settings(port=closed_port)

    started = time.monotonic()
    with pytest.raises(DeliveryFailed) as caught:
        send(settings, invoice_mail(), timeout=2.0)

    assert time.monotonic() - started < 2.0
    failure = caught.value
    assert (failure.code, failure.permanent, failure.reply_code) == (SMTP_UNAVAILABLE, False, None)
    assert f"127.0.0.1:{closed_port}" in failure.sentence
    assert "refused the connection" in failure.sentence


def test_a_server_that_never_answers_is_unavailable_within_the_timeout(
    smtp_server: SmtpServer,
) -> None:
    with socket.socket() as silent:
        # Listening but never accepting: the kernel completes the handshake, no greeting comes.
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        settings = smtp_server.mail_settings(port=silent.getsockname()[1])

        started = time.monotonic()
        with pytest.raises(DeliveryFailed) as caught:
            send(settings, invoice_mail(), timeout=0.5)
        elapsed = time.monotonic() - started

    assert 0.4 < elapsed < 2.0
    assert (caught.value.code, caught.value.permanent) == (SMTP_UNAVAILABLE, False)
    assert "did not answer within 0.5 seconds" in caught.value.sentence


def test_a_log_in_with_the_password_from_the_environment_is_accepted() -> None:
    with start_smtp_server(auth=("clerk", "s3cret-Pa55")) as server:
        settings = server.mail_settings(username="clerk", password_env=PASSWORD_ENV)

        send(settings, invoice_mail(), environ={PASSWORD_ENV: "s3cret-Pa55"})

        assert server.only.login == "clerk"
        assert server.only.rcpt_tos == (TO,)


def test_a_wrong_password_is_an_auth_failure_that_does_not_show_the_password() -> None:
    with start_smtp_server(auth=("clerk", "s3cret-Pa55")) as server:
        settings = server.mail_settings(username="clerk", password_env=PASSWORD_ENV)

        with pytest.raises(DeliveryFailed) as caught:
            send(settings, invoice_mail(), environ={PASSWORD_ENV: "wrong-Pa55"})

        failure = caught.value
        assert (failure.code, failure.permanent, failure.reply_code) == (
            SMTP_AUTH_FAILED,
            True,
            535,
        )
        assert "clerk" in failure.sentence
        assert "535" in failure.sentence
        assert "wrong-Pa55" not in failure.sentence
        assert "wrong-Pa55" not in repr(failure)
        assert server.received == []


def test_a_missing_password_variable_fails_before_the_server_is_contacted() -> None:
    with start_smtp_server(auth=("clerk", "s3cret-Pa55")) as server:
        settings = server.mail_settings(username="clerk", password_env=PASSWORD_ENV)

        with pytest.raises(DeliveryFailed) as caught:
            send(settings, invoice_mail(), environ={"OTHER": "s3cret-Pa55"})

        assert (caught.value.code, caught.value.permanent) == (SMTP_PASSWORD_MISSING, True)
        assert PASSWORD_ENV in caught.value.sentence
        assert server.connections == 0


def test_a_server_requiring_a_log_in_the_settings_lack_is_an_auth_failure() -> None:
    with start_smtp_server(auth=("clerk", "s3cret-Pa55")) as server:
        with pytest.raises(DeliveryFailed) as caught:
            send(server.mail_settings(), invoice_mail())

        assert (caught.value.code, caught.value.reply_code) == (SMTP_AUTH_FAILED, 530)
        assert "log-in" in caught.value.sentence
        assert server.received == []


def test_starttls_asked_of_a_server_that_does_not_offer_it_does_not_send_in_plain_text(
    smtp_server: SmtpServer,
) -> None:
    with pytest.raises(DeliveryFailed) as caught:
        send(smtp_server.mail_settings(security="starttls"), invoice_mail())

    failure = caught.value
    assert (failure.code, failure.permanent) == (SMTP_UNAVAILABLE, False)
    assert f"127.0.0.1:{smtp_server.port} does not offer STARTTLS" in failure.sentence
    assert smtp_server.connections == 1
    assert smtp_server.received == []


def test_tls_from_the_start_against_a_plain_server_is_unavailable(smtp_server: SmtpServer) -> None:
    with pytest.raises(DeliveryFailed) as caught:
        send(smtp_server.mail_settings(security="tls"), invoice_mail(), timeout=5.0)

    assert (caught.value.code, caught.value.permanent) == (SMTP_UNAVAILABLE, False)
    assert "TLS failed" in caught.value.sentence
    assert smtp_server.received == []


@pytest.mark.parametrize(
    "changes",
    [
        {"headers": {"X-Receivables-Run": "7\r\nBcc: everyone@victim.example.com"}},
        {"headers": {"X-Receivables-Run": "7\nX-Other: 1"}},
        {"headers": {"X-Bad\r\nBcc": "x"}},
        {"headers": {"Bcc": "everyone@victim.example.com"}},
        {"headers": {"Content-Type": "text/html"}},
        {"subject": "Invoice\r\nBcc: everyone@victim.example.com"},
        {"to": "ap@customer.example.org\r\nBcc: everyone@victim.example.com"},
        {"from_name": "Acme\nBcc: everyone@victim.example.com"},
        {"message_id": "<run-7@acme.example.com>\r\nBcc: x@y.example.com"},
        {"attachments": (Attachment("a.pdf\r\nX: 1", PDF),)},
        {"date": datetime(2026, 3, 31, 9, 30)},  # naive: its zone unknown
    ],
)
def test_a_header_injection_or_a_malformed_value_is_refused_before_anything_is_sent(
    smtp_server: SmtpServer, changes: dict[str, object]
) -> None:
    outgoing = invoice_mail(**changes)

    with pytest.raises(ValueError, match=r"line break|header|Message-ID|timezone|file name"):
        send(smtp_server.mail_settings(), outgoing)
    with pytest.raises(ValueError, match=r"line break|header|Message-ID|timezone|file name"):
        build_message(smtp_server.mail_settings(), outgoing)

    assert smtp_server.connections == 0
    assert smtp_server.received == []
