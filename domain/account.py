"""The Account aggregate: one customer account of one tenant, and every fact on it.

Concept
    An *account* is where a billing coordinator records what a customer was
    charged, what they were invoiced, what they paid and every arrangement made
    about it. Its state is only ever changed by its own events, each an immutable
    fact nested here in the past tense (``Account.ChargePosted``); commands are
    imperative methods (``post_charge``) that check every rule first and then
    trigger one or more events. Nothing is half-recorded: a broken rule raises a
    :class:`~domain.errors.DomainError` before any event is triggered.

Invariants
    - The id is deterministic: ``uuid5(ACCOUNT_NAMESPACE, [tenant_id, account_number])``.
    - Every event carries its business date ``effective_on``, the caller's
      ``actor``/``reason``/``correlation_id``, and the hash chain fields
      ``previous_hash``/``event_hash`` (see :mod:`domain.hash_chain`).
    - Event topics are stable strings ``receivables.account:<Event>``, not module
      paths, so code can move without breaking stored events.
    - ``apply`` methods are deterministic (no clock, no policy): any choice a
      policy made is on the event.
    - Balance = the signed sum of ledger tallies (see :mod:`domain.ledger`) =
      Σ outstanding on open items + Σ owed by insurers on claims + Σ uninvoiced
      charges − unapplied credit.
    - The account's state is made of Money, dates, Decimals, strings, lists, dicts
      and the dataclasses listed in :mod:`domain.transcodings`, so snapshots work.

Vocabulary
    See the modules for each concept: money, charges, open_items (invoices,
    terms), payments, allocation, ledger, hash_chain.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, ClassVar, Final
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain import ledger
from domain.allocation import EXPLICIT, OLDEST_DUE_FIRST, allocate_by_policy, check_explicit
from domain.charges import Charge
from domain.errors import (
    AccountClosed,
    AmountMustBePositive,
    CurrencyMismatch,
    DuplicateCharge,
    DuplicatePayment,
    FloatAmountRefused,
    InvalidPaymentTerms,
    InvalidQuantity,
    MissingValue,
)
from domain.hash_chain import GENESIS_HASH, compute_hash
from domain.ledger import LedgerEntry
from domain.money import Money, check_currency
from domain.open_items import Movement, OpenItem
from domain.payments import Allocation, Payment
from domain.provenance import Provenance

#: Fixed namespace of account ids; never change it, ids derive from it.
ACCOUNT_NAMESPACE: Final = UUID("5b0c6a52-1f0e-4d55-9d3e-7c1e0a4b8f21")

OPEN: Final = "open"
CLOSED: Final = "closed"


def _require_text(value: str, field: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise MissingValue(f"{what} is required.", field=field)
    return value


def _require_date(value: date, field: str) -> date:
    if not isinstance(value, date):
        raise MissingValue(f"{field.replace('_', ' ')} must be a date.", field=field)
    return value


def _require_quantity(value: Decimal | int, field: str = "quantity") -> Decimal:
    if isinstance(value, float):
        raise FloatAmountRefused(
            "A quantity must be given as a decimal, not a floating-point number.", field=field
        )
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise InvalidQuantity("A quantity must be a decimal number.", field=field)
    quantity = Decimal(value)
    if not quantity.is_finite() or quantity <= 0:
        raise InvalidQuantity("A quantity must be more than zero.", field=field)
    return quantity


class Account(Aggregate):
    """One customer account of one tenant."""

    TOPIC = "receivables.account:Account"

    # ------------------------------------------------------------------ events

    class Event(Aggregate.Event):
        """Base of every account event: business date, provenance, hash chain."""

        TOPIC: ClassVar[str]

        effective_on: date
        actor: str
        reason: str | None
        correlation_id: str
        previous_hash: str
        event_hash: str

        def apply(self, aggregate: Account) -> None:
            self.evolve(aggregate)
            aggregate.last_event_hash = self.event_hash

        def evolve(self, account: Account) -> None:
            """Change the account's state; overridden by each event."""

    class Opened(Event, Aggregate.Created):
        TOPIC = "receivables.account:Opened"

        tenant_id: str
        account_number: str
        name: str
        currency: str
        payment_terms_days: int

    # The library expects a "Created" class; ours is called Opened.
    Created = Opened

    class ChargePosted(Event):
        TOPIC = "receivables.account:ChargePosted"

        charge_id: str
        code: str
        description: str
        quantity: Decimal
        unit_price: Money
        net: Money
        tax: Money
        service_date: date

        def evolve(self, account: Account) -> None:
            account.charges[self.charge_id] = Charge(
                charge_id=self.charge_id,
                code=self.code,
                description=self.description,
                quantity=self.quantity,
                unit_price=self.unit_price,
                net=self.net,
                tax=self.tax,
                service_date=self.service_date,
                posted_on=self.effective_on,
            )
            account._post(self.effective_on, ledger.CHARGES, self.net + self.tax, self.charge_id)

    class PaymentReceived(Event):
        TOPIC = "receivables.account:PaymentReceived"

        payment_id: str
        amount: Money
        method: str
        reference: str
        allocations: list[Allocation]
        allocation_policy: str

        def evolve(self, account: Account) -> None:
            applied = Money.sum((a.amount for a in self.allocations), self.amount.currency)
            payment = Payment(
                payment_id=self.payment_id,
                amount=self.amount,
                method=self.method,
                reference=self.reference,
                received_on=self.effective_on,
                unapplied=self.amount - applied,
                refunded=Money.zero(self.amount.currency),
            )
            account.payments[self.payment_id] = payment
            for allocation in self.allocations:
                account._reduce_item(
                    allocation.invoice_number,
                    Movement(self.effective_on, "payment", allocation.amount, self.payment_id),
                )
                payment.allocations[allocation.invoice_number] = allocation.amount
            account.credit = account.credit + payment.unapplied
            account._post(self.effective_on, ledger.PAYMENTS, self.amount, self.payment_id)

    # ------------------------------------------------------------------ identity

    @staticmethod
    def id_for(tenant_id: str, account_number: str) -> UUID:
        """The account's id: the same tenant and number always give the same id."""
        return uuid5(ACCOUNT_NAMESPACE, json.dumps([tenant_id, account_number]))

    @staticmethod
    def create_id(tenant_id: str, account_number: str) -> UUID:
        return Account.id_for(tenant_id, account_number)

    def __init__(
        self,
        *,
        tenant_id: str,
        account_number: str,
        name: str,
        currency: str,
        payment_terms_days: int,
        effective_on: date,
    ) -> None:
        zero = Money.zero(currency)
        self.tenant_id = tenant_id
        self.account_number = account_number
        self.name = name
        self.currency = currency
        self.payment_terms_days = payment_terms_days
        self.opened_on = effective_on
        self.status = OPEN
        self.closed_on: date | None = None
        self.last_event_hash = GENESIS_HASH
        self.charges: dict[str, Charge] = {}
        self.items: dict[str, OpenItem] = {}
        # Numbers of items with something outstanding, so policies touch only open items.
        self.open_items: dict[str, bool] = {}
        self.payments: dict[str, Payment] = {}
        self.credit = zero
        self.tallies: dict[str, Money] = {category: zero for category in ledger.CATEGORIES}
        self.entries: list[LedgerEntry] = []
        self.running_balance = zero

    # ------------------------------------------------------------------ recording

    def _trigger(
        self,
        event_class: type[Account.Event],
        *,
        effective_on: date,
        meta: Provenance,
        **payload: Any,
    ) -> None:
        version = self.version + 1
        previous_hash = self.last_event_hash
        event_hash = compute_hash(
            topic=event_class.TOPIC,
            originator_id=self.id,
            originator_version=version,
            effective_on=effective_on,
            payload=payload,
            actor=meta.actor,
            reason=meta.reason,
            correlation_id=meta.correlation_id,
            previous_hash=previous_hash,
        )
        self.trigger_event(
            event_class,
            effective_on=effective_on,
            actor=meta.actor,
            reason=meta.reason,
            correlation_id=meta.correlation_id,
            previous_hash=previous_hash,
            event_hash=event_hash,
            **payload,
        )

    def _post(self, effective_on: date, category: str, amount: Money, reference: str) -> None:
        entry = LedgerEntry(effective_on, category, amount, reference)
        self.entries.append(entry)
        self.tallies[category] = self.tallies[category] + amount
        self.running_balance = self.running_balance + entry.balance_effect

    def _reduce_item(self, number: str, movement: Movement) -> None:
        item = self.items[number]
        item.reduce(movement)
        if item.is_open:
            self.open_items[number] = True
        else:
            self.open_items.pop(number, None)

    # ------------------------------------------------------------------ guards

    def _check_open(self) -> None:
        if self.status == CLOSED:
            raise AccountClosed(
                f"Account {self.account_number} is closed; nothing more can be recorded on it."
            )

    def _check_money(self, amount: Money, field: str, *, positive: bool = True) -> Money:
        if not isinstance(amount, Money):
            raise CurrencyMismatch(
                f"The {field.replace('_', ' ')} must be money with a currency.", field=field
            )
        if amount.currency != self.currency:
            raise CurrencyMismatch(
                f"The {field.replace('_', ' ')} is in {amount.currency} but account "
                f"{self.account_number} is kept in {self.currency}.",
                field=field,
            )
        if positive and not amount.is_positive:
            raise AmountMustBePositive(
                f"The {field.replace('_', ' ')} must be more than zero.", field=field
            )
        if not positive and amount.is_negative:
            raise AmountMustBePositive(
                f"The {field.replace('_', ' ')} cannot be negative.", field=field
            )
        return amount

    # ------------------------------------------------------------------ commands

    @classmethod
    def open(
        cls,
        *,
        tenant_id: str,
        account_number: str,
        name: str,
        currency: str,
        effective_on: date,
        meta: Provenance,
        payment_terms_days: int = 30,
    ) -> Account:
        """Open a customer account (terms: net ``payment_terms_days`` days)."""
        _require_text(tenant_id, "tenant_id", "The tenant")
        _require_text(account_number, "account_number", "An account number")
        _require_text(name, "name", "The customer's name")
        check_currency(currency)
        _require_date(effective_on, "effective_on")
        _check_terms_days(payment_terms_days)
        account_id = cls.id_for(tenant_id, account_number)
        payload: dict[str, Any] = {
            "originator_topic": cls.TOPIC,
            "tenant_id": tenant_id,
            "account_number": account_number,
            "name": name,
            "currency": currency,
            "payment_terms_days": payment_terms_days,
        }
        event_hash = compute_hash(
            topic=cls.Opened.TOPIC,
            originator_id=account_id,
            originator_version=cls.INITIAL_VERSION,
            effective_on=effective_on,
            payload=payload,
            actor=meta.actor,
            reason=meta.reason,
            correlation_id=meta.correlation_id,
            previous_hash=GENESIS_HASH,
        )
        del payload["originator_topic"]  # _create supplies it
        return cls._create(
            cls.Opened,
            id=account_id,
            effective_on=effective_on,
            actor=meta.actor,
            reason=meta.reason,
            correlation_id=meta.correlation_id,
            previous_hash=GENESIS_HASH,
            event_hash=event_hash,
            **payload,
        )

    def post_charge(
        self,
        *,
        charge_id: str,
        code: str,
        description: str,
        quantity: Decimal | int,
        unit_price: Money,
        tax: Money,
        service_date: date,
        effective_on: date,
        meta: Provenance,
    ) -> None:
        """Record a service line the customer is charged for (not yet invoiced)."""
        self._check_open()
        _require_text(charge_id, "charge_id", "A charge id")
        if charge_id in self.charges:
            raise DuplicateCharge(
                f"Charge {charge_id} is already on this account.", field="charge_id"
            )
        _require_text(code, "code", "A service code")
        _require_date(service_date, "service_date")
        _require_date(effective_on, "effective_on")
        qty = _require_quantity(quantity)
        self._check_money(unit_price, "unit_price")
        self._check_money(tax, "tax", positive=False)
        net = unit_price.times(qty).exact()
        self._trigger(
            self.ChargePosted,
            effective_on=effective_on,
            meta=meta,
            charge_id=charge_id,
            code=code,
            description=description,
            quantity=qty,
            unit_price=unit_price,
            net=net,
            tax=tax,
            service_date=service_date,
        )

    def receive_payment(
        self,
        *,
        payment_id: str,
        amount: Money,
        method: str,
        reference: str,
        received_on: date,
        meta: Provenance,
        allocations: Mapping[str, Money] | None = None,
        allocation_policy: str = OLDEST_DUE_FIRST,
    ) -> None:
        """Record cash received from the customer and apply it.

        With ``allocations`` the clerk's split is checked and used; otherwise the
        named ``allocation_policy`` chooses (``oldest_due_first`` by default,
        ``none`` to leave it all as credit). Whatever is not applied stays on the
        account as unapplied credit.
        """
        self._check_open()
        _require_text(payment_id, "payment_id", "A payment id")
        if payment_id in self.payments:
            raise DuplicatePayment(
                f"Payment {payment_id} is already recorded on this account.", field="payment_id"
            )
        _require_text(method, "method", "The payment method")
        _require_date(received_on, "received_on")
        self._check_money(amount, "amount")
        if allocations is not None:
            chosen = check_explicit(amount, allocations, self.items)
            policy = EXPLICIT
        else:
            chosen = allocate_by_policy(
                allocation_policy, amount, (self.items[n] for n in self.open_items)
            )
            policy = allocation_policy
        self._trigger(
            self.PaymentReceived,
            effective_on=received_on,
            meta=meta,
            payment_id=payment_id,
            amount=amount,
            method=method,
            reference=reference,
            allocations=chosen,
            allocation_policy=policy,
        )

    # ------------------------------------------------------------------ queries

    @property
    def balance(self) -> Money:
        """What the account is owed in total: positive = owed, negative = credit."""
        return self.running_balance

    @property
    def unapplied_credit(self) -> Money:
        return self.credit

    def balance_as_of(self, as_of: date) -> Money:
        """The balance from movements effective on or before ``as_of``."""
        balance = Money.zero(self.currency)
        for entry in self.entries:
            if entry.effective_on <= as_of:
                balance = balance + entry.balance_effect
        return balance

    def ledger_totals(self) -> dict[str, Money]:
        """Per-category tallies of the balance equation (see :mod:`domain.ledger`)."""
        return dict(self.tallies)


def _check_terms_days(days: int) -> None:
    if isinstance(days, bool) or not isinstance(days, int) or days < 0 or days > 3650:
        raise InvalidPaymentTerms(
            "Payment terms must be a whole number of days between 0 and 3650.",
            field="payment_terms_days",
        )


def due_date_for(issued_on: date, days: int) -> date:
    return issued_on + timedelta(days=days)
