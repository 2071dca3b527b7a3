"""A ledger scenario played against the ``Account`` aggregate in memory.

Each step's command is applied to the account directly (``AccountCommand.apply_to``: a typed
call of the ``Account`` method, no store, no application), and every figure is the account's
own answer: its balance and tallies, what is open on its items and terms as of a date, its
plans, offers, claims and charges. An aging report is not something the account keeps: it is
made here from what is open on each term as of the date, by the report's buckets. This is
also where the figures the API answers from an account are read (``AccountFigures``), which
the application's book reuses on the account it loads back from the store.
"""

from __future__ import annotations

from datetime import date

from domain import ledger
from domain.account import Account
from domain.aging import DEFAULT_LIMITS, bucket_of
from domain.money import Money
from services.commands import AccountCommand
from tests.ledger.runner import (
    BUCKETS,
    CLERK,
    TENANT,
    AgingLineFigure,
    Opening,
    TermFigure,
)
from tests.unit.unit_support import balance_by_equation, balance_by_open_items


class AccountFigures:
    """The figures an ``Account`` gives by itself, as the API answers them."""

    @property
    def account(self) -> Account:
        raise NotImplementedError

    def balance(self, as_of: date | None) -> Money:
        return self.account.balance if as_of is None else self.account.balance_as_of(as_of)

    def credit(self) -> Money:
        return self.account.unapplied_credit

    def outstanding(self, item: str, as_of: date | None) -> Money:
        return self.account.outstanding(item, as_of=as_of)

    def terms(self, item: str) -> list[TermFigure]:
        return [
            TermFigure(t.amount, t.due_on, t.outstanding) for t in self.account.installments(item)
        ]

    def aging_lines(self, as_of: date) -> list[AgingLineFigure]:
        account = self.account
        lines = [
            AgingLineFigure(number, t.index + 1, t.outstanding, t.due_on, (as_of - t.due_on).days)
            for number, item in account.items.items()
            if item.issued_on <= as_of
            for t in account.installments(number, as_of=as_of)
            if t.outstanding.is_positive
        ]
        return sorted(lines, key=lambda line: (line.due_on, line.item, line.term))

    def aging(self, as_of: date) -> dict[str, Money]:
        buckets = dict.fromkeys(BUCKETS, Money.zero(self.account.currency))
        for line in self.aging_lines(as_of):
            buckets[bucket_of(line.days_late, DEFAULT_LIMITS)] += line.open
        return buckets

    def totals(self) -> dict[str, Money]:
        return self.account.ledger_totals()

    def trial_balance(self) -> dict[str, Money]:
        """The ledger accounts the tallies determine (``projections.ledger`` journals them):
        receivables less unapplied credit is the balance; revenue and tax are left out, as
        the tallies do not split a charge into the two."""
        t = self.account.ledger_totals()
        credit = self.account.unapplied_credit
        return {
            "receivables": self.account.balance + credit,
            "unapplied_credit": -credit,
            "cash": t[ledger.PAYMENTS] - t[ledger.REVERSALS] - t[ledger.REFUNDS],
            "discounts_allowed": t[ledger.DISCOUNTS],
            "bad_debt": t[ledger.WRITE_OFFS] - t[ledger.RECOVERIES],
            "contractual_adjustments": t[ledger.CONTRACTUAL_ADJUSTMENTS],
        }

    def plan_status(self, plan_id: str) -> str:
        return self.account.plans[plan_id].status

    def plan_paid(self, plan_id: str) -> list[int]:
        return [index + 1 for index in self.account.plans[plan_id].paid]

    def offer_status(self, offer_id: str) -> str:
        return self.account.offers[offer_id].status

    def insurers(self) -> dict[str, Money]:
        return self.account.owed_by_insurers

    def customer_balance(self) -> Money:
        return self.account.customer_balance

    def claim_open(self, claim_id: str) -> Money:
        return self.account.claim_outstanding(claim_id)

    def charge(self, charge_id: str) -> Money:
        return self.account.charges[charge_id].net

    def prorations(self) -> dict[str, Money]:
        return {
            c.kind.removeprefix("proration_"): c.net
            for c in self.account.charges.values()
            if c.kind.startswith("proration_")
        }


class AccountBook(AccountFigures):
    """The aggregate in memory: each command applied to the ``Account`` directly."""

    who = "the aggregate"

    def __init__(self) -> None:
        self._account: Account | None = None

    @property
    def account(self) -> Account:
        assert self._account is not None, "the scenario has not opened the account"
        return self._account

    def open(self, opening: Opening, on: date) -> None:
        self._account = Account.open(
            tenant_id=TENANT,
            account_number=opening.account_number,
            name=f"Customer {opening.account_number}",
            currency=opening.currency,
            effective_on=on,
            meta=CLERK,
            payment_terms_days=opening.net_days,
        )
        self._account.collect_events()

    def play(self, command: AccountCommand) -> list[str]:
        command.apply_to(self.account, CLERK)
        return [type(event).__name__ for event in self.account.collect_events()]

    def settle(self) -> None:
        pass

    def ties_out(self) -> list[str]:
        balance = self.account.balance
        problems = []
        if balance_by_equation(self.account) != balance:
            problems.append(f"the ledger equation gives {balance_by_equation(self.account)}")
        if balance_by_open_items(self.account) != balance:
            problems.append(f"the open items give {balance_by_open_items(self.account)}")
        return [f"the balance is {balance} but {p}" for p in problems]
