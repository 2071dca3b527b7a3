"""Contact details: how to reach an account's customer, and the customer's own reference.

Concept
    An account's *contact details* say where and how its customer is reached: the billing
    address letters and statements go to, an e-mail address, a phone number, the channel the
    customer prefers, the customer's own reference for the account (a patient id, a
    subscriber number: what they quote when they call) and free-text notes for whoever
    contacts them ("ask for the guardian"). A *collector* is the person an account is
    assigned to for collections. This module holds the values and the rules they follow;
    the events and commands are in :mod:`domain.account.contacts` and
    :mod:`domain.account.collections`.

Invariants
    - Text holds no control characters (C0, DEL, C1) and no lone surrogates; one-line values
      hold no tab or newline either, notes may span lines. Every value has a length bound
      (the ``*_MAX`` constants) and a required value is not blank.
    - An e-mail address is ``local@domain`` by the simple, well-known rules: the local part
      is 1 to 64 of ``A-Z a-z 0-9 ! # $ % & ' * + / = ? ^ _ ` { | } ~ -`` in dot-separated
      runs (no leading, trailing or double dot); the domain is two or more dot-separated
      labels of letters, digits and inner hyphens (at most 63 each), the last alphabetic
      (or a punycode ``xn--`` label); 254 characters in all. Nothing is looked up.
    - A phone number is digits with the usual punctuation (spaces, ``-``, ``.``, ``/``,
      parentheses) and an optional leading ``+``: 5 to 15 digits (E.164's most).
    - An address has a first line, a city and a country (its ISO 3166-1 alpha-2 code, two
      capital letters); the second line, the region and the postal code may be empty.
    - The preferred channel is one of :data:`PREFERRED_CHANNELS`, and the account holds the
      detail it needs (:data:`CHANNEL_NEEDS`): e-mail an e-mail address, sms and call a phone
      number, letter a billing address.

Vocabulary
    billing address, e-mail address, phone number, preferred channel, external reference
    (the customer's own reference), contact notes, collector.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from domain import errors

EMAIL_MAX: Final = 254
PHONE_MAX: Final = 32
ADDRESS_LINE_MAX: Final = 100
POSTAL_CODE_MAX: Final = 20
EXTERNAL_REFERENCE_MAX: Final = 64
NOTES_MAX: Final = 1000
COLLECTOR_MAX: Final = 64

PHONE_DIGITS_MIN: Final = 5
PHONE_DIGITS_MAX: Final = 15

EMAIL: Final = "email"
LETTER: Final = "letter"
SMS: Final = "sms"
CALL: Final = "call"
PREFERRED_CHANNELS: Final[frozenset[str]] = frozenset({EMAIL, LETTER, SMS, CALL})
#: The contact detail (an account attribute) each preferred channel needs, and its name.
CHANNEL_NEEDS: Final[dict[str, tuple[str, str]]] = {
    EMAIL: ("email", "e-mail address"),
    SMS: ("phone", "phone number"),
    CALL: ("phone", "phone number"),
    LETTER: ("billing_address", "billing address"),
}

# C0 controls, DEL, C1 controls and lone surrogates; tab, newline and CR where one line.
_CONTROL_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_MULTI_LINE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_TOP_LABEL = re.compile(r"[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59}")
_PHONE = re.compile(r"\+?[0-9 ()./-]+")
_COUNTRY = re.compile(r"[A-Z]{2}")


@dataclass(frozen=True, slots=True)
class Address:
    """A postal address; empty strings where a line, region or postal code is not used."""

    line1: str
    line2: str
    city: str
    region: str
    postal_code: str
    country: str

    def one_line(self) -> str:
        """The address on one line, as a listing shows it."""
        place = " ".join(p for p in (self.region, self.postal_code) if p)
        parts = (self.line1, self.line2, self.city, place, self.country)
        return ", ".join(p for p in parts if p)


def control_character_in(value: str, *, multi_line: bool = False) -> bool:
    """Whether ``value`` holds a character text may not hold (see the invariants)."""
    pattern = _CONTROL_MULTI_LINE if multi_line else _CONTROL_ONE_LINE
    return pattern.search(value) is not None


def check_text(
    value: str,
    field: str,
    what: str,
    *,
    max_length: int,
    multi_line: bool = False,
    required: bool = True,
) -> str:
    """``value`` if it is text within its bound and without control characters."""
    if not isinstance(value, str) or (required and not value.strip()):
        raise errors.MissingValue(f"{what} is required.", field=field)
    if control_character_in(value, multi_line=multi_line):
        allowed = "other than tab and newline " if multi_line else ""
        raise errors.ControlCharacter(
            f"{what} must not contain control characters {allowed}(such as NUL or escape).",
            field=field,
        )
    if len(value) > max_length:
        raise errors.TextTooLong(f"{what} is longer than {max_length} characters.", field=field)
    return value


def check_email(value: str, field: str = "email") -> str:
    """``value`` if it is an e-mail address by the simple rules (see the invariants)."""
    check_text(value, field, "The e-mail address", max_length=EMAIL_MAX)
    local, at, domain = value.rpartition("@")
    labels = domain.split(".")
    well_formed = (
        bool(at)
        and 0 < len(local) <= 64
        and _LOCAL.fullmatch(local) is not None
        and len(domain) <= 253
        and len(labels) >= 2
        and all(_LABEL.fullmatch(label) for label in labels)
        and _TOP_LABEL.fullmatch(labels[-1]) is not None
    )
    if not well_formed:
        raise errors.InvalidEmail(
            f"{value!r} is not an e-mail address such as name@example.com.", field=field
        )
    return value


def phone_digits(value: str) -> str:
    """The digits of a phone number, as a search compares them: "+1 (555) 010-0199" →
    "15550100199"."""
    return "".join(c for c in value if "0" <= c <= "9")


def check_phone(value: str, field: str = "phone") -> str:
    """``value`` if it is a phone number (see the invariants)."""
    check_text(value, field, "The phone number", max_length=PHONE_MAX)
    digits = len(phone_digits(value))
    if (
        _PHONE.fullmatch(value) is None
        or value[0] not in "+(0123456789"
        or not PHONE_DIGITS_MIN <= digits <= PHONE_DIGITS_MAX
    ):
        raise errors.InvalidPhone(
            f"{value!r} is not a phone number: give {PHONE_DIGITS_MIN} to {PHONE_DIGITS_MAX} "
            "digits, with spaces, '-', '.', '/' or parentheses if you like and an optional "
            "leading '+'.",
            field=field,
        )
    return value


def check_address(address: Address, field: str = "address") -> Address:
    """``address`` if every line is within its bound and the required ones are given."""
    if not isinstance(address, Address):
        raise errors.InvalidAddress("The billing address must be an address.", field=field)
    for name, what, required, bound in (
        ("line1", "The address's first line", True, ADDRESS_LINE_MAX),
        ("line2", "The address's second line", False, ADDRESS_LINE_MAX),
        ("city", "The city", True, ADDRESS_LINE_MAX),
        ("region", "The region", False, ADDRESS_LINE_MAX),
        ("postal_code", "The postal code", False, POSTAL_CODE_MAX),
        ("country", "The country", True, 2),
    ):
        check_text(
            getattr(address, name), f"{field}.{name}", what, max_length=bound, required=required
        )
    if _COUNTRY.fullmatch(address.country) is None:
        raise errors.InvalidAddress(
            f"{address.country!r} is not a country code: give its ISO 3166-1 alpha-2 code in "
            "capitals, such as US or DE.",
            field=f"{field}.country",
        )
    return address


def check_preferred_channel(channel: str, field: str = "channel") -> str:
    if channel not in PREFERRED_CHANNELS:
        raise errors.InvalidPreferredChannel(
            f"{channel!r} is not a channel to prefer; use one of "
            f"{', '.join(sorted(PREFERRED_CHANNELS))}.",
            field=field,
        )
    return channel
