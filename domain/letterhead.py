"""What the tenant's documents carry and how they leave: letterhead, mail settings, templates.

Concept
    Every invoice, statement and letter the office sends is headed with the tenant's
    *letterhead*: its trading name, postal address, an optional logo, where payments go
    (*remit-to*), how to pay (*payment instructions*) and the *locale* amounts and dates are
    written in. E-mailed documents leave through the tenant's own SMTP server (*mail
    settings*). The wording and layout of each document is a Jinja2 *template*: a default set
    ships with the product and a tenant may override any of them by name.

    All three are settings on the :class:`domain.tenant.Tenant`, each change an event, so a
    document reprinted "as known at" the moment it was first produced uses the letterhead and
    templates in force then and comes out byte for byte the same.

Invariants
    - Text holds no control characters (C0, DEL, C1); one-line values hold no tab, newline,
      nor line or paragraph separator (U+2028, U+2029).
      Every value has a length bound (the ``*_MAX`` constants).
    - A logo is a PNG or JPEG image (checked by its signature, not by what the caller says) of
      at most :data:`LOGO_MAX_BYTES`, kept base64-encoded (events are JSON).
    - A locale is written ``ll`` or ``ll_CC`` (ISO 639 language, ISO 3166 country); whether the
      product knows it is the services' check (the domain has no locale data).
    - Mail settings hold no secret: the SMTP password is read at send time from the
      environment variable they name, so it is never stored in an event.
    - A template name is one of :data:`TEMPLATE_NAMES`; its source is at most
      :data:`TEMPLATE_MAX_CHARS` characters. Whether it renders is checked by the services
      (sandboxed Jinja2) before it is recorded.

Vocabulary
    letterhead, remit-to, payment instructions, locale, logo, mail settings, template, override.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Final

from domain import errors
from domain.contacts import check_email, check_text

NAME_MAX: Final = 120
LINE_MAX: Final = 100
LINES_MAX: Final = 6
INSTRUCTIONS_MAX: Final = 1000
LOGO_MAX_BYTES: Final = 256 * 1024
TEMPLATE_MAX_CHARS: Final = 64 * 1024

PNG: Final = "image/png"
JPEG: Final = "image/jpeg"
_SIGNATURES: Final = ((b"\x89PNG\r\n\x1a\n", PNG), (b"\xff\xd8\xff", JPEG))

#: SMTP connection security: plain (loopback relays), STARTTLS upgrade, or TLS from the start.
SECURITY_NONE: Final = "none"
SECURITY_STARTTLS: Final = "starttls"
SECURITY_TLS: Final = "tls"
SECURITIES: Final = frozenset({SECURITY_NONE, SECURITY_STARTTLS, SECURITY_TLS})

#: The documents (and the parts they share) a tenant may override.
LAYOUT: Final = "layout"
INVOICE: Final = "invoice"
STATEMENT: Final = "statement"
DUNNING_LETTER: Final = "dunning_letter"
PLAN_AGREEMENT: Final = "plan_agreement"
SETTLEMENT_OFFER: Final = "settlement_offer"
PROMISE_CONFIRMATION: Final = "promise_confirmation"
PATIENT_STATEMENT: Final = "patient_statement"
COVER_LIST: Final = "cover_list"
EMAIL_BODY: Final = "email_body"
TEMPLATE_NAMES: Final = frozenset(
    {
        LAYOUT,
        INVOICE,
        STATEMENT,
        DUNNING_LETTER,
        PLAN_AGREEMENT,
        SETTLEMENT_OFFER,
        PROMISE_CONFIRMATION,
        PATIENT_STATEMENT,
        COVER_LIST,
        EMAIL_BODY,
    }
)

_LOCALE: Final = re.compile(r"[a-z]{2,3}(_[A-Z]{2})?")
_ENV_NAME: Final = re.compile(r"[A-Z_][A-Z0-9_]{0,63}")
_HOST: Final = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
_SEPARATORS: Final = re.compile("[\u2028\u2029]")


def _line(
    value: str, field: str, what: str, *, required: bool = True, limit: int = LINE_MAX
) -> str:
    check_text(value, field, what, max_length=limit, required=required)
    if _SEPARATORS.search(value):
        # No control characters, but line breaks all the same: an e-mail header (the name
        # heads the tenant's e-mail) cannot hold them.
        raise errors.ControlCharacter(
            f"{what} must not contain a line or paragraph separator (U+2028, U+2029).",
            field=field,
        )
    return value


def _lines(values: tuple[str, ...], field: str, what: str, *, required: bool) -> None:
    if not isinstance(values, tuple):
        raise errors.InvalidLetterhead(f"{what} is a list of lines.", field=field)
    if required and not values:
        raise errors.MissingValue(f"{what} needs at least one line.", field=field)
    if len(values) > LINES_MAX:
        raise errors.InvalidLetterhead(f"{what} has more than {LINES_MAX} lines.", field=field)
    for line in values:
        _line(line, field, what)


def logo_media_type(data: bytes) -> str:
    """The media type of a logo image, by its signature; anything else is refused."""
    if len(data) > LOGO_MAX_BYTES:
        raise errors.InvalidLogo(
            f"The logo is larger than {LOGO_MAX_BYTES // 1024} KiB.", field="logo"
        )
    for signature, media_type in _SIGNATURES:
        if data.startswith(signature):
            return media_type
    raise errors.InvalidLogo("The logo must be a PNG or JPEG image.", field="logo")


@dataclass(frozen=True)
class Letterhead:
    """The heading of every document a tenant sends (see the module's invariants)."""

    name: str
    address_lines: tuple[str, ...]
    locale: str = "en_US"
    remit_to: tuple[str, ...] = ()
    payment_instructions: str = ""
    phone: str = ""
    email: str = ""
    #: The logo image, base64 (events are JSON); ``None``: no logo.
    logo_base64: str | None = None

    def __post_init__(self) -> None:
        _line(self.name, "name", "The tenant's name", limit=NAME_MAX)
        _lines(self.address_lines, "address_lines", "The address", required=True)
        _lines(self.remit_to, "remit_to", "The remit-to address", required=False)
        if not isinstance(self.locale, str) or not _LOCALE.fullmatch(self.locale):
            raise errors.InvalidLocale(
                "The locale is written like en_US or fr (language, then country).",
                field="locale",
            )
        check_text(
            self.payment_instructions,
            "payment_instructions",
            "The payment instructions",
            max_length=INSTRUCTIONS_MAX,
            multi_line=True,
            required=False,
        )
        _line(self.phone, "phone", "The phone number", required=False)
        if self.email:
            check_email(self.email, "email")
        if self.logo_base64 is not None:
            logo_media_type(self.logo)

    @property
    def logo(self) -> bytes:
        """The logo's bytes (empty: none)."""
        if self.logo_base64 is None:
            return b""
        try:
            return base64.b64decode(self.logo_base64, validate=True)
        except (binascii.Error, ValueError):
            raise errors.InvalidLogo("The logo is not base64.", field="logo") from None

    @property
    def logo_media_type(self) -> str | None:
        return logo_media_type(self.logo) if self.logo_base64 is not None else None

    @property
    def remit_to_lines(self) -> tuple[str, ...]:
        """Where payments go: the remit-to address, else the letterhead's."""
        return self.remit_to or (self.name, *self.address_lines)


@dataclass(frozen=True)
class MailSettings:
    """How a tenant's e-mail leaves: its SMTP server and the sender its documents carry."""

    host: str
    port: int
    sender: str
    security: str = SECURITY_STARTTLS
    username: str | None = None
    #: The environment variable holding the SMTP password at send time (never the password).
    password_env: str | None = None
    reply_to: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.host, str) or not _HOST.fullmatch(self.host):
            raise errors.InvalidMailSettings(
                "The SMTP host must be a host name or address.", field="host"
            )
        port = self.port
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise errors.InvalidMailSettings("The SMTP port must be 1 to 65535.", field="port")
        check_email(self.sender, "sender")
        if self.reply_to is not None:
            check_email(self.reply_to, "reply_to")
        if self.security not in SECURITIES:
            raise errors.InvalidMailSettings(
                f"The SMTP security must be one of {', '.join(sorted(SECURITIES))}.",
                field="security",
            )
        if self.username is not None:
            _line(self.username, "username", "The SMTP user name")
        if self.password_env is not None and not _ENV_NAME.fullmatch(self.password_env):
            raise errors.InvalidMailSettings(
                "The password variable is an environment variable name (A-Z, 0-9, _).",
                field="password_env",
            )
        if (self.password_env is None) != (self.username is None):
            raise errors.InvalidMailSettings(
                "An SMTP user name and its password variable go together.",
                field="password_env" if self.username is not None else "username",
            )


def check_template(name: str, source: str) -> None:
    """A template override's name and size (whether it renders is the services' check)."""
    if name not in TEMPLATE_NAMES:
        raise errors.InvalidTemplate(
            f"There is no document template {name!r}; the templates are"
            f" {', '.join(sorted(TEMPLATE_NAMES))}.",
            field="name",
        )
    check_text(source, "source", "The template", max_length=TEMPLATE_MAX_CHARS, multi_line=True)
