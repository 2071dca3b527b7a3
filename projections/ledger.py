"""The ledger: a double-entry journal of every event that moves money, and a trial balance.

Each journal line debits one ledger account and credits another with the same positive
amount, so every event's lines sum to zero — enforced by the table itself (``amount_minor >
0``, ``debit_account <> credit_account``, one amount per line), on SQLite and PostgreSQL alike.

Ledger accounts: ``receivables`` (what customers and insurers owe on items), ``revenue``,
``tax``, ``cash``, ``discounts_allowed``, ``bad_debt``, ``contractual_adjustments`` and
``unapplied_credit`` (money received and not yet applied: a liability).

How an entry of the account's ledger is journalled: a movement that raises the balance debits
receivables and credits its counter-account (a charge: revenue and tax; a reversed payment or a
refund: cash; a recovery: bad debt); one that lowers it does the opposite. Then the change in
unapplied credit the event caused is moved between receivables and unapplied credit, so
``receivables − unapplied_credit`` is the account's balance and ``unapplied_credit`` its credit.
"""

from __future__ import annotations

from typing import ClassVar

from domain import ledger
from domain.account import Account
from domain.money import to_minor_units
from projections.open_items import moment
from projections.replay import Change
from projections.runner import ReadModel

RECEIVABLES = ledger.RECEIVABLES
UNAPPLIED_CREDIT = ledger.UNAPPLIED_CREDIT
#: The other side of each category's movements of the balance.
COUNTER_ACCOUNT: dict[str, str] = {
    ledger.CHARGES: "revenue",
    ledger.DEBIT_NOTES: "revenue",
    ledger.PAYMENTS: "cash",
    ledger.CREDITS: "revenue",
    ledger.DISCOUNTS: "discounts_allowed",
    ledger.WRITE_OFFS: "bad_debt",
    ledger.CONTRACTUAL_ADJUSTMENTS: "contractual_adjustments",
    ledger.REVERSALS: "cash",
    ledger.REFUNDS: "cash",
    ledger.RECOVERIES: "bad_debt",
}
LEDGER_ACCOUNTS: tuple[str, ...] = ledger.LEDGER_ACCOUNTS


class Ledger(ReadModel):
    name: ClassVar[str] = "ledger"
    table_names: ClassVar[list[str]] = ["ledger_lines"]
    tables: ClassVar[list[str]] = [
        "CREATE TABLE IF NOT EXISTS {t}ledger_lines ("
        " position {bigint} NOT NULL,"
        " line INTEGER NOT NULL,"
        " account_id TEXT NOT NULL,"
        " tenant_id TEXT NOT NULL,"
        " currency TEXT NOT NULL,"
        " effective_on {date} NOT NULL,"
        " recorded_at {timestamp} NOT NULL,"
        " debit_account TEXT NOT NULL,"
        " credit_account TEXT NOT NULL,"
        " amount_minor {money} NOT NULL,"
        " category TEXT NOT NULL,"
        " reference TEXT NOT NULL,"
        " event_type TEXT NOT NULL,"
        " PRIMARY KEY (position, line),"
        " CHECK (amount_minor > 0),"
        " CHECK (debit_account <> credit_account))",
        "CREATE INDEX IF NOT EXISTS {t}ledger_lines_by_account"
        " ON {t}ledger_lines (account_id, effective_on)",
        "CREATE INDEX IF NOT EXISTS {t}ledger_lines_by_tenant"
        " ON {t}ledger_lines (tenant_id, effective_on)",
    ]

    def handle(self, change: Change) -> None:
        lines = list(self.journal(change))
        if not lines:
            return
        account: Account = change.account
        recorded_at = moment(change)
        self.write(
            f"INSERT INTO {self.t('ledger_lines')} (position, line, account_id, tenant_id,"
            " currency, effective_on, recorded_at, debit_account, credit_account, amount_minor,"
            " category, reference, event_type) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            *[
                (
                    change.position,
                    number,
                    change.account_id,
                    account.tenant_id,
                    account.currency,
                    effective_on,
                    recorded_at,
                    debit,
                    credit,
                    amount,
                    category,
                    reference,
                    change.event_type,
                )
                for number, (effective_on, debit, credit, amount, category, reference) in enumerate(
                    lines
                )
            ],
        )

    @staticmethod
    def journal(change: Change) -> list[tuple[str, str, str, int, str, str]]:
        """The event's journal lines: (effective_on, debit, credit, amount > 0, category,
        reference)."""
        lines: list[tuple[str, str, str, int, str, str]] = []

        def post(on: str, raise_by: int, counter: str, category: str, reference: str) -> None:
            # raise_by > 0 raises what is owed (debit receivables); < 0 lowers it.
            if raise_by > 0:
                lines.append((on, RECEIVABLES, counter, raise_by, category, reference))
            elif raise_by < 0:
                lines.append((on, counter, RECEIVABLES, -raise_by, category, reference))

        account: Account = change.account
        for entry in change.entries:
            on = entry.effective_on.isoformat()
            effect = to_minor_units(entry.balance_effect)
            counter = COUNTER_ACCOUNT[entry.category]
            if entry.category == ledger.CHARGES and entry.reference in account.charges:
                tax = to_minor_units(account.charges[entry.reference].tax)
                tax = tax if effect > 0 else -tax
                post(on, tax, "tax", entry.category, entry.reference)
                effect -= tax
            post(on, effect, counter, entry.category, entry.reference)
        credit_change = to_minor_units(account.unapplied_credit - change.unapplied_before)
        if credit_change:
            on = change.event.effective_on.isoformat()
            # More credit on hand: it leaves receivables for the liability, and back when used.
            if credit_change > 0:
                lines.append(
                    (on, RECEIVABLES, UNAPPLIED_CREDIT, credit_change, "unapplied_credit", "credit")
                )
            else:
                lines.append(
                    (
                        on,
                        UNAPPLIED_CREDIT,
                        RECEIVABLES,
                        -credit_change,
                        "unapplied_credit",
                        "credit",
                    )
                )
        return lines
