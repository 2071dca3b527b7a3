"""Account balances: one row per account with every headline figure an auditor reconciles.

Figures are integer minor units in the account's currency (see ``projections.database``).
Each row is written from the account as the domain left it after the event (its ledger
tallies), so the projection and the domain agree to the cent by construction.

Invariant (the ledger equation, per row)::

    balance = charged + debit_notes − paid − credited − discounted − written_off
              − contractual_adjustments + reversed + refunded + recovered

``invoiced`` is what was invoiced and not voided (invoices only; debit notes have their own
column). ``unapplied_credit`` is money received and not yet applied to an item; it is already
inside ``balance`` (a negative balance is a credit). ``last_version`` / ``last_position`` say
which events a row reflects.
"""

from __future__ import annotations

from typing import Any, ClassVar

from domain import ledger
from domain.account import Account
from domain.money import to_minor_units
from domain.open_items import INVOICE
from projections.database import Cursor, Database
from projections.replay import Change
from projections.runner import ReadModel

#: Column → ledger category, for the figures that are ledger tallies.
TALLIES: dict[str, str] = {
    "charged_minor": ledger.CHARGES,
    "debit_notes_minor": ledger.DEBIT_NOTES,
    "paid_minor": ledger.PAYMENTS,
    "credited_minor": ledger.CREDITS,
    "discounted_minor": ledger.DISCOUNTS,
    "written_off_minor": ledger.WRITE_OFFS,
    "contractual_adjustments_minor": ledger.CONTRACTUAL_ADJUSTMENTS,
    "reversed_minor": ledger.REVERSALS,
    "refunded_minor": ledger.REFUNDS,
    "recovered_minor": ledger.RECOVERIES,
}
FIGURES: tuple[str, ...] = (*TALLIES, "invoiced_minor", "unapplied_credit_minor", "balance_minor")
#: Where ``invoiced_minor`` sits in a row: after the five identifying columns and the tallies.
_INVOICED = 5 + len(TALLIES)


class AccountBalances(ReadModel):
    name: ClassVar[str] = "account_balances"
    table_names: ClassVar[list[str]] = ["account_balances"]
    tables: ClassVar[list[str]] = [
        "CREATE TABLE IF NOT EXISTS {t}account_balances ("
        " account_id TEXT PRIMARY KEY,"
        " tenant_id TEXT NOT NULL,"
        " account_number TEXT NOT NULL,"
        " name TEXT NOT NULL,"
        " currency TEXT NOT NULL,"
        + "".join(f" {column} {{money}} NOT NULL DEFAULT 0," for column in FIGURES)
        + " last_version {bigint} NOT NULL,"
        " last_position {bigint} NOT NULL,"
        " UNIQUE (tenant_id, account_number))"
    ]

    def __init__(self, prefix: str = "") -> None:
        super().__init__(prefix)
        #: The batch's newest row per account; ``invoiced`` summed over the batch's events.
        self._latest: dict[str, list[Any]] = {}

    def handle(self, change: Change) -> None:
        account: Account = change.account
        invoiced = sum(to_minor_units(i.total) for i in change.new_items if i.kind == INVOICE)
        if isinstance(change.event, Account.InvoiceVoided):
            voided = account.items[change.event.invoice_number]
            invoiced -= to_minor_units(voided.total) if voided.kind == INVOICE else 0
        earlier = self._latest.get(change.account_id)
        if earlier is not None:
            invoiced += earlier[_INVOICED]
        self._latest[change.account_id] = [
            change.account_id,
            account.tenant_id,
            account.account_number,
            account.name,
            account.currency,
            *(to_minor_units(account.tallies[category]) for category in TALLIES.values()),
            invoiced,
            to_minor_units(account.unapplied_credit),
            to_minor_units(account.balance),
            account.version,
            change.position,
        ]

    def flush(self, c: Cursor, db: Database) -> None:
        columns = ", ".join(FIGURES)
        self.write(
            f"INSERT INTO {self.t('account_balances')} (account_id, tenant_id, account_number,"
            f" name, currency, {columns}, last_version, last_position)"
            f" VALUES (?, ?, ?, ?, ?, {', '.join('?' for _ in FIGURES)}, ?, ?)"
            " ON CONFLICT (account_id) DO UPDATE SET name = excluded.name,"
            + "".join(f" {column} = excluded.{column}," for column in TALLIES)
            + f" invoiced_minor = {self.t('account_balances')}.invoiced_minor"
            " + excluded.invoiced_minor,"
            " unapplied_credit_minor = excluded.unapplied_credit_minor,"
            " balance_minor = excluded.balance_minor,"
            " last_version = excluded.last_version, last_position = excluded.last_position",
            *self._latest.values(),
        )
        self._latest = {}
        super().flush(c, db)

    def discard(self) -> None:
        self._latest = {}
        super().discard()
