"""E-mail delivery of documents through the tenant's own SMTP server.

Concept
    A document leaves as one e-mail (:class:`Outgoing`) to one address: a plain-text body, an
    optional HTML alternative, the rendered PDFs as attachments and a few ``X-`` headers that
    tie it to what was recorded (the document's hash, the run). :func:`build_message` turns it
    into a MIME message headed by the tenant's :class:`~domain.letterhead.MailSettings`;
    :func:`send` hands that message to the tenant's SMTP server and returns the Message-ID it
    carried, or raises :class:`DeliveryFailed` saying, in one sentence a clerk can act on, why
    the server did not take it and whether trying again later can help.

Invariants
    - Nothing is sent unless the whole message can be built: a CR or LF in a header (header
      injection), a malformed Message-ID, a naive date or media type is the caller's bug and
      raises :class:`ValueError` before any connection is opened.
    - The envelope has exactly one recipient, :attr:`Outgoing.to`; extra headers may not add
      addressing or structural headers (Cc, Bcc, From, Content-Type …), so they cannot widen
      who receives the message or change its shape.
    - The SMTP password is read from the environment variable the settings name at send time,
      is never stored, and never appears in a :class:`DeliveryFailed` sentence.
    - ``security="starttls"`` never falls back to plain text: a server that does not offer
      STARTTLS is ``smtp_unavailable``. ``"tls"`` speaks TLS from the first byte. Certificates
      are checked against the system's trust store and the host name.
    - Every failure to hand the message over is a :class:`DeliveryFailed` with a stable
      ``code``; ``permanent`` is true when resending the same message cannot help (a 5xx
      refusal, a rejected log-in, a missing password) and false when it may (4xx replies, an
      unreachable or silent server). The connection is always closed.
    - A given ``message_id`` is sent as given (wrapped in ``<>`` if it was not), so a resend
      of the same document is recognisable by the recipient's mail system and by us.
    - ``timeout`` bounds each network wait (connecting, each server reply) and ``deadline``
      the whole exchange (by default four times ``timeout``): a server that answers a byte at
      a time is cut off there, ``smtp_unavailable``, as one that does not answer at all.

Vocabulary
    outgoing e-mail, attachment, Message-ID, envelope, delivery failure, permanent, STARTTLS.
"""

from __future__ import annotations

import contextlib
import os
import re
import smtplib
import socket
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, formatdate, make_msgid
from typing import Any, Final

from domain.letterhead import SECURITY_STARTTLS, SECURITY_TLS, MailSettings

SMTP_UNAVAILABLE: Final = "smtp_unavailable"
SMTP_REFUSED: Final = "smtp_refused"
SMTP_AUTH_FAILED: Final = "smtp_auth_failed"
SMTP_PASSWORD_MISSING: Final = "smtp_password_missing"  # noqa: S105 (a code, not a password)
SMTP_FAILED: Final = "smtp_failed"
CODES: Final = frozenset(
    {SMTP_UNAVAILABLE, SMTP_REFUSED, SMTP_AUTH_FAILED, SMTP_PASSWORD_MISSING, SMTP_FAILED}
)

#: Headers build_message sets itself, or that would change who receives the message or how it
#: is read; an extra header may not be one of them.
_RESERVED_HEADERS: Final = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "subject",
        "date",
        "message-id",
        "reply-to",
        "sender",
        "return-path",
        "mime-version",
    }
)
_HEADER_NAME: Final = re.compile(r"[!-9;-~]+")  # RFC 5322 ftext: printable ASCII but ':'
_MEDIA_TYPE: Final = re.compile(r"([A-Za-z0-9][\w.+-]*)/([A-Za-z0-9][\w.+-]*)")
_MESSAGE_ID: Final = re.compile(r"<[^<>\s@]+@[^<>\s@]+>")
_BREAKS: Final = ("\r", "\n", "\0")
#: Bodies are quoted-printable or base64 rather than 8-bit, so any relay carries them intact
#: whether or not it offers 8BITMIME.
_POLICY: Final = SMTP_POLICY.clone(cte_type="7bit")


@dataclass(frozen=True)
class Attachment:
    """A file carried by the e-mail, typically a rendered PDF."""

    filename: str
    content: bytes
    media_type: str = "application/pdf"


@dataclass(frozen=True)
class Outgoing:
    """One e-mail to one address (see the module's invariants)."""

    to: str
    subject: str
    text: str
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    #: A stable id (derived from the run and the account, say), so a resend is recognisable;
    #: ``None``: a fresh one on the sender's domain.
    message_id: str | None = None
    #: Extra headers, e.g. ``X-Receivables-Document-Sha256``.
    headers: Mapping[str, str] = field(default_factory=dict)
    #: The display name beside the sender's address (the tenant's name), if any.
    from_name: str | None = None
    #: The Date header (timezone-aware); ``None``: now.
    date: datetime | None = None


class DeliveryFailed(Exception):
    """The SMTP server did not take the e-mail; ``sentence`` says why, for a clerk."""

    def __init__(
        self, code: str, sentence: str, *, permanent: bool, reply_code: int | None = None
    ) -> None:
        super().__init__(sentence)
        #: One of :data:`CODES`.
        self.code = code
        self.sentence = sentence
        #: True: resending the same will not help; False: try again later.
        self.permanent = permanent
        #: The server's SMTP reply code, when it gave one.
        self.reply_code = reply_code


def _one_line(value: str, what: str) -> str:
    if any(c in value for c in _BREAKS):
        raise ValueError(f"{what} holds a line break or NUL (header injection): {value!r}")
    return value


def _message_id(value: str) -> str:
    _one_line(value, "The Message-ID")
    wrapped = value if value.startswith("<") else f"<{value}>"
    if not _MESSAGE_ID.fullmatch(wrapped):
        raise ValueError(f"The Message-ID {value!r} is not written <left@right>.")
    return wrapped


def build_message(settings: MailSettings, message: Outgoing) -> EmailMessage:
    """The MIME message for ``message`` as the tenant's server will receive it.

    Plain text alone is a text/plain message; with HTML it is multipart/alternative; with
    attachments, multipart/mixed holding the body first and the attachments in order.
    Raises :class:`ValueError` for the caller's bugs (see the module's invariants).
    """
    msg = EmailMessage(policy=_POLICY)
    sender = settings.sender
    if message.from_name:
        msg["From"] = Address(
            display_name=_one_line(message.from_name, "The sender's name"), addr_spec=sender
        )
    else:
        msg["From"] = sender
    msg["To"] = _one_line(message.to, "The recipient")
    msg["Subject"] = _one_line(message.subject, "The subject")
    if message.date is None:
        msg["Date"] = formatdate(localtime=False, usegmt=True)
    elif message.date.tzinfo is None or message.date.utcoffset() is None:
        raise ValueError("The e-mail's date must carry its timezone.")
    else:
        msg["Date"] = format_datetime(message.date)
    if message.message_id is None:
        msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    else:
        msg["Message-ID"] = _message_id(message.message_id)
    if settings.reply_to is not None:
        msg["Reply-To"] = settings.reply_to
    for name, value in message.headers.items():
        if not _HEADER_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a header name.")
        lowered = name.lower()
        if lowered in _RESERVED_HEADERS or lowered.startswith(("content-", "resent-")):
            raise ValueError(f"The header {name} is set by build_message, not by the caller.")
        msg[name] = _one_line(value, f"The header {name}")

    msg.set_content(message.text)
    if message.html is not None:
        msg.add_alternative(message.html, subtype="html")
    for attachment in message.attachments:
        media = _MEDIA_TYPE.fullmatch(attachment.media_type)
        if media is None:
            raise ValueError(f"{attachment.media_type!r} is not a media type (type/subtype).")
        msg.add_attachment(
            attachment.content,
            maintype=media.group(1),
            subtype=media.group(2),
            filename=_one_line(attachment.filename, "The attachment's file name"),
        )
    return msg


def _password(settings: MailSettings, environ: Mapping[str, str] | None) -> str | None:
    if settings.username is None or settings.password_env is None:
        return None
    password = (os.environ if environ is None else environ).get(settings.password_env)
    if not password:
        raise DeliveryFailed(
            SMTP_PASSWORD_MISSING,
            f"The password for the mail server {settings.host}:{settings.port} is expected in"
            f" the environment variable {settings.password_env}, which is not set; the e-mail"
            " was not sent.",
            permanent=True,
        )
    return password


def send(
    settings: MailSettings,
    message: Outgoing,
    *,
    timeout: float = 15.0,
    deadline: float | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """Hand ``message`` to the tenant's SMTP server; the Message-ID it carried.

    ``environ`` stands in for :data:`os.environ` when reading the password (tests).
    Raises :class:`DeliveryFailed` when the server does not take it, :class:`ValueError` for
    the caller's bugs (nothing is sent then).
    """
    password = _password(settings, environ)
    built = build_message(settings, message)
    message_id = str(built["Message-ID"])
    phase = _CONNECT
    client: smtplib.SMTP | None = None
    limit = _Deadline(4 * timeout if deadline is None else deadline)
    try:
        if settings.security == SECURITY_TLS:
            client = _SMTPS(
                limit,
                settings.host,
                settings.port,
                timeout=timeout,
                context=ssl.create_default_context(),
            )
        else:
            client = _SMTP(limit, settings.host, settings.port, timeout=timeout)
        if settings.security == SECURITY_STARTTLS:
            phase = _STARTTLS
            client.starttls(context=ssl.create_default_context())
        if settings.username is not None and password is not None:
            phase = _LOGIN
            client.login(settings.username, password)
        phase = _SEND
        refused = client.send_message(built, from_addr=settings.sender, to_addrs=[message.to])
        if refused:
            # Only when some recipients were taken; with one recipient smtplib raises instead.
            raise smtplib.SMTPRecipientsRefused(refused)
    except OSError as exc:  # smtplib.SMTPException is an OSError too
        failure = _failure(exc, settings, message, phase, timeout)
        if limit.passed:
            failure = DeliveryFailed(
                SMTP_UNAVAILABLE,
                f"The mail server {settings.host}:{settings.port} did not finish taking the"
                f" e-mail within {limit.seconds:g} seconds; try again later.",
                permanent=False,
            )
        if password:
            failure = _scrubbed(failure, password)
        raise failure from exc
    finally:
        limit.stop()
        if client is not None:
            _close(client)
    return message_id


class _Deadline:
    """Cuts off an exchange that outlasts ``seconds`` however its server drips its replies:
    the connection is shut, which wakes the read or write waiting on it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.passed = False
        self._client: smtplib.SMTP | None = None
        self._over = threading.Event()
        self._watch = threading.Thread(target=self._cut, name="smtp-deadline", daemon=True)
        self._watch.start()

    def watch(self, client: smtplib.SMTP) -> None:
        self._client = client

    def stop(self) -> None:
        self._over.set()

    def _cut(self) -> None:
        if self._over.wait(self.seconds):
            return
        self.passed = True
        # Until the sender is done: a connection still being made has a socket only later.
        while not self._over.is_set():
            connection = self._client.sock if self._client is not None else None
            if connection is not None:
                with contextlib.suppress(OSError):
                    # The plain socket's shutdown, also under TLS (the fd is the same).
                    socket.socket.shutdown(connection, socket.SHUT_RDWR)
            self._over.wait(0.05)


class _SMTP(smtplib.SMTP):
    """smtplib's client, watched by a deadline from its first byte (the greeting is read
    while it is made)."""

    def __init__(self, deadline: _Deadline, *args: Any, **kwargs: Any) -> None:
        deadline.watch(self)
        super().__init__(*args, **kwargs)


class _SMTPS(smtplib.SMTP_SSL):
    def __init__(self, deadline: _Deadline, *args: Any, **kwargs: Any) -> None:
        deadline.watch(self)
        super().__init__(*args, **kwargs)


def _close(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except OSError:
        client.close()


_CONNECT: Final = "connect"
_STARTTLS: Final = "starttls"
_LOGIN: Final = "login"
_SEND: Final = "send"


def _reply(code: int, text: bytes | str) -> str:
    decoded = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {' '.join(decoded.split())}".strip()


def _scrubbed(failure: DeliveryFailed, password: str) -> DeliveryFailed:
    if password not in failure.sentence:
        return failure
    # A server echoing what it was sent must not carry the password into logs and screens.
    return DeliveryFailed(
        failure.code,
        failure.sentence.replace(password, "***"),
        permanent=failure.permanent,
        reply_code=failure.reply_code,
    )


def _failure(
    exc: OSError, settings: MailSettings, message: Outgoing, phase: str, timeout: float
) -> DeliveryFailed:
    server = f"The mail server {settings.host}:{settings.port}"

    def refused(code: int, text: bytes | str, what: str) -> DeliveryFailed:
        return DeliveryFailed(
            SMTP_REFUSED,
            f"{server} refused {what}: {_reply(code, text)}.",
            permanent=code >= 500,
            reply_code=code,
        )

    def unavailable(why: str) -> DeliveryFailed:
        return DeliveryFailed(SMTP_UNAVAILABLE, f"{server} {why}.", permanent=False)

    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = exc.recipients.get(message.to) or next(iter(exc.recipients.values()))
        return refused(code, text, f"the recipient {message.to}")
    if isinstance(exc, smtplib.SMTPSenderRefused):
        code, text = exc.smtp_code, exc.smtp_error
        reply = _reply(code, text)
        if code == 530 and "starttls" in reply.lower():
            return DeliveryFailed(
                SMTP_REFUSED,
                f"{server} takes mail only over an encrypted connection ({reply}); set the mail"
                " settings' security to starttls.",
                permanent=True,
                reply_code=code,
            )
        if code == 530:
            return DeliveryFailed(
                SMTP_AUTH_FAILED,
                f"{server} takes mail only after a log-in ({reply}); set the mail settings'"
                " user name and password variable.",
                permanent=True,
                reply_code=code,
            )
        return refused(code, text, f"the sender {settings.sender}")
    if isinstance(exc, smtplib.SMTPDataError):
        return refused(exc.smtp_code, exc.smtp_error, f"the e-mail to {message.to}")
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return DeliveryFailed(
            SMTP_AUTH_FAILED,
            f"{server} did not accept the user name {settings.username} with its password:"
            f" {_reply(exc.smtp_code, exc.smtp_error)}.",
            permanent=exc.smtp_code >= 500,
            reply_code=exc.smtp_code,
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError) and phase == _STARTTLS:
        return unavailable(
            "does not offer STARTTLS, and the mail settings do not allow sending unencrypted;"
            " the e-mail was not sent"
        )
    if isinstance(exc, smtplib.SMTPConnectError):
        return DeliveryFailed(
            SMTP_UNAVAILABLE,
            f"{server} is not taking connections: {_reply(exc.smtp_code, exc.smtp_error)}.",
            permanent=False,
            reply_code=exc.smtp_code,
        )
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        if isinstance(exc.__context__, TimeoutError):
            return unavailable(f"did not answer within {timeout:g} seconds")
        return unavailable("closed the connection unexpectedly; try again later")
    if phase == _LOGIN and isinstance(exc, smtplib.SMTPException):
        # No AUTH offered, or no mechanism in common with smtplib.
        return DeliveryFailed(
            SMTP_AUTH_FAILED, f"{server} offers no log-in smtplib can use ({exc}).", permanent=True
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return DeliveryFailed(
            SMTP_FAILED,
            f"{server} answered {_reply(exc.smtp_code, exc.smtp_error)}.",
            permanent=exc.smtp_code >= 500,
            reply_code=exc.smtp_code,
        )
    if isinstance(exc, smtplib.SMTPException):
        return DeliveryFailed(SMTP_FAILED, f"{server} failed: {exc}.", permanent=False)
    if isinstance(exc, TimeoutError):
        return unavailable(f"did not answer within {timeout:g} seconds")
    if isinstance(exc, ssl.SSLError):
        reason = getattr(exc, "verify_message", None) or exc.reason or str(exc)
        return unavailable(f"could not be reached securely (TLS failed: {reason})")
    if isinstance(exc, ConnectionRefusedError):
        return unavailable("refused the connection (nothing is listening there); try again later")
    if isinstance(exc, socket.gaierror):
        return unavailable(f"could not be found ({exc.strerror or exc}); check the host name")
    return unavailable(f"could not be reached ({exc.strerror or exc}); try again later")
