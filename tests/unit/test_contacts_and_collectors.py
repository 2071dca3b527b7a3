"""Contact details and the collector: each changed by its own command, as its own event;
what cannot be a contact detail is refused with nothing recorded."""

from __future__ import annotations

from typing import Any

import pytest
from unit_support import (
    META,
    assert_same_account,
    charge,
    d,
    event_names,
    open_account,
    replay,
    snapshot_round_trip,
)

from domain import errors
from domain.account import Account
from domain.contacts import Address, check_email, check_phone, phone_digits

HOME = Address("1 Main St", "Apt 2", "Springfield", "IL", "62701", "US")


def change(account: Account, command: str, **kwargs: Any) -> None:
    getattr(account, command)(effective_on=d("2024-01-05"), meta=META, **kwargs)


def refused(account: Account, error: type[errors.DomainError], command: str, **kwargs: Any) -> str:
    """The command is refused with ``error`` and records nothing."""
    account.collect_events()
    version = account.version
    with pytest.raises(error) as raised:
        change(account, command, **kwargs)
    assert account.version == version
    assert not account.collect_events()
    return str(raised.value)


def test_an_account_opened_has_no_contact_details_and_no_collector() -> None:
    account = open_account()
    assert (account.billing_address, account.email, account.phone) == (None, None, None)
    assert (account.preferred_channel, account.external_reference) == (None, None)
    assert account.contact_notes == ""
    assert account.collector is None


def test_each_detail_is_changed_by_its_own_event() -> None:
    account = open_account()
    account.collect_events()
    change(account, "change_billing_address", address=HOME)
    change(account, "change_email_address", email="jane.roe+ar@example.co.uk")
    change(account, "change_phone_number", phone="+1 (555) 010-0199")
    change(account, "change_preferred_channel", channel="sms")
    change(account, "change_external_reference", reference="MRN 00123/4")
    change(account, "change_contact_notes", notes="Ask for the guardian.\n\tNot before 9.")
    account.assign_collector(collector="carol", assigned_on=d("2024-01-06"), meta=META)

    assert event_names(account.collect_events()) == [
        "BillingAddressChanged",
        "EmailAddressChanged",
        "PhoneNumberChanged",
        "PreferredChannelChanged",
        "ExternalReferenceChanged",
        "ContactNotesChanged",
        "CollectorAssigned",
    ]
    assert account.billing_address == HOME
    assert account.email == "jane.roe+ar@example.co.uk"
    assert account.phone == "+1 (555) 010-0199"
    assert account.preferred_channel == "sms"
    assert account.external_reference == "MRN 00123/4"
    assert account.contact_notes == "Ask for the guardian.\n\tNot before 9."
    assert account.collector == "carol"
    assert HOME.one_line() == "1 Main St, Apt 2, Springfield, IL 62701, US"


def test_a_detail_is_removed_by_changing_it_to_nothing() -> None:
    account = open_account()
    change(account, "change_email_address", email="jane@example.com")
    change(account, "change_email_address", email=None)
    change(account, "change_contact_notes", notes="x")
    change(account, "change_contact_notes", notes="")
    assert account.email is None
    assert account.contact_notes == ""


def test_a_change_that_changes_nothing_is_refused() -> None:
    account = open_account()
    change(account, "change_email_address", email="jane@example.com")
    refused(account, errors.NothingChanged, "change_email_address", email="jane@example.com")
    refused(account, errors.NothingChanged, "change_phone_number", phone=None)
    refused(account, errors.NothingChanged, "change_contact_notes", notes="")


@pytest.mark.parametrize(
    ("channel", "command", "value"),
    [
        ("email", "change_email_address", {"email": "jane@example.com"}),
        ("sms", "change_phone_number", {"phone": "555 0100"}),
        ("call", "change_phone_number", {"phone": "555 0100"}),
        ("letter", "change_billing_address", {"address": HOME}),
    ],
)
def test_the_preferred_channel_always_has_the_detail_it_needs(
    channel: str, command: str, value: dict[str, Any]
) -> None:
    account = open_account()
    said = refused(account, errors.ChannelUnreachable, "change_preferred_channel", channel=channel)
    assert "A-100 has no" in said
    change(account, command, **value)
    change(account, "change_preferred_channel", channel=channel)
    removal = dict.fromkeys(value)
    said = refused(account, errors.ChannelUnreachable, command, **removal)
    assert "choose another channel" in said
    change(account, "change_preferred_channel", channel=None)
    change(account, command, **removal)


def test_an_unknown_channel_is_refused() -> None:
    account = open_account()
    refused(account, errors.InvalidPreferredChannel, "change_preferred_channel", channel="pigeon")


@pytest.mark.parametrize(
    "email",
    [
        "jane",
        "jane@",
        "@example.com",
        "jane@example",
        "jane@@example.com",
        "jane..roe@example.com",
        ".jane@example.com",
        "jane.@example.com",
        "jane@-example.com",
        "jane@example-.com",
        "jane@example.c",
        "jane@example.c0m",
        "jane roe@example.com",
        "jané@example.com",
        "jane@exa_mple.com",
        "a" * 65 + "@example.com",
        "jane@" + "a" * 64 + ".com",
    ],
)
def test_a_malformed_email_address_is_refused(email: str) -> None:
    account = open_account()
    refused(account, errors.InvalidEmail, "change_email_address", email=email)


@pytest.mark.parametrize(
    "email",
    [
        "jane@example.com",
        "J.Roe+bills@Mail.Example.ORG",
        "o'brien@example.ie",
        "x@xn--80ak6aa92e.com",
    ],
)
def test_a_well_formed_email_address_is_taken(email: str) -> None:
    assert check_email(email) == email


@pytest.mark.parametrize(
    "phone", ["1234", "+1 (555) 010-0199 ext 4", "555-CALL-NOW", "1" * 16, "-555 0100", "+"]
)
def test_a_malformed_phone_number_is_refused(phone: str) -> None:
    account = open_account()
    refused(account, errors.InvalidPhone, "change_phone_number", phone=phone)


def test_a_phone_number_keeps_its_writing_and_is_compared_by_its_digits() -> None:
    assert check_phone("+44 20 7946 0958") == "+44 20 7946 0958"
    assert phone_digits("+1 (555) 010-0199") == phone_digits("1.555.010.0199") == "15550100199"


@pytest.mark.parametrize(
    ("command", "kwargs"),
    [
        ("change_email_address", {"email": "jane\x00@example.com"}),
        ("change_phone_number", {"phone": "555\x1b0100"}),
        ("change_external_reference", {"reference": "MRN\t1"}),
        ("change_external_reference", {"reference": "MRN\ud8001"}),
        ("change_contact_notes", {"notes": "call\x07 after 5"}),
        ("change_billing_address", {"address": Address("1 Main\nSt", "", "X", "", "", "US")}),
        ("change_billing_address", {"address": Address("1 Main", "", "X\x85", "", "", "US")}),
    ],
)
def test_contact_details_with_control_characters_are_refused(
    command: str, kwargs: dict[str, Any]
) -> None:
    account = open_account()
    refused(account, errors.ControlCharacter, command, **kwargs)


def test_over_long_or_missing_details_are_refused() -> None:
    account = open_account()
    refused(account, errors.TextTooLong, "change_external_reference", reference="R" * 65)
    refused(account, errors.TextTooLong, "change_contact_notes", notes="n" * 1001)
    too_long = "jane@" + ".".join(["abcdefgh"] * 30) + ".com"
    refused(account, errors.TextTooLong, "change_email_address", email=too_long)
    refused(account, errors.MissingValue, "change_external_reference", reference="  ")
    long_line = Address("x" * 101, "", "Springfield", "", "", "US")
    refused(account, errors.TextTooLong, "change_billing_address", address=long_line)
    no_city = Address("1 Main St", "", " ", "", "", "US")
    refused(account, errors.MissingValue, "change_billing_address", address=no_city)
    for country in ("us", "USA", "U1", ""):
        bad = Address("1 Main St", "", "Springfield", "", "", country)
        error = errors.MissingValue if not country else errors.InvalidAddress
        error = errors.TextTooLong if country == "USA" else error
        refused(account, error, "change_billing_address", address=bad)


def test_a_closed_account_takes_no_contact_change_nor_assignment() -> None:
    account = open_account()
    account.close(effective_on=d("2024-01-02"), meta=META)
    refused(account, errors.AccountClosed, "change_email_address", email="jane@example.com")
    with pytest.raises(errors.AccountClosed):
        account.assign_collector(collector="carol", assigned_on=d("2024-01-03"), meta=META)


def test_a_change_dated_before_the_opening_is_refused() -> None:
    account = open_account()
    with pytest.raises(errors.InvalidDate):
        account.change_email_address(email="a@example.com", effective_on=d("2023-12-31"), meta=META)


def test_the_collector_is_assigned_moved_and_unassigned() -> None:
    account = open_account()
    account.collect_events()
    with pytest.raises(errors.NoCollectorAssigned):
        account.unassign_collector(unassigned_on=d("2024-01-02"), meta=META)
    account.assign_collector(collector="carol", assigned_on=d("2024-01-02"), meta=META)
    with pytest.raises(errors.NothingChanged):
        account.assign_collector(collector="carol", assigned_on=d("2024-01-03"), meta=META)
    account.assign_collector(collector="dave", assigned_on=d("2024-01-03"), meta=META)
    account.unassign_collector(unassigned_on=d("2024-01-04"), meta=META)
    events = account.collect_events()
    assert event_names(events) == ["CollectorAssigned", "CollectorAssigned", "CollectorUnassigned"]
    assert events[-1].collector == "dave"
    assert account.collector is None
    for bad, error in (("", errors.MissingValue), ("c\x00", errors.ControlCharacter)):
        with pytest.raises(error):
            account.assign_collector(collector=bad, assigned_on=d("2024-01-05"), meta=META)


def test_contact_details_survive_a_snapshot_and_a_replay() -> None:
    account = open_account()
    charge(account, "c1", 100)
    change(account, "change_billing_address", address=HOME)
    change(account, "change_email_address", email="jane@example.com")
    change(account, "change_preferred_channel", channel="letter")
    account.assign_collector(collector="carol", assigned_on=d("2024-01-06"), meta=META)
    events = list(account.collect_events())
    restored = snapshot_round_trip(account)
    assert_same_account(restored, account)
    assert restored.billing_address == HOME
    assert_same_account(replay(events), account)


def test_an_account_snapshotted_before_contact_details_existed_reads_as_having_none() -> None:
    account = open_account()
    account.collect_events()
    restored = snapshot_round_trip(account)
    for name in ("billing_address", "email", "phone", "preferred_channel", "collector"):
        assert name not in restored.__dict__
        assert getattr(restored, name) is None
    change(restored, "change_email_address", email="jane@example.com")
    assert restored.email == "jane@example.com"
