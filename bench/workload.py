"""The seeded workload: what billing clerks send, in a realistic mix.

Many small accounts and a few with long histories; each account goes through charges, an
invoice for what is uninvoiced, partial payments, and now and then a credit note or a payment
plan, so every command is one a clerk would send and none is refused. ``Client`` is one clerk's stream of commands over its own accounts;
the same seed gives the same commands.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from services.commands import (
    AccountCommand,
    AgreePaymentPlan,
    IssueCreditNote,
    IssueInvoice,
    PostCharge,
    ReceivePayment,
    TermIn,
)

START = date(2026, 1, 1)
#: Of the commands that could be payments: how many are credit notes, and payment plans.
CREDIT_NOTE_SHARE = 0.05
PLAN_SHARE = 0.04


@dataclass
class AccountScript:
    """Where one account is in its cycle: charges, an invoice for what is uninvoiced, partial
    payments allocated to the oldest open invoice, now and then a credit note or a payment plan
    on the newest invoice. It keeps each invoice's open amount the way the domain does, so
    every command it sends is one the domain accepts."""

    number: str
    step: int = 0
    invoiced: int = 0
    uninvoiced_cents: int = 0
    notes: int = 0
    plans: int = 0
    #: Open cents per invoice, oldest first.
    open_invoices: dict[str, int] = field(default_factory=dict)
    on_plan: set[str] = field(default_factory=set)

    @property
    def open_cents(self) -> int:
        return sum(self.open_invoices.values())

    def next_command(self, rng: random.Random) -> AccountCommand:
        self.step += 1
        day = START + timedelta(days=self.step // 3)
        if self.uninvoiced_cents and (self.step % 3 == 2):
            self.invoiced += 1
            number = f"{self.number}-INV-{self.invoiced}"
            self.open_invoices[number] = self.uninvoiced_cents
            self.uninvoiced_cents = 0
            return IssueInvoice(invoice_number=number, issued_on=day)
        if self.open_cents >= 200 and self.step % 3 == 0:
            newest = next(reversed(self.open_invoices))
            newest_open = self.open_invoices[newest]
            roll = rng.random()
            if roll < CREDIT_NOTE_SHARE and newest_open >= 300 and newest not in self.on_plan:
                return self._credit_note(newest, rng.randint(100, newest_open // 2), day)
            if (
                roll < CREDIT_NOTE_SHARE + PLAN_SHARE
                and newest_open >= 300
                and newest not in self.on_plan
            ):
                return self._plan(newest, newest_open, day)
            return self._payment(rng.randint(100, self.open_cents), day)
        quantity = rng.randint(1, 3)
        unit_cents = rng.randint(500, 20_000)
        self.uninvoiced_cents += quantity * unit_cents
        return PostCharge(
            charge_id=f"{self.number}-C{self.step}",
            code=rng.choice(["VISIT", "LAB", "XRAY", "SUPPLY"]),
            description="Service",
            quantity=Decimal(quantity),
            unit_price=Decimal(unit_cents) / 100,
            service_date=day,
        )

    def _payment(self, cents: int, day: date) -> ReceivePayment:
        allocations: dict[str, Decimal] = {}
        left = cents
        for number, open_cents in list(self.open_invoices.items()):
            taken = min(left, open_cents)
            allocations[number] = Decimal(taken) / 100
            self._reduce(number, taken)
            left -= taken
            if not left:
                break
        return ReceivePayment(
            payment_id=f"{self.number}-P{self.step}",
            amount=Decimal(cents) / 100,
            method="card",
            reference=f"receipt {self.step}",
            received_on=day,
            allocations=allocations,
        )

    def _credit_note(self, invoice: str, cents: int, day: date) -> IssueCreditNote:
        self.notes += 1
        self._reduce(invoice, cents)
        return IssueCreditNote(
            note_number=f"{self.number}-CN-{self.notes}",
            invoice_number=invoice,
            issued_on=day,
            amount=Decimal(cents) / 100,
            description="Goodwill",
        )

    def _plan(self, invoice: str, cents: int, day: date) -> AgreePaymentPlan:
        self.plans += 1
        self.on_plan.add(invoice)
        first = cents // 3
        amounts = [first, first, cents - 2 * first]
        return AgreePaymentPlan(
            plan_id=f"{self.number}-PLAN-{self.plans}",
            invoice_numbers=[invoice],
            installments=[
                TermIn(due_on=day + timedelta(days=30 * (i + 1)), amount=Decimal(a) / 100)
                for i, a in enumerate(amounts)
            ],
            agreed_on=day,
        )

    def _reduce(self, invoice: str, cents: int) -> None:
        self.open_invoices[invoice] -= cents
        if not self.open_invoices[invoice]:
            del self.open_invoices[invoice]
            self.on_plan.discard(invoice)


@dataclass
class Client:
    """One clerk: a seeded stream of (account number, command) over its own accounts.

    A few accounts (``hot``) get a large share of the commands, so some histories grow long.
    """

    accounts: list[AccountScript]
    rng: random.Random
    hot: int = 2
    hot_share: float = 0.1
    scripts: dict[str, AccountScript] = field(init=False)

    def __post_init__(self) -> None:
        self.scripts = {a.number: a for a in self.accounts}

    def commands(self) -> Iterator[tuple[str, AccountCommand]]:
        while True:
            if self.rng.random() < self.hot_share:
                script = self.accounts[self.rng.randrange(min(self.hot, len(self.accounts)))]
            else:
                script = self.rng.choice(self.accounts)
            yield script.number, script.next_command(self.rng)


def clients(count: int, accounts_each: int, seed: int = 7) -> list[Client]:
    """``count`` clerks, each with ``accounts_each`` accounts of its own (numbers ``C<i>-<j>``)."""
    return [
        Client(
            accounts=[AccountScript(f"C{i}-{j}") for j in range(accounts_each)],
            rng=random.Random(seed * 1_000 + i),  # noqa: S311 - a seeded workload, not secrecy
        )
        for i in range(count)
    ]


@dataclass
class HotAccountClient:
    """One of many clerks sending to the same account at once (a large customer billed from
    every desk): charges, and payments kept as unapplied credit, which the account takes in
    whatever order they arrive, so no clerk's command depends on another's. ``accounts`` is
    empty: the one account is opened by whoever runs the clerks."""

    number: str
    clerk: int
    rng: random.Random
    accounts: list[AccountScript] = field(default_factory=list)

    def commands(self) -> Iterator[tuple[str, AccountCommand]]:
        step = 0
        while True:
            step += 1
            day = START + timedelta(days=step // 100)
            if step % 3 == 0:
                yield (
                    self.number,
                    ReceivePayment(
                        payment_id=f"H{self.clerk}-P{step}",
                        amount=Decimal(self.rng.randint(100, 5_000)) / 100,
                        method="card",
                        reference=f"desk {self.clerk} receipt {step}",
                        received_on=day,
                        allocation_policy="none",
                    ),
                )
            else:
                yield (
                    self.number,
                    PostCharge(
                        charge_id=f"H{self.clerk}-C{step}",
                        code="VISIT",
                        description="Service",
                        quantity=Decimal(1),
                        unit_price=Decimal(self.rng.randint(500, 20_000)) / 100,
                        service_date=day,
                    ),
                )


def hot_account_clients(count: int, number: str, seed: int = 11) -> list[HotAccountClient]:
    """``count`` clerks all sending to account ``number``."""
    return [
        HotAccountClient(
            number=number,
            clerk=i,
            rng=random.Random(seed * 1_000 + i),  # noqa: S311 - a seeded workload, not secrecy
        )
        for i in range(count)
    ]
