"""Contact details on the account: billing address, e-mail, phone, preferred channel, the
customer's own reference and notes.

Concept
    Each detail is changed by its own command and recorded as its own event, so the
    account's history (and the audit trail read from it) says who changed which detail, on
    which business date and why. A detail is removed by changing it to nothing (``None``;
    for the notes, ``""``). The values and their rules are in :mod:`domain.contacts`.

Invariants
    - Every value follows :mod:`domain.contacts`: no control characters, bounded length,
      a well-formed e-mail address, phone number and address.
    - The preferred channel always has the detail it needs: it cannot be set to a channel
      the account has no detail for, and the detail it uses cannot be removed while it is
      preferred (choose another channel, or none, first).
    - A change that changes nothing is refused (``nothing_changed``); a closed account takes
      no change.
    - The details are attributes of the account with class-level defaults (nothing), so an
      account opened, or a snapshot taken, before they existed reads as having none; once
      changed they are in the account's state and its snapshots (``Address`` is a
      registered transcoding).
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar, cast

from domain import contacts, errors
from domain.account.core import AccountState, Event
from domain.contacts import Address
from domain.provenance import Provenance

# ================================================================== events


def _details(account: AccountState) -> ContactCommands:
    # Events apply to an Account, whose bases include ContactCommands (the attributes below).
    return cast(ContactCommands, account)


class BillingAddressChanged(Event):
    TOPIC = "receivables.account:BillingAddressChanged"

    address: Address | None

    def evolve(self, account: AccountState) -> None:
        _details(account).billing_address = self.address


class EmailAddressChanged(Event):
    TOPIC = "receivables.account:EmailAddressChanged"

    email: str | None

    def evolve(self, account: AccountState) -> None:
        _details(account).email = self.email


class PhoneNumberChanged(Event):
    TOPIC = "receivables.account:PhoneNumberChanged"

    phone: str | None

    def evolve(self, account: AccountState) -> None:
        _details(account).phone = self.phone


class PreferredChannelChanged(Event):
    TOPIC = "receivables.account:PreferredChannelChanged"

    channel: str | None

    def evolve(self, account: AccountState) -> None:
        _details(account).preferred_channel = self.channel


class ExternalReferenceChanged(Event):
    TOPIC = "receivables.account:ExternalReferenceChanged"

    reference: str | None

    def evolve(self, account: AccountState) -> None:
        _details(account).external_reference = self.reference


class ContactNotesChanged(Event):
    TOPIC = "receivables.account:ContactNotesChanged"

    notes: str

    def evolve(self, account: AccountState) -> None:
        _details(account).contact_notes = self.notes


# ================================================================== commands


class ContactCommands(AccountState):
    """Changing the account's contact details, one detail per command."""

    # Class-level defaults (immutable values only): see the module's invariants.
    billing_address: Address | None = None
    email: str | None = None
    phone: str | None = None
    preferred_channel: str | None = None
    external_reference: str | None = None
    contact_notes: str = ""

    #: What each detail is called in a sentence.
    _DETAIL_NAMES: ClassVar[dict[str, str]] = {
        "billing_address": "billing address",
        "email": "e-mail address",
        "phone": "phone number",
        "external_reference": "external reference",
        "contact_notes": "contact notes",
        "preferred_channel": "preferred channel",
    }

    def change_billing_address(
        self, *, address: Address | None, effective_on: date, meta: Provenance
    ) -> None:
        """Set the address letters and statements go to; ``None`` removes it."""
        self._check_contact_change("billing_address", address, effective_on)
        if address is not None:
            contacts.check_address(address)
        self._trigger(BillingAddressChanged, effective_on=effective_on, meta=meta, address=address)

    def change_email_address(
        self, *, email: str | None, effective_on: date, meta: Provenance
    ) -> None:
        """Set the customer's e-mail address; ``None`` removes it."""
        self._check_contact_change("email", email, effective_on)
        if email is not None:
            contacts.check_email(email)
        self._trigger(EmailAddressChanged, effective_on=effective_on, meta=meta, email=email)

    def change_phone_number(
        self, *, phone: str | None, effective_on: date, meta: Provenance
    ) -> None:
        """Set the customer's phone number; ``None`` removes it."""
        self._check_contact_change("phone", phone, effective_on)
        if phone is not None:
            contacts.check_phone(phone)
        self._trigger(PhoneNumberChanged, effective_on=effective_on, meta=meta, phone=phone)

    def change_preferred_channel(
        self, *, channel: str | None, effective_on: date, meta: Provenance
    ) -> None:
        """Set how the customer prefers to be reached (email, letter, sms, call); ``None``:
        no preference. The account must hold the detail the channel needs."""
        self._check_contact_change("preferred_channel", channel, effective_on, field="channel")
        if channel is not None:
            contacts.check_preferred_channel(channel)
            attribute, needed = contacts.CHANNEL_NEEDS[channel]
            if getattr(self, attribute) is None:
                raise errors.ChannelUnreachable(
                    f"Account {self.account_number} has no {needed}; record one before "
                    f"making {channel} the preferred channel.",
                    field="channel",
                )
        self._trigger(
            PreferredChannelChanged, effective_on=effective_on, meta=meta, channel=channel
        )

    def change_external_reference(
        self, *, reference: str | None, effective_on: date, meta: Provenance
    ) -> None:
        """Set the customer's own reference for the account (a patient id, a subscriber
        number); ``None`` removes it."""
        self._check_contact_change("external_reference", reference, effective_on, "reference")
        if reference is not None:
            contacts.check_text(
                reference,
                "reference",
                "The external reference",
                max_length=contacts.EXTERNAL_REFERENCE_MAX,
            )
        self._trigger(
            ExternalReferenceChanged, effective_on=effective_on, meta=meta, reference=reference
        )

    def change_contact_notes(self, *, notes: str, effective_on: date, meta: Provenance) -> None:
        """Replace the free-text notes for whoever contacts the customer; ``""`` clears them."""
        self._check_contact_change("contact_notes", notes, effective_on, "notes")
        contacts.check_text(
            notes,
            "notes",
            "The contact notes",
            max_length=contacts.NOTES_MAX,
            multi_line=True,
            required=False,
        )
        self._trigger(ContactNotesChanged, effective_on=effective_on, meta=meta, notes=notes)

    def _check_contact_change(
        self, attribute: str, value: object, effective_on: date, field: str | None = None
    ) -> None:
        """The checks every change of a detail makes first: open account, a date from the
        opening on, a value that changes something, and the preferred channel kept reachable."""
        field = field or attribute
        self._check_open()
        self._check_not_before_opening(effective_on, "effective_on")
        if value == getattr(self, attribute):
            raise errors.NothingChanged(
                f"The account's {self._DETAIL_NAMES[attribute]} is already that.", field=field
            )
        channel = self.preferred_channel
        if (
            value is None
            and channel is not None
            and contacts.CHANNEL_NEEDS[channel][0] == attribute
        ):
            raise errors.ChannelUnreachable(
                f"Account {self.account_number} prefers {channel}, which needs its "
                f"{self._DETAIL_NAMES[attribute]}; choose another channel (or none) before "
                "removing it.",
                field=field,
            )
