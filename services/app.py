"""The Receivables application: the commands and queries billing clerks and auditors use.

An eventsourcing ``Application`` whose methods load an ``Account`` aggregate, call the domain
and save the new events in one atomic write. Library errors are translated here into the
product's errors, so the HTTP API and the CLI never see an eventsourcing exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, JSONTranscoder

from domain.account import Account
from domain.money import Money
from domain.provenance import Provenance
from domain.transcodings import transcodings
from services.errors import AccountAlreadyExists, AccountNotFound, ConcurrentUpdate


class Receivables(Application[UUID]):
    """Accounts receivable for every tenant; one ``Account`` aggregate per customer account."""

    name = "Receivables"

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        for transcoding in transcodings():
            transcoder.register(transcoding)

    # --- commands -------------------------------------------------------------------------

    def open_account(
        self,
        *,
        tenant_id: str,
        account_number: str,
        name: str,
        currency: str,
        opened_on: date,
        meta: Provenance,
        payment_terms_days: int = 30,
    ) -> Account:
        account = Account.open(
            tenant_id=tenant_id,
            account_number=account_number,
            name=name,
            currency=currency,
            effective_on=opened_on,
            meta=meta,
            payment_terms_days=payment_terms_days,
        )
        try:
            self.save(account)
        except IntegrityError:
            raise AccountAlreadyExists(account_number) from None
        return account

    def post_charge(
        self,
        *,
        tenant_id: str,
        account_number: str,
        charge_id: str,
        code: str,
        description: str,
        quantity: Decimal,
        unit_price: Decimal,
        tax: Decimal,
        service_date: date,
        meta: Provenance,
        currency: str | None = None,
    ) -> Account:
        account = self.get_account(tenant_id, account_number)
        currency = currency or account.currency
        account.post_charge(
            charge_id=charge_id,
            code=code,
            description=description,
            quantity=quantity,
            unit_price=Money(unit_price, currency),
            tax=Money(tax, currency),
            service_date=service_date,
            effective_on=service_date,
            meta=meta,
        )
        self._save(account)
        return account

    def receive_payment(
        self,
        *,
        tenant_id: str,
        account_number: str,
        payment_id: str,
        amount: Decimal,
        method: str,
        reference: str,
        received_on: date,
        meta: Provenance,
        currency: str | None = None,
        allocations: Mapping[str, Decimal] | None = None,
    ) -> Account:
        account = self.get_account(tenant_id, account_number)
        currency = currency or account.currency
        account.receive_payment(
            payment_id=payment_id,
            amount=Money(amount, currency),
            method=method,
            reference=reference,
            received_on=received_on,
            meta=meta,
            allocations=None
            if allocations is None
            else {invoice: Money(value, currency) for invoice, value in allocations.items()},
        )
        self._save(account)
        return account

    # --- queries --------------------------------------------------------------------------

    def get_account(self, tenant_id: str, account_number: str) -> Account:
        try:
            account: object = self.repository.get(Account.id_for(tenant_id, account_number))
        except AggregateNotFoundError:
            raise AccountNotFound(account_number) from None
        if not isinstance(account, Account):  # pragma: no cover - ids are derived from Account only
            raise AccountNotFound(account_number)
        return account

    # --- internals ------------------------------------------------------------------------

    def _save(self, account: Account, **kwargs: Any) -> None:
        try:
            self.save(account, **kwargs)
        except IntegrityError:
            raise ConcurrentUpdate(account.account_number) from None
