"""A real SMTP server on loopback for tests that send e-mail (aiosmtpd, no mocks).

Concept
    :func:`start_smtp_server` runs an aiosmtpd ``Controller`` on 127.0.0.1 on a port the
    kernel picks, and yields an :class:`SmtpServer`: where it listens, every message it took
    (:class:`Received`: envelope sender and recipients, the raw bytes, the parsed
    :class:`~email.message.EmailMessage`, who logged in), and switches that make it refuse a
    recipient (550), refuse everything (554 at MAIL FROM), answer DATA with a reply of the
    test's choosing, or require a log-in (AUTH LOGIN/PLAIN, with ``auth_require_tls=False``:
    loopback only). The switches are plain attributes read on every command, so a test may
    flip them on a running server.

    Use the ``smtp_server`` fixture (a fresh default server per test)::

        from tests.smtp_server import SmtpServer, smtp_server_fixture  # noqa: F401

        def test_x(smtp_server: SmtpServer) -> None: ...

    or the context manager directly, with options::

        with start_smtp_server(auth=("clerk", "secret")) as server: ...

Invariants
    - ``received`` holds only messages the server answered 250 to DATA, in arrival order; a
      message is in it before the client sees the 250.
    - ``connections`` counts every connection a client opened: zero means nothing reached it.
    - The server is stopped and its port released when the context manager exits.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from domain.letterhead import SECURITY_NONE, MailSettings

HOST = "127.0.0.1"
SENDER = "billing@acme.example.com"


@dataclass(frozen=True)
class Received:
    """One message the server took."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    message: EmailMessage
    #: The user name the session logged in with, ``None``: no log-in.
    login: str | None


@dataclass
class SmtpServer:
    """A running loopback SMTP server and what it received (see the module docstring)."""

    host: str
    port: int
    received: list[Received] = field(default_factory=list)
    #: Recipients answered ``550`` at RCPT TO (compared case-insensitively).
    refuse_recipients: set[str] = field(default_factory=set)
    #: Answer ``554`` to MAIL FROM, so nothing is taken.
    refuse_all: bool = False
    #: The reply to DATA instead of ``250`` (e.g. ``"451 4.3.0 Try again later"``).
    data_reply: str | None = None
    #: ``(user, password)``: MAIL FROM is answered ``530`` until the client logs in with them.
    auth: tuple[str, str] | None = None
    connections: int = 0

    def mail_settings(self, **changes: Any) -> MailSettings:
        """Mail settings that reach this server in plain text; ``changes`` override fields."""
        settings = MailSettings(
            host=self.host, port=self.port, sender=SENDER, security=SECURITY_NONE
        )
        return replace(settings, **changes)

    @property
    def only(self) -> Received:
        """The one message received (fails when there is not exactly one)."""
        assert len(self.received) == 1, f"expected one message, received {len(self.received)}"
        return self.received[0]


class _Handler:
    """aiosmtpd hooks that obey the server's switches and record what arrives."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.server.refuse_all:
            return "554 5.7.1 Service refused: no mail accepted here"
        if self.server.auth is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.lower() in {r.lower() for r in self.server.refuse_recipients}:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.server.data_reply is not None:
            return self.server.data_reply
        raw = envelope.original_content or b""
        parsed = email.message_from_bytes(raw, _class=EmailMessage, policy=email.policy.default)
        login = (
            session.auth_data.login.decode()
            if isinstance(session.auth_data, LoginPassword)
            else None
        )
        self.server.received.append(
            Received(
                mail_from=str(envelope.mail_from),
                rcpt_tos=tuple(envelope.rcpt_tos),
                raw=raw,
                message=parsed,
                login=login,
            )
        )
        return "250 2.0.0 Message accepted for delivery"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        expected = self.server.auth
        ok = (
            expected is not None
            and isinstance(auth_data, LoginPassword)
            and (auth_data.login, auth_data.password)
            == (expected[0].encode(), expected[1].encode())
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


class _LoopbackController(Controller):
    """A Controller on port 0 (the kernel's choice is read back once it listens) that counts
    connections."""

    def __init__(self, record: SmtpServer, handler: _Handler, **options: Any) -> None:
        super().__init__(handler, **options)
        self.record = record

    def factory(self) -> SMTP:
        # aiosmtpd builds one SMTP instance per connection.
        self.record.connections += 1
        return SMTP(self.handler, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        # Asking the kernel for the port (rather than probing for a free one and binding it
        # later) leaves no window for another test to take it first.
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        # As aiosmtpd's own: one connection makes it build its SMTP instance (and so fail now,
        # not on the test's first send, if the options are wrong).
        with socket.create_connection((self.hostname, self.port), timeout=1.0) as probe:
            probe.recv(1024)


@contextmanager
def start_smtp_server(
    *,
    refuse_recipients: Iterable[str] = (),
    refuse_all: bool = False,
    data_reply: str | None = None,
    auth: tuple[str, str] | None = None,
) -> Iterator[SmtpServer]:
    """Run a loopback SMTP server for the ``with`` block (see the module docstring)."""
    server = SmtpServer(
        host=HOST,
        port=0,
        refuse_recipients=set(refuse_recipients),
        refuse_all=refuse_all,
        data_reply=data_reply,
        auth=auth,
    )
    handler = _Handler(server)
    # AUTH is always offered (without TLS: loopback) and enforced by the handler, so `auth`
    # can be switched on a running server; aiosmtpd's own auth_required would warn on every
    # connection without TLS.
    controller = _LoopbackController(
        server,
        handler,
        hostname=HOST,
        port=0,
        authenticator=handler.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    server.port = controller.port
    server.connections = 0  # not the controller's own start-up probe
    try:
        yield server
    finally:
        controller.stop()


# Named apart from the fixture, so a test module imports it without its parameters shadowing
# the import (ruff F811).
@pytest.fixture(name="smtp_server")
def smtp_server_fixture() -> Iterator[SmtpServer]:
    """A fresh loopback SMTP server taking everything, stopped after the test."""
    with start_smtp_server() as server:
        yield server
