"""A small story the controls tests share: tenant ``acme``, account A-1 of 1,000.00 on INV-1.

Recorded through the application's own commands as a clerk would, on the engine of the
``runtime`` fixture; the tenant's clock is fixed at noon UTC of the day the test says.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Final

from domain.provenance import Provenance
from services.bootstrap import Runtime
from services.commands import AccountCommand, IssueInvoice, PostCharge
from services.group_commit import Outcome

TENANT: Final = "acme"
ACCOUNT: Final = "A-1"
MAKER: Final = Provenance(actor="clerk-ann", correlation_id="req-maker", reason="Customer bankrupt")
CHECKER: Final = Provenance(actor="approver-bea", correlation_id="req-checker")
ADMIN: Final = Provenance(actor="admin-ops", correlation_id="req-admin")


def clock_at(day: date) -> Callable[[], datetime]:
    return lambda: datetime.combine(day, time(12), tzinfo=UTC)


def do(
    runtime: Runtime,
    command: AccountCommand,
    meta: Provenance = MAKER,
    account: str = ACCOUNT,
    key: str | None = None,
) -> Outcome:
    return runtime.app.execute(
        tenant_id=TENANT, account_number=account, command=command, meta=meta, idempotency_key=key
    )


def open_and_invoice(runtime: Runtime, account: str = ACCOUNT, amount: str = "1000.00") -> None:
    """Open ``account`` on 2026-01-02, charge ``amount`` on 01-05, invoice it as INV-1 on 01-06
    due 02-05."""
    runtime.app.open_account(
        tenant_id=TENANT,
        account_number=account,
        name="Avery Quinn",
        currency="USD",
        opened_on=date(2026, 1, 2),
        meta=MAKER,
    )
    do(
        runtime,
        PostCharge(
            charge_id="ch-1",
            code="SURG",
            description="Day surgery",
            quantity=Decimal(1),
            unit_price=Decimal(amount),
            service_date=date(2026, 1, 5),
        ),
        account=account,
    )
    do(
        runtime,
        IssueInvoice(
            invoice_number="INV-1",
            charge_ids=["ch-1"],
            issued_on=date(2026, 1, 6),
            due_on=date(2026, 2, 5),
        ),
        account=account,
    )
