"""The shadow: an independent model of what the product must answer, in plain Python.

Concept
    The simulation checks the product against a second, much smaller implementation of the
    rules it exercises, written without importing ``domain/`` or ``services/`` (two
    implementations share no bug by construction); it takes from them one bound the product
    sets rather than a rule it computes, the longest payment terms (``MAX_TERMS_DAYS``). For each account the shadow keeps, in
    integer minor units: the balance, every category the balance is made of, each invoice's
    total and what is still open on it, each payment's unapplied part, and the unapplied credit.

    ``judge`` says what a command must do to an account as it stands: ``accept`` (and the
    account after it), ``refuse`` (a rule or a bound it certainly breaks, with the reason), or
    ``unsure`` (input the shadow does not rule on — a far-off date, an odd account number —
    with the account after it when it can still be computed). The simulation feeds it only the
    commands the product acknowledged, in the order of the versions the product answered, so
    concurrent writers on one account need no guess about who went first.

Invariants the product is held to
    - An acknowledged command the shadow must refuse is a finding (hostile input accepted).
    - An acknowledged command's answer (version, balance, unapplied credit) equals the shadow's
      account after it; the account read back, the read models and a rebuild equal the shadow.
    - No figure ever holds more than 18 digits in minor units (``BOUND``): such an event could
      not be read back, nor a read model hold it.
    - Text with control characters (NUL, ESC, BEL) or lone surrogates is refused.

Vocabulary
    minor units: whole cents (whole yen for JPY); open: what is still owed on an invoice.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from domain.schedules import MAX_TERMS_DAYS

#: Decimal places of the currencies the simulation uses (ISO 4217), stated here again on purpose.
MINOR_PLACES = {"USD": 2, "EUR": 2, "JPY": 0}
#: The most minor units any amount or sum may hold: 18 digits.
BOUND = 10**18 - 1
#: Digits an amount may be written with at intake.
MAX_DIGITS = 18
#: Below this every figure of an account is "small": no command of ordinary size can push it past
#: a bound, so the shadow can say for certain that an ordinary command must be accepted.
SMALL = 10**14
#: Characters no stored text may hold: C0 controls other than tab/newline/CR, DEL, C1, surrogates.
_FORBIDDEN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


class Refuse(Exception):
    """The command certainly breaks a rule or a bound: the product must refuse it."""


class Unsure(Exception):
    """The shadow does not rule on this input (it may be accepted or refused)."""


@dataclass
class Item:
    total: int
    open: int
    issued_on: date
    due_on: date


@dataclass
class Payment:
    received_on: date
    unapplied: int


@dataclass
class AccountShadow:
    """One account as the acknowledged commands left it."""

    tenant: str
    number: str
    currency: str
    terms_days: int
    opened_on: date
    version: int = 1
    charges: dict[str, int] = field(default_factory=dict)  # charge id -> total
    uninvoiced: list[str] = field(default_factory=list)
    items: dict[str, Item] = field(default_factory=dict)  # invoices, by number
    notes: set[str] = field(default_factory=set)  # credit note numbers
    payments: dict[str, Payment] = field(default_factory=dict)  # in the order received
    refunds: set[str] = field(default_factory=set)
    write_offs: set[str] = field(default_factory=set)
    charged: int = 0
    paid: int = 0
    credited: int = 0
    written_off: int = 0
    refunded: int = 0
    #: Set when an input the shadow does not rule on was accepted with an effect it cannot
    #: compute: the account's figures are no longer checked.
    untracked: bool = False

    @property
    def credit(self) -> int:
        return sum(p.unapplied for p in self.payments.values())

    @property
    def balance(self) -> int:
        return self.charged - self.paid - self.credited - self.written_off + self.refunded

    def open_items(self) -> dict[str, int]:
        return {number: item.open for number, item in self.items.items() if item.open > 0}

    def figures(self) -> list[int]:
        """Every figure the product keeps about the account, for the bound check."""
        totals = [item.total for item in self.items.values()]
        tallies = [self.charged, self.paid, self.credited, self.written_off, self.refunded]
        return [abs(self.balance), self.credit, *tallies, *totals]

    @property
    def small(self) -> bool:
        return not self.untracked and max(self.figures()) < SMALL

    def as_money(self, minor: int) -> Decimal:
        return Decimal(minor).scaleb(-MINOR_PLACES[self.currency])


@dataclass(frozen=True)
class Verdict:
    outcome: str  # "accept", "refuse" or "unsure"
    reason: str = ""
    after: AccountShadow | None = None
    #: The command must be accepted whatever else happened on the account at the same moment
    #: (a fresh id, an ordinary amount on a small account): a refusal of it is a finding.
    certain: bool = False


# --- reading the request as the product must --------------------------------------------


def amount(value: Any, currency: str, what: str) -> int:
    """A positive amount in minor units, or Refuse."""
    if not isinstance(value, str):
        raise Refuse(f"{what} {value!r} is not a decimal string")
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        raise Refuse(f"{what} {value!r} is not a number") from None
    if not number.is_finite():
        raise Refuse(f"{what} {value!r} is not finite")
    if len(number.as_tuple().digits) > MAX_DIGITS:
        raise Refuse(f"{what} {value!r} has more than {MAX_DIGITS} digits")
    scaled = number.scaleb(MINOR_PLACES[currency])
    if scaled != scaled.to_integral_value():
        raise Refuse(f"{what} {value!r} is finer than the {currency} minor unit")
    minor = int(scaled)
    if minor <= 0:
        raise Refuse(f"{what} {value!r} is not more than zero")
    if minor > BOUND:
        raise Refuse(f"{what} {value!r} is past the bound of 18 digits")
    return minor


def day(value: Any, what: str) -> date:
    if not isinstance(value, str):
        raise Refuse(f"{what} {value!r} is not a date")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Refuse(f"{what} {value!r} is not a date") from None


def text(value: Any, what: str, *, required: bool = True) -> str:
    if not isinstance(value, str):
        raise Refuse(f"{what} is not text")
    if _FORBIDDEN_TEXT.search(value):
        raise Refuse(f"{what} {value!r} holds a control character")
    if required and not value.strip():
        raise Refuse(f"{what} is empty")
    if len(value.strip()) > 200:
        raise Unsure(f"{what} is long")
    return value


def not_before_opening(account: AccountShadow, on: date, what: str) -> date:
    if on < account.opened_on:
        raise Refuse(f"{what} {on} is before the account was opened on {account.opened_on}")
    return on


def far(on: date) -> bool:
    """A date the shadow does not rule on: the product may refuse it as out of range."""
    return not date(1900, 1, 1) <= on <= date(2199, 12, 31)


def fresh(value: Any, taken: Any, what: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}", value):
        raise Refuse(f"{what} {value!r} is not an identifier")
    if value in taken:
        raise Refuse(f"{what} {value} is already recorded")
    return value


def within_bounds(account: AccountShadow) -> None:
    worst = max(account.figures())
    if worst > BOUND:
        raise Refuse(f"a figure of the account would reach {worst} minor units, past 18 digits")


# --- the commands -----------------------------------------------------------------------


def judge(account: AccountShadow | None, kind: str, body: dict[str, Any]) -> Verdict:
    """What ``kind`` with ``body`` must do to ``account`` (None: not opened)."""
    if account is not None and account.untracked:
        return Verdict("unsure", "the account is no longer tracked")
    try:
        if kind == "open_account":
            return _open(account, body)
        if account is None:
            raise Refuse("the account is not open")
        after = copy.deepcopy(account)
        after.version += 1
        ordinary = _RULES[kind](after, body)
        within_bounds(after)
    except Refuse as refusal:
        return Verdict("refuse", str(refusal))
    except Unsure as unsure:
        return Verdict("unsure", str(unsure))
    if not ordinary:
        return Verdict("unsure", "an input the shadow does not rule on", after)
    return Verdict("accept", after=after, certain=kind in _ORDER_FREE and account.small)


def _open(account: AccountShadow | None, body: dict[str, Any]) -> Verdict:
    number = body.get("account_number")
    if not isinstance(number, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}", number):
        raise Refuse(f"account number {number!r} is not an identifier")
    if account is not None:
        raise Refuse(f"account {number} is already open")
    text(body.get("name"), "name")
    currency = body.get("currency")
    if currency not in MINOR_PLACES:
        raise Unsure(f"currency {currency!r}")
    opened_on = day(body.get("opened_on"), "opened_on")
    terms = body.get("payment_terms_days", 30)
    if not isinstance(terms, int) or isinstance(terms, bool) or not 0 <= terms <= MAX_TERMS_DAYS:
        raise Refuse(f"payment terms {terms!r}")
    after = AccountShadow(
        tenant=body["tenant"],
        number=number,
        currency=currency,
        terms_days=terms,
        opened_on=opened_on,
    )
    if far(opened_on):
        return Verdict("unsure", "opened on a far date", after)
    return Verdict("accept", after=after, certain=True)


def _post_charge(a: AccountShadow, body: dict[str, Any]) -> bool:
    charge_id = fresh(body.get("charge_id"), a.charges, "charge")
    text(body.get("description"), "description")
    price = amount(body.get("unit_price"), a.currency, "unit price")
    quantity = body.get("quantity", "1")
    if quantity not in ("1", "2", "3"):
        raise Unsure(f"quantity {quantity!r}")
    tax = 0 if body.get("tax", "0") in ("0", "0.00") else amount(body["tax"], a.currency, "tax")
    on = not_before_opening(a, day(body.get("service_date"), "service date"), "service date")
    total = price * int(quantity) + tax
    if price * int(quantity) > BOUND:
        raise Refuse("the charge's net amount is past 18 digits")
    a.charges[charge_id] = total
    a.uninvoiced.append(charge_id)
    a.charged += total
    return not far(on)


def _issue_invoice(a: AccountShadow, body: dict[str, Any]) -> bool:
    number = fresh(body.get("invoice_number"), a.items.keys() | a.notes, "invoice")
    on = not_before_opening(a, day(body.get("issued_on"), "issued on"), "issued on")
    if not a.uninvoiced:
        raise Refuse("there is nothing to invoice")
    total = sum(a.charges[c] for c in a.uninvoiced)
    try:
        due = on + timedelta(days=a.terms_days)
    except OverflowError:
        raise Refuse(f"the due date of an invoice issued on {on} is past the calendar") from None
    a.items[number] = Item(total=total, open=total, issued_on=on, due_on=due)
    a.uninvoiced = []
    return not far(on) and not far(due)


def _receive_payment(a: AccountShadow, body: dict[str, Any]) -> bool:
    payment_id = fresh(body.get("payment_id"), a.payments, "payment")
    cash = amount(body.get("amount"), a.currency, "amount")
    text(body.get("reference"), "reference")
    on = not_before_opening(a, day(body.get("received_on"), "received on"), "received on")
    remaining = cash
    oldest_first = sorted(
        (item.due_on, item.issued_on, number) for number, item in a.items.items() if item.open > 0
    )
    for _, _, number in oldest_first:
        if remaining <= 0:
            break
        taken = min(a.items[number].open, remaining)
        a.items[number].open -= taken
        remaining -= taken
    a.payments[payment_id] = Payment(received_on=on, unapplied=remaining)
    a.paid += cash
    return not far(on)


def _issue_credit_note(a: AccountShadow, body: dict[str, Any]) -> bool:
    number = fresh(body.get("note_number"), a.notes | a.items.keys(), "note")
    item = _invoice(a, body.get("invoice_number"))
    value = (
        item.open if body.get("amount") is None else amount(body["amount"], a.currency, "amount")
    )
    if value <= 0 or value > item.open:
        raise Refuse(f"a credit note of {value} is more than the {item.open} open")
    text(body.get("description", ""), "description", required=False)
    on = not_before_opening(a, day(body.get("issued_on"), "issued on"), "issued on")
    a.notes.add(number)
    item.open -= value
    a.credited += value
    return not far(on)


def _refund_credit(a: AccountShadow, body: dict[str, Any]) -> bool:
    refund_id = fresh(body.get("refund_id"), a.refunds, "refund")
    value = amount(body.get("amount"), a.currency, "amount")
    text(body.get("reference"), "reference")
    on = not_before_opening(a, day(body.get("refunded_on"), "refunded on"), "refunded on")
    if value > a.credit:
        raise Refuse(f"a refund of {value} is more than the {a.credit} of credit")
    received = [p for p in a.payments.values() if p.received_on <= on]
    if value > sum(p.unapplied for p in received):
        raise Refuse("the refund pays back cash not yet received on its date")
    remaining = value
    for payment in received:  # the oldest payment's credit first
        taken = min(payment.unapplied, remaining)
        payment.unapplied -= taken
        remaining -= taken
    a.refunds.add(refund_id)
    a.refunded += value
    return not far(on)


def _write_off(a: AccountShadow, body: dict[str, Any]) -> bool:
    write_off_id = fresh(body.get("write_off_id"), a.write_offs, "write-off")
    item = _invoice(a, body.get("invoice_number"))
    value = (
        item.open if body.get("amount") is None else amount(body["amount"], a.currency, "amount")
    )
    if value <= 0 or value > item.open:
        raise Refuse(f"a write-off of {value} is more than the {item.open} open")
    on = not_before_opening(a, day(body.get("written_off_on"), "written off on"), "written off on")
    a.write_offs.add(write_off_id)
    item.open -= value
    a.written_off += value
    return not far(on)


def _invoice(a: AccountShadow, number: Any) -> Item:
    item = a.items.get(number) if isinstance(number, str) else None
    if item is None:
        raise Refuse(f"there is no invoice {number!r}")
    return item


_RULES = {
    "post_charge": _post_charge,
    "issue_invoice": _issue_invoice,
    "receive_payment": _receive_payment,
    "issue_credit_note": _issue_credit_note,
    "refund_credit": _refund_credit,
    "write_off": _write_off,
}
#: Commands whose validity does not depend on what else happened to the account meanwhile.
_ORDER_FREE = frozenset({"post_charge", "receive_payment"})


class Shadow:
    """Every account of every tenant, as the acknowledged commands left them."""

    def __init__(self) -> None:
        self.accounts: dict[tuple[str, str], AccountShadow] = {}

    def get(self, tenant: str, number: str) -> AccountShadow | None:
        return self.accounts.get((tenant, number))

    def judge(self, tenant: str, number: str, kind: str, body: dict[str, Any]) -> Verdict:
        if kind == "open_account":
            body = {**body, "tenant": tenant, "account_number": number}
        return judge(self.get(tenant, number), kind, body)

    def accept(self, tenant: str, number: str, verdict: Verdict) -> None:
        """The product acknowledged the command: the account moves on (or, when the shadow
        cannot say how, is no longer tracked)."""
        if verdict.after is not None:
            self.accounts[(tenant, number)] = verdict.after
            return
        self.forget(tenant, number)

    def forget(self, tenant: str, number: str) -> None:
        """Stop checking the account's figures (it took a command the shadow cannot follow)."""
        current = self.accounts.setdefault(
            (tenant, number), AccountShadow(tenant, number, "USD", 0, date.min)
        )
        current.untracked = True
