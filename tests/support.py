"""Helpers the service, HTTP and integration tests share."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from domain.account import Account
from domain.provenance import Provenance
from services.app import Receivables

CLERK = Provenance(actor="clerk-ann", correlation_id="test-correlation")


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
    app.post_charge(
        tenant_id=tenant_id,
        account_number=account_number,
        charge_id="ch-1",
        code="VISIT",
        description="Office visit",
        quantity=Decimal(2),
        unit_price=Decimal("10.00"),
        tax=Decimal("1.50"),
        service_date=date(2026, 1, 2),
        meta=CLERK,
    )
    app.receive_payment(
        tenant_id=tenant_id,
        account_number=account_number,
        payment_id="pay-1",
        amount=Decimal("5.00"),
        method="cash",
        reference="receipt 1",
        received_on=date(2026, 1, 3),
        meta=CLERK,
    )
    return app.get_account(tenant_id, account_number)
