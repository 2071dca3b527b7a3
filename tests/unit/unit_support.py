"""Shared builders for the domain's unit tests: terse dates, money and accounts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, UUIDAsHex

from domain.account import Account
from domain.money import Money
from domain.provenance import Provenance
from domain.transcodings import transcodings

META = Provenance(actor="clerk@example.test", correlation_id="req-1", reason=None)


def usd(amount: str | int) -> Money:
    return Money(str(amount), "USD")


def d(text: str) -> date:
    return date.fromisoformat(text)


def open_account(number: str = "A-100", *, currency: str = "USD", terms: int = 30) -> Account:
    return Account.open(
        tenant_id="tenant-1",
        account_number=number,
        name="Jane Roe",
        currency=currency,
        effective_on=d("2024-01-01"),
        meta=META,
        payment_terms_days=terms,
    )


def charge(
    account: Account,
    charge_id: str,
    amount: str | int,
    *,
    on: str = "2024-01-02",
    quantity: int | Decimal = 1,
    tax: str | int = 0,
) -> None:
    account.post_charge(
        charge_id=charge_id,
        code="SVC",
        description=f"service {charge_id}",
        quantity=Decimal(quantity),
        unit_price=usd(amount),
        tax=usd(tax),
        service_date=d(on),
        effective_on=d(on),
        meta=META,
    )


def pay(account: Account, payment_id: str, amount: str | int, on: str, **kwargs: Any) -> None:
    account.receive_payment(
        payment_id=payment_id,
        amount=usd(amount),
        method="cheque",
        reference=f"ref-{payment_id}",
        received_on=d(on),
        meta=META,
        **kwargs,
    )


def transcoder() -> JSONTranscoder:
    """A transcoder set up as an eventsourcing Application sets up its own."""
    t = JSONTranscoder()
    t.register(UUIDAsHex())
    t.register(DecimalAsStr())
    t.register(DatetimeAsISO())
    for transcoding in transcodings():
        t.register(transcoding)
    return t


def snapshot_round_trip(account: Account) -> Account:
    """Take a snapshot, write it as JSON and read it back, as a snapshotting store would."""
    snapshot = Account.Snapshot.take(account)
    t = transcoder()
    state = t.decode(t.encode(snapshot.state))
    restored = type(snapshot)(
        originator_id=snapshot.originator_id,
        originator_version=snapshot.originator_version,
        timestamp=snapshot.timestamp,
        topic=snapshot.topic,
        state=state,
    ).mutate(None)
    assert isinstance(restored, Account)
    return restored


def read_back(events: list[Any]) -> list[Any]:
    """Copies of ``events`` as a store gives them back: each event's state through JSON."""
    t = transcoder()
    return [type(event)(**t.decode(t.encode(event.__dict__))) for event in events]


def replay(events: list[Any]) -> Account:
    """Rebuild an account from its events after a JSON round trip of each event's state."""
    account: Account | None = None
    for copy in read_back(events):
        account = copy.mutate(account)
    assert account is not None
    return account


def dict_orders(value: Any, path: str = "account") -> dict[str, list[Any]]:
    """The key order of every dict held in an aggregate's state, by where it is held.

    Dict equality ignores order, but the account's dicts drive first-in first-out
    behaviour (credit drawn from the oldest payment first, open items in the order
    they were opened), so a rebuilt account must keep their order too."""
    orders: dict[str, list[Any]] = {}
    if isinstance(value, dict):
        orders[path] = list(value)
        for key, item in value.items():
            orders.update(dict_orders(item, f"{path}[{key!r}]"))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            orders.update(dict_orders(item, f"{path}[{index}]"))
    elif hasattr(value, "__dataclass_fields__"):
        for name in value.__dataclass_fields__:
            orders.update(dict_orders(getattr(value, name), f"{path}.{name}"))
    elif isinstance(value, Account):
        # The order of the attributes themselves means nothing; that of the dicts they hold does.
        for name, attribute in value.__dict__.items():
            orders.update(dict_orders(attribute, f"{path}.{name}"))
    return orders


def assert_same_account(rebuilt: Account, original: Account) -> None:
    """Equal state, and every dict in the same order."""
    assert rebuilt == original
    assert dict_orders(rebuilt) == dict_orders(original)


def invoice(account: Account, number: str, on: str, **kwargs: Any) -> None:
    account.issue_invoice(invoice_number=number, issued_on=d(on), meta=META, **kwargs)


def event_names(events: Any) -> list[str]:
    return [type(event).__name__ for event in events]


def balance_by_equation(account: Account) -> Money:
    """charges + debit notes − payments − credits − discounts − write-offs
    − contractual adjustments + reversals + refunds + recoveries."""
    t = account.ledger_totals()
    return (
        t["charges"]
        + t["debit_notes"]
        - t["payments"]
        - t["credits"]
        - t["discounts"]
        - t["write_offs"]
        - t["contractual_adjustments"]
        + t["reversals"]
        + t["refunds"]
        + t["recoveries"]
    )


def balance_by_open_items(account: Account) -> Money:
    """What is open on items + owed on claims + uninvoiced charges − unapplied credit."""
    total = Money.zero(account.currency)
    for item in account.items.values():
        total = total + item.outstanding
    for claim in account.claims.values():
        total = total + claim.owed_by_payer
    for charge_id in account.uninvoiced:
        total = total + account.charges[charge_id].total
    return total - account.unapplied_credit
