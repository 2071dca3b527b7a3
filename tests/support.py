"""Helpers the service, HTTP and integration tests share."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from domain.account import Account
from domain.provenance import Provenance
from services.app import Receivables
from services.commands import AccountCommand, PostCharge, ReceivePayment
from services.group_commit import Outcome

CLERK = Provenance(actor="clerk-ann", correlation_id="test-correlation")


def run(
    app: Receivables,
    command: AccountCommand,
    account_number: str = "A-100",
    tenant_id: str = "acme",
    key: str | None = None,
) -> Outcome:
    """Send one command to an account as the test clerk."""
    return app.execute(
        tenant_id=tenant_id,
        account_number=account_number,
        command=command,
        meta=CLERK,
        idempotency_key=key,
    )


def charge(
    charge_id: str, price: str = "10.00", on: date = date(2026, 1, 4), code: str = "VISIT"
) -> PostCharge:
    """One unit of ``code`` at ``price``, served ``on``."""
    return PostCharge(
        charge_id=charge_id,
        code=code,
        description=f"{code} service",
        quantity=Decimal(1),
        unit_price=Decimal(price),
        service_date=on,
    )


def payment(amount: str, payment_id: str, received_on: date = date(2026, 1, 3)) -> ReceivePayment:
    return ReceivePayment(
        payment_id=payment_id,
        amount=Decimal(amount),
        method="cash",
        reference=f"receipt {payment_id}",
        received_on=received_on,
    )


def open_charge_and_pay(
    app: Receivables, tenant_id: str = "acme", account_number: str = "A-100"
) -> Account:
    """The walking skeleton's story: open, charge 2 x 10.00 + 1.50 tax, receive 5.00."""
    app.open_account(
        tenant_id=tenant_id,
        account_number=account_number,
        name="Ann Example",
        currency="USD",
        opened_on=date(2026, 1, 1),
        meta=CLERK,
    )
    charge = PostCharge(
        charge_id="ch-1",
        code="VISIT",
        description="Office visit",
        quantity=Decimal(2),
        unit_price=Decimal("10.00"),
        tax=Decimal("1.50"),
        service_date=date(2026, 1, 2),
    )
    run(app, charge, account_number, tenant_id)
    run(app, payment("5.00", "pay-1"), account_number, tenant_id)
    return app.get_account(tenant_id, account_number)
