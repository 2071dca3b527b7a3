"""The seed story of the general-ledger tests, and the chart of accounts they post it with.

Concept
    A-100 of tenant ``acme`` (USD), in March 2026::

        2026-03-02  charge ch-1 "Day surgery" 1,000.00            -> INV-1 issued 2026-03-03
        2026-03-05  settlement offer S1: 300.00 off INV-1 if the rest is paid by 2026-03-31
        2026-03-20  payment pay-1 700.00 (card): INV-1 settled, the 300.00 discount earned

    Posted to the GL: cash 700.00 debit, discounts allowed 300.00 debit, revenue 1,000.00
    credit, and the receivable nets to 0.00 (1,000.00 debit, 1,000.00 credit).

    :data:`CHART` maps each ledger account to a GL account as a small clinic's books would.
    Everything is recorded through the application's own commands (``Receivables.execute``),
    and the read models brought up to date (:func:`projected`).

Invariants
    Nothing here reads a clock: every date is the story's own.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Final

from domain.general_ledger import ChartOfAccounts, check_chart_of_accounts
from domain.provenance import Provenance
from projections.catalogue import read_models
from projections.runner import Projector
from services.bootstrap import Runtime
from services.commands import command_models
from services.tenants import TenantSettings
from tests.support import run

TENANT: Final = "acme"
ACCOUNT: Final = "A-100"
ADMIN: Final = Provenance(actor="admin-1", correlation_id="gl-tests")
#: Ledger account -> (GL code, GL name): the body of ``PUT /v1/tenant/chart-of-accounts``.
ACCOUNTS: Final = {
    "receivables": ("1200", "Accounts receivable"),
    "revenue": ("4000", "Patient service revenue"),
    "tax": ("2200", "Sales tax payable"),
    "cash": ("1000", "Cash at bank"),
    "discounts_allowed": ("4900", "Discounts allowed"),
    "bad_debt": ("6100", "Bad debt expense"),
    "contractual_adjustments": ("4950", "Contractual adjustments"),
    "unapplied_credit": ("2300", "Unapplied customer credit"),
}
CHART: Final[ChartOfAccounts] = check_chart_of_accounts(ACCOUNTS)
CHART_BODY: Final = {
    "accounts": {
        name: {"code": code, "name": gl_name} for name, (code, gl_name) in ACCOUNTS.items()
    }
}


def do(runtime: Runtime, command: str, body: dict[str, Any], account: str = ACCOUNT) -> None:
    run(runtime.app, command_models()[command].model_validate(body), account, TENANT)


def opened(runtime: Runtime, account: str = ACCOUNT, opened_on: date = date(2026, 2, 1)) -> None:
    runtime.app.open_account(
        tenant_id=TENANT,
        account_number=account,
        name="Ann Example",
        currency="USD",
        opened_on=opened_on,
        meta=ADMIN,
    )


def seed_story(runtime: Runtime, account: str = ACCOUNT) -> None:
    """Charge 1,000.00, offer 300.00 off by the deadline, 700.00 paid before it."""
    opened(runtime, account)
    do(
        runtime,
        "post_charge",
        {
            "charge_id": "ch-1",
            "code": "SURGERY",
            "description": "Day surgery",
            "unit_price": "1000.00",
            "service_date": "2026-03-02",
        },
        account,
    )
    do(runtime, "issue_invoice", {"invoice_number": "INV-1", "issued_on": "2026-03-03"}, account)
    do(
        runtime,
        "offer_settlement",
        {
            "offer_id": "S1",
            "invoice_numbers": ["INV-1"],
            "amount_off": "300.00",
            "offered_on": "2026-03-05",
            "expires_on": "2026-03-31",
        },
        account,
    )
    paid(runtime, "700.00", "pay-1", "2026-03-20", account)


def paid(runtime: Runtime, amount: str, payment_id: str, on: str, account: str = ACCOUNT) -> None:
    do(
        runtime,
        "receive_payment",
        {
            "payment_id": payment_id,
            "amount": amount,
            "method": "card",
            "reference": f"auth {payment_id}",
            "received_on": on,
        },
        account,
    )


def chart_set(runtime: Runtime, chart: ChartOfAccounts = CHART) -> None:
    TenantSettings(runtime.app).set_chart_of_accounts(TENANT, chart, ADMIN)


def projected(runtime: Runtime) -> None:
    Projector(runtime.app, runtime.db, read_models()).catch_up()
