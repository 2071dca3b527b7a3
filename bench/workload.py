"""The seeded workload: what billing clerks send, in a realistic mix.

Many small accounts and a few with long histories; each account goes through charges, an
invoice for what is uninvoiced, and partial payments, so every command is one a clerk would
send and none is refused. ``Client`` is one clerk's stream of commands over its own accounts;
the same seed gives the same commands.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from services.commands import AccountCommand, IssueInvoice, PostCharge, ReceivePayment

START = date(2026, 1, 1)


@dataclass
class AccountScript:
    """Where one account is in its cycle of charge → invoice → payments."""

    number: str
    step: int = 0
    invoiced: int = 0
    open_cents: int = 0
    uninvoiced_cents: int = 0

    def next_command(self, rng: random.Random) -> AccountCommand:
        self.step += 1
        day = START + timedelta(days=self.step // 3)
        if self.uninvoiced_cents and (self.step % 3 == 2):
            self.invoiced += 1
            self.open_cents += self.uninvoiced_cents
            self.uninvoiced_cents = 0
            return IssueInvoice(invoice_number=f"{self.number}-INV-{self.invoiced}", issued_on=day)
        if self.open_cents >= 200 and self.step % 3 == 0:
            cents = rng.randint(100, self.open_cents)
            self.open_cents -= cents
            return ReceivePayment(
                payment_id=f"{self.number}-P{self.step}",
                amount=Decimal(cents) / 100,
                method="card",
                reference=f"receipt {self.step}",
                received_on=day,
            )
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
