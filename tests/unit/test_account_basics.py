"""Opening an account, posting charges, receiving payments: the first slice."""

from __future__ import annotations

from decimal import Decimal

import pytest
from eventsourcing.utils import get_topic, resolve_topic
from unit_support import META, charge, d, open_account, pay, usd

from domain.account import Account
from domain.errors import (
    AmountMustBePositive,
    AmountTooPrecise,
    CurrencyMismatch,
    DuplicateCharge,
    DuplicatePayment,
    FloatAmountRefused,
    InvalidPaymentTerms,
    InvalidQuantity,
    MissingValue,
    ProvenanceIncomplete,
    UnknownCurrency,
    UnknownInvoice,
)
from domain.money import Money
from domain.provenance import Provenance


def test_the_account_id_is_derived_from_tenant_and_account_number() -> None:
    account = open_account("A-7")
    assert account.id == Account.id_for("tenant-1", "A-7")
    assert Account.id_for("tenant-1", "A-7") == Account.id_for("tenant-1", "A-7")
    assert Account.id_for("tenant-1", "A-7") != Account.id_for("tenant-2", "A-7")
    # No ambiguity when a separator character appears inside the parts.
    assert Account.id_for("a/b", "c") != Account.id_for("a", "b/c")


def test_opening_an_account_records_who_when_and_its_terms() -> None:
    account = open_account(terms=14)
    (opened,) = account.collect_events()
    assert isinstance(opened, Account.Opened)
    assert opened.effective_on == d("2024-01-01")
    assert (opened.actor, opened.correlation_id, opened.reason) == (
        "clerk@example.test",
        "req-1",
        None,
    )
    assert account.tenant_id == "tenant-1"
    assert account.account_number == "A-100"
    assert account.currency == "USD"
    assert account.payment_terms_days == 14
    assert account.balance == usd(0)


def test_an_account_needs_a_known_currency_and_sensible_terms() -> None:
    with pytest.raises(UnknownCurrency):
        open_account(currency="ABC")
    with pytest.raises(InvalidPaymentTerms):
        open_account(terms=-1)
    with pytest.raises(MissingValue):
        Account.open(
            tenant_id="t",
            account_number=" ",
            name="x",
            currency="USD",
            effective_on=d("2024-01-01"),
            meta=META,
        )


def test_provenance_needs_an_actor_and_a_correlation_id() -> None:
    with pytest.raises(ProvenanceIncomplete):
        Provenance(actor="", correlation_id="r")
    with pytest.raises(ProvenanceIncomplete):
        Provenance(actor="a", correlation_id=" ")


def test_a_posted_charge_adds_quantity_times_price_plus_tax_to_the_balance() -> None:
    account = open_account()
    charge(account, "c1", "12.50", quantity=2, tax="1.25")
    assert account.balance == usd("26.25")
    posted = account.collect_events()[-1]
    assert isinstance(posted, Account.ChargePosted)
    assert posted.net == usd(25)
    assert posted.quantity == Decimal(2)


def test_a_charge_whose_line_amount_needs_rounding_is_refused() -> None:
    account = open_account()
    with pytest.raises(AmountTooPrecise):
        charge(account, "c1", "0.33", quantity=Decimal("1.5"))
    assert account.version == 1


def test_charge_inputs_are_checked_before_anything_is_recorded() -> None:
    account = open_account()
    charge(account, "c1", 10)
    with pytest.raises(DuplicateCharge):
        charge(account, "c1", 10)
    with pytest.raises(InvalidQuantity):
        charge(account, "c2", 10, quantity=0)
    with pytest.raises(FloatAmountRefused):
        account.post_charge(
            charge_id="c3",
            code="X",
            description="",
            quantity=1.5,  # type: ignore[arg-type]  # floats are what is being refused
            unit_price=usd(1),
            tax=usd(0),
            service_date=d("2024-01-02"),
            effective_on=d("2024-01-02"),
            meta=META,
        )
    with pytest.raises(CurrencyMismatch):
        account.post_charge(
            charge_id="c4",
            code="X",
            description="",
            quantity=1,
            unit_price=Money(1, "EUR"),
            tax=usd(0),
            service_date=d("2024-01-02"),
            effective_on=d("2024-01-02"),
            meta=META,
        )
    with pytest.raises(AmountMustBePositive):
        charge(account, "c5", 0)
    assert account.version == 2


def test_a_payment_with_no_invoices_yet_is_all_unapplied_credit() -> None:
    account = open_account()
    charge(account, "c1", 100)
    pay(account, "p1", 30, "2024-01-05")
    assert account.balance == usd(70)
    assert account.unapplied_credit == usd(30)
    received = account.collect_events()[-1]
    assert isinstance(received, Account.PaymentReceived)
    assert received.effective_on == d("2024-01-05")
    assert received.allocations == []


def test_a_payment_cannot_be_recorded_twice_or_in_another_currency() -> None:
    account = open_account()
    pay(account, "p1", 10, "2024-01-05")
    with pytest.raises(DuplicatePayment):
        pay(account, "p1", 10, "2024-01-05")
    with pytest.raises(CurrencyMismatch) as caught:
        account.receive_payment(
            payment_id="p2",
            amount=Money(5, "EUR"),
            method="card",
            reference="",
            received_on=d("2024-01-05"),
            meta=META,
        )
    assert caught.value.code == "currency_mismatch"
    assert caught.value.field == "amount"
    with pytest.raises(AmountMustBePositive):
        pay(account, "p3", 0, "2024-01-05")


def test_allocating_a_payment_to_an_unknown_invoice_is_refused() -> None:
    account = open_account()
    with pytest.raises(UnknownInvoice):
        pay(account, "p1", 10, "2024-01-05", allocations={"INV-404": usd(10)})
    assert account.version == 1


def test_event_topics_are_stable_names_not_module_paths() -> None:
    assert get_topic(Account) == "receivables.account:Account"
    assert get_topic(Account.Opened) == "receivables.account:Opened"
    assert get_topic(Account.ChargePosted) == "receivables.account:ChargePosted"
    assert get_topic(Account.PaymentReceived) == "receivables.account:PaymentReceived"
    assert resolve_topic("receivables.account:PaymentReceived") is Account.PaymentReceived


def test_every_event_class_has_its_own_stable_topic() -> None:
    event_classes = [
        value
        for name, value in vars(Account).items()
        if isinstance(value, type) and issubclass(value, Account.Event) and name != "Event"
    ]
    topics = {cls.TOPIC for cls in event_classes}
    assert len(topics) == len(set(event_classes))
    for cls in event_classes:
        assert f"receivables.account:{cls.__name__}" == cls.TOPIC
        assert get_topic(cls) == cls.TOPIC
