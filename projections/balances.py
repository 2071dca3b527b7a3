"""Account balances: what each account was charged, what it paid, and what it owes.

One row per account, kept current by the projector. Amounts are integer minor units with the
account's currency (see ``projections.database``), so the figures are exact on SQLite and
PostgreSQL alike. Invariant: ``balance_minor = charged_minor - paid_minor`` for the movements
this model knows; ``last_version`` is the account version the row reflects, so a reader can
tell which events a figure includes.
"""

from __future__ import annotations

from typing import Any, ClassVar

from domain.account import Account
from domain.money import MINOR_UNITS, Money
from projections.database import Cursor, Database
from projections.runner import ReadModel


def minor_units(money: Money) -> int:
    """The amount in the currency's smallest unit (cents for USD): exact, never rounded."""
    return int(money.amount.scaleb(MINOR_UNITS[money.currency]))


class AccountBalances(ReadModel):
    name: ClassVar[str] = "account_balances"
    table_names: ClassVar[list[str]] = ["account_balances"]
    tables: ClassVar[list[str]] = [
        "CREATE TABLE IF NOT EXISTS account_balances ("
        " account_id TEXT PRIMARY KEY,"
        " tenant_id TEXT NOT NULL,"
        " account_number TEXT NOT NULL,"
        " currency TEXT NOT NULL,"
        " charged_minor {money} NOT NULL DEFAULT 0,"
        " paid_minor {money} NOT NULL DEFAULT 0,"
        " balance_minor {money} NOT NULL DEFAULT 0,"
        " last_version {bigint} NOT NULL,"
        " last_position {bigint} NOT NULL,"
        " UNIQUE (tenant_id, account_number))"
    ]

    def handle(self, c: Cursor, db: Database, event: Any, position: int) -> None:
        account_id = str(event.originator_id)
        if isinstance(event, Account.Opened):
            c.execute(
                db.sql(
                    "INSERT INTO account_balances (account_id, tenant_id, account_number, currency,"
                    " last_version, last_position) VALUES (?, ?, ?, ?, ?, ?)"
                ),
                (
                    account_id,
                    event.tenant_id,
                    event.account_number,
                    event.currency,
                    event.originator_version,
                    position,
                ),
            )
            return
        charged = paid = 0
        if isinstance(event, Account.ChargePosted):
            charged = minor_units(event.net + event.tax)
        elif isinstance(event, Account.PaymentReceived):
            paid = minor_units(event.amount)
        c.execute(
            db.sql(
                "UPDATE account_balances SET charged_minor = charged_minor + ?, paid_minor = paid_minor + ?,"
                " balance_minor = balance_minor + ? - ?, last_version = ?, last_position = ?"
                " WHERE account_id = ?"
            ),
            (charged, paid, charged, paid, event.originator_version, position, account_id),
        )
