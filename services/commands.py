"""The commands a clerk can send about one account, as validated requests.

Each command is a pydantic model: the HTTP API takes it as a request body, the CLI builds it
from options, and ``Receivables.execute`` turns it into a call of the ``Account`` method it
names (``calls``), with amounts made into ``Money`` in the account's currency (or the
``currency`` the request names, which the domain refuses if it is not the account's). The
models check form (types, signs, lengths, unknown fields); the domain checks the rules.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar, Self

from pydantic import BaseModel, Field

from domain.money import Money
from domain.open_items import Term
from services.fields import (
    STRICT,
    Currency,
    Identifier,
    NonNegativeAmount,
    PositiveAmount,
    ShortText,
)

_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "receivables:command-id")


class AccountCommand(BaseModel):
    """A change to one existing account: the Account method it calls and its arguments."""

    model_config = STRICT

    #: The ``Account`` method the command calls.
    calls: ClassVar[str]
    #: Fields holding amounts that the domain takes as Money in the account's currency.
    money_fields: ClassVar[frozenset[str]] = frozenset()
    #: Fields the domain does not take (they only shape the request).
    request_only: ClassVar[frozenset[str]] = frozenset({"currency"})
    #: The field naming what the command creates (a charge id, a payment id), if any, and the
    #: prefix of the id made for it when the client sends none.
    id_field: ClassVar[str | None] = None
    id_prefix: ClassVar[str] = ""

    def with_id(self, idempotency_key: str | None) -> Self:
        """The command with its id filled in. Made from the idempotency key when there is one,
        so a retried request names the same charge or payment; random otherwise."""
        if self.id_field is None or getattr(self, self.id_field) is not None:
            return self
        seed = (
            uuid.uuid5(_ID_NAMESPACE, idempotency_key).hex if idempotency_key else uuid.uuid4().hex
        )
        return self.model_copy(update={self.id_field: f"{self.id_prefix}_{seed[:20]}"})

    def arguments(self, account_currency: str) -> dict[str, Any]:
        """The keyword arguments of ``Account.<calls>`` (all but ``meta``)."""
        currency = getattr(self, "currency", None) or account_currency
        arguments: dict[str, Any] = {}
        for name in type(self).model_fields:
            if name in self.request_only:
                continue
            value = getattr(self, name)
            if name in self.money_fields and value is not None:
                value = Money(value, currency)
            arguments[name] = self.convert(name, value, currency)
        return arguments

    def convert(self, name: str, value: Any, currency: str) -> Any:
        """Turn a nested request value into its domain form; override for structured fields."""
        return value


class TermIn(BaseModel):
    model_config = STRICT
    due_on: date
    amount: PositiveAmount


def terms(values: list[TermIn] | None, currency: str) -> list[Term] | None:
    return (
        None
        if values is None
        else [Term(due_on=t.due_on, amount=Money(t.amount, currency)) for t in values]
    )


class PostCharge(AccountCommand):
    calls: ClassVar[str] = "post_charge"
    money_fields: ClassVar[frozenset[str]] = frozenset({"unit_price", "tax"})
    id_field: ClassVar[str | None] = "charge_id"
    id_prefix: ClassVar[str] = "ch"

    charge_id: Identifier | None = Field(
        None, description="Your id for the charge; made for you if omitted."
    )
    code: Identifier
    description: ShortText
    quantity: PositiveAmount = Decimal(1)
    unit_price: PositiveAmount
    tax: NonNegativeAmount = Decimal(0)
    currency: Currency | None = Field(None, description="Defaults to the account's currency.")
    service_date: date

    def arguments(self, account_currency: str) -> dict[str, Any]:
        return super().arguments(account_currency) | {"effective_on": self.service_date}


class ReceivePayment(AccountCommand):
    calls: ClassVar[str] = "receive_payment"
    money_fields: ClassVar[frozenset[str]] = frozenset({"amount"})
    id_field: ClassVar[str | None] = "payment_id"
    id_prefix: ClassVar[str] = "pay"

    payment_id: Identifier | None = Field(
        None, description="Your id for the payment; made for you if omitted."
    )
    amount: PositiveAmount
    currency: Currency | None = Field(None, description="Defaults to the account's currency.")
    method: Identifier = Field(description="cash, card, cheque, ach, ...")
    reference: ShortText
    received_on: date
    allocations: dict[Identifier, PositiveAmount] | None = Field(
        None, description="Invoice number → amount to apply; omitted: oldest due first."
    )

    def convert(self, name: str, value: Any, currency: str) -> Any:
        if name == "allocations" and value is not None:
            return {invoice: Money(amount, currency) for invoice, amount in value.items()}
        return value


class IssueInvoice(AccountCommand):
    calls: ClassVar[str] = "issue_invoice"

    invoice_number: Identifier
    issued_on: date
    charge_ids: list[Identifier] | None = Field(
        None, description="Omitted: every uninvoiced charge."
    )
    due_on: date | None = Field(None, description="Omitted: the account's payment terms.")
    schedule: list[TermIn] | None = Field(
        None, description="Installment terms instead of one due date."
    )

    def convert(self, name: str, value: Any, currency: str) -> Any:
        return terms(self.schedule, currency) if name == "schedule" else value


class AgreePaymentPlan(AccountCommand):
    calls: ClassVar[str] = "agree_payment_plan"

    plan_id: Identifier
    invoice_numbers: list[Identifier] = Field(min_length=1)
    installments: list[TermIn] = Field(min_length=1)
    agreed_on: date

    def convert(self, name: str, value: Any, currency: str) -> Any:
        return terms(self.installments, currency) if name == "installments" else value
