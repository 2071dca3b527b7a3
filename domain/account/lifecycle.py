"""The account's life: opening it, its details and payment terms, closing it.

Concept
    An account is opened for one customer of one tenant, in one currency, with
    payment terms that set the due dates of its future invoices (net days, or
    installment shares such as 30/50/20). Its name and terms can change; once
    nothing is owed and no credit is left, it can be closed, and a closed account
    records nothing more.

Invariants
    - The id is deterministic: ``uuid5(ACCOUNT_NAMESPACE, [tenant_id, account_number])``,
      so the same tenant and number always give the same account.
    - ``Opened`` is the first event of every account and the one that creates it
      (eventsourcing's "created" event); its hash covers the aggregate's topic too.
    - Payment terms are a whole number of days from 0 to
      :data:`~domain.schedules.MAX_TERMS_DAYS`; installment shares sum to 100%.
    - Only an account with a zero balance, no unapplied credit and no uninvoiced
      charge can be closed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any, Final, Self
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain import errors
from domain.account.core import CLOSED, AccountState, Event, require_date, require_text
from domain.hash_chain import GENESIS_HASH, chained_envelope
from domain.money import check_currency
from domain.provenance import Provenance
from domain.schedules import MAX_TERMS_DAYS, InstallmentShare, check_shares, normalize_shares

#: Fixed namespace of account ids; never change it, ids derive from it.
ACCOUNT_NAMESPACE: Final = UUID("5b0c6a52-1f0e-4d55-9d3e-7c1e0a4b8f21")


def check_terms_days(days: int) -> None:
    if isinstance(days, bool) or not isinstance(days, int) or days < 0 or days > MAX_TERMS_DAYS:
        raise errors.InvalidPaymentTerms(
            f"Payment terms must be a whole number of days between 0 and {MAX_TERMS_DAYS}.",
            field="payment_terms_days",
        )


# ================================================================== events


class Opened(Event, Aggregate.Created):
    TOPIC = "receivables.account:Opened"

    tenant_id: str
    account_number: str
    name: str
    currency: str
    payment_terms_days: int


class DetailsChanged(Event):
    TOPIC = "receivables.account:DetailsChanged"

    name: str

    def evolve(self, account: AccountState) -> None:
        account.name = self.name


class PaymentTermsChanged(Event):
    TOPIC = "receivables.account:PaymentTermsChanged"

    net_days: int
    installments: list[InstallmentShare]

    def evolve(self, account: AccountState) -> None:
        account.payment_terms_days = self.net_days
        account.installment_shares = list(self.installments)


class Closed(Event):
    TOPIC = "receivables.account:Closed"

    def evolve(self, account: AccountState) -> None:
        account.status = CLOSED
        account.closed_on = self.effective_on


# ================================================================== commands


class LifecycleCommands(AccountState):
    """Identity, opening, details, payment terms and closing."""

    @staticmethod
    def id_for(tenant_id: str, account_number: str) -> UUID:
        """The account's id: the same tenant and number always give the same id."""
        return uuid5(ACCOUNT_NAMESPACE, json.dumps([tenant_id, account_number]))

    @staticmethod
    def create_id(tenant_id: str, account_number: str) -> UUID:
        return LifecycleCommands.id_for(tenant_id, account_number)

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
    ) -> Self:
        """Open a customer account (terms: net ``payment_terms_days`` days)."""
        require_text(tenant_id, "tenant_id", "The tenant")
        require_text(account_number, "account_number", "An account number")
        require_text(name, "name", "The customer's name")
        check_currency(currency)
        require_date(effective_on, "effective_on")
        check_terms_days(payment_terms_days)
        account_id = cls.id_for(tenant_id, account_number)
        payload: dict[str, Any] = {
            "tenant_id": tenant_id,
            "account_number": account_number,
            "name": name,
            "currency": currency,
            "payment_terms_days": payment_terms_days,
        }
        envelope = chained_envelope(
            topic=Opened.TOPIC,
            originator_id=account_id,
            originator_version=cls.INITIAL_VERSION,
            effective_on=effective_on,
            meta=meta,
            previous_hash=GENESIS_HASH,
            payload={"originator_topic": cls.TOPIC, **payload},
        )
        return cls._create(Opened, id=account_id, **envelope, **payload)

    def change_details(self, *, name: str, effective_on: date, meta: Provenance) -> None:
        """Change the customer's name on the account."""
        self._check_open()
        require_text(name, "name", "The customer's name")
        self._check_not_before_opening(effective_on, "effective_on")
        if name == self.name:
            raise errors.NothingChanged("The account already has that name.", field="name")
        self._trigger(DetailsChanged, effective_on=effective_on, meta=meta, name=name)

    def change_payment_terms(
        self,
        *,
        net_days: int,
        effective_on: date,
        meta: Provenance,
        installments: Sequence[InstallmentShare] = (),
    ) -> None:
        """Set the terms of future invoices: net days, or installment shares (e.g. 30/50/20)."""
        self._check_open()
        check_terms_days(net_days)
        self._check_not_before_opening(effective_on, "effective_on")
        shares = normalize_shares(installments)
        if shares:
            check_shares(shares)
        self._trigger(
            PaymentTermsChanged,
            effective_on=effective_on,
            meta=meta,
            net_days=net_days,
            installments=shares,
        )

    def close(self, *, effective_on: date, meta: Provenance) -> None:
        """Close a settled account: nothing owed, no credit left."""
        self._check_open()
        self._check_not_before_opening(effective_on, "effective_on")
        if not self.balance.is_zero or not self.credit.is_zero or self.uninvoiced:
            raise errors.AccountHasBalance(
                f"Account {self.account_number} cannot be closed: its balance is {self.balance} "
                f"and its unapplied credit {self.credit}."
            )
        self._trigger(Closed, effective_on=effective_on, meta=meta)
