"""A ledger scenario played through the application, its figures read from the read models.

Each step is a clerk's command sent to ``Receivables.execute`` (group commit, idempotency
table, the event store on embedded SQLite or PostgreSQL); before the checks the projector
catches up, and the figures a report gives are read from the read models' tables and queries:
the balance and credit (``account_balances``, and the statement for a balance as of a date),
what is open on each item and term (``open_items``, through the aging queries), the aging
report, the ledger's tallies (``ledger_lines`` by category) and the trial balance. The figures
the API answers from the account itself (plans, offers, claims and insurers, charges) are read
from the account as the application loads it back from the store. The events a step recorded
are those its command's answer lists.
"""

from __future__ import annotations

from datetime import date

from domain import ledger
from domain.account import Account
from domain.money import Money, from_minor_units
from domain.schedules import EARLIEST_DATE, LATEST_DATE
from projections.catalogue import read_models
from projections.reports import aging, aging_lines, statement, trial_balance
from projections.runner import Projector
from services.bootstrap import Runtime
from services.commands import AccountCommand
from tests.ledger.account_book import AccountFigures
from tests.ledger.runner import (
    BUCKETS,
    TENANT,
    TRIAL_BALANCE_ACCOUNTS,
    AgingLineFigure,
    Opening,
    TermFigure,
)
from tests.support import CLERK, run


class ApplicationBook(AccountFigures):
    who = "the application (read models)"

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.projector = Projector(runtime.app, runtime.db, read_models())
        self.number = ""
        self.currency = ""

    @property
    def account(self) -> Account:
        return self.runtime.app.get_account(TENANT, self.number)

    def money(self, minor: int) -> Money:
        return Money(from_minor_units(minor, self.currency), self.currency)

    # --- playing ----------------------------------------------------------------------------

    def open(self, opening: Opening, on: date) -> None:
        self.number, self.currency = opening.account_number, opening.currency
        self.runtime.app.open_account(
            tenant_id=TENANT,
            account_number=opening.account_number,
            name=f"Customer {opening.account_number}",
            currency=opening.currency,
            opened_on=on,
            payment_terms_days=opening.net_days,
            meta=CLERK,
        )

    def play(self, command: AccountCommand) -> list[str]:
        outcome = run(self.runtime.app, command, self.number, TENANT)
        return [event["type"] for event in outcome.body["recorded"]]

    def settle(self) -> None:
        self.projector.catch_up()

    def ties_out(self) -> list[str]:
        problems = []
        balance = self.balance(None)
        account = self.account
        if account.balance != balance:
            problems.append(f"the account's balance is {account.balance}")
        if self.credit() != account.unapplied_credit:
            problems.append(f"the account's credit is {account.unapplied_credit}")
        closing = self.balance(LATEST_DATE)
        if closing != balance:
            problems.append(f"the statement closes at {closing}")
        whole = trial_balance(self.runtime.db, TENANT, LATEST_DATE).get(self.currency, {})
        if sum(whole.values()) != 0:
            problems.append(f"the trial balance does not sum to zero: {whole}")
        owed = self.money(whole.get("receivables", 0) + whole.get("unapplied_credit", 0))
        if owed != balance:
            problems.append(f"receivables less unapplied credit in the trial balance is {owed}")
        return [f"the balance table says {balance} but {p}" for p in problems]

    # --- figures from the read models -------------------------------------------------------

    def _balances(self) -> dict[str, int]:
        row = self.runtime.db.query_one(
            "SELECT balance_minor, unapplied_credit_minor FROM account_balances"
            " WHERE tenant_id = ? AND account_number = ?",
            (TENANT, self.number),
        )
        assert row is not None, f"account_balances has no row for {self.number}"
        return {key: int(value) for key, value in row.items()}

    def balance(self, as_of: date | None) -> Money:
        if as_of is None:
            return self.money(self._balances()["balance_minor"])
        owed = statement(self.runtime.db, TENANT, self.number, EARLIEST_DATE, as_of)
        assert owed is not None
        return self.money(owed.closing_minor)

    def credit(self) -> Money:
        return self.money(self._balances()["unapplied_credit_minor"])

    def outstanding(self, item: str, as_of: date | None) -> Money:
        lines = self.aging_lines(as_of or LATEST_DATE)
        return Money.sum((line.open for line in lines if line.item == item), self.currency)

    def terms(self, item: str) -> list[TermFigure]:
        rows = self.runtime.db.query(
            "SELECT term_index, due_on, amount_minor FROM open_item_terms"
            " WHERE tenant_id = ? AND account_number = ? AND item_number = ?"
            " ORDER BY term_index",
            (TENANT, self.number, item),
        )
        open_by_term = {
            line.term: line.open for line in self.aging_lines(LATEST_DATE) if line.item == item
        }
        return [
            TermFigure(
                amount=self.money(int(row["amount_minor"])),
                due_on=date.fromisoformat(str(row["due_on"])),
                open=open_by_term.get(int(row["term_index"]) + 1, Money.zero(self.currency)),
            )
            for row in rows
        ]

    def aging(self, as_of: date) -> dict[str, Money]:
        rows = aging(self.runtime.db, TENANT, as_of, account_number=self.number)
        buckets = rows[0].buckets if rows else {}
        return {label: self.money(buckets.get(label, 0)) for label in BUCKETS}

    def aging_lines(self, as_of: date) -> list[AgingLineFigure]:
        return [
            AgingLineFigure(
                item=line.item_number,
                term=line.term_index + 1,
                open=self.money(line.open_minor),
                due_on=line.due_on,
                days_late=line.days_past_due,
            )
            for line in aging_lines(self.runtime.db, TENANT, as_of, account_number=self.number)
        ]

    def totals(self) -> dict[str, Money]:
        """Each category's tally from the journal: its lines' effect on receivables, signed
        as the balance equation reads the category (a payment of 100 is +100 in payments)."""
        rows = self.runtime.db.query(
            "SELECT category, SUM(CASE WHEN debit_account = 'receivables' THEN amount_minor"
            " WHEN credit_account = 'receivables' THEN -amount_minor ELSE 0 END) AS effect"
            " FROM ledger_lines WHERE tenant_id = ? GROUP BY category",
            (TENANT,),
        )
        effects = {row["category"]: int(row["effect"]) for row in rows}
        return {
            category: self.money(sign * effects.get(category, 0))
            for category, sign in ledger.SIGN.items()
        }

    def trial_balance(self) -> dict[str, Money]:
        whole = trial_balance(self.runtime.db, TENANT, LATEST_DATE).get(self.currency, {})
        return {name: self.money(whole.get(name, 0)) for name in TRIAL_BALANCE_ACCOUNTS}
